//! Token lifecycle: expiry and its policy, rotation without downtime,
//! disabled robots, leaked-token reports.

use std::time::Duration;

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, Credentials, TestApp};

on_both_backends!(
    tokens_expire_by_duration_and_within_the_organizations_policy,
    tokens_expiring_soon_are_listed_and_flagged,
    rotation_keeps_the_old_token_working_for_the_grace_period,
    a_rotation_without_grace_stops_the_old_token_at_once,
    disabled_robots_are_refused_until_enabled,
    anyone_may_report_a_leaked_token,
    leak_reports_are_limited_per_address,
);

async fn fixture(app: &TestApp) -> Auth {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    alice
}

fn credentials(created: &Value) -> Credentials {
    Credentials {
        access_id: created["access_id"].as_str().unwrap().to_owned(),
        token: created["token"].as_str().unwrap().to_owned(),
    }
}

const TOKENS: &str = "/v1/orgs/acme/robots/deployer/tokens";

async fn tokens_expire_by_duration_and_within_the_organizations_policy(app: TestApp) {
    let alice = fixture(&app).await;
    let monthly = app
        .post(TOKENS, &alice, json!({"name": "monthly", "expires_in": "30d"}))
        .await;
    assert_eq!(monthly.status, 201, "{}", monthly.text);
    let expires = time::OffsetDateTime::parse(
        monthly.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let now = robots_core::Clock::now(&*app.clock);
    assert!((expires - now - time::Duration::days(30)).abs() < time::Duration::seconds(1));
    let both = app
        .post(
            TOKENS,
            &alice,
            json!({"name": "both", "expires_in": "1d", "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (both.status, both.body["error"]["field"].as_str()),
        (422, Some("expires_in"))
    );
    let bad = app
        .post(TOKENS, &alice, json!({"name": "bad", "expires_in": "soon"}))
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("expires_in"))
    );

    // The organization caps lifetimes and requires an expiry.
    let set = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": "30d", "expiry_required": true}})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        set.body["token_policy"],
        json!({"max_lifetime": "30d", "expiry_required": true, "personal_tokens_allowed": true, "disable_unused_after": null})
    );
    let forever = app.post(TOKENS, &alice, json!({"name": "forever"})).await;
    assert_eq!(
        (forever.status, forever.body["error"]["field"].as_str()),
        (422, Some("expires_at"))
    );
    assert!(
        forever.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requires every token to expire")
    );
    let too_long = app
        .post(TOKENS, &alice, json!({"name": "long", "expires_in": "60d"}))
        .await;
    assert_eq!(too_long.status, 422);
    assert!(
        too_long.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 30d"),
        "{}",
        too_long.text
    );
    assert_eq!(
        app.post(TOKENS, &alice, json!({"name": "ok", "expires_in": "7d"}))
            .await
            .status,
        201
    );

    let root = app.login("root").await;
    let bob = app.user(&root, "bob").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    assert_eq!(
        app.request("PATCH", "/v1/orgs/acme", &bob, Some(json!({"token_policy": {}})))
            .await
            .status,
        403
    );
    assert_eq!(
        app.get("/v1/orgs/acme", &bob).await.body["token_policy"]["max_lifetime"],
        "30d"
    );
    let cleared = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": null}})),
        )
        .await;
    assert_eq!(
        cleared.body["token_policy"],
        json!({"max_lifetime": null, "expiry_required": false, "personal_tokens_allowed": true, "disable_unused_after": null})
    );
}

