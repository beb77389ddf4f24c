//! Tokens unused for an organization's `disable_unused_after` are disabled,
//! not deleted, once across replicas; one call enables them again.

use std::time::Duration;

use serde_json::json;

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(unused_tokens_are_disabled_once_and_enabled_in_one_call);

const DAY: u64 = 86_400;

async fn unused_tokens_are_disabled_once_and_enabled_in_one_call(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let busy = app.token(&alice, "acme", "deployer", "busy").await;
    let idle = app.token(&alice, "acme", "deployer", "idle").await;
    let policy = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"disable_unused_after": "30d"}})),
        )
        .await;
    assert_eq!(
        policy.body["token_policy"]["disable_unused_after"], "30d",
        "{}",
        policy.text
    );

    // Twenty days on, one token is used; twenty more, the other has not been.
    app.clock.advance(Duration::from_secs(20 * DAY));
    assert_eq!(app.get("/v1/whoami", &busy.basic()).await.status, 200);
    app.flush_usage().await;
    app.clock.advance(Duration::from_secs(20 * DAY));
    let replica = if app.backend() == robots_store::Backend::Postgres {
        Some(app.replica().await)
    } else {
        None
    };
    let disabled = match &replica {
        // Two replicas at once: each token is disabled by one of them.
        Some(replica) => {
            let (here, there) = tokio::join!(
                app.state.service().disable_unused_tokens(),
                replica.state.service().disable_unused_tokens()
            );
            here + there
        }
        None => app.state.service().disable_unused_tokens().await,
    };
    assert_eq!(disabled, 1);
    assert_eq!(app.state.service().disable_unused_tokens().await, 0, "nothing twice");

    assert_eq!(app.get("/v1/whoami", &idle.basic()).await.status, 401);
    assert_eq!(app.get("/v1/whoami", &busy.basic()).await.status, 200);
    // Forty days on, sessions have long expired.
    let (root, alice) = (app.login("root").await, app.login("alice").await);
    let path = format!("/v1/orgs/acme/robots/deployer/tokens/{}", idle.access_id);
    let listed = app.get(&path, &alice).await;
    assert!(listed.body["disabled_at"].is_string(), "{}", listed.text);
    let audit = app.get("/v1/orgs/acme/audit?action=token.disabled", &alice).await;
    let events = audit.body["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", audit.text);
    assert_eq!(events[0]["actor_kind"], "system");
    assert_eq!(events[0]["detail"]["reason"], "unused for 30d");

    // One call brings it back; a member cannot.
    let bob = app.user(&root, "bob").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    let refused = app.post(&format!("{path}/enable"), &bob, json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let enabled = app.post(&format!("{path}/enable"), &alice, json!({})).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    assert!(enabled.body["disabled_at"].is_null());
    assert_eq!(app.get("/v1/whoami", &idle.basic()).await.status, 200);
    // An admin disables one by hand, too.
    let disabled = app.post(&format!("{path}/disable"), &alice, json!({})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(app.get("/v1/whoami", &idle.basic()).await.status, 401);
    drop(replica);
}
