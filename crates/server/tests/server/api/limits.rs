//! Rate limits on failed authentication: floods are turned away without
//! locking out the robots and users they aim at.

use std::net::IpAddr;
use std::time::Duration;

use robots_core::{SecretKind, SecretToken};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp};

on_both_backends!(
    ten_thousand_wrong_guesses_lock_out_the_guesser_not_the_robot,
    password_guessing_is_slowed_without_locking_out_the_user,
    concurrent_guesses_hash_no_more_passwords_than_the_limit,
);

/// An HTTP client whose connections come from `source` (any 127/8 address
/// reaches the server on loopback).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn whoami(app: &TestApp, client: &reqwest::Client, access_id: &str, token: &str) -> reqwest::Response {
    client
        .get(format!("{}/v1/whoami", app.base))
        .basic_auth(access_id, Some(token))
        .send()
        .await
        .unwrap()
}

async fn ten_thousand_wrong_guesses_lock_out_the_guesser_not_the_robot(app: TestApp) {
    let (alice, writer, _) = app.registry_fixture().await;
    let attacker = client_from("127.0.0.1");
    let robot = client_from("127.0.0.2");

    // Well-formed tokens with valid checksums, so each guess is looked up;
    // 16 guessers at once, 10,000 guesses in all.
    let mut guessers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (url, attacker, access_id) = (
            format!("{}/v1/whoami", app.base),
            attacker.clone(),
            writer.access_id.clone(),
        );
        guessers.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..625 {
                let guess = SecretToken::generate(SecretKind::RobotToken);
                let response = attacker
                    .get(&url)
                    .basic_auth(&access_id, Some(guess.expose()))
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        });
    }
    let statuses: Vec<u16> = guessers.join_all().await.into_iter().flatten().collect();
    assert_eq!(statuses.len(), 10_000);
    let refused = statuses.iter().filter(|status| **status == 401).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(refused + limited, 10_000, "only 401s and 429s");
    let burst = app.state.config().service.limits.robot_failures_per_access_id.burst as usize;
    assert!(refused < burst, "{refused} guesses were judged before the limit");
    eprintln!("10,000 wrong guesses: {refused} answered 401, {limited} answered 429");

    // The guesser's address is turned away, even with the right token ...
    let from_attacker = whoami(&app, &attacker, &writer.access_id, &writer.token).await;
    assert_eq!(from_attacker.status(), 429);
    let wait: u64 = from_attacker.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&wait), "Retry-After {wait}");
    // ... but the robot, from its own address, keeps working, with its
    // Access ID as hammered as it is, and so do its other doors.
    let from_robot = whoami(&app, &robot, &writer.access_id, &writer.token).await;
    assert_eq!(from_robot.status(), 200);
    let pulled = robot
        .get(format!(
            "{}/v2/token?service=registry&scope=repository:acme/apps/web:pull",
            app.base
        ))
        .basic_auth(&writer.access_id, Some(&writer.token))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    // A wrong guess from the robot's address for that Access ID is told to back off.
    let wrong = SecretToken::generate(SecretKind::RobotToken);
    assert_eq!(
        whoami(&app, &robot, &writer.access_id, wrong.expose()).await.status(),
        429
    );

    // The flood left a bounded trail in the audit log, not 10,000 events.
    app.state.flush_usage().await;
    let events = app.get("/v1/orgs/acme/audit?action=auth.&limit=200", &alice).await;
    let count = events.body["items"].as_array().unwrap().len();
    assert!(count <= burst + 2, "{count} audit events");
    assert!(
        events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "auth.rate_limited"),
        "{}",
        events.text
    );

    // Time heals: once Retry-After has passed, the address may try again.
    app.clock.advance(Duration::from_secs(wait));
    let later = whoami(&app, &attacker, &writer.access_id, &writer.token).await;
    assert_eq!(later.status(), 200);
}

