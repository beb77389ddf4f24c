//! Debian's docker-registry, configured with token auth pointing at our
//! server, and Debian's skopeo as the client: pushes, pulls and refusals,
//! all on 127.0.0.1, with an image built by the test (no internet).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use robots_core::{SecretHash, SecretKind, SecretToken};

use crate::support::{Background, Credentials, TestApp, free_port, have_tool, wait_for_port};

fn sha256_hex(bytes: &[u8]) -> String {
    SecretHash::of(bytes)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a blob into an OCI layout; returns its digest and size.
fn blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = sha256_hex(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// A one-layer image in an OCI layout directory, tagged `latest`.
pub(crate) fn build_image(dir: &Path, content: &str) -> PathBuf {
    let layout = dir.join("image");
    let files = dir.join("files");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.txt"), content).unwrap();
    let tar = dir.join("layer.tar");
    let status = Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(&files)
        .arg("hello.txt")
        .status()
        .unwrap();
    assert!(status.success());
    let tar_bytes = std::fs::read(&tar).unwrap();
    let diff_id = format!("sha256:{}", sha256_hex(&tar_bytes));
    let gzip = Command::new("gzip").args(["-n", "-c"]).arg(&tar).output().unwrap();
    assert!(gzip.status.success());
    let (layer_digest, layer_size) = blob(&layout, &gzip.stdout);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    });
    let (config_digest, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    layout
}

/// Starts docker-registry with token auth against `app`.
pub(crate) async fn start_registry(app: &TestApp, dir: &Path) -> (Background, String) {
    let port = free_port();
    let bundle = dir.join("issuer.crt");
    let pem = app
        .client
        .get(format!("{}/v1/keys/certificates.pem", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    std::fs::write(&bundle, pem).unwrap();
    // The README's configuration, with this test's addresses and paths.
    let upstream = app.base.trim_start_matches("http://");
    let config = crate::support::readme_block("# /etc/docker/registry/config.yml")
        .replace("/var/lib/docker-registry", &dir.join("storage").display().to_string())
        .replace("/etc/docker/registry/robots.crt", &bundle.display().to_string())
        .replace("127.0.0.1:5000", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:8080", upstream)
        .replace("version: 0.1", "version: 0.1\nlog: {level: warn}");
    assert_eq!(
        app.state.config().issuer,
        app.base,
        "the README's issuer is the public URL"
    );
    let config_path = dir.join("registry.yml");
    std::fs::write(&config_path, config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join("registry.log")).unwrap()))
        .spawn()
        .unwrap();
    let registry = Background(child);
    wait_for_port(port, "docker-registry").await;
    (registry, format!("127.0.0.1:{port}"))
}

fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap()
}

fn creds(credentials: &Credentials) -> String {
    format!("{}:{}", credentials.access_id, credentials.token)
}

pub(crate) fn push(layout: &Path, registry: &str, repository: &str, credentials: &Credentials) -> Output {
    let source = format!("oci:{}:latest", layout.display());
    let target = format!("docker://{registry}/{repository}:1");
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds(credentials),
        &source,
        &target,
    ])
}

fn pull(registry: &str, repository: &str, credentials: &Credentials, into: &Path) -> Output {
    let source = format!("docker://{registry}/{repository}:1");
    let target = format!("oci:{}:latest", into.display());
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds(credentials),
        &source,
        &target,
    ])
}

