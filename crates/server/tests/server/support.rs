//! A real server on a free port, on a fresh database, with typed helpers.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use robots_core::ManualClock;
use robots_server::{AppState, ServerConfig};
use robots_store::Backend;
use robots_store::testing::TestStore;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs each listed `async fn(TestApp)` once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(app) = $crate::support::TestApp::spawn(robots_store::Backend::Sqlite).await {
                    super::$test(app).await
                }
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(app) = $crate::support::TestApp::spawn(robots_store::Backend::Postgres).await {
                    super::$test(app).await
                }
            })*
        }
    };
}

/// Everything the server logged during this test binary's run, at debug
/// level, so tests can prove what never appears in logs.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .ok();
        buffer
    })
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

/// A robot token as the API handed it out.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_id: String,
    pub token: String,
}

impl Credentials {
    pub fn basic(&self) -> Auth {
        Auth::Basic(self.access_id.clone(), self.token.clone())
    }
    pub fn bearer(&self) -> Auth {
        Auth::Bearer(self.token.clone())
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub database: TestStore,
    pub setup_code: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut ServerConfig)) -> Option<Self> {
        let database = robots_store::testing::fresh(backend).await?;
        Some(Self::spawn_on(database, configure).await)
    }

    /// A server on a database the test prepared (e.g. reached through a
    /// proxy it can cut).
    pub async fn spawn_on(database: TestStore, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        log_buffer();
        install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut config = ServerConfig::new(address);
        config.usage_flush_interval = Duration::from_millis(50);
        // Tests deliver webhooks themselves, on the manual clock.
        config.webhook_poll_interval = Duration::from_secs(3600);
        // Webhook receivers and OIDC issuers run on loopback here: the
        // operator's explicit opt-in (tests of the refusal turn it off).
        config.service.outbound.allow_private = true;
        configure(&mut config);
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let state = AppState::new(database.store.clone(), clock.clone(), config)
            .await
            .unwrap();
        let setup_code = robots_server::prepare_first_run(&state)
            .await
            .unwrap()
            .map(|code| code.display());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(robots_server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{address}"),
            client: reqwest::Client::builder().build().unwrap(),
            state,
            clock,
            database,
            setup_code,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// A second server on the same PostgreSQL database: another replica.
    pub async fn replica(&self) -> TestApp {
        let url = self.database.url.clone().expect("replicas share a PostgreSQL database");
        let store = robots_store::Store::open_postgres(&url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut config = ServerConfig::new(address);
        config.usage_flush_interval = Duration::from_millis(50);
        config.webhook_poll_interval = Duration::from_secs(3600);
        config.service.outbound.allow_private = true;
        // Both replicas sign and are trusted under one issuer.
        config.issuer = self.state.config().issuer.clone();
        config.mailer = self.state.config().mailer.clone();
        let state = AppState::new(store.clone(), self.clock.clone(), config).await.unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(robots_server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        TestApp {
            base: format!("http://{address}"),
            client: self.client.clone(),
            state,
            clock: self.clock.clone(),
            database: TestStore {
                store,
                dir: None,
                url: Some(url),
            },
            setup_code: None,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub fn backend(&self) -> Backend {
        self.database.store.backend()
    }

    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub async fn request(&self, method: &str, path: &str, auth: &Auth, body: Option<Value>) -> Response {
        let mut request = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Response {
        self.request("GET", path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Response {
        self.request("POST", path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Response {
        self.request("DELETE", path, auth, None).await
    }

    /// Completes first-run setup as `root` and returns root's session.
    pub async fn setup_admin(&self) -> Auth {
        let code = self.setup_code.clone().expect("a fresh installation has a setup code");
        let created = self
            .post(
                "/v1/setup",
                &Auth::None,
                json!({"code": code, "username": "root", "email": "root@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        self.login("root").await
    }

    /// Logs `username` in (password [`PASSWORD`]) and returns the session.
    pub async fn login(&self, username: &str) -> Auth {
        let session = self
            .post(
                "/v1/sessions",
                &Auth::None,
                json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(session.status, 201, "{}", session.text);
        Auth::Bearer(session.body["token"].as_str().unwrap().to_owned())
    }

    /// Creates a user as `admin` (an instance administrator) and logs them in.
    pub async fn user(&self, admin: &Auth, username: &str) -> Auth {
        let created = self
            .post(
                "/v1/users",
                admin,
                json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        self.login(username).await
    }

    pub async fn org(&self, owner: &Auth, name: &str) {
        let created = self.post("/v1/orgs", owner, json!({"name": name})).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }

    pub async fn add_member(&self, admin: &Auth, org: &str, username: &str, role: &str) {
        let set = self
            .request(
                "PUT",
                &format!("/v1/orgs/{org}/members/{username}"),
                admin,
                Some(json!({"role": role})),
            )
            .await;
        assert!(set.status == 201 || set.status == 200, "{}", set.text);
    }

    pub async fn robot(&self, admin: &Auth, org: &str, name: &str) {
        let created = self
            .post(&format!("/v1/orgs/{org}/robots"), admin, json!({"name": name}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }

    pub async fn token(&self, admin: &Auth, org: &str, robot: &str, name: &str) -> Credentials {
        self.create_token(admin, org, robot, json!({"name": name})).await
    }

    /// A token that expires `after` from now on the test's clock.
    pub async fn token_expiring_in(
        &self,
        admin: &Auth,
        org: &str,
        robot: &str,
        name: &str,
        after: std::time::Duration,
    ) -> Credentials {
        let expires_at = (robots_core::Clock::now(&*self.clock) + after)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        self.create_token(admin, org, robot, json!({"name": name, "expires_at": expires_at}))
            .await
    }

    async fn create_token(&self, admin: &Auth, org: &str, robot: &str, body: Value) -> Credentials {
        let created = self
            .post(&format!("/v1/orgs/{org}/robots/{robot}/tokens"), admin, body)
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        Credentials {
            access_id: created.body["access_id"].as_str().unwrap().to_owned(),
            token: created.body["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Team `ops` (users dave; robot deployer) with `write` on repository
    /// `apps/web`; repository `base` without grants.
    pub async fn access_fixture(&self, admin: &Auth, org: &str) {
        let calls = [
            ("POST", format!("/v1/orgs/{org}/teams"), Some(json!({"name": "ops"}))),
            (
                "POST",
                format!("/v1/orgs/{org}/repositories"),
                Some(json!({"name": "apps/web"})),
            ),
            (
                "POST",
                format!("/v1/orgs/{org}/repositories"),
                Some(json!({"name": "base"})),
            ),
            ("PUT", format!("/v1/orgs/{org}/teams/ops/users/dave"), None),
            ("PUT", format!("/v1/orgs/{org}/teams/ops/robots/deployer"), None),
            (
                "PUT",
                format!("/v1/orgs/{org}/teams/ops/grants/apps/web"),
                Some(json!({"permission": "write"})),
            ),
        ];
        for (method, path, body) in calls {
            let response = self.request(method, &path, admin, body).await;
            assert!(
                response.status == 201 || response.status == 200,
                "{method} {path}: {}",
                response.text
            );
        }
    }

    /// Rebuilds [`access_fixture`](Self::access_fixture)'s team and grant in
    /// `acme` after the team was deleted (the repositories still exist).
    pub async fn access_fixture_again(&self, admin: &Auth) {
        self.post("/v1/orgs/acme/teams", admin, json!({"name": "ops"})).await;
        self.request("PUT", "/v1/orgs/acme/teams/ops/robots/deployer", admin, None)
            .await;
        let granted = self
            .request(
                "PUT",
                "/v1/orgs/acme/teams/ops/grants/apps/web",
                admin,
                Some(json!({"permission": "write"})),
            )
            .await;
        assert_eq!(granted.status, 201, "{}", granted.text);
    }

    /// Waits until the server has written pending token uses.
    pub async fn flush_usage(&self) {
        self.state.flush_usage().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Secret hygiene across the whole suite: whatever a test did, no
        // token or session secret may have reached the logs or (SQLite,
        // whose files are at hand) the database.
        if std::thread::panicking() {
            return;
        }
        if let Some(secret) = secret_in_new_logs() {
            panic!("a secret reached the logs: {secret}…");
        }
        if let Some(dir) = &self.database.dir {
            for file in ["robots.db", "robots.db-wal"] {
                let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
                if let Some(secret) = first_secret_in(&bytes) {
                    panic!("a secret reached the database ({file}): {secret}…");
                }
            }
        }
    }
}

/// A secret in the logs written since the last look (by any test: the
/// buffer is shared, so each byte is scanned about once).
fn secret_in_new_logs() -> Option<String> {
    static SCANNED: Mutex<usize> = Mutex::new(0);
    let mut scanned = SCANNED.lock().unwrap();
    let logs = log_buffer().lock().unwrap();
    // Overlap the previous scan so a secret written across it is seen.
    let start = scanned.saturating_sub(64);
    *scanned = logs.len();
    first_secret_in(&logs[start.min(logs.len())..])
}

/// The first thing in `bytes` shaped like one of our secrets (a prefix and
/// at least 40 base62 characters), shortened so the failure does not leak
/// it a second time.
pub fn first_secret_in(bytes: &[u8]) -> Option<String> {
    let prefixes: [&[u8]; 3] = [b"rbt_", b"rsn_", b"rpat_"];
    bytes.iter().enumerate().find_map(|(start, &byte)| {
        if byte != b'r' {
            return None;
        }
        let rest = &bytes[start..];
        let prefix = prefixes.iter().find(|prefix| rest.starts_with(prefix))?;
        let body = rest[prefix.len()..]
            .iter()
            .take_while(|byte| byte.is_ascii_alphanumeric())
            .count();
        (body >= 40).then(|| String::from_utf8_lossy(&rest[..prefix.len() + 6]).into_owned())
    })
}

/// Whether an external program the test drives is installed. Outside CI a
/// missing one skips the test with a note; in CI it is a failure, because
/// the test command installs everything.
pub fn have_tool(program: &str, install_hint: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "{program} is required in CI: {install_hint}"
        );
        eprintln!("note: skipping: {program} is not installed ({install_hint})");
    }
    found
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not start listening on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A child process that is killed when dropped.
pub struct Background(pub std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl TestApp {
    /// An organization `acme` (admin alice) with robots `writer` (team
    /// `writers`: write on `apps/web`) and `reader` (team `readers`: read),
    /// each with a token; returns alice's session and the two credentials.
    pub async fn registry_fixture(&self) -> (Auth, Credentials, Credentials) {
        let root = self.setup_admin().await;
        let alice = self.user(&root, "alice").await;
        self.org(&alice, "acme").await;
        self.post("/v1/orgs/acme/repositories", &alice, json!({"name": "apps/web"}))
            .await;
        for (robot, team, permission) in [("writer", "writers", "write"), ("reader", "readers", "read")] {
            self.robot(&alice, "acme", robot).await;
            self.post("/v1/orgs/acme/teams", &alice, json!({"name": team})).await;
            self.request(
                "PUT",
                &format!("/v1/orgs/acme/teams/{team}/robots/{robot}"),
                &alice,
                None,
            )
            .await;
            let granted = self
                .request(
                    "PUT",
                    &format!("/v1/orgs/acme/teams/{team}/grants/apps/web"),
                    &alice,
                    Some(json!({"permission": permission})),
                )
                .await;
            assert_eq!(granted.status, 201, "{}", granted.text);
        }
        let writer = self.token(&alice, "acme", "writer", "ci").await;
        let reader = self.token(&alice, "acme", "reader", "ci").await;
        (alice, writer, reader)
    }
}

/// The fenced block of README.md that follows the line containing `marker`
/// (its first line included), so tests run the README's configurations as
/// written.
pub fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    let line_start = readme[..start].rfind('\n').map_or(0, |i| i + 1);
    let end = readme[line_start..]
        .find("```")
        .unwrap_or_else(|| panic!("unterminated block at {marker:?}"));
    readme[line_start..line_start + end].to_owned()
}

/// The paragraph of README.md that starts with `start` (up to the next blank
/// line), so tests hold the README's prose to what the server does.
pub fn readme_paragraph(start: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let begin = readme
        .find(start)
        .unwrap_or_else(|| panic!("README.md has no {start:?}"));
    let end = readme[begin..].find("\n\n").map_or(readme.len(), |end| begin + end);
    readme[begin..end].to_owned()
}