async fn tokens_expiring_soon_are_listed_and_flagged(app: TestApp) {
    let alice = fixture(&app).await;
    app.robot(&alice, "acme", "builder").await;
    // One second apart, so creation order is the list's order.
    let soon = credentials(
        &app.post(TOKENS, &alice, json!({"name": "soon", "expires_in": "3d"}))
            .await
            .body,
    );
    app.clock.advance(Duration::from_secs(1));
    app.post(TOKENS, &alice, json!({"name": "later", "expires_in": "30d"}))
        .await;
    app.clock.advance(Duration::from_secs(1));
    app.post(TOKENS, &alice, json!({"name": "never"})).await;
    app.post(
        "/v1/orgs/acme/robots/builder/tokens",
        &alice,
        json!({"name": "weekly", "expires_in": "6d"}),
    )
    .await;

    let list = app.get(TOKENS, &alice).await;
    let flags: Vec<(String, bool)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["expiring_soon"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [("soon".into(), true), ("later".into(), false), ("never".into(), false)]
    );
    let expiring = app.get(&format!("{TOKENS}?expiring_within=7d"), &alice).await;
    assert_eq!(expiring.body["items"].as_array().unwrap().len(), 1);
    let org_wide = app.get("/v1/orgs/acme/tokens?expiring_within=7d", &alice).await;
    let names: Vec<(&str, &str)> = org_wide.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["robot"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("deployer", "soon"), ("builder", "weekly")],
        "soonest first, across robots"
    );
    assert_eq!(
        app.get("/v1/orgs/acme/tokens?expiring_within=later", &alice)
            .await
            .status,
        400
    );

    app.clock.advance(Duration::from_secs(3 * 86_400 + 1));
    assert_eq!(app.get("/v1/whoami", &soon.basic()).await.status, 401);
    let alice = app.login("alice").await; // three days on, the old session has expired
    let after = app.get(&format!("{TOKENS}/{}", soon.access_id), &alice).await;
    assert_eq!(
        (after.body["expired"].as_bool(), after.body["expiring_soon"].as_bool()),
        (Some(true), Some(false))
    );
}

