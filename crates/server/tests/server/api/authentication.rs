//! How robots authenticate, and every way they cannot.

use std::time::Duration;

use base64::Engine;
use robots_core::{SecretKind, SecretToken};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Auth, Credentials, TestApp};

on_both_backends!(
    every_bad_credential_gets_the_same_401,
    expired_tokens_are_refused,
    robots_cannot_log_in,
    using_a_token_writes_its_last_use_at_most_once_a_minute,
);

async fn fixture(app: &TestApp) -> (Auth, Credentials) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let credentials = app.token(&alice, "acme", "deployer", "ci").await;
    (alice, credentials)
}

async fn every_bad_credential_gets_the_same_401(app: TestApp) {
    let (alice, good) = fixture(&app).await;
    let deleted = app.token(&alice, "acme", "deployer", "deleted").await;
    let path = format!("/v1/orgs/acme/robots/deployer/tokens/{}", deleted.access_id);
    assert_eq!(app.delete(&path, &alice).await.status, 204);
    let other = app.token(&alice, "acme", "deployer", "other").await;
    let stranger = SecretToken::generate(SecretKind::RobotToken).expose().to_owned();
    let mut flipped = good.token.clone().into_bytes();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    let session_as_robot = SecretToken::generate(SecretKind::Session).expose().to_owned();

    let bad: Vec<(&str, Auth)> = vec![
        ("unknown token", Auth::Bearer(stranger.clone())),
        ("unknown token, basic", Auth::Basic(good.access_id.clone(), stranger)),
        ("deleted token", deleted.basic()),
        ("deleted token, bearer", deleted.bearer()),
        ("checksum broken", Auth::Bearer(flipped)),
        (
            "access id of another token",
            Auth::Basic(other.access_id.clone(), good.token.clone()),
        ),
        (
            "access id not a uuid",
            Auth::Basic("deployer".into(), good.token.clone()),
        ),
        ("not a token at all", Auth::Bearer("hunter2".into())),
        ("unknown session", Auth::Bearer(session_as_robot)),
        ("empty basic", Auth::Basic(String::new(), String::new())),
    ];
    let mut answers = Vec::new();
    for (what, auth) in &bad {
        let refused = app.get("/v1/whoami", auth).await;
        assert_eq!(refused.status, 401, "{what}: {}", refused.text);
        let challenges: Vec<_> = refused.headers.get_all("www-authenticate").iter().collect();
        assert!(!challenges.is_empty(), "{what}: a 401 names how to authenticate");
        answers.push(refused.text);
    }
    for scheme in ["Token abc", "Basic !!!notbase64", "Bearer", "Basic "] {
        let raw = app
            .client
            .get(format!("{}/v1/whoami", app.base))
            .header("authorization", scheme)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 401, "{scheme}");
        answers.push(raw.text().await.unwrap());
    }
    let no_colon = base64::engine::general_purpose::STANDARD.encode(&good.token);
    let raw = app
        .client
        .get(format!("{}/v1/whoami", app.base))
        .header("authorization", format!("Basic {no_colon}"))
        .send()
        .await
        .unwrap();
    answers.push(raw.text().await.unwrap());
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "answers differ: {answers:#?}"
    );

    // The good credential still works both ways, and its case-insensitive scheme too.
    assert_eq!(app.get("/v1/whoami", &good.basic()).await.status, 200);
    assert_eq!(app.get("/v1/whoami", &good.bearer()).await.status, 200);
    let lowercase = app
        .client
        .get(format!("{}/v1/whoami", app.base))
        .header("authorization", format!("bearer {}", good.token))
        .send()
        .await
        .unwrap();
    assert_eq!(lowercase.status(), 200);
}

