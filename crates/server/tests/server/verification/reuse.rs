//! Signed tokens given again for the same grant within the reuse window,
//! and signed anew whenever anything about the grant differs.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Credentials, TestApp};

on_both_backends!(
    registry_tokens_are_reused_for_the_same_grant_only,
    access_tokens_are_reused_with_their_remaining_lifetime,
);

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The registry's answer, as text (compared whole) and parsed.
async fn registry_answer(app: &TestApp, credentials: &Credentials, scope: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}/v2/token?service=registry&scope={scope}", app.base))
        .basic_auth(&credentials.access_id, Some(&credentials.token))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn token_in(answer: &str) -> String {
    let answer: Value = serde_json::from_str(answer).unwrap();
    answer["token"].as_str().unwrap().to_owned()
}

async fn registry_tokens_are_reused_for_the_same_grant_only(app: TestApp) {
    let (alice, writer, reader) = app.registry_fixture().await;
    let push = "repository:acme/apps/web:pull,push";
    let (status, first) = registry_answer(&app, &writer, push).await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = registry_answer(&app, &writer, push).await;
    assert_eq!(again, first, "the same grant moments later gets the same answer");

    // Anything else about the grant is signed anew.
    let (_, pull_only) = registry_answer(&app, &writer, "repository:acme/apps/web:pull").await;
    assert_ne!(token_in(&pull_only), token_in(&first));
    assert_eq!(
        claims_of(&token_in(&pull_only))["access"][0]["actions"],
        json!(["pull"])
    );
    let (_, by_reader) = registry_answer(&app, &reader, push).await;
    assert_ne!(token_in(&by_reader), token_in(&first));
    assert_eq!(
        claims_of(&token_in(&by_reader))["access"][0]["actions"],
        json!(["pull"])
    );
    let second = app.token(&alice, "acme", "writer", "second").await;
    let (_, by_second_token) = registry_answer(&app, &second, push).await;
    assert_ne!(
        token_in(&by_second_token),
        token_in(&first),
        "each robot token gets tokens of its own"
    );

    // The window (10 s by default) passes: a new signature.
    app.clock.advance(Duration::from_secs(9));
    assert_eq!(registry_answer(&app, &writer, push).await.1, first);
    app.clock.advance(Duration::from_secs(1));
    let (_, later) = registry_answer(&app, &writer, push).await;
    assert_ne!(token_in(&later), token_in(&first));
    let (first_iat, later_iat) = (
        claims_of(&token_in(&first))["iat"].as_i64().unwrap(),
        claims_of(&token_in(&later))["iat"].as_i64().unwrap(),
    );
    assert_eq!(later_iat - first_iat, 10);

    // A permission taken away is never answered from what was signed before.
    let (_, before) = registry_answer(&app, &writer, push).await;
    assert_eq!(before, later);
    let lowered = app
        .request(
            "PUT",
            "/v1/orgs/acme/teams/writers/grants/apps/web",
            &alice,
            Some(json!({"permission": "read"})),
        )
        .await;
    assert!(lowered.status < 300, "{}", lowered.text);
    let (_, after) = registry_answer(&app, &writer, push).await;
    assert_eq!(claims_of(&token_in(&after))["access"][0]["actions"], json!(["pull"]));

    // Nor is a disabled robot, nor the robot enabled again.
    let (_, pull_before) = registry_answer(&app, &writer, push).await;
    assert_eq!(pull_before, after);
    let disabled = app.post("/v1/orgs/acme/robots/writer/disable", &alice, json!({})).await;
    assert!(disabled.status < 300, "{}", disabled.text);
    assert_eq!(registry_answer(&app, &writer, push).await.0, 401);
    let enabled = app.post("/v1/orgs/acme/robots/writer/enable", &alice, json!({})).await;
    assert!(enabled.status < 300, "{}", enabled.text);
    let (_, reenabled) = registry_answer(&app, &writer, push).await;
    assert_ne!(token_in(&reenabled), token_in(&after));

    // A deleted token gets nothing.
    let deleted = app
        .delete(
            &format!("/v1/orgs/acme/robots/writer/tokens/{}", writer.access_id),
            &alice,
        )
        .await;
    assert!(deleted.status < 300, "{}", deleted.text);
    assert_eq!(registry_answer(&app, &writer, push).await.0, 401);
}

async fn access_token(app: &TestApp, credentials: &Credentials) -> Value {
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(&credentials.access_id, Some(&credentials.token))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn access_tokens_are_reused_with_their_remaining_lifetime(app: TestApp) {
    let (_, writer, reader) = app.registry_fixture().await;
    let first = access_token(&app, &writer).await;
    assert_eq!(first["expires_in"], 900);
    app.clock.advance(Duration::from_secs(4));
    let again = access_token(&app, &writer).await;
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(again["scope"], first["scope"]);
    assert_eq!(again["token_type"], "Bearer");
    assert_eq!(
        again["expires_in"], 896,
        "the same token, four seconds closer to its expiry"
    );
    let exp = claims_of(again["access_token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    assert_eq!(exp - robots_core::Clock::now(&*app.clock).unix_timestamp(), 896);

    assert_ne!(access_token(&app, &reader).await["access_token"], first["access_token"]);
    app.clock.advance(Duration::from_secs(6));
    let later = access_token(&app, &writer).await;
    assert_ne!(later["access_token"], first["access_token"]);
    assert_eq!(later["expires_in"], 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_window_signs_every_token() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.token_reuse_window = Duration::ZERO;
    })
    .await
    else {
        return;
    };
    let (_, writer, _) = app.registry_fixture().await;
    let push = "repository:acme/apps/web:pull,push";
    let (_, first) = registry_answer(&app, &writer, push).await;
    let (_, second) = registry_answer(&app, &writer, push).await;
    assert_ne!(token_in(&first), token_in(&second));
    assert_ne!(
        access_token(&app, &writer).await["access_token"],
        access_token(&app, &writer).await["access_token"]
    );
}
