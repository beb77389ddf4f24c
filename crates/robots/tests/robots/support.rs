//! Running the real binary: a server process, and commands against it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const ROBOTS: &str = env!("CARGO_BIN_EXE_robots");
pub const PASSWORD: &str = "correct horse battery staple";

/// A `robots serve` process, and what it printed so far.
pub struct Server {
    child: Child,
    pub base: String,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Server {
    pub fn start(database_args: &[&str]) -> Self {
        Self::start_with(database_args, &[])
    }

    /// With more `robots serve` flags; `https://` when they include `--tls-cert`.
    pub fn start_with(database_args: &[&str], flags: &[&str]) -> Self {
        Self::start_wrapped(&[], database_args, flags)
    }

    /// Started through `wrapper` (a command that runs the rest of its
    /// arguments, such as `prlimit --nofile=1024:1024 --`).
    pub fn start_wrapped(wrapper: &[&str], database_args: &[&str], flags: &[&str]) -> Self {
        let mut command = match wrapper.split_first() {
            Some((program, arguments)) => {
                let mut command = Command::new(program);
                command.args(arguments).arg(ROBOTS);
                command
            }
            None => Command::new(ROBOTS),
        };
        let mut child = command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            // Webhook receivers and OIDC issuers run on loopback here.
            .arg("--outbound-allow-private")
            .args(database_args)
            .args(flags)
            .env_remove("ROBOTS_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = forward_lines(child.stderr.take().unwrap());
        let mut server = Self {
            child,
            base: String::new(),
            lines,
            printed: Vec::new(),
        };
        let listening = server.wait_for("robots is listening");
        let address = match serde_json::from_str::<Value>(&listening) {
            // --log-format json
            Ok(line) => line["fields"]["address"].as_str().unwrap().to_owned(),
            Err(_) => listening
                .split("address=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned(),
        };
        let scheme = if flags.contains(&"--tls-cert") { "https" } else { "http" };
        server.base = format!("{scheme}://{address}");
        server
    }

    /// Every line printed so far.
    pub fn printed(&self) -> &[String] {
        &self.printed
    }

    /// The first line printed so far that contains `needle`.
    pub fn printed_line(&self, needle: &str) -> Option<&str> {
        self.printed
            .iter()
            .find(|line| line.contains(needle))
            .map(String::as_str)
    }

    /// The `host:port` it listens on.
    pub fn address(&self) -> &str {
        self.base.split("://").nth(1).unwrap()
    }

    /// Sends a signal (`TERM`, `KILL`) without waiting for the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to end (at most 30 s); its exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("robots serve did not stop");
    }

    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
                panic!(
                    "server never printed {needle:?}; it printed:\n{}",
                    self.printed.join("\n")
                )
            });
            self.printed.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The setup code from the start-up banner.
    pub fn setup_code(&mut self) -> String {
        let announced = self.wait_for("one-time setup code");
        if let Ok(line) = serde_json::from_str::<Value>(&announced) {
            // --log-format json
            return line["fields"]["setup_code"].as_str().unwrap().to_owned();
        }
        loop {
            let line = self.wait_for("");
            let candidate = line.trim();
            if candidate.len() == 19 && candidate.chars().filter(|c| *c == '-').count() == 3 {
                return candidate.to_owned();
            }
        }
    }

    /// SIGTERM, then the exit status and everything the server printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipe is closed now: drain what is left of it.
                let mut printed = std::mem::take(&mut self.printed);
                printed.extend(self.lines.iter());
                return (status, printed);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("robots serve did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

pub fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

pub fn create_user(database_args: &[&str], name: &str, admin: bool, password: &str) -> std::process::Output {
    let mut command = Command::new(ROBOTS);
    command
        .args([
            "admin",
            "create-user",
            name,
            "--email",
            &format!("{name}@example.com"),
            "--password-stdin",
        ])
        .args(database_args)
        .env_remove("ROBOTS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if admin {
        command.arg("--instance-admin");
    }
    let mut child = command.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

pub fn postgres_url() -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(robots_store::testing::fresh_postgres_url())
}

/// Runs `robots` commands as one user on one machine: its own home
/// directory (so its own saved session), against `server`.
pub struct Cli {
    pub home: tempfile::TempDir,
    pub server: String,
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.stdout))
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl Cli {
    pub fn new(server: &str) -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            server: server.to_owned(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ROBOTS);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("ROBOTS_SERVER", &self.server)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs with no standard input (as in a script or CI job: no terminal).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    /// Runs with extra environment variables and, optionally, standard input.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = command.spawn().unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn login(&self, username: &str) {
        self.run_with(
            &["login", "--username", username, "--password-stdin"],
            &[],
            Some(&format!("{PASSWORD}\n")),
        )
        .ok();
    }
}