async fn expired_tokens_are_refused(app: TestApp) {
    let (alice, _) = fixture(&app).await;
    // Whole seconds: the API keeps times to the millisecond.
    let now = robots_core::Clock::now(&*app.clock).replace_nanosecond(0).unwrap();
    app.clock.set(now);
    let expires_at = (now + Duration::from_secs(3600))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = app
        .post(
            "/v1/orgs/acme/robots/deployer/tokens",
            &alice,
            json!({"name": "hourly", "expires_at": expires_at}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["expires_at"], expires_at.as_str());
    let credentials = Credentials {
        access_id: created.body["access_id"].as_str().unwrap().into(),
        token: created.body["token"].as_str().unwrap().into(),
    };
    let me = app.get("/v1/whoami", &credentials.basic()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["token_expires_at"], expires_at.as_str());

    app.clock.advance(Duration::from_secs(3599));
    assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 200);
    app.clock.advance(Duration::from_secs(1));
    let expired = app.get("/v1/whoami", &credentials.basic()).await;
    assert_eq!((expired.status, expired.code()), (401, "unauthenticated"));
    // It is still listed, so an operator can see what expired.
    let listed = app.get("/v1/orgs/acme/robots/deployer/tokens", &alice).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

async fn robots_cannot_log_in(app: TestApp) {
    let (_, robot) = fixture(&app).await;
    let with_credentials_as_password = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": robot.access_id, "password": robot.token}),
        )
        .await;
    assert_eq!(
        (with_credentials_as_password.status, with_credentials_as_password.code()),
        (403, "robot_forbidden")
    );
    let message = with_credentials_as_password.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("robot accounts cannot log in"), "{message}");
    let with_header = app
        .post(
            "/v1/sessions",
            &robot.basic(),
            json!({"username": "alice", "password": crate::support::PASSWORD}),
        )
        .await;
    assert_eq!((with_header.status, with_header.code()), (403, "robot_forbidden"));
}

async fn using_a_token_writes_its_last_use_at_most_once_a_minute(app: TestApp) {
    let (alice, robot) = fixture(&app).await;
    let path = format!("/v1/orgs/acme/robots/deployer/tokens/{}", robot.access_id);
    let never = app.get(&path, &alice).await;
    assert!(never.body["last_used_at"].is_null(), "new tokens are never used");

    let first_use = robots_core::Clock::now(&*app.clock);
    assert_eq!(app.get("/v1/whoami", &robot.basic()).await.status, 200);
    for _ in 0..5 {
        app.clock.advance(Duration::from_secs(10));
        assert_eq!(app.get("/v1/whoami", &robot.basic()).await.status, 200);
    }
    app.flush_usage().await;
    let recorded = app.get(&path, &alice).await;
    let at = |response: &crate::support::Response| {
        time::OffsetDateTime::parse(
            response.body["last_used_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    // Six uses within a minute: one write, of the first.
    assert!(
        (at(&recorded) - first_use).abs() < time::Duration::milliseconds(1),
        "{}",
        recorded.text
    );
    let robot_view = app.get("/v1/orgs/acme/robots/deployer", &alice).await;
    assert_eq!(robot_view.body["last_used_at"], recorded.body["last_used_at"]);

    app.clock.advance(Duration::from_secs(11));
    assert_eq!(app.get("/v1/whoami", &robot.basic()).await.status, 200);
    app.flush_usage().await;
    let later = app.get(&path, &alice).await;
    assert!((at(&later) - first_use - time::Duration::seconds(61)).abs() < time::Duration::milliseconds(1));
}

/// A token whose checksum fails is logged as what it is, a malformed token,
/// not as a request without credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_token_is_logged_as_malformed() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let (_, robot) = fixture(&app).await;
    // The last character is part of the checksum.
    let mut mistyped = robot.token.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    for (source, path) in [("127.0.4.7", "/v1/auth"), ("127.0.4.8", "/v2/token?service=registry")] {
        let client = reqwest::Client::builder()
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let answer = client
            .get(format!("{}{path}", app.base))
            .basic_auth(&robot.access_id, Some(&mistyped))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        let logs = crate::support::captured_logs();
        let line = logs
            .lines()
            .find(|line| line.contains(source))
            .unwrap_or_else(|| panic!("nothing logged for {source}"));
        assert!(
            line.contains("malformed token") && line.contains("reason=\"malformed\""),
            "{line}"
        );
        assert!(!line.contains(&mistyped), "never the token itself");
    }
}
