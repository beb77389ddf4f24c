//! What an operator does to a running installation: back it up under load
//! and restore it, and move it from the embedded SQLite to PostgreSQL, with
//! real tokens checked before and after.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{PASSWORD, ROBOTS, Server, create_user, log_in, make_acme, postgres_url, runtime, whoami};

fn admin(args: &[&str]) -> std::process::Output {
    Command::new(ROBOTS)
        .arg("admin")
        .args(args)
        .env_remove("ROBOTS_DATABASE_URL")
        .env_remove("ROBOTS_DATA_DIR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// alice's session, after making organization acme with robot `ci`.
async fn acme(client: &reqwest::Client, base: &str) -> String {
    let session = log_in(client, base, "alice").await;
    make_acme(client, base, &session).await;
    session
}

/// A token as its creator received it, and when its 201 arrived.
type Acknowledged = (String, String, Instant);

/// Creates tokens from `writers` clients until `stop`; every 201 that arrived.
async fn create_until(base: &str, session: &str, writers: usize, stop: Arc<AtomicBool>) -> Vec<Acknowledged> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let (base, session, seen, stop) = (base.to_owned(), session.to_owned(), seen.clone(), stop.clone());
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let created: Value = client
                    .post(format!("{base}/v1/orgs/acme/robots/ci/tokens"))
                    .bearer_auth(&session)
                    .json(&json!({"name": format!("w{writer}-{n}")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let acknowledged = Instant::now();
                seen.lock().unwrap().push((
                    created["access_id"].as_str().unwrap().to_owned(),
                    created["token"].as_str().unwrap().to_owned(),
                    acknowledged,
                ));
            }
        });
    }
    tasks.join_all().await;
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

#[test]
fn a_backup_under_write_load_restores_every_token_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let database_args = ["--data-dir", data];
    assert!(create_user(&database_args, "alice", true, PASSWORD).status.success());
    let flags = ["--max-tokens-per-robot", "1000000"];
    let mut server = Server::start_with(&database_args, &flags);
    let runtime = runtime();
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let session = runtime.block_on(acme(&client, &base));

    // Four clients create tokens throughout; the backup runs in the middle.
    let stop = Arc::new(AtomicBool::new(false));
    let creating = {
        let (base, session, stop) = (base.clone(), session.clone(), stop.clone());
        runtime.spawn(async move { create_until(&base, &session, 4, stop).await })
    };
    std::thread::sleep(Duration::from_millis(800));
    let backup = dir.path().join("robots-backup.db");
    let backup = backup.to_str().unwrap();
    let started = Instant::now();
    let backed_up = admin(&["backup", backup, "--data-dir", data]);
    let finished = Instant::now();
    assert!(backed_up.status.success(), "{}", text(&backed_up.stderr));
    assert!(
        text(&backed_up.stdout).starts_with("backed up"),
        "{}",
        text(&backed_up.stdout)
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let seen = runtime.block_on(creating).unwrap();
    let before: Vec<&Acknowledged> = seen.iter().filter(|(_, _, at)| *at < started).collect();
    let after: Vec<&Acknowledged> = seen.iter().filter(|(_, _, at)| *at > finished).collect();
    assert!(
        before.len() >= 20 && !after.is_empty(),
        "{} before, {} after",
        before.len(),
        after.len()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "a backup holds token hashes and keys: {mode:o}");
    }

    // Refused, saying why: overwriting a file, and restoring under a running server.
    let again = admin(&["backup", backup, "--data-dir", data]);
    assert!(!again.status.success() && text(&again.stderr).contains("exists already"));
    let refused = admin(&["restore", backup, "--data-dir", data]);
    assert!(
        !refused.status.success() && text(&refused.stderr).contains("stop it first"),
        "{}",
        text(&refused.stderr)
    );
    let not_a_backup = dir.path().join("notes.txt");
    std::fs::write(&not_a_backup, "not a database").unwrap();
    server.signal("TERM");
    server.wait_exit();
    let refused = admin(&["restore", not_a_backup.to_str().unwrap(), "--data-dir", data]);
    assert!(
        !refused.status.success() && text(&refused.stderr).contains("is not a robots backup"),
        "{}",
        text(&refused.stderr)
    );

    let restored = admin(&["restore", backup, "--data-dir", data]);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    let report = text(&restored.stdout);
    assert!(
        report.contains("kept as") && report.contains("robot_tokens"),
        "{report}"
    );
    let kept = std::fs::read_dir(data).unwrap().filter_map(Result::ok).any(|entry| {
        entry
            .file_name()
            .to_string_lossy()
            .starts_with("robots.db.before-restore-")
    });
    assert!(kept, "the replaced database is kept");

    let server = Server::start_with(&database_args, &flags);
    let base = server.base.clone();
    runtime.block_on(async {
        for (access_id, token, _) in &before {
            assert_eq!(
                whoami(&client, &base, access_id, token).await,
                200,
                "a token acknowledged before the backup"
            );
        }
        let (access_id, token, _) = after[0];
        assert_eq!(
            whoami(&client, &base, access_id, token).await,
            401,
            "a token made after the backup is not in it"
        );
    });
    eprintln!(
        "backup under load: {} tokens before it, {} during, {} after; all before it restored",
        before.len(),
        seen.len() - before.len() - after.len(),
        after.len()
    );
}

