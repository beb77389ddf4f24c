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
pub(crate) type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on a free port answering the statuses in `answers`, then 200.
pub(crate) async fn receiver(answers: Vec<StatusCode>) -> (String, Received) {
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

/// Without the operator's opt-in, no URL of an admin's reaches a private
/// network: refused when saved, and again when sent (a URL stored some
/// other way, or a name that resolves to such an address).
async fn private_destinations_are_refused_when_saved_and_when_sent(backend: robots_store::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.service.outbound.allow_private = false).await else {
        return;
    };
    let alice = fixture(&app).await;
    for (url, reason) in [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/hook", "private"),
        ("http://100.64.0.1/hook", "carrier-grade NAT"),
        ("http://[fd00::1]/hook", "unique local"),
        ("http://0.0.0.0:9/hook", "unspecified"),
    ] {
        let refused = app.post("/v1/orgs/acme/webhooks", &alice, json!({"url": url})).await;
        assert_eq!(
            (refused.status, refused.code()),
            (422, "invalid_field"),
            "{url}: {}",
            refused.text
        );
        assert_eq!(refused.body["error"]["field"], "url");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(reason) && message.contains("--outbound-allow-private"),
            "{url}: {message}"
        );
    }
    let issuer = app
        .post(
            "/v1/orgs/acme/robots/deployer/federated-credentials",
            &alice,
            json!({"name": "ci", "issuer": "https://169.254.169.254", "audience": "robots", "subject": "repo:acme/app:*"}),
        )
        .await;
    assert_eq!(
        (issuer.status, issuer.body["error"]["field"].as_str()),
        (422, Some("issuer")),
        "{}",
        issuer.text
    );

    // Stored behind the API's back: by address, and by a name that
    // resolves to loopback. Neither is sent to.
    let (url, received) = receiver(vec![]).await;
    let org_id = uuid::Uuid::parse_str(app.get("/v1/orgs/acme", &alice).await.body["id"].as_str().unwrap()).unwrap();
    let user_id = uuid::Uuid::parse_str(app.get("/v1/whoami", &alice).await.body["id"].as_str().unwrap()).unwrap();
    for url in [url.clone(), url.replace("127.0.0.1", "localhost")] {
        let record = robots_store::AuditEvent {
            id: uuid::Uuid::now_v7(),
            org_id: None,
            at: robots_core::Clock::now(&*app.clock),
            actor_kind: "system".into(),
            actor: None,
            action: "webhook.created".into(),
            target: None,
            detail: "{}".into(),
            ip: None,
            user_agent: None,
            via: "system".into(),
            request_id: None,
        };
        let new = robots_store::NewWebhook {
            id: uuid::Uuid::now_v7(),
            org_id,
            url: &url,
            secret: "s",
            events: &["token.created".to_owned()],
            created_by: user_id,
        };
        app.state
            .store()
            .create_webhook(&new, record.at, 20, &record)
            .await
            .unwrap();
    }
    app.token(&alice, "acme", "deployer", "ci").await;
    assert_eq!(app.state.deliver_webhooks().await, 2);
    assert!(received.lock().unwrap().is_empty(), "nothing reached the receiver");
    let webhooks = app.get("/v1/orgs/acme/webhooks", &alice).await;
    for webhook in webhooks.body["items"].as_array().unwrap() {
        let error = webhook["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("loopback"), "{webhook}");
    }
}