async fn concurrent_guesses_hash_no_more_passwords_than_the_limit(app: TestApp) {
    let root = app.setup_admin().await;
    app.user(&root, "alice").await;
    let burst = app.state.config().service.limits.login_failures_per_user.burst as usize;
    // Sixty wrong passwords at once, from six addresses (none of them
    // limited by its own count): each reserves its failure before the hash.
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..60 {
        let (client, url) = (
            client_from(&format!("127.0.1.{}", i % 6 + 1)),
            format!("{}/v1/sessions", app.base),
        );
        guesses.spawn(async move {
            let body = json!({"username": "alice", "password": format!("guess-{i}")});
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let statuses = guesses.join_all().await;
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert!(
        statuses.iter().all(|status| [401, 429].contains(status)),
        "{statuses:?}"
    );
    assert!(refused >= 60 - burst, "{refused} refused: {statuses:?}");

    // Only the guesses that were judged are audited as failed logins.
    app.state.service().flush_audit().await;
    let judged = app.get("/v1/audit?action=auth.login_failed&limit=100", &root).await;
    let judged = judged.body["items"].as_array().unwrap().len();
    assert_eq!(judged, burst, "passwords hashed: {judged}, the limit: {burst}");

    // The limit holds only against failures: Alice still gets in.
    app.clock.advance(Duration::from_secs(15 * 60));
    let alice = client_from("127.0.1.9")
        .post(format!("{}/v1/sessions", app.base))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(alice.status(), 201);
}

/// More logins at once than the server hashes at once: the rest wait their
/// turn for a while, then are told to come back (503, `Retry-After`), so
/// memory stays bounded however many arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashes_are_bounded_server_wide() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.service.max_password_hashes = 1;
        config.service.password_hash_wait = Duration::ZERO;
    })
    .await
    else {
        return;
    };
    app.setup_admin().await;
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..24 {
        let (client, url) = (
            client_from(&format!("127.0.2.{}", i + 1)),
            format!("{}/v1/sessions", app.base),
        );
        logins.spawn(async move {
            let body = json!({"username": "root", "password": PASSWORD});
            let response = client.post(url).json(&body).send().await.unwrap();
            let retry_after = response.headers().contains_key("retry-after");
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (body["error"]["code"].as_str().map(str::to_owned), retry_after)
        });
    }
    let answers = logins.join_all().await;
    let busy = answers
        .iter()
        .filter(|(code, retry_after)| code.as_deref() == Some("unavailable") && *retry_after)
        .count();
    let logged_in = answers.iter().filter(|(code, _)| code.is_none()).count();
    assert!(busy > 0, "one hash at a time, 24 logins at once: {answers:?}");
    assert_eq!(busy + logged_in, 24, "{answers:?}");
    // Turned away before the hash, their attempts were not counted as failures.
    let root = app.login("root").await;
    assert!(matches!(root, crate::support::Auth::Bearer(_)));
}

async fn password_guessing_is_slowed_without_locking_out_the_user(app: TestApp) {
    let root = app.setup_admin().await;
    app.user(&root, "alice").await;
    let login = |client: reqwest::Client, password: &'static str| {
        let url = format!("{}/v1/sessions", app.base);
        async move {
            client
                .post(url)
                .json(&json!({"username": "alice", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    // Alice's usual address: she logged in from there before.
    let home = client_from("127.0.0.4");
    assert_eq!(login(home.clone(), PASSWORD).await.status(), 201);

    // Someone guesses from another address until told to stop.
    let guesser = client_from("127.0.0.5");
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(login(guesser.clone(), "hunter2").await.status().as_u16());
    }
    let burst = app.state.config().service.limits.login_failures_per_user.burst as usize;
    assert!(
        statuses[..burst - 1].iter().all(|status| *status == 401),
        "{statuses:?}"
    );
    assert!(statuses[burst..].iter().all(|status| *status == 429), "{statuses:?}");
    // Even the right password is refused to a new address for a while ...
    let stranger = login(client_from("127.0.0.6"), PASSWORD).await;
    assert_eq!(stranger.status(), 429);
    assert!(stranger.headers().contains_key("retry-after"));
    // ... while Alice, from where she logs in, is not locked out.
    assert_eq!(login(home, PASSWORD).await.status(), 201);

    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(login(client_from("127.0.0.6"), PASSWORD).await.status(), 201);
}
