//! `robots serve` on a real port, `robots admin` on a real database.

use serde_json::json;

use crate::support::{PASSWORD, Server, create_user, post, postgres_url};

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
    assert!(!printed.iter().any(|line| line.contains("setup code")), "{printed:#?}");
}

fn admin_create_user_then_serve(database_args: &[&str]) {
    let created = create_user(database_args, "alice", true, PASSWORD);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
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
    assert!(!printed.iter().any(|line| line.contains("setup code")), "{printed:#?}");
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

/// Started with the default soft limit of 1,024 open files (and no room
/// to raise it), 2,000 idle connections do not lock out the next client:
/// the longest-idle make room.
#[test]
fn two_thousand_idle_connections_leave_room_for_the_next_client() {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    // This test's own side of 2,000 connections needs the descriptors.
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )
    .unwrap();
    assert!(
        limit.maximum.is_none_or(|hard| hard >= 2_200),
        "the test needs 2,200 open files; the hard limit is {limit:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_wrapped(
        &["prlimit", "--nofile=1024:1024", "--"],
        &["--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    let limits = server.printed_line("connection limits").unwrap().to_owned();
    assert!(
        limits.contains("open_files=1024") && limits.contains("max_connections=768"),
        "{limits}"
    );
    let address: SocketAddr = server.address().parse().unwrap();

    let mut idle = Vec::new();
    for _ in 0..2_000 {
        if let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_secs(5)) {
            idle.push(stream);
        }
    }
    assert_eq!(idle.len(), 2_000, "every connection was accepted");

    let started = Instant::now();
    let mut fresh = TcpStream::connect_timeout(&address, Duration::from_secs(2)).unwrap();
    fresh.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    fresh
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: robots\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    fresh.read_to_string(&mut answer).unwrap();
    let took = started.elapsed();
    eprintln!("/healthz on a new connection, with 2,000 idle ones: {took:?}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(idle);
}

#[test]
fn json_logs_carry_the_request_id_a_trusted_proxy_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let flags = ["--log-format", "json", "--trusted-proxy", "127.0.0.1"];
    let mut server = Server::start_with(&["--data-dir", data_dir.to_str().unwrap()], &flags);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A mistyped token, through "nginx" (a trusted proxy) with its request id.
    let answer = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/v1/auth", server.base))
            .bearer_auth(format!("rbt_{}", "A".repeat(43)))
            .header("x-request-id", "proxy-7f3a")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status(), 401);
    assert_eq!(answer.headers()["x-request-id"], "proxy-7f3a", "echoed");

    let line = server.wait_for("proxy-7f3a");
    let logged: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    assert_eq!(logged["level"], "INFO", "{line}");
    assert!(
        logged["timestamp"].is_string() && logged["target"].is_string(),
        "{line}"
    );
    assert!(
        logged["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{line}"
    );
    assert_eq!(logged["span"]["id"], "proxy-7f3a", "{line}");
    let announced: serde_json::Value =
        serde_json::from_str(server.printed_line("one-time setup code").unwrap()).unwrap();
    assert_eq!(
        announced["fields"]["setup_code"].as_str().unwrap().len(),
        19,
        "the setup code is a JSON line too: {announced}"
    );
    for line in server.printed() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not one JSON object: {line}"
        );
    }
}
