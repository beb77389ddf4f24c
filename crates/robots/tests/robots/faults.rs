//! The server process under faults: stopped with SIGTERM mid-request,
//! killed with SIGKILL mid-write, and started with broken TLS files.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{PASSWORD, ROBOTS, Server, create_user, log_in, make_acme, postgres_url, runtime, whoami};

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let mut server = Server::start(&["--data-dir", data_dir]);

    // A request whose body is still arriving when the signal comes.
    let body = json!({"username": "nobody", "password": "wrong"}).to_string();
    let mut in_flight = TcpStream::connect(server.address()).unwrap();
    write!(
        in_flight,
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));

    // New connections are no longer accepted ...
    assert!(
        TcpStream::connect(server.address()).is_err(),
        "still listening after SIGTERM"
    );
    // ... but the request in flight is answered in full.
    in_flight.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid_login"), "{answer}");
    assert!(server.wait_exit().success(), "a clean exit after draining");
}

/// Creates tokens from `writers` concurrent clients until the server dies;
/// returns the (Access ID, Token) of every 201 that arrived.
async fn create_until_killed(base: &str, session: &str, writers: usize) -> Vec<(String, String)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let (base, session, seen) = (base.to_owned(), session.to_owned(), seen.clone());
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let sent = client
                    .post(format!("{base}/v1/orgs/acme/robots/ci/tokens"))
                    .bearer_auth(&session)
                    .json(&json!({"name": format!("w{writer}-{n}")}))
                    .send()
                    .await;
                let Ok(response) = sent else { return };
                if response.status() != 201 {
                    return;
                }
                let Ok(created) = response.json::<Value>().await else {
                    return;
                };
                let access_id = created["access_id"].as_str().unwrap().to_owned();
                let token = created["token"].as_str().unwrap().to_owned();
                seen.lock().unwrap().push((access_id, token));
            }
        });
    }
    tasks.join_all().await;
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

fn kill_9_during_concurrent_creates_loses_nothing(database_args: &[&str]) {
    assert!(create_user(database_args, "alice", true, PASSWORD).status.success());
    let flags = ["--max-tokens-per-robot", "1000000"];
    let mut server = Server::start_with(database_args, &flags);
    let runtime = runtime();
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let session = runtime.block_on(async {
        let session = log_in(&client, &base, "alice").await;
        make_acme(&client, &base, &session).await;
        session
    });

    // Eight clients create tokens as fast as they can; SIGKILL lands mid-stream.
    let creating = {
        let (base, session) = (base.clone(), session.clone());
        runtime.spawn(async move { create_until_killed(&base, &session, 8).await })
    };
    std::thread::sleep(Duration::from_millis(1500));
    server.signal("KILL");
    let seen = runtime.block_on(creating).unwrap();
    server.wait_exit();
    assert!(seen.len() > 50, "only {} tokens created before the kill", seen.len());

    let restarted = Server::start_with(database_args, &flags);
    let base = restarted.base.clone();
    runtime.block_on(async {
        // Every token whose 201 reached a client works after the restart.
        for (access_id, token) in &seen {
            let status = whoami(&client, &base, access_id, token).await;
            assert_eq!(status, 200, "token {access_id} was lost");
        }
        // Every token that exists is whole: listed, and with its audit event.
        let session = &log_in(&client, &base, "alice").await;
        let mut stored = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: Value = client
                .get(format!("{base}/v1/orgs/acme/robots/ci/tokens?limit=100{cursor}"))
                .bearer_auth(session)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for token in page["items"].as_array().unwrap() {
                stored.push(token["access_id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert!(
            stored.len() >= seen.len(),
            "{} stored, {} seen",
            stored.len(),
            seen.len()
        );
        // At most the requests in flight at the kill committed unseen.
        assert!(
            stored.len() <= seen.len() + 8,
            "{} stored, {} seen",
            stored.len(),
            seen.len()
        );
        let mut audited = std::collections::HashSet::new();
        let mut cursor = String::new();
        loop {
            let page: Value = client
                .get(format!(
                    "{base}/v1/orgs/acme/audit?action=token.created&limit=100{cursor}"
                ))
                .bearer_auth(session)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for event in page["items"].as_array().unwrap() {
                audited.insert(
                    event["target"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("token ")
                        .to_owned(),
                );
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        for access_id in &stored {
            assert!(
                audited.contains(access_id),
                "token {access_id} exists without its audit event"
            );
        }
        assert_eq!(audited.len(), stored.len(), "audit events without a token");
        eprintln!(
            "kill -9 ({}): {} tokens acknowledged, {} stored and audited after the restart",
            if database_args.contains(&"--database-url") {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            seen.len(),
            stored.len()
        );
    });
}

#[test]
fn kill_9_during_concurrent_creates_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    kill_9_during_concurrent_creates_loses_nothing(&["--data-dir", dir.path().to_str().unwrap()]);
}

#[test]
fn kill_9_during_concurrent_creates_loses_nothing_on_postgres() {
    let Some(url) = postgres_url() else { return };
    kill_9_during_concurrent_creates_loses_nothing(&["--database-url", &url]);
}

#[test]
fn tls_flags_serve_https_and_name_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let data_dir = dir.path().join("data");
    let (cert, private, data) = (
        cert_path.to_str().unwrap(),
        key_path.to_str().unwrap(),
        data_dir.to_str().unwrap(),
    );

    let server = Server::start_with(&["--data-dir", data], &["--tls-cert", cert, "--tls-key", private]);
    assert!(server.base.starts_with("https://"));
    let port = server.address().rsplit(':').next().unwrap().to_owned();
    let status = runtime().block_on(async {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(certificate.pem().as_bytes()).unwrap())
            .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
            .build()
            .unwrap()
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    drop(server);

    // A key that is not a key: refused at start-up, naming the flag and file.
    std::fs::write(&key_path, "not a key").unwrap();
    let output = std::process::Command::new(ROBOTS)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data])
        .args(["--tls-cert", cert, "--tls-key", private])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key") && stderr.contains("key.pem"), "{stderr}");

    // One flag without the other is a usage error.
    let output = std::process::Command::new(ROBOTS)
        .args(["serve", "--data-dir", data, "--tls-cert", cert])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