#[test]
fn moving_to_postgres_keeps_every_token_working() {
    let Some(url) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let database_args = ["--data-dir", data];
    assert!(create_user(&database_args, "alice", true, PASSWORD).status.success());
    let mut server = Server::start(&database_args);
    let runtime = runtime();
    let client = reqwest::Client::new();
    let base = server.base.clone();

    // An organization with what it can hold: robots, tokens, a team with a grant, a webhook.
    let (session, tokens, revoked, before) = runtime.block_on(async {
        let session = acme(&client, &base).await;
        let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
            let request = client.request(method, format!("{base}{path}")).bearer_auth(&session);
            let request = match body {
                Some(body) => request.json(&body),
                None => request,
            };
            async move { request.send().await.unwrap() }
        };
        use reqwest::Method;
        for (method, path, body) in [
            (Method::POST, "/v1/orgs/acme/robots", Some(json!({"name": "reader"}))),
            (
                Method::POST,
                "/v1/orgs/acme/repositories",
                Some(json!({"name": "apps/web"})),
            ),
            (Method::POST, "/v1/orgs/acme/teams", Some(json!({"name": "readers"}))),
            (Method::PUT, "/v1/orgs/acme/teams/readers/robots/reader", None),
            (
                Method::PUT,
                "/v1/orgs/acme/teams/readers/grants/apps/web",
                Some(json!({"permission": "read"})),
            ),
            (
                Method::POST,
                "/v1/orgs/acme/webhooks",
                Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["token.created"]})),
            ),
        ] {
            let answer = send(method, path, body).await;
            assert!(answer.status().is_success(), "{path}: {}", answer.status());
        }
        let mut tokens = Vec::new();
        for (robot, name) in [("ci", "one"), ("ci", "two"), ("reader", "pull"), ("ci", "gone")] {
            let created: Value = send(
                Method::POST,
                &format!("/v1/orgs/acme/robots/{robot}/tokens"),
                Some(json!({"name": name})),
            )
            .await
            .json()
            .await
            .unwrap();
            tokens.push((
                created["access_id"].as_str().unwrap().to_owned(),
                created["token"].as_str().unwrap().to_owned(),
            ));
        }
        let revoked = tokens.pop().unwrap();
        let deleted = send(
            Method::DELETE,
            &format!("/v1/orgs/acme/robots/ci/tokens/{}", revoked.0),
            None,
        )
        .await;
        assert_eq!(deleted.status(), 204);
        let audit: Value = send(Method::GET, "/v1/orgs/acme/audit", None)
            .await
            .json()
            .await
            .unwrap();
        let jwks: Value = client
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (session, tokens, revoked, (audit["items"].clone(), jwks))
    });
    server.signal("TERM");
    server.wait_exit();

    let moved = admin(&["migrate", "--data-dir", data, "--to", &url]);
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    let report = text(&moved.stdout);
    assert!(report.contains("every table's count matches"), "{report}");
    let copied_tokens = report
        .lines()
        .find(|line| line.trim_start().starts_with("robot_tokens"))
        .and_then(|line| line.split_whitespace().last())
        .unwrap();
    assert_eq!(copied_tokens, "3", "{report}");
    assert!(!report.contains(PASSWORD));

    // Once is enough: the target is no longer empty.
    let again = admin(&["migrate", "--data-dir", data, "--to", &url]);
    assert!(
        !again.status.success() && text(&again.stderr).contains("not empty"),
        "{}",
        text(&again.stderr)
    );

    let server = Server::start(&["--database-url", &url]);
    let base = server.base.clone();
    runtime.block_on(async {
        for (access_id, token) in &tokens {
            assert_eq!(
                whoami(&client, &base, access_id, token).await,
                200,
                "a token after the move"
            );
        }
        assert_eq!(
            whoami(&client, &base, &revoked.0, &revoked.1).await,
            401,
            "a deleted token stays deleted"
        );
        let (reader_id, reader_token) = &tokens[2];
        let allowed = client
            .get(format!("{base}/v1/auth?repository=acme/apps/web&action=pull"))
            .basic_auth(reader_id, Some(reader_token))
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "the team's grant came along");
        let audit: Value = client
            .get(format!("{base}/v1/orgs/acme/audit"))
            .bearer_auth(&session)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            audit["items"], before.0,
            "the audit log, and alice's session, came along"
        );
        let jwks: Value = client
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(jwks, before.1, "the same signing keys");
    });

    // PostgreSQL is backed up with its own tools, while the server runs; a
    // dump restored into a new database serves the same tokens.
    let dump = dir.path().join("robots.dump");
    let dumped = Command::new(postgres_tool("pg_dump"))
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&dump)
        .arg(&url)
        .output()
        .unwrap();
    assert!(dumped.status.success(), "{}", text(&dumped.stderr));
    drop(server);
    let restored_url = postgres_url().unwrap();
    let restored = Command::new(postgres_tool("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "--dbname", &restored_url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    let server = Server::start(&["--database-url", &restored_url]);
    runtime.block_on(async {
        for (access_id, token) in &tokens {
            assert_eq!(
                whoami(&client, &server.base, access_id, token).await,
                200,
                "a token after pg_dump and pg_restore"
            );
        }
    });
}

/// A program of Debian's postgresql package (`/usr/lib/postgresql/<version>/bin`).
fn postgres_tool(name: &str) -> std::path::PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin").join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{name} from the postgresql package"))
}

