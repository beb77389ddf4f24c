//! Token lifecycle in the console: rotation, disabling, the audit log,
//! the token policy and webhooks.

use std::time::Duration;

use serde_json::json;

use super::flows::{log_in, start};
use crate::support::Auth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_disable_audit_policy_and_webhooks_from_the_console() {
    let Some((app, browser)) = start().await else { return };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let old = app.token(&alice, "acme", "deployer", "ci").await;
    app.post(
        "/v1/orgs/acme/robots/deployer/tokens",
        &alice,
        json!({"name": "weekly", "expires_in": "3d"}),
    )
    .await;
    app.clock.advance(Duration::from_secs(1));
    log_in(&app, &browser, "alice").await;
    let base = format!("{}/orgs/acme/admin", app.base);

    // Tokens about to expire are flagged on the robot and in the list of robots.
    browser.goto(&format!("{base}/robots")).await;
    assert!(browser.text("table").await.contains("1 expiring soon"));
    browser.follow("deployer").await;
    assert!(browser.text("table").await.contains("expiring soon"));

    // Rotate: the successor's credentials, once, and the old token keeps working.
    browser.follow("Rotate token ci").await;
    browser.follow("Rotate token").await;
    let access_id = browser.value("#access-id").await;
    let token = browser.value("#token").await;
    assert!(
        browser.page_text().await.contains("keeps working until"),
        "{}",
        browser.page_text().await
    );
    browser.screenshot("16-token-rotated").await;
    assert_eq!(
        app.get("/v1/whoami", &Auth::Basic(access_id.clone(), token.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/v1/whoami", &old.basic()).await.status,
        200,
        "the grace period"
    );
    browser.refresh().await;
    assert!(!browser.source().await.contains(&token));
    let tokens = browser.text("table").await;
    assert!(
        tokens.contains("rotating out") && tokens.contains("successor"),
        "{tokens}"
    );

    // Disable, then enable.
    browser.follow("Disable robot account").await;
    assert!(browser.page_text().await.contains("Nothing is deleted"));
    browser.follow("Disable robot account").await;
    assert!(browser.page_text().await.contains("This robot is disabled"));
    assert_eq!(
        app.get("/v1/whoami", &Auth::Basic(access_id.clone(), token.clone()))
            .await
            .status,
        401
    );
    browser.screenshot("17-robot-disabled").await;
    browser.follow("Enable robot").await;
    assert_eq!(
        app.get("/v1/whoami", &Auth::Basic(access_id.clone(), token.clone()))
            .await
            .status,
        200
    );

    // The audit log shows it all, through the console.
    browser.follow("Audit log").await;
    let log = browser.text("table").await;
    for action in ["token.rotated", "robot.disabled", "robot.enabled", "token.created"] {
        assert!(log.contains(action), "{action} in:\n{log}");
    }
    assert!(log.contains("console"), "via console");
    assert!(!browser.source().await.contains(&token));
    browser.screenshot("18-audit-log").await;
    browser.type_into("#action", "robot.").await;
    browser.follow("Filter").await;
    let filtered = browser.text("table").await;
    assert!(
        filtered.contains("robot.enabled") && !filtered.contains("token.rotated"),
        "{filtered}"
    );

    // The token policy.
    browser.follow("Settings").await;
    browser.type_into("#max_lifetime", "forever").await;
    browser.follow("Save policy").await;
    assert!(browser.text("#max_lifetime-error").await.contains("duration"));
    browser.type_into("#max_lifetime", "30d").await;
    browser
        .click(&browser.find("input[name='expiry_required']").await)
        .await;
    browser.follow("Save policy").await;
    assert!(browser.text(".alert-success").await.contains("Token policy saved"));
    let org = app.get("/v1/orgs/acme", &alice).await;
    assert_eq!(
        org.body["token_policy"],
        json!({"max_lifetime": "30d", "expiry_required": true, "personal_tokens_allowed": true, "disable_unused_after": null})
    );

    // Webhooks: the secret is shown once; deliveries and failures are visible.
    browser.follow("Webhooks").await;
    browser.type_into("#url", "http://127.0.0.1:9/robots-hook").await;
    browser.follow("Add webhook").await;
    let secret = browser.value("#webhook-secret").await;
    assert!(secret.len() >= 40);
    browser.screenshot("19-webhooks").await;
    app.post(
        "/v1/orgs/acme/robots/deployer/tokens",
        &alice,
        json!({"name": "hooked", "expires_in": "7d"}),
    )
    .await;
    app.state.deliver_webhooks().await;
    browser.follow("Webhooks").await;
    let page = browser.page_text().await;
    assert!(page.contains("token.created") && page.contains("retrying"), "{page}");
    assert!(
        !browser.source().await.contains(&secret),
        "the secret is not shown again"
    );
    browser.follow("Delete webhook").await;
    assert!(browser.page_text().await.contains("No webhooks yet"));
    browser.quit().await;
}
