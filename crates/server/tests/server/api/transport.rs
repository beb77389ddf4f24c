//! What one client may cost the server (body and head sizes, slow clients,
//! caps on robots and tokens), and serving HTTPS directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestApp;

/// Everything the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

fn authority(app: &TestApp) -> &str {
    app.base.trim_start_matches("http://").trim_start_matches("https://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_heads_are_refused() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.max_body_bytes = 4096;
    })
    .await
    else {
        return;
    };
    let root = app.setup_admin().await;
    let big = app
        .post(
            "/v1/orgs",
            &root,
            json!({"name": "acme", "display_name": "x".repeat(8192)}),
        )
        .await;
    assert_eq!(big.status, 413, "{}", big.text);
    assert!(big.text.contains("4096"), "{}", big.text);

    let huge_header = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-padding", "p".repeat(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(huge_header.status(), 431);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.header_read_timeout = Duration::from_secs(1);
        config.request_timeout = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    // A head that never ends (a slow-loris) is dropped after the head timeout.
    let mut loris = TcpStream::connect(authority(&app)).await.unwrap();
    loris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, waited) = read_until_closed(&mut loris, Duration::from_secs(10)).await;
    assert!(waited < Duration::from_secs(5), "held for {waited:?}");

    // A body trickled slower than the request timeout allows gets a 408.
    let mut trickle = TcpStream::connect(authority(&app)).await.unwrap();
    trickle
        .write_all(
            b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let (answer, waited) = read_until_closed(&mut trickle, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(waited < Duration::from_secs(5), "held for {waited:?}");

    // Meanwhile everyone else is served.
    let healthy = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_per_organization_and_tokens_per_robot_are_capped() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.max_robots_per_org = 2;
        config.max_tokens_per_robot = 2;
    })
    .await
    else {
        return;
    };
    let root = app.setup_admin().await;
    app.org(&root, "acme").await;
    app.robot(&root, "acme", "one").await;
    app.robot(&root, "acme", "two").await;
    let third = app.post("/v1/orgs/acme/robots", &root, json!({"name": "three"})).await;
    assert_eq!((third.status, third.code()), (409, "limit_reached"), "{}", third.text);
    assert!(third.text.contains("at most 2 robots"), "{}", third.text);

    let first = app.token(&root, "acme", "one", "a").await;
    let second = app.token(&root, "acme", "one", "b").await;
    let refused = app
        .post("/v1/orgs/acme/robots/one/tokens", &root, json!({"name": "c"}))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "limit_reached"),
        "{}",
        refused.text
    );
    // A robot at its cap can still rotate: the successor replaces its predecessor.
    let rotated = app
        .post(
            &format!("/v1/orgs/acme/robots/one/tokens/{}/rotate", first.access_id),
            &root,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    // Deleting a current token makes room again.
    let deleted = app
        .delete(&format!("/v1/orgs/acme/robots/one/tokens/{}", second.access_id), &root)
        .await;
    assert_eq!(deleted.status, 204);
    let room = app
        .post("/v1/orgs/acme/robots/one/tokens", &root, json!({"name": "c"}))
        .await;
    assert_eq!(room.status, 201, "{}", room.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_its_own_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let chain = vec![certificate.der().clone()];
    let private_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .unwrap();
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.tls = Some(Arc::new(tls));
        config.secure_cookies = true;
    })
    .await
    else {
        return;
    };
    let port = authority(&app).rsplit(':').next().unwrap().to_owned();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(certificate.der()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let health = trusting
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let login_page = trusting
        .get(format!("https://localhost:{port}/login"))
        .send()
        .await
        .unwrap();
    let cookie = login_page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP on the TLS port gets nothing but a closed connection.
    let plain = app.client.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