async fn rotation_keeps_the_old_token_working_for_the_grace_period(app: TestApp) {
    let alice = fixture(&app).await;
    let old = credentials(&app.post(TOKENS, &alice, json!({"name": "ci"})).await.body);
    app.clock.advance(Duration::from_secs(1));

    // A client keeps authenticating with the old token while the rotation happens.
    let base = app.base.clone();
    let client = app.client.clone();
    let looping = old.clone();
    let hammer = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..60 {
            let response = client
                .get(format!("{base}/v1/whoami"))
                .basic_auth(&looping.access_id, Some(&looping.token))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rotated = app
        .post(
            &format!("{TOKENS}/{}/rotate", old.access_id),
            &alice,
            json!({"grace_period": "1h"}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    assert_eq!(rotated.headers["cache-control"], "no-store");
    let statuses = hammer.await.unwrap();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a request failed during the grace period: {statuses:?}"
    );

    let successor = credentials(&rotated.body["successor"]);
    assert_eq!(rotated.body["successor"]["name"], "ci", "the successor takes the name");
    assert_eq!(rotated.body["rotating_out"]["role"], "rotating_out");
    assert_eq!(
        rotated.body["rotating_out"]["replaced_by"],
        successor.access_id.as_str()
    );
    assert_eq!(app.get("/v1/whoami", &successor.basic()).await.status, 200);
    assert_eq!(app.get("/v1/whoami", &old.basic()).await.status, 200);

    let list = app.get(TOKENS, &alice).await;
    let roles: Vec<(&str, &str)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["access_id"].as_str().unwrap(), t["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            (old.access_id.as_str(), "rotating_out"),
            (successor.access_id.as_str(), "successor")
        ]
    );
    let again = app
        .post(&format!("{TOKENS}/{}/rotate", old.access_id), &alice, json!({}))
        .await;
    assert_eq!((again.status, again.code()), (409, "already_rotated"));
    assert!(!list.text.contains(&successor.token), "lists never carry the Token");

    // After the grace period, the old token stops by itself.
    app.clock.advance(Duration::from_secs(3598));
    assert_eq!(app.get("/v1/whoami", &old.basic()).await.status, 200);
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(app.get("/v1/whoami", &old.basic()).await.status, 401);
    assert_eq!(app.get("/v1/whoami", &successor.basic()).await.status, 200);

    // Last use shows when the old one went quiet.
    app.flush_usage().await;
    let old_view = app.get(&format!("{TOKENS}/{}", old.access_id), &alice).await;
    assert!(old_view.body["last_used_at"].is_string());
}

async fn a_rotation_without_grace_stops_the_old_token_at_once(app: TestApp) {
    let alice = fixture(&app).await;
    let old = credentials(
        &app.post(TOKENS, &alice, json!({"name": "ci", "expires_in": "30d"}))
            .await
            .body,
    );
    let rotated = app
        .post(
            &format!("{TOKENS}/{}/rotate", old.access_id),
            &alice,
            json!({"grace_period": "0s", "expires_in": "60d"}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    assert_eq!(app.get("/v1/whoami", &old.basic()).await.status, 401);
    let successor = credentials(&rotated.body["successor"]);
    assert_eq!(app.get("/v1/whoami", &successor.basic()).await.status, 200);
    assert!(rotated.body["successor"]["expires_at"].is_string());
    let bad = app
        .post(
            &format!("{TOKENS}/{}/rotate", successor.access_id),
            &alice,
            json!({"grace_period": "a while"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (422, Some("grace_period"))
    );
    let missing = app
        .post(&format!("{TOKENS}/{}/rotate", uuid::Uuid::new_v4()), &alice, json!({}))
        .await;
    assert_eq!(missing.status, 404);
}

async fn disabled_robots_are_refused_until_enabled(app: TestApp) {
    let alice = fixture(&app).await;
    let token = credentials(&app.post(TOKENS, &alice, json!({"name": "ci"})).await.body);
    let disabled = app
        .post("/v1/orgs/acme/robots/deployer/disable", &alice, json!({}))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.body["disabled"], true);
    assert!(disabled.body["disabled_at"].is_string());
    assert_eq!(app.get("/v1/whoami", &token.basic()).await.status, 401);
    assert_eq!(app.get("/v1/auth", &token.bearer()).await.status, 401);
    // Nothing was deleted.
    assert_eq!(app.get(TOKENS, &alice).await.body["items"].as_array().unwrap().len(), 1);
    let enabled = app
        .post("/v1/orgs/acme/robots/deployer/enable", &alice, json!({}))
        .await;
    assert_eq!(enabled.body["disabled"], false);
    assert_eq!(app.get("/v1/whoami", &token.basic()).await.status, 200);
}

async fn anyone_may_report_a_leaked_token(app: TestApp) {
    let alice = fixture(&app).await;
    let leaked = credentials(&app.post(TOKENS, &alice, json!({"name": "ci"})).await.body);
    let report = |body: Value| app.post("/v1/tokens/revoke", &Auth::None, body);
    let valid = report(json!({"token": leaked.token})).await;
    let garbage = report(json!({"token": "rbt_not-a-real-token"})).await;
    let unknown =
        report(json!({"token": robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken).expose()}))
            .await;
    for answer in [&valid, &garbage, &unknown] {
        assert_eq!(
            (answer.status, answer.text.as_str()),
            (202, r#"{"status":"received"}"#),
            "no oracle"
        );
    }
    assert_eq!(
        app.get("/v1/whoami", &leaked.basic()).await.status,
        401,
        "revoked at once"
    );
    let audit = app
        .get("/v1/orgs/acme/audit?action=token.revoked_as_leaked", &alice)
        .await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    assert_eq!(audit.body["items"][0]["target"], format!("token {}", leaked.access_id));
    assert!(!audit.text.contains(&leaked.token));

    // Form encoding works too, as GitHub's secret scanning partners send.
    let another = credentials(&app.post(TOKENS, &alice, json!({"name": "ci2"})).await.body);
    let form = app
        .client
        .post(format!("{}/v1/tokens/revoke", app.base))
        .form(&[("token", &another.token)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 202);
    assert_eq!(app.get("/v1/whoami", &another.basic()).await.status, 401);
}

/// A flood of reports from one address is turned away (every report counts,
/// so the limit tells nothing about which were real); a real leak reported
/// from another address is still revoked.
async fn leak_reports_are_limited_per_address(app: TestApp) {
    let alice = fixture(&app).await;
    let leaked = credentials(&app.post(TOKENS, &alice, json!({"name": "ci"})).await.body);
    let from = |source: &str| {
        reqwest::Client::builder()
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let flooder = from("127.0.3.1");
    let burst = app.state.config().service.limits.leak_reports_per_address.burst;
    let mut statuses = Vec::new();
    for _ in 0..burst + 5 {
        let guess = robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken);
        let answer = flooder
            .post(format!("{}/v1/tokens/revoke", app.base))
            .json(&json!({"token": guess.expose()}))
            .send()
            .await
            .unwrap();
        statuses.push((answer.status().as_u16(), answer.headers().contains_key("retry-after")));
    }
    assert!(
        statuses[..burst as usize].iter().all(|(status, _)| *status == 202),
        "{statuses:?}"
    );
    assert!(
        statuses[burst as usize..].iter().all(|answer| *answer == (429, true)),
        "{statuses:?}"
    );

    let reporter = from("127.0.3.2");
    let reported = reporter
        .post(format!("{}/v1/tokens/revoke", app.base))
        .json(&json!({"token": leaked.token}))
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 202);
    assert_eq!(app.get("/v1/whoami", &leaked.basic()).await.status, 401, "revoked");
}
