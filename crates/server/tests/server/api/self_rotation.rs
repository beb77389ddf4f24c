//! A robot rotating its own token: opt-in per robot, only the token it
//! authenticates with, within the organization's policy, and said to be
//! the robot's doing in the audit log and the webhooks.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::webhooks::receiver;
use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(a_robot_allowed_to_rotates_its_own_token_and_nothing_else);

const ROTATE: &str = "/v1/robot/tokens/current/rotate";

async fn a_robot_allowed_to_rotates_its_own_token_and_nothing_else(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let old = app
        .token_expiring_in(
            &alice,
            "acme",
            "deployer",
            "ci",
            std::time::Duration::from_secs(90 * 86_400),
        )
        .await;
    let other = app.token(&alice, "acme", "deployer", "other").await;

    // Not allowed until an admin says so.
    let refused = app.post(ROTATE, &old.basic(), json!({})).await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"), "{}", refused.text);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("self_rotate")
    );
    // People rotate tokens elsewhere.
    assert_eq!(app.post(ROTATE, &alice, json!({})).await.status, 403);
    assert_eq!(app.post(ROTATE, &Auth::None, json!({})).await.status, 401);

    let allowed = app
        .request(
            "PATCH",
            "/v1/orgs/acme/robots/deployer",
            &alice,
            Some(json!({"self_rotate": true})),
        )
        .await;
    assert_eq!(allowed.body["self_rotate"], true, "{}", allowed.text);
    let policy = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": "30d"}})),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    let (hook, received) = receiver(vec![]).await;
    let created = app
        .post(
            "/v1/orgs/acme/webhooks",
            &alice,
            json!({"url": hook, "events": ["token.rotated"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let rotated = app.post(ROTATE, &old.bearer(), json!({"grace_period": "1h"})).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let successor = &rotated.body["successor"];
    assert_eq!(successor["name"], "ci");
    assert_eq!(rotated.body["rotating_out"]["access_id"], old.access_id.as_str());
    // The successor of a 90-day token under a 30-day policy lives 30 days.
    let lifetime = time::OffsetDateTime::parse(
        successor["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - robots_core::Clock::now(&*app.clock);
    assert!(
        (lifetime - time::Duration::days(30)).abs() < time::Duration::minutes(1),
        "{lifetime}"
    );
    let new = crate::support::Credentials {
        access_id: successor["access_id"].as_str().unwrap().to_owned(),
        token: successor["token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(app.get("/v1/whoami", &new.basic()).await.status, 200);
    // The old token works through its grace period, and rotates once.
    assert_eq!(app.get("/v1/whoami", &old.basic()).await.status, 200);
    let again = app.post(ROTATE, &old.basic(), json!({})).await;
    assert_eq!((again.status, again.code()), (409, "already_rotated"));
    // Only its own: the other token is untouched.
    let listed = app.get("/v1/orgs/acme/robots/deployer/tokens", &alice).await;
    let roles: Vec<(&str, &str)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| (token["name"].as_str().unwrap(), token["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&("other", "current")), "{roles:?}");
    assert_eq!(app.get("/v1/whoami", &other.basic()).await.status, 200);

    // The audit log and the webhook say the robot did it.
    let audit = app.get("/v1/orgs/acme/audit?action=token.rotated", &alice).await;
    let event = &audit.body["items"][0];
    assert_eq!(
        (event["actor_kind"].as_str(), event["actor"].as_str()),
        (Some("robot"), Some("acme/deployer")),
        "{}",
        audit.text
    );
    assert_eq!(app.state.deliver_webhooks().await, 1);
    let body = received.lock().unwrap()[0].1.clone();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["actor"], json!({"kind": "robot", "name": "acme/deployer"}));
    assert!(!body.contains(&new.token));

    // Forbidden again: the successor cannot rotate.
    app.request(
        "PATCH",
        "/v1/orgs/acme/robots/deployer",
        &alice,
        Some(json!({"self_rotate": false})),
    )
    .await;
    assert_eq!(
        app.post(ROTATE, &new.basic(), json!({})).await.status,
        StatusCode::FORBIDDEN.as_u16()
    );
}
