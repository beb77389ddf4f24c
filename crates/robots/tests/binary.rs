//! The real `robots` binary: `serve` on a real port, `admin` on a real database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const ROBOTS: &str = env!("CARGO_BIN_EXE_robots");
const PASSWORD: &str = "correct horse battery staple";

/// A `robots serve` process, and what it printed so far.
struct Server {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
    printed: Vec<String>,
}

impl Server {
    fn start(database_args: &[&str]) -> Self {
        let mut child = Command::new(ROBOTS)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(database_args)
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
        let address = listening
            .split("address=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        server.base = format!("http://{address}");
        server
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
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
    fn setup_code(&mut self) -> String {
        self.wait_for("one-time setup code");
        loop {
            let line = self.wait_for("");
            let candidate = line.trim();
            if candidate.len() == 19 && candidate.chars().filter(|c| *c == '-').count() == 3 {
                return candidate.to_owned();
            }
        }
    }

    /// SIGTERM, then the exit status and everything the server printed.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
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

fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
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

fn create_user(
    database_args: &[&str],
    name: &str,
    admin: bool,
    password: &str,
) -> std::process::Output {
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

fn postgres_url() -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(robots_store::testing::fresh_postgres_url())
}

#[test]
fn serve_creates_its_database_and_the_setup_code_makes_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let data_dir = data_dir.to_str().unwrap();
    let mut server = Server::start(&["--data-dir", data_dir]);
    let code = server.setup_code();
    assert!(std::path::Path::new(data_dir).join("robots.db").exists());

    let (status, user) = post(
        &server.base,
        "/v1/setup",
        json!({"code": code, "username": "admin", "email": "admin@example.com", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["instance_admin"], true);
    let (status, session) = post(
        &server.base,
        "/v1/sessions",
        json!({"username": "admin", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{session}");
    let (status, printed) = server.terminate();
    assert!(status.success(), "a clean exit on SIGTERM");
    assert!(
        printed.iter().any(|line| line.contains("robots stopped")),
        "{printed:#?}"
    );

    // Restarted on the same data, it has users and prints no code.
    let restarted = Server::start(&["--data-dir", data_dir]);
    let (status, _) = post(
        &restarted.base,
        "/v1/sessions",
        json!({"username": "admin", "password": PASSWORD}),
    );
    assert_eq!(status, 201);
    let (_, printed) = restarted.terminate();
    assert!(
        !printed.iter().any(|line| line.contains("setup code")),
        "{printed:#?}"
    );
}

fn admin_create_user_then_serve(database_args: &[&str]) {
    let created = create_user(database_args, "alice", true, PASSWORD);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&created.stdout).trim(),
        "created user alice (instance administrator)"
    );

    let again = create_user(database_args, "alice", false, PASSWORD);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already taken"));
    let weak = create_user(database_args, "bob", false, "short");
    assert_eq!(weak.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let bad_name = create_user(database_args, "Bob", false, PASSWORD);
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("username"));

    let server = Server::start(database_args);
    let (status, session) = post(
        &server.base,
        "/v1/sessions",
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["user"]["instance_admin"], true);
    let (status, _) = post(
        &server.base,
        "/v1/sessions",
        json!({"username": "bob", "password": PASSWORD}),
    );
    assert_eq!(status, 401, "bob was never created");
    let (_, printed) = server.terminate();
    assert!(
        !printed.iter().any(|line| line.contains("setup code")),
        "{printed:#?}"
    );
}

#[test]
fn admin_create_user_works_on_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    admin_create_user_then_serve(&["--data-dir", dir.path().to_str().unwrap()]);
}

#[test]
fn admin_create_user_and_serve_work_on_postgres() {
    let Some(url) = postgres_url() else { return };
    admin_create_user_then_serve(&["--database-url", &url]);
}