fn delete(registry: &str, repository: &str, credentials: &Credentials) -> Output {
    let image = format!("docker://{registry}/{repository}:1");
    skopeo(&["delete", "--tls-verify=false", "--creds", &creds(credentials), &image])
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_pushes_and_pulls_through_docker_registry_with_robot_tokens() {
    if !have_tool("docker-registry", "apt-get install docker-registry")
        || !have_tool("skopeo", "apt-get install skopeo")
    {
        return;
    }
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let (alice, writer, reader) = app.registry_fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let layout = build_image(dir.path(), "hello from a robot\n");
    let (_registry, registry) = start_registry(&app, dir.path()).await;

    // The login probe asks for no scope and must succeed.
    let authfile = dir.path().join("auth.json");
    let login = skopeo(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile.to_str().unwrap(),
        "-u",
        &writer.access_id,
        "-p",
        &writer.token,
        &registry,
    ]);
    assert!(login.status.success(), "login: {}", stderr(&login));

    // write: push, and pull back what was pushed.
    let pushed = push(&layout, &registry, "acme/apps/web", &writer);
    assert!(pushed.status.success(), "push with write: {}", stderr(&pushed));
    let pulled_dir = dir.path().join("pulled-by-writer");
    let pulled = pull(&registry, "acme/apps/web", &writer, &pulled_dir);
    assert!(pulled.status.success(), "pull with write: {}", stderr(&pulled));
    let original = std::fs::read_to_string(layout.join("index.json")).unwrap();
    let copied: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pulled_dir.join("index.json")).unwrap()).unwrap();
    let original: serde_json::Value = serde_json::from_str(&original).unwrap();
    assert_eq!(
        copied["manifests"][0]["digest"], original["manifests"][0]["digest"],
        "the same image came back"
    );

    // read: pull yes, push no.
    let pulled = pull(
        &registry,
        "acme/apps/web",
        &reader,
        &dir.path().join("pulled-by-reader"),
    );
    assert!(pulled.status.success(), "pull with read: {}", stderr(&pulled));
    let refused = push(&layout, &registry, "acme/apps/web", &reader);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("denied"),
        "push with read: {}",
        stderr(&refused)
    );

    // A repository the robot has no grant on.
    let refused = push(&layout, &registry, "acme/other", &writer);
    assert!(
        !refused.status.success() && stderr(&refused).contains("denied"),
        "{}",
        stderr(&refused)
    );

    // A wrong Token.
    let wrong = Credentials {
        access_id: writer.access_id.clone(),
        token: SecretToken::generate(SecretKind::RobotToken).expose().to_owned(),
    };
    let refused = pull(&registry, "acme/apps/web", &wrong, &dir.path().join("wrong"));
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("invalid username/password") || message.contains("401"),
        "{message}"
    );
    let login = skopeo(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        authfile.to_str().unwrap(),
        "-u",
        &wrong.access_id,
        "-p",
        &wrong.token,
        &registry,
    ]);
    assert!(!login.status.success(), "login with a wrong Token");

    // A robot of another organization, even with write on its own "apps/web".
    let bob = app.user(&app.login("root").await, "bob").await;
    app.org(&bob, "globex").await;
    app.post(
        "/v1/orgs/globex/repositories",
        &bob,
        serde_json::json!({"name": "apps/web"}),
    )
    .await;
    app.robot(&bob, "globex", "intruder").await;
    app.post("/v1/orgs/globex/teams", &bob, serde_json::json!({"name": "all"}))
        .await;
    app.request("PUT", "/v1/orgs/globex/teams/all/robots/intruder", &bob, None)
        .await;
    app.request(
        "PUT",
        "/v1/orgs/globex/teams/all/grants/apps/web",
        &bob,
        Some(serde_json::json!({"permission": "admin"})),
    )
    .await;
    let intruder = app.token(&bob, "globex", "intruder", "ci").await;
    let refused = pull(&registry, "acme/apps/web", &intruder, &dir.path().join("intruder"));
    assert!(
        !refused.status.success() && stderr(&refused).contains("denied"),
        "{}",
        stderr(&refused)
    );
    let own = push(&layout, &registry, "globex/apps/web", &intruder);
    assert!(own.status.success(), "its own organization works: {}", stderr(&own));

    // admin deletes, as the README's registry (storage.delete.enabled) allows;
    // write does not.
    let refused = delete(&registry, "acme/apps/web", &writer);
    // The registry answers a token without `delete` 401 (it asks for a
    // token that has it), where a push without `push` reads "denied".
    assert!(
        !refused.status.success() && stderr(&refused).contains("(401 Unauthorized)"),
        "delete with write: {}",
        stderr(&refused)
    );
    let deleted = delete(&registry, "globex/apps/web", &intruder);
    assert!(deleted.status.success(), "delete with admin: {}", stderr(&deleted));
    let gone = pull(
        &registry,
        "globex/apps/web",
        &intruder,
        &dir.path().join("deleted-image"),
    );
    assert!(
        !gone.status.success() && stderr(&gone).contains("manifest unknown"),
        "the deleted image is gone: {}",
        stderr(&gone)
    );

    // A deleted token, then a deleted robot.
    let path = format!("/v1/orgs/acme/robots/reader/tokens/{}", reader.access_id);
    assert_eq!(app.delete(&path, &alice).await.status, 204);
    let refused = pull(&registry, "acme/apps/web", &reader, &dir.path().join("deleted-token"));
    assert!(!refused.status.success(), "a deleted token");
    assert_eq!(app.delete("/v1/orgs/acme/robots/writer", &alice).await.status, 204);
    let refused = pull(&registry, "acme/apps/web", &writer, &dir.path().join("deleted-robot"));
    assert!(!refused.status.success(), "a deleted robot");
}