#[tokio::test]
async fn sqlite_private_destinations_are_refused_when_saved_and_when_sent() {
    private_destinations_are_refused_when_saved_and_when_sent(robots_store::Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_private_destinations_are_refused_when_saved_and_when_sent() {
    private_destinations_are_refused_when_saved_and_when_sent(robots_store::Backend::Postgres).await;
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
    assert_eq!(app.state.deliver_webhooks().await, 1);
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
    assert_eq!(app.state.deliver_webhooks().await, 0, "not before the backoff");
    app.clock.advance(Duration::from_secs(11));
    assert_eq!(app.state.deliver_webhooks().await, 1);
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
        app.state.deliver_webhooks().await;
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
    let (old_url, old_received) = receiver(vec![]).await;
    let subscribe = |url: String, event: &'static str| {
        app.post("/v1/orgs/acme/webhooks", &alice, json!({"url": url, "events": [event]}))
    };
    assert_eq!(subscribe(url, "token.expiring").await.status, 201);
    assert_eq!(subscribe(old_url, "token.expiring_soon").await.status, 201);
    for (name, lifetime) in [("soon", "10d"), ("later", "60d"), ("brief", "6d")] {
        let created = app
            .post(
                "/v1/orgs/acme/robots/deployer/tokens",
                &alice,
                json!({"name": name, "expires_in": lifetime}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let announce = || async {
        for _ in 0..3 {
            app.state.service().record_expiry_notices().await;
            app.state.deliver_webhooks().await;
        }
    };
    announce().await;
    // Four days on, "soon" has 6 left; "brief", 6 days long, waits for its last day.
    app.clock.advance(Duration::from_secs(4 * 86_400));
    announce().await;
    // Another day: "brief" has less than one left.
    app.clock.advance(Duration::from_secs(86_400));
    announce().await;

    let events = |received: &Received| -> Vec<(String, String, i64)> {
        received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| {
                let payload: Value = serde_json::from_str(body).unwrap();
                (
                    payload["event"].as_str().unwrap().to_owned(),
                    payload["data"]["name"].as_str().unwrap().to_owned(),
                    payload["data"]["within_days"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        events(&received),
        [
            ("token.expiring".to_owned(), "soon".to_owned(), 7),
            ("token.expiring".to_owned(), "brief".to_owned(), 1),
        ],
        "each threshold once, and only those shorter than the token's life"
    );
    assert_eq!(
        events(&old_received),
        [("token.expiring_soon".to_owned(), "soon".to_owned(), 7)],
        "the 7-day notice under its earlier name"
    );
}

/// A receiver that never answers (the server gives up after its 10 s
/// timeout); counts what reached it.
async fn dead_receiver() -> (String, Arc<Mutex<usize>>) {
    let reached: Arc<Mutex<usize>> = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(|State(reached): State<Arc<Mutex<usize>>>| async move {
                *reached.lock().unwrap() += 1;
                tokio::time::sleep(Duration::from_secs(60)).await;
                StatusCode::OK
            }),
        )
        .with_state(reached.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, reached)
}

/// One organization's dead endpoint holds up its own deliveries only: the
/// background loop keeps starting others while it hangs.
async fn a_dead_endpoint_holds_up_only_its_own_organization(backend: robots_store::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.webhook_poll_interval = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let alice = fixture(&app).await;
    app.org(&alice, "globex").await;
    app.robot(&alice, "globex", "builder").await;
    let (dead, reached) = dead_receiver().await;
    let (alive, received) = receiver(vec![]).await;
    for (org, url) in [("acme", &dead), ("globex", &alive)] {
        let created = app
            .post(&format!("/v1/orgs/{org}/webhooks"), &alice, json!({"url": url}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    // More of acme's events than it may have in flight, all hanging.
    for i in 0..6 {
        app.token(&alice, "acme", "deployer", &format!("t{i}")).await;
    }
    let started = std::time::Instant::now();
    while *reached.lock().unwrap() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "acme's deliveries did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let queued = std::time::Instant::now();
    app.token(&alice, "globex", "builder", "ci").await;
    while received.lock().unwrap().is_empty() {
        assert!(
            queued.elapsed() < Duration::from_secs(2),
            "globex waited on acme's dead endpoint"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("globex's event delivered {:?} after it was queued", queued.elapsed());
    assert_eq!(
        *reached.lock().unwrap(),
        4,
        "at most 4 of one organization's deliveries at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_dead_endpoint_holds_up_only_its_own_organization() {
    a_dead_endpoint_holds_up_only_its_own_organization(robots_store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dead_endpoint_holds_up_only_its_own_organization() {
    a_dead_endpoint_holds_up_only_its_own_organization(robots_store::Backend::Postgres).await;
}

/// Two replicas polling one queue: every attempt of every delivery is made
/// by one of them, once, and never before its backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_exactly_once() {
    let Some(a) = TestApp::spawn(robots_store::Backend::Postgres).await else {
        return;
    };
    let b = a.replica().await;
    let alice = fixture(&a).await;
    // Every delivery is refused the first time (500), so each is tried twice.
    let (url, received) = receiver(vec![StatusCode::INTERNAL_SERVER_ERROR; 50]).await;
    let created = a.post("/v1/orgs/acme/webhooks", &alice, json!({"url": url})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    for i in 0..50 {
        a.token(&alice, "acme", "deployer", &format!("t{i}")).await;
    }
    let receipts = || {
        let mut per_delivery = std::collections::BTreeMap::<String, usize>::new();
        for (headers, _) in received.lock().unwrap().iter() {
            let id = headers["x-robots-delivery"].to_str().unwrap().to_owned();
            *per_delivery.entry(id).or_default() += 1;
        }
        per_delivery
    };
    // Both replicas poll as fast as they can until `expected` attempts
    // arrived, then once more each, for a late duplicate to show.
    let poll_until = |expected: usize| {
        let pollers: Vec<_> = [&a, &b]
            .into_iter()
            .map(|app| {
                let (state, received) = (app.state.clone(), received.clone());
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    while received.lock().unwrap().len() < expected && started.elapsed() < Duration::from_secs(20) {
                        for task in state.start_due_deliveries().await {
                            let _ = task.await;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    state.deliver_webhooks().await;
                })
            })
            .collect();
        async move {
            for poller in pollers {
                poller.await.unwrap();
            }
        }
    };

    poll_until(50).await;
    let first = receipts();
    assert_eq!(first.len(), 50, "every event reached the receiver");
    assert!(
        first.values().all(|count| *count == 1),
        "an attempt was made twice, or before its backoff: {first:?}"
    );

    a.clock.advance(Duration::from_secs(11));
    poll_until(100).await;
    let second = receipts();
    assert!(second.values().all(|count| *count == 2), "{second:?}");
    let deliveries = a
        .get(
            &format!(
                "/v1/orgs/acme/webhooks/{}/deliveries",
                created.body["id"].as_str().unwrap()
            ),
            &alice,
        )
        .await;
    let items = deliveries.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert!(
        items
            .iter()
            .all(|item| item["status"] == "delivered" && item["attempts"] == 2),
        "{}",
        deliveries.text
    );
}
