//! What one client may cost the server (body and head sizes, slow clients,
//! caps on robots and tokens), and serving HTTPS directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Auth, TestApp};

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
    // Routes that read a body of any type refuse in the same shape.
    let leak_report = app
        .post("/v1/tokens/revoke", &Auth::None, json!({"token": "x".repeat(8192)}))
        .await;
    assert_eq!(
        (leak_report.status, leak_report.code()),
        (413, "payload_too_large"),
        "{}",
        leak_report.text
    );

    // The rest of a refused body is drained before the answer (or the answer
    // says the connection closes), so the client's next request on its
    // pooled connection is answered rather than sent into a close.
    for round in 0..50 {
        let big = app
            .post(
                "/v1/orgs",
                &root,
                json!({"name": "acme", "display_name": "x".repeat(200_000)}),
            )
            .await;
        assert_eq!(big.status, 413, "{}", big.text);
        let next = app
            .post("/v1/orgs", &root, json!({"name": format!("org-{round}")}))
            .await;
        assert_eq!(next.status, 201, "round {round}: {}", next.text);
    }

    let huge_header = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-padding", "p".repeat(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(huge_header.status(), 431);
}

/// One answer on a kept-alive connection: its head (lowercase) and body.
async fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut received = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .map_or(0, |value| value.trim().parse().unwrap());
            if received.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]).into_owned();
                return (head, body);
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(
            read > 0,
            "closed before a whole answer: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Sends `request` on a new connection and reads until the server closes
/// it: the answer (lowercase), which must say that the connection closes,
/// and how long it took.
async fn closing_answer(app: &TestApp, request: &[u8]) -> (String, Duration) {
    let mut stream = TcpStream::connect(authority(app)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let (answer, waited) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let answer = answer.to_ascii_lowercase();
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    (answer, waited)
}

/// What a handler leaves unread of a body (here: one over the size limit,
/// or sent to a route that takes none) is read and thrown away before the
/// answer, so the connection stays usable. A body too large or too slow for
/// that, or one held back for `100 Continue`, gets an answer that says the
/// connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_bodies_are_drained_or_close_the_connection() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.max_body_bytes = 4096;
    })
    .await
    else {
        return;
    };
    let head = |length: usize, extra: &str| {
        format!(
            "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
        )
    };

    // Refused at its head (413), the rest still on its way: drained.
    let mut stream = TcpStream::connect(authority(&app)).await.unwrap();
    stream.write_all(head(10_000, "").as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(&[b'x'; 9000]).await.unwrap();
    let (refused, body) = read_answer(&mut stream).await;
    assert!(refused.starts_with("http/1.1 413"), "{refused}");
    assert!(body.contains("payload_too_large"), "{body}");
    assert!(!refused.contains("\r\nconnection: close"), "{refused}");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (next, body) = read_answer(&mut stream).await;
    assert!(next.starts_with("http/1.1 200"), "{next}");
    assert_eq!(body, "ok");

    // More than the server will read to keep a connection: answered and closed.
    let (answer, _) = closing_answer(&app, head(1_000_000, "").as_bytes()).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");

    // A form declared larger than the limit is refused before any of it arrives.
    let (answer, _) = closing_answer(
        &app,
        b"POST /v1/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("http/1.1 400"), "{answer}");
    assert!(answer.contains("the form is larger than 4096 bytes"), "{answer}");

    // Held back until `100 Continue`, which a refusal never sends.
    let (answer, _) = closing_answer(&app, head(10_000, "Expect: 100-continue\r\n").as_bytes()).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");

    // A body that stops coming, to a route that reads none: the answer waits
    // for it a moment, then closes the connection.
    let (answer, waited) = closing_answer(
        &app,
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .await;
    assert!(answer.starts_with("http/1.1 405"), "{answer}");
    assert!(waited < Duration::from_secs(5), "held for {waited:?}");
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
        config.service.max_robots_per_org = 2;
        config.service.max_tokens_per_robot = 2;
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

/// Keep-alive connections idle past the timeout are closed; at the cap, the
/// longest-idle make room for new ones, and a busy one is never cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_make_room() {
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.keep_alive_timeout = Duration::from_millis(300);
        config.max_connections = 20;
    })
    .await
    else {
        return;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", authority(&app));

    // Used once, then idle past the timeout: closed.
    let mut kept = TcpStream::connect(authority(&app)).await.unwrap();
    kept.write_all(request.as_bytes()).await.unwrap();
    let (head, _) = read_answer(&mut kept).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let (rest, waited) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(
        rest.is_empty() && waited < Duration::from_secs(2),
        "closed after {waited:?}: {rest}"
    );

    // Forty idle connections against a cap of twenty (and no timeout to
    // close them meanwhile): each new one is admitted, the oldest idle
    // closed to make room.
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.max_connections = 20;
    })
    .await
    else {
        return;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", authority(&app));
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(authority(&app)).await.unwrap());
    }
    let mut fresh = TcpStream::connect(authority(&app)).await.unwrap();
    let started = Instant::now();
    fresh.write_all(request.as_bytes()).await.unwrap();
    let (head, _) = read_answer(&mut fresh).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let (first, waited) = read_until_closed(&mut idle[0], Duration::from_secs(3)).await;
    assert!(
        first.is_empty() && waited < Duration::from_secs(2),
        "the oldest idle connection was closed ({waited:?})"
    );
}
