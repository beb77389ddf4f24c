//! Webhooks: signed deliveries to a receiver run by the test, retries with
//! backoff, failures made visible, and "expiring soon" announced once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ring::hmac;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, TestApp, free_port};

on_both_backends!(
    deliveries_are_signed_retried_and_failures_shown,
    expiring_tokens_are_announced_once
);

/// What a receiver got: headers and body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on a free port answering the statuses in `answers`, then 200.
async fn receiver(answers: Vec<StatusCode>) -> (String, Received) {
    let received: Received = Arc::default();
    let answers = Arc::new(Mutex::new(answers));
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State((received, answers)): State<(Received, Arc<Mutex<Vec<StatusCode>>>)>,
                 headers: HeaderMap,
                 body: String| async move {
                    received.lock().unwrap().push((headers, body));
                    let mut answers = answers.lock().unwrap();
                    if answers.is_empty() {
                        StatusCode::OK
                    } else {
                        answers.remove(0)
                    }
                },
            ),
        )
        .with_state((received.clone(), answers));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn fixture(app: &TestApp) -> Auth {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    alice
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn deliveries_are_signed_retried_and_failures_shown(app: TestApp) {
    let alice = fixture(&app).await;
    let (url, received) = receiver(vec![StatusCode::INTERNAL_SERVER_ERROR]).await;
    let created = app
        .post(
            "/v1/orgs/acme/webhooks",
            &alice,
            json!({"url": url, "events": ["token.created", "token.deleted"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let webhook = created.body["id"].as_str().unwrap().to_owned();
    assert!(
        app.get("/v1/orgs/acme/webhooks", &alice).await.body["items"][0]
            .get("secret")
            .is_none(),
        "the secret is shown once"
    );

    let token = app.token(&alice, "acme", "deployer", "ci").await;
    assert_eq!(app.state.deliver_webhooks(&client()).await, 1);
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "first attempt: the receiver answered 500"
    );
    let deliveries = app
        .get(&format!("/v1/orgs/acme/webhooks/{webhook}/deliveries"), &alice)
        .await;
    assert_eq!(deliveries.body["items"][0]["status"], "retrying");
    assert_eq!(deliveries.body["items"][0]["last_status"], 500);
    assert_eq!(app.state.deliver_webhooks(&client()).await, 0, "not before the backoff");
    app.clock.advance(Duration::from_secs(11));
    assert_eq!(app.state.deliver_webhooks(&client()).await, 1);
    let deliveries = app
        .get(&format!("/v1/orgs/acme/webhooks/{webhook}/deliveries"), &alice)
        .await;
    assert_eq!(
        (
            deliveries.body["items"][0]["status"].as_str(),
            deliveries.body["items"][0]["attempts"].as_i64()
        ),
        (Some("delivered"), Some(2))
    );

    // The receiver can check the signature with nothing but the secret.
    let (headers, body) = received.lock().unwrap()[1].clone();
    assert_eq!(headers["x-robots-event"], "token.created");
    let signature = headers["x-robots-signature"].to_str().unwrap();
    let (timestamp, mac) = signature.trim_start_matches("t=").split_once(",v1=").unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let expected: String = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(mac, expected);
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (payload["event"].as_str(), payload["org"].as_str()),
        (Some("token.created"), Some("acme"))
    );
    assert_eq!(payload["data"]["access_id"], token.access_id.as_str());
    assert!(!body.contains(&token.token), "never the Token");

    // A receiver that is gone: retried with backoff, then given up and shown.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let broken = app
        .post(
            "/v1/orgs/acme/webhooks",
            &alice,
            json!({"url": dead, "events": ["token.deleted"]}),
        )
        .await;
    let broken_id = broken.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(
            &format!("/v1/orgs/acme/robots/deployer/tokens/{}", token.access_id),
            &alice
        )
        .await
        .status,
        204
    );
    for _ in 0..robots_server::webhooks::MAX_ATTEMPTS {
        app.state.deliver_webhooks(&client()).await;
        app.clock.advance(Duration::from_secs(3601));
    }
    let hooks = app.get("/v1/orgs/acme/webhooks", &alice).await;
    let broken_view = hooks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == broken_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(broken_view["failed_deliveries"], 1);
    assert!(broken_view["last_error"].as_str().unwrap().len() > 3, "{broken_view}");
    let deliveries = app
        .get(&format!("/v1/orgs/acme/webhooks/{broken_id}/deliveries"), &alice)
        .await;
    assert_eq!(deliveries.body["items"][0]["status"], "failed");
    assert_eq!(
        deliveries.body["items"][0]["attempts"],
        robots_server::webhooks::MAX_ATTEMPTS
    );

    // Validation, and removal.
    for (body, field) in [
        (json!({"url": "ftp://example.com"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "http://example.com", "events": ["token.exploded"]}),
            "events",
        ),
        (json!({"url": "http://example.com", "events": []}), "events"),
    ] {
        let refused = app.post("/v1/orgs/acme/webhooks", &alice, body).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (422, Some(field))
        );
    }
    assert_eq!(
        app.delete(&format!("/v1/orgs/acme/webhooks/{broken_id}"), &alice)
            .await
            .status,
        204
    );
    assert_eq!(
        app.get("/v1/orgs/acme/webhooks", &alice).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn expiring_tokens_are_announced_once(app: TestApp) {
    let alice = fixture(&app).await;
    let (url, received) = receiver(vec![]).await;
    app.post(
        "/v1/orgs/acme/webhooks",
        &alice,
        json!({"url": url, "events": ["token.expiring_soon"]}),
    )
    .await;
    app.post(
        "/v1/orgs/acme/robots/deployer/tokens",
        &alice,
        json!({"name": "soon", "expires_in": "3d"}),
    )
    .await;
    app.post(
        "/v1/orgs/acme/robots/deployer/tokens",
        &alice,
        json!({"name": "later", "expires_in": "30d"}),
    )
    .await;
    for _ in 0..3 {
        app.state.service().announce_expiring_tokens().await;
        app.state.deliver_webhooks(&client()).await;
    }
    let received = received.lock().unwrap().clone();
    assert_eq!(
        received.len(),
        1,
        "announced once, for the one token expiring within 7 days"
    );
    let payload: Value = serde_json::from_str(&received[0].1).unwrap();
    assert_eq!(
        (payload["event"].as_str(), payload["data"]["name"].as_str()),
        (Some("token.expiring_soon"), Some("soon"))
    );
}
