//! The audit log: who changed what, from where, and every failed robot
//! authentication; filtered, paginated, exported; never a secret.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{Auth, Credentials, TestApp};

on_both_backends!(
    changes_record_who_what_target_where_and_via,
    failed_robot_authentications_are_recorded_with_their_reason,
    the_audit_log_is_filtered_paginated_exported_and_for_admins_only,
);

async fn changes_record_who_what_target_where_and_via(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    let Auth::Bearer(session) = &alice else { unreachable!() };
    // As the CLI sends it.
    let created = app
        .client
        .post(format!("{}/v1/orgs/acme/robots", app.base))
        .bearer_auth(session)
        .header("user-agent", "robots-cli/0.1.0")
        .json(&json!({"name": "deployer", "description": "ships"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let log = app.get("/v1/orgs/acme/audit", &alice).await;
    assert_eq!(log.status, 200, "{}", log.text);
    let newest = &log.body["items"][0];
    assert_eq!(newest["action"], "robot.created");
    assert_eq!(newest["actor_kind"], "user");
    assert_eq!(newest["actor"], "alice");
    assert_eq!(newest["target"], "robot acme/deployer");
    assert_eq!(newest["via"], "cli");
    assert_eq!(newest["ip"], "127.0.0.1");
    assert_eq!(newest["detail"]["description"], "ships");
    assert_eq!(log.body["items"][1]["action"], "org.created");
    assert_eq!(log.body["items"][1]["via"], "api");

    let instance = app.get("/v1/audit", &root).await;
    let actions: Vec<&str> = instance.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in ["setup.completed", "user.created", "session.created"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

async fn failed_robot_authentications_are_recorded_with_their_reason(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let good = app.token(&alice, "acme", "deployer", "ci").await;
    let stranger = robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken)
        .expose()
        .to_owned();

    // A wrong Token under a real Access ID is tied to the organization.
    let wrong = Credentials {
        access_id: good.access_id.clone(),
        token: stranger.clone(),
    };
    assert_eq!(app.get("/v1/whoami", &wrong.basic()).await.status, 401);
    // A token that expired.
    let now = robots_core::Clock::now(&*app.clock);
    let expiry = (now + std::time::Duration::from_secs(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let short = app
        .post(
            "/v1/orgs/acme/robots/deployer/tokens",
            &alice,
            json!({"name": "short", "expires_at": expiry}),
        )
        .await;
    let short = Credentials {
        access_id: short.body["access_id"].as_str().unwrap().into(),
        token: short.body["token"].as_str().unwrap().into(),
    };
    app.clock.advance(std::time::Duration::from_secs(11));
    assert_eq!(app.get("/v1/whoami", &short.basic()).await.status, 401);
    // Nobody's token: the instance's log.
    assert_eq!(app.get("/v1/whoami", &Auth::Bearer(stranger.clone())).await.status, 401);
    // A wrong password.
    let failed_login = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "alice", "password": "wrong password"}),
        )
        .await;
    assert_eq!(failed_login.status, 401);
    app.flush_usage().await;

    let org_log = app.get("/v1/orgs/acme/audit?action=auth.failed", &alice).await;
    let reasons: Vec<(&str, &str)> = org_log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["detail"]["reason"].as_str().unwrap(),
                e["detail"]["access_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("expired", short.access_id.as_str()),
            ("unknown_token", good.access_id.as_str())
        ]
    );
    assert_eq!(org_log.body["items"][0]["actor_kind"], "anonymous");
    assert_eq!(org_log.body["items"][0]["ip"], "127.0.0.1");
    let instance = app.get("/v1/audit?action=auth.", &root).await;
    let actions: Vec<&str> = instance.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["auth.login_failed", "auth.failed"]);
    for log in [&org_log.text, &instance.text] {
        assert!(
            !log.contains(&stranger) && !log.contains(&good.token) && !log.contains("wrong password"),
            "a secret in the audit log"
        );
    }
}

async fn the_audit_log_is_filtered_paginated_exported_and_for_admins_only(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    let bob = app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    for robot in ["r1", "r2", "r3", "r4", "r5"] {
        app.robot(&alice, "acme", robot).await;
    }
    app.token(&alice, "acme", "r1", "ci").await;

    let mut seen = Vec::new();
    let mut path = "/v1/orgs/acme/audit?action=robot.created&limit=2".to_owned();
    loop {
        let page = app.get(&path, &alice).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for event in page.body["items"].as_array().unwrap() {
            seen.push(event["target"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/orgs/acme/audit?action=robot.created&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "robot acme/r5",
            "robot acme/r4",
            "robot acme/r3",
            "robot acme/r2",
            "robot acme/r1"
        ],
        "newest first"
    );
    let by_prefix = app.get("/v1/orgs/acme/audit?action=token.", &alice).await;
    assert_eq!(by_prefix.body["items"].as_array().unwrap().len(), 1);
    let by_target = app.get("/v1/orgs/acme/audit?target=robot%20acme%2Fr3", &alice).await;
    assert_eq!(by_target.body["items"].as_array().unwrap().len(), 1);
    let future = app.get("/v1/orgs/acme/audit?since=2999-01-01T00:00:00Z", &alice).await;
    assert_eq!(future.body["items"], json!([]));
    let recent = app.get("/v1/orgs/acme/audit?since=1h&actor=alice", &alice).await;
    assert!(recent.body["items"].as_array().unwrap().len() >= 7);

    let export = app.client.get(format!("{}/v1/orgs/acme/audit?format=jsonl", app.base));
    let Auth::Bearer(session) = &alice else { unreachable!() };
    let export = export.bearer_auth(session).send().await.unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 8 && lines.iter().all(|l| l["action"].is_string()));

    assert_eq!(app.get("/v1/orgs/acme/audit", &bob).await.status, 403, "admins only");
    assert_eq!(app.get("/v1/audit", &alice).await.status, 403, "instance admins only");
    assert_eq!(app.get("/v1/orgs/acme/audit?since=yesterday", &alice).await.status, 400);
    assert_eq!(app.get("/v1/orgs/acme/audit?cursor=zzz", &alice).await.status, 400);
}

/// Every answer names its request; an id is taken from a trusted proxy
/// only; the audit events a request causes carry it, and failed robot
/// authentications too.
#[tokio::test]
async fn requests_have_ids_that_reach_the_audit_log() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.trusted_proxies = vec!["127.0.0.2".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    let Auth::Bearer(session) = &alice else { unreachable!() };
    let from = |source: &str| {
        reqwest::Client::builder()
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let create = |client: reqwest::Client, robot: &str, id: &str| {
        client
            .post(format!("{}/v1/orgs/acme/robots", app.base))
            .bearer_auth(session)
            .header("x-request-id", id)
            .json(&json!({"name": robot}))
            .send()
    };

    // A client's own id is replaced by a new one.
    let direct = create(from("127.0.0.1"), "direct", "chosen-by-client").await.unwrap();
    assert_eq!(direct.status(), 201);
    let assigned = direct.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(assigned.len(), 32, "{assigned}");
    assert!(assigned.chars().all(|c| c.is_ascii_hexdigit()));
    // A trusted proxy's is kept, unless it is not a plain token.
    let proxied = create(from("127.0.0.2"), "proxied", "nginx-4f2a").await.unwrap();
    assert_eq!(proxied.headers()["x-request-id"], "nginx-4f2a");
    let odd = create(from("127.0.0.2"), "odd", "with space").await.unwrap();
    assert_ne!(odd.headers()["x-request-id"], "with space");

    let log = app.get("/v1/orgs/acme/audit?action=robot.created", &alice).await;
    let id_of = |robot: &str| {
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|event| event["target"] == format!("robot acme/{robot}"))
            .map(|event| event["request_id"].clone())
            .unwrap()
    };
    assert_eq!(id_of("direct"), json!(assigned));
    assert_eq!(id_of("proxied"), json!("nginx-4f2a"));

    // Failed authentications are audited with the request's id too.
    app.robot(&alice, "acme", "ci").await;
    let token = app.token(&alice, "acme", "ci", "main").await;
    let stranger = robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken);
    let wrong = from("127.0.0.2")
        .get(format!("{}/v1/whoami", app.base))
        .basic_auth(&token.access_id, Some(stranger.expose()))
        .header("x-request-id", "nginx-failed-1")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    app.flush_usage().await;
    let failures = app.get("/v1/orgs/acme/audit?action=auth.failed", &alice).await;
    assert!(
        failures.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["request_id"] == "nginx-failed-1"),
        "{}",
        failures.text
    );
}
