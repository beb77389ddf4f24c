//! The instance's floor under every organization's token policy.

use serde_json::json;

use crate::on_both_backends;
use crate::support::TestApp;

on_both_backends!(the_instance_floor_holds_under_every_organization);

async fn the_instance_floor_holds_under_every_organization(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let read = app.get("/v1/instance/policy", &alice).await;
    assert_eq!(
        read.body,
        json!({"max_lifetime": null, "expiry_required": false, "personal_token_max_lifetime": null})
    );
    let created = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "old", "scopes": ["robots:read"], "expires_in": "90d"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let old_pat = crate::support::Auth::Bearer(created.body["token"].as_str().unwrap().to_owned());

    let floor = json!({"max_lifetime": "30d", "expiry_required": true, "personal_token_max_lifetime": "14d"});
    let refused = app
        .request("PUT", "/v1/instance/policy", &alice, Some(floor.clone()))
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let set = app
        .request("PUT", "/v1/instance/policy", &root, Some(floor.clone()))
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(app.get("/v1/instance/policy", &alice).await.body, floor);
    let audit = app.get("/v1/audit?action=instance.policy_updated", &root).await;
    assert_eq!(
        audit.body["items"][0]["detail"]["max_lifetime"], "30d",
        "{}",
        audit.text
    );

    // Robot tokens: an expiry, and at most 30 days, though acme sets nothing.
    let tokens = "/v1/orgs/acme/robots/deployer/tokens";
    for (body, words) in [
        (json!({"name": "forever"}), "requires every token to expire"),
        (json!({"name": "long", "expires_in": "60d"}), "at most 30d"),
    ] {
        let refused = app.post(tokens, &alice, body).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert!(refused.text.contains(words), "{}", refused.text);
    }
    assert_eq!(
        app.post(tokens, &alice, json!({"name": "month", "expires_in": "30d"}))
            .await
            .status,
        201
    );

    // An organization's policy may only be stricter.
    let looser = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": "90d"}})),
        )
        .await;
    assert_eq!(
        (looser.status, looser.body["error"]["field"].as_str()),
        (422, Some("token_policy.max_lifetime"))
    );
    assert!(
        looser.text.contains("installation allows tokens to live at most 30d"),
        "{}",
        looser.text
    );
    let stricter = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": "7d"}})),
        )
        .await;
    assert_eq!(stricter.status, 200, "{}", stricter.text);
    assert_eq!(
        app.post(tokens, &alice, json!({"name": "ten", "expires_in": "10d"}))
            .await
            .status,
        422
    );

    // Personal access tokens: at most 14 days, for those made before too.
    let made = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "new", "scopes": ["robots:read"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let long = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "long", "scopes": ["robots:read"], "expires_in": "30d"}),
        )
        .await;
    assert_eq!(
        (long.status, long.body["error"]["field"].as_str()),
        (422, Some("expires_at"))
    );
    let used = app.get("/v1/orgs/acme/robots", &old_pat).await;
    assert_eq!((used.status, used.code()), (403, "forbidden"), "{}", used.text);
    assert!(used.text.contains("at most 14d"), "{}", used.text);

    for bad in [
        json!({"personal_token_max_lifetime": "400d"}),
        json!({"max_lifetime": "0s"}),
    ] {
        let refused = app
            .request("PUT", "/v1/instance/policy", &root, Some(bad.clone()))
            .await;
        assert_eq!(refused.status, 422, "{bad}: {}", refused.text);
    }
    assert_eq!(
        app.get("/v1/instance/policy", &alice).await.body,
        floor,
        "nothing half-written"
    );
}