/// A runtime for the async half of a test (two threads, as the server's
/// clients would be).
pub fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `username`'s session token (the password is [`PASSWORD`]).
pub async fn log_in(client: &reqwest::Client, base: &str, username: &str) -> String {
    let login: Value = client
        .post(format!("{base}/v1/sessions"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_owned()
}

/// Makes organization acme with robot `ci`, as the holder of `session`.
pub async fn make_acme(client: &reqwest::Client, base: &str, session: &str) {
    for (path, body) in [
        ("/v1/orgs", serde_json::json!({"name": "acme"})),
        ("/v1/orgs/acme/robots", serde_json::json!({"name": "ci"})),
    ] {
        let created = client
            .post(format!("{base}{path}"))
            .bearer_auth(session)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{path}");
    }
}

/// `GET /v1/whoami` with a robot's Basic credentials; the status.
pub async fn whoami(client: &reqwest::Client, base: &str, access_id: &str, token: &str) -> u16 {
    client
        .get(format!("{base}/v1/whoami"))
        .basic_auth(access_id, Some(token))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// [`whoami`], from a test without a runtime of its own.
pub fn whoami_as(base: &str, access_id: &str, token: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(whoami(&reqwest::Client::new(), base, access_id, token))
}

/// An OIDC issuer on loopback, as a CI system runs one: a discovery
/// document and a JWKS with one P-256 key generated here, and ID tokens
/// (ES256) signed with it. Plain HTTP: the server must run with
/// `--allow-insecure-issuers`.
pub struct Issuer {
    pub url: String,
    key: rcgen::KeyPair,
}

impl Issuer {
    const KID: &'static str = "test-key-1";

    /// Serves until the test process ends.
    pub fn start() -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rcgen::PublicKeyData;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let key = rcgen::KeyPair::generate().unwrap();
        // The uncompressed point: 0x04, x, y.
        let point = key.der_bytes();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": Self::KID,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]});
        let discovery = serde_json::json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match std::io::Read::read(&mut stream, &mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let (status, body) = match head.split_whitespace().nth(1) {
                    Some("/.well-known/openid-configuration") => ("200 OK", discovery.to_string()),
                    Some("/jwks") => ("200 OK", jwks.to_string()),
                    _ => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     cache-control: max-age=300\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, key }
    }

    /// An ID token with these claims (`iss`, `iat`, `nbf` and `exp` added).
    pub fn sign(&self, claims: Value) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rcgen::SigningKey;

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = claims;
        claims["iss"] = serde_json::json!(self.url);
        claims["iat"] = serde_json::json!(now);
        claims["nbf"] = serde_json::json!(now - 5);
        claims["exp"] = serde_json::json!(now + 300);
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": Self::KID});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jws_signature(&self.key.sign(signed.as_bytes()).unwrap());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// An ECDSA P-256 signature as JWS wants it (r and s, 32 bytes each), from
/// the DER `SEQUENCE { INTEGER r, INTEGER s }` that rcgen gives (short
/// enough that every length is one byte).
fn jws_signature(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30, "a DER sequence");
    let mut rest = &der[2..];
    let mut fixed = Vec::with_capacity(64);
    for _ in 0..2 {
        assert_eq!(rest[0], 0x02, "a DER integer");
        let length = usize::from(rest[1]);
        let integer = &rest[2..2 + length];
        // Without the sign byte, left-padded to 32 bytes.
        let integer = &integer[integer.len().saturating_sub(32)..];
        fixed.extend(std::iter::repeat_n(0, 32 - integer.len()));
        fixed.extend_from_slice(integer);
        rest = &rest[2 + length..];
    }
    fixed
}
