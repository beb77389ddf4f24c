//! The database out of reach: verification answers 503 with Retry-After
//! within 2 s, never a 401 that clients would take for wrong credentials,
//! and `/readyz` says the server cannot serve.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::{Auth, TestApp};

/// A TCP proxy in front of the test's PostgreSQL server: cutting it is
/// PostgreSQL going away for this server alone (open connections reset, new
/// ones refused), without stopping the server other tests share.
struct Proxy {
    address: std::net::SocketAddr,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let connections = connections.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let target = target.clone();
                    connections.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }));
                }
            }
        });
        Self {
            address,
            accept,
            connections,
        }
    }

    /// Stops accepting (the port then refuses connections) and drops every
    /// open connection.
    async fn cut(&self) {
        self.accept.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a request, and checks it was answered 503 with Retry-After, within 2 s.
async fn unavailable(what: &str, request: reqwest::RequestBuilder) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let took = started.elapsed();
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.text().await.unwrap();
    eprintln!("{what}: {status} after {took:?}");
    assert_eq!(status, 503, "{what}: {body}");
    assert!(retry_after, "{what}: no Retry-After");
    assert!(took < Duration::from_secs(2), "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_gone_verification_answers_503_not_401() {
    let Some(url) = robots_store::testing::fresh_postgres_url().await else {
        return;
    };
    let target = reqwest::Url::parse(&url).unwrap();
    let upstream = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(5432));
    let proxy = Proxy::to(upstream).await;
    let mut proxied = target.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.address.port())).unwrap();
    let store = robots_store::Store::open_postgres(proxied.as_str()).await.unwrap();
    let database = robots_store::testing::TestStore {
        store,
        dir: None,
        url: Some(proxied.to_string()),
    };
    let app = TestApp::spawn_on(database, |_| {}).await;
    let (alice, writer, _) = app.registry_fixture().await;
    assert_eq!(app.get("/readyz", &Auth::None).await.status, 200);

    proxy.cut().await;
    let base = &app.base;
    let client = &app.client;
    let basic = |request: reqwest::RequestBuilder| request.basic_auth(&writer.access_id, Some(&writer.token));
    unavailable("GET /v1/auth", basic(client.get(format!("{base}/v1/auth")))).await;
    unavailable(
        "GET /v1/auth with a permission",
        basic(client.get(format!("{base}/v1/auth?repository=acme/apps/web&action=pull"))),
    )
    .await;
    unavailable(
        "GET /v2/token",
        basic(client.get(format!(
            "{base}/v2/token?service=registry&scope=repository:acme/apps/web:pull"
        ))),
    )
    .await;
    unavailable(
        "POST /v1/oauth/token",
        basic(client.post(format!("{base}/v1/oauth/token"))).form(&[("grant_type", "client_credentials")]),
    )
    .await;
    unavailable(
        "POST /v1/introspect",
        basic(client.post(format!("{base}/v1/introspect"))).form(&[("token", writer.token.as_str())]),
    )
    .await;
    unavailable("GET /v1/whoami", basic(client.get(format!("{base}/v1/whoami")))).await;
    let Auth::Bearer(session) = &alice else { unreachable!() };
    unavailable(
        "POST a token",
        client
            .post(format!("{base}/v1/orgs/acme/robots/writer/tokens"))
            .bearer_auth(session)
            .json(&json!({"name": "during-outage"})),
    )
    .await;
    unavailable("GET /readyz", client.get(format!("{base}/readyz"))).await;
}

#[tokio::test]
async fn readyz_fails_when_the_data_directory_cannot_be_written() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    assert_eq!(app.get("/readyz", &Auth::None).await.status, 200);
    // The directory gone from under the server (as good as a full or
    // read-only disk for what comes next: the database cannot grow).
    let dir = app.database.dir.as_ref().unwrap().path().to_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    let ready = app.get("/readyz", &Auth::None).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.body["status"], "data directory not writable");
}