/// The Kubernetes manifests pass kubernetes-validate (PyPI; offline, strict),
/// name only settings the server has, and those settings start a server whose
/// probes answer.
#[test]
fn the_kubernetes_manifests_validate_and_their_settings_start_a_server() {
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/robots.yaml");
    let validated = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&manifests)
        .output();
    let Ok(validated) = validated else {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "kubernetes-validate is required in CI (scripts/test installs it)"
        );
        eprintln!("note: skipping: pip install kubernetes-validate");
        return;
    };
    assert!(
        validated.status.success(),
        "{}{}",
        text(&validated.stdout),
        text(&validated.stderr)
    );

    // The Deployment's environment and probes, read with the YAML parser kubernetes-validate brings.
    let read = Command::new("python3")
        .args([
            "-c",
            r#"
import json, sys, yaml
for document in yaml.safe_load_all(open(sys.argv[1])):
    if document["kind"] == "Deployment":
        container = document["spec"]["template"]["spec"]["containers"][0]
        print(json.dumps({
            "env": {e["name"]: e["value"] for e in container["env"]},
            "probes": [container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")],
        }))
"#,
        ])
        .arg(&manifests)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", text(&read.stderr));
    let deployment: Value = serde_json::from_slice(&read.stdout).unwrap();
    let help = text(&Command::new(ROBOTS).args(["serve", "--help"]).output().unwrap().stdout);
    let env = deployment["env"].as_object().unwrap();
    for name in env.keys() {
        assert!(help.contains(&format!("env: {name}=")), "robots serve has no {name}");
    }

    // Those settings (the database URL file pointing at a database of this test).
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("database-url");
    let database = match postgres_url() {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("robots.db").display()),
    };
    std::fs::write(&url_file, database).unwrap();
    let mut serve = Command::new(ROBOTS);
    serve.arg("serve").env_remove("ROBOTS_DATABASE_URL");
    for (name, value) in env {
        let value = match name.as_str() {
            "ROBOTS_DATABASE_URL_FILE" => url_file.to_str().unwrap().to_owned(),
            "ROBOTS_LISTEN" => "127.0.0.1:0".to_owned(),
            _ => value.as_str().unwrap().to_owned(),
        };
        serve.env(name, value);
    }
    let mut child = serve.stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let line: Value = serde_json::from_str(&line).ok()?;
            line["fields"]["address"].as_str().map(str::to_owned)
        })
        .expect("the server logs where it listens, in JSON");
    // Keep reading, so the server can keep writing.
    std::thread::spawn(move || lines.for_each(drop));
    let runtime = runtime();
    runtime.block_on(async {
        for path in deployment["probes"].as_array().unwrap() {
            let answer = reqwest::get(format!("http://{address}{}", path.as_str().unwrap()))
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "probe {path}");
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}

/// `scripts/package-deb` builds a package with the binary, the hardened unit
/// and the settings file as a conffile; lintian finds no error in it and
/// systemd rates the unit's exposure "OK".
#[test]
fn the_debian_package_holds_a_hardened_service() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new(workspace.join("scripts/package-deb"))
        .args(["--binary", ROBOTS])
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));
    let package = workspace.join(text(&built.stdout).trim());

    let listed = text(
        &Command::new("dpkg-deb")
            .arg("--contents")
            .arg(&package)
            .output()
            .unwrap()
            .stdout,
    );
    for (path, mode) in [
        ("./usr/bin/robots", "-rwxr-xr-x root/root"),
        ("./lib/systemd/system/robots.service", "-rw-r--r-- root/root"),
        ("./etc/robots/robots.env", "-rw-r----- root/root"),
        ("./usr/share/doc/robots/copyright", "-rw-r--r-- root/root"),
        ("./usr/share/doc/robots/OPERATING.md", "-rw-r--r-- root/root"),
    ] {
        assert!(
            listed
                .lines()
                .any(|line| line.starts_with(mode) && line.ends_with(path)),
            "{path} ({mode}) in:\n{listed}"
        );
    }
    let info = text(
        &Command::new("dpkg-deb")
            .arg("--info")
            .arg(&package)
            .output()
            .unwrap()
            .stdout,
    );
    assert!(info.contains("Package: robots") && info.contains("adduser"), "{info}");
    let conffiles = text(
        &Command::new("dpkg-deb")
            .arg("--ctrl-tarfile")
            .arg(&package)
            .output()
            .map(|tar| {
                let mut list = Command::new("tar")
                    .args(["-xO", "./conffiles"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                std::io::Write::write_all(&mut list.stdin.take().unwrap(), &tar.stdout).unwrap();
                list.wait_with_output().unwrap()
            })
            .unwrap()
            .stdout,
    );
    assert_eq!(conffiles.trim(), "/etc/robots/robots.env");

    // The unit's settings are flags the server has, and its hardening rates "OK".
    let unit = std::fs::read_to_string(workspace.join("deploy/debian/robots.service")).unwrap();
    assert!(unit.contains("User=robots") && unit.contains("ROBOTS_DATA_DIR=/var/lib/robots"));
    let analysed = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(workspace.join("deploy/debian/robots.service"))
        .output()
        .unwrap();
    let rating = text(&analysed.stdout);
    let exposure: f64 = rating
        .lines()
        .find_map(|line| line.split("robots.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{rating}{}", text(&analysed.stderr)));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{rating}");

    match Command::new("lintian")
        .args(["--fail-on", "error"])
        .arg(&package)
        .output()
    {
        Ok(linted) => assert!(
            linted.status.success(),
            "lintian:\n{}{}",
            text(&linted.stdout),
            text(&linted.stderr)
        ),
        Err(_) => {
            assert!(
                std::env::var("CI").map_or(true, |ci| ci != "true"),
                "lintian is required in CI (scripts/test installs it)"
            );
            eprintln!("note: lintian not installed: apt-get install lintian");
        }
    }
    let _ = std::fs::remove_file(&package);
}

/// `scripts/build-image` builds the image from scratch with buildah; it is
/// configured as documented (non-root, /data, 0.0.0.0:8080, a healthcheck,
/// OCI labels), and the seed's path works against it: with podman where this
/// machine can run containers, else from the image's own root filesystem
/// (its loader and libraries), as the test says.
#[test]
fn the_container_image_serves_the_seed_path() {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Ok(built) = Command::new(workspace.join("scripts/build-image"))
        .args(["--binary", ROBOTS])
        .output()
    else {
        unreachable!("scripts/build-image runs")
    };
    if !built.status.success() && text(&built.stderr).contains("buildah: command not found") {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "buildah and podman are required in CI (scripts/test installs them)"
        );
        eprintln!("note: skipping: apt-get install buildah podman");
        return;
    }
    assert!(built.status.success(), "{}", text(&built.stderr));
    let image = text(&built.stdout).trim().to_owned();

    let inspected = Command::new("podman")
        .args(["image", "inspect", &image])
        .output()
        .unwrap();
    assert!(inspected.status.success(), "{}", text(&inspected.stderr));
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    let config = &inspected[0]["Config"];
    assert_eq!(config["User"], "65532:65532", "not root");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"ROBOTS_LISTEN=0.0.0.0:8080") && env.contains(&"ROBOTS_DATA_DIR=/data"),
        "{env:?}"
    );
    assert!(config["Volumes"].get("/data").is_some());
    assert_eq!(
        inspected[0]["Healthcheck"]["Test"],
        json!(["CMD", "/usr/bin/robots", "healthcheck"])
    );
    for label in [
        "org.opencontainers.image.version",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
    ] {
        assert!(config["Labels"][label].is_string(), "label {label}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("robots-test-{port}");
    let ran = Command::new("podman")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            &format!("127.0.0.1:{port}:8080"),
            &image,
        ])
        .output()
        .unwrap();
    let runtime = runtime();
    let base = format!("http://127.0.0.1:{port}");
    let _container = Container(name.clone());
    let (mut unpacked, how) = if ran.status.success() {
        (None, "with podman".to_owned())
    } else {
        // This machine cannot run containers: the image's own files, then.
        let mounted = Command::new("podman")
            .args(["image", "mount", &image])
            .output()
            .unwrap();
        assert!(mounted.status.success(), "{}", text(&mounted.stderr));
        let root = std::path::PathBuf::from(text(&mounted.stdout).trim());
        let data = tempfile::tempdir().unwrap();
        let child = Command::new(root.join("lib64/ld-linux-x86-64.so.2"))
            .arg("--library-path")
            .arg(root.join("lib/x86_64-linux-gnu"))
            .arg(root.join("usr/bin/robots"))
            .arg("serve")
            .env_clear()
            .env("ROBOTS_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROBOTS_DATA_DIR", data.path())
            .env("SSL_CERT_FILE", root.join("etc/ssl/certs/ca-certificates.crt"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let why = text(&ran.stderr).lines().last().unwrap_or_default().to_owned();
        (
            Some((child, data, root)),
            format!("from the unpacked image (podman could not run it: {why})"),
        )
    };
    eprintln!("container image: ran {how}");

    // The setup code, from the container's log or the process's output.
    let code = {
        let mut found = None;
        for _ in 0..100 {
            let log = match &mut unpacked {
                None => text(&Command::new("podman").args(["logs", &name]).output().unwrap().stderr),
                Some((child, _, _)) => {
                    let mut stderr = child.stderr.take().unwrap();
                    let mut lines = String::new();
                    let mut reader = std::io::BufReader::new(&mut stderr);
                    while !lines.contains("In a browser") {
                        let mut line = String::new();
                        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
                            break;
                        }
                        lines.push_str(&line);
                    }
                    child.stderr = Some(stderr);
                    lines
                }
            };
            found = log
                .lines()
                .map(str::trim)
                .find(|line| line.len() == 19 && line.matches('-').count() == 3)
                .map(str::to_owned);
            if found.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        found.expect("the setup code in the log")
    };

    runtime.block_on(async {
        let client = reqwest::Client::new();
        let set_up = client
            .post(format!("{base}/v1/setup"))
            .json(&json!({"code": code, "username": "admin", "email": "admin@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(set_up.status(), 201, "{}", set_up.text().await.unwrap());
        let session = &log_in(&client, &base, "admin").await;
        make_acme(&client, &base, session).await;
        let token: Value = client
            .post(format!("{base}/v1/orgs/acme/robots/ci/tokens"))
            .bearer_auth(session)
            .json(&json!({"name": "image"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let me: Value = client
            .get(format!("{base}/v1/whoami"))
            .basic_auth(token["access_id"].as_str().unwrap(), token["token"].as_str())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["name"], "ci", "{me}");
    });

    // The healthcheck the image runs answers for a ready server.
    let checked = match &unpacked {
        None => Command::new("podman")
            .args(["healthcheck", "run", &name])
            .output()
            .unwrap(),
        Some((_, _, root)) => Command::new(root.join("lib64/ld-linux-x86-64.so.2"))
            .arg("--library-path")
            .arg(root.join("lib/x86_64-linux-gnu"))
            .arg(root.join("usr/bin/robots"))
            .args(["healthcheck", "--url", &format!("{base}/readyz")])
            .output()
            .unwrap(),
    };
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    if let Some((mut child, _, _)) = unpacked {
        let _ = child.kill();
        let _ = child.wait();
        let _ = Command::new("podman").args(["image", "unmount", &image]).output();
    }
}

/// Removes the container when the test ends, however it ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", &self.0]).output();
    }
}

/// Debian's Prometheus scrapes `/metrics` on the `--metrics-listen` address
/// and counts what happened: five allowed `auth_request`s, three with a
/// token under another token's Access ID, one refused a permission.
#[test]
fn prometheus_counts_authentications() {
    let prometheus = std::path::Path::new("/usr/bin/prometheus");
    if !prometheus.exists() {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "prometheus is required in CI (scripts/test installs it)"
        );
        eprintln!("note: skipping: apt-get install prometheus");
        return;
    }
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (metrics_port, prometheus_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    assert!(
        create_user(&["--data-dir", data], "alice", true, PASSWORD)
            .status
            .success()
    );
    let metrics_address = format!("127.0.0.1:{metrics_port}");
    let server = Server::start_with(
        &["--data-dir", data],
        &["--metrics-listen", &metrics_address, "--metrics-refresh", "1s"],
    );
    let runtime = runtime();
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let (one, other) = runtime.block_on(async {
        let session = acme(&client, &base).await;
        let mut tokens = Vec::new();
        for name in ["one", "two"] {
            let created: Value = client
                .post(format!("{base}/v1/orgs/acme/robots/ci/tokens"))
                .bearer_auth(&session)
                .json(&json!({"name": name}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            tokens.push((
                created["access_id"].as_str().unwrap().to_owned(),
                created["token"].as_str().unwrap().to_owned(),
            ));
        }
        (tokens[0].clone(), tokens[1].clone())
    });
    runtime.block_on(async {
        let auth = |access_id: &str, token: &str, query: &str| {
            client
                .get(format!("{base}/v1/auth{query}"))
                .basic_auth(access_id, Some(token))
                .send()
        };
        for _ in 0..5 {
            assert_eq!(auth(&one.0, &one.1, "").await.unwrap().status(), 200);
        }
        for _ in 0..3 {
            assert_eq!(auth(&one.0, &other.1, "").await.unwrap().status(), 401);
        }
        let forbidden = auth(&one.0, &one.1, "?repository=acme/apps/web&action=push")
            .await
            .unwrap();
        assert_eq!(forbidden.status(), 403);
        // A path no route matches, naming a credential: timed, not named.
        let stray = client.get(format!("{base}/v1/nowhere/{}", one.0)).send().await.unwrap();
        assert_eq!(stray.status(), 404);
    });

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: robots\n    static_configs:\n      - targets: [\"{metrics_address}\"]\n"
        ),
    )
    .unwrap();
    let mut scraper = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let query = |promql: &str| {
        let url = format!("http://127.0.0.1:{prometheus_port}/api/v1/query");
        let client = client.clone();
        let promql = promql.to_owned();
        async move {
            let encoded: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
            let answer: Value = client
                .get(format!("{url}?query={encoded}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            answer["data"]["result"][0]["value"][1].as_str().map(str::to_owned)
        }
    };
    let counted = runtime.block_on(async {
        let ok = r#"robots_authentications_total{verifier="auth_request",outcome="ok"}"#;
        for _ in 0..300 {
            let value = query(ok).await;
            let tokens = query(r#"robots_tokens{org="acme",state="active"}"#).await;
            // Both scraped: the counters at once, the tokens after a refresh.
            if let (Some(value), Some(_)) = (value, tokens) {
                let mut latency = Vec::new();
                for series in [
                    r#"robots_http_request_duration_seconds_count{route="/v1/auth",method="GET",status="2xx"}"#,
                    r#"robots_http_request_duration_seconds_count{route="/v1/auth",method="GET",status="4xx"}"#,
                    r#"robots_http_request_duration_seconds_bucket{route="/v1/auth",method="GET",status="2xx",le="+Inf"}"#,
                    r#"robots_http_request_duration_seconds_count{route="unmatched",method="GET",status="4xx"}"#,
                ] {
                    latency.push(query(series).await);
                }
                return Some((
                    value,
                    query(r#"robots_authentications_total{verifier="auth_request",outcome="wrong_secret"}"#).await,
                    query(r#"robots_authentications_total{verifier="auth_request",outcome="forbidden"}"#).await,
                    query("robots_build_info").await,
                    query(r#"robots_verification_cache_lookups_total{cache="token_owners",result="hit"}"#).await,
                    query(r#"robots_tokens{org="acme",state="active"}"#).await,
                    latency,
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    });
    let _ = scraper.kill();
    let _ = scraper.wait();
    let (ok, wrong, forbidden, build, cache_hits, tokens, latency) = counted.expect("Prometheus scraped the metrics");
    assert_eq!(
        tokens.as_deref(),
        Some("2"),
        "acme's two tokens, counted in the database"
    );
    // Six authenticated: five allowed, and the one refused its permission.
    assert_eq!(ok, "6");
    assert_eq!(wrong.as_deref(), Some("3"));
    assert_eq!(forbidden.as_deref(), Some("1"));
    assert_eq!(build.as_deref(), Some("1"));
    let cache_hits: u64 = cache_hits.unwrap().parse().unwrap();
    assert!(
        cache_hits >= 5,
        "repeated checks of one token come from memory: {cache_hits}"
    );
    // Latency by route template: five answered 200, four 401 or 403.
    assert_eq!(latency, ["5", "4", "5", "1"].map(|count| Some(count.to_owned())));

    // Nothing a client chose is a label; the main listener has no /metrics.
    let exposition = runtime.block_on(async {
        let page = reqwest::get(format!("http://{metrics_address}/metrics")).await.unwrap();
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        page.text().await.unwrap()
    });
    assert!(
        !exposition.contains(&one.0) && !exposition.contains(&other.0),
        "{exposition}"
    );
    let main = runtime.block_on(async { reqwest::get(format!("{base}/metrics")).await.unwrap().status() });
    assert_eq!(main, 404);

    // The example alert rules are valid for this Prometheus.
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/alerts.yml");
    let checked = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
}
