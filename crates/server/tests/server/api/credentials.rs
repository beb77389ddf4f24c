//! A new token handed over in the form a tool reads (`format` on creation
//! and rotation): checked before the token is made, rendered once.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(tokens_are_handed_over_in_the_formats_tools_read);

async fn tokens_are_handed_over_in_the_formats_tools_read(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let tokens = "/v1/orgs/acme/robots/deployer/tokens";

    // A Kubernetes pull secret, straight from the creation.
    let created = app
        .post(
            tokens,
            &alice,
            json!({"name": "cluster", "expires_in": "90d", "format": "k8s-secret",
                   "registry": "registry.example.com", "namespace": "apps"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let credential = &created.body["credential"];
    assert_eq!(credential["format"], "k8s-secret");
    assert_eq!(credential["file_name"], "deployer.yaml");
    let manifest = credential["content"].as_str().unwrap();
    validate_manifest(manifest);
    let document = manifest
        .lines()
        .find_map(|line| line.strip_prefix("  .dockerconfigjson: "))
        .unwrap();
    let document: Value = serde_json::from_slice(&BASE64.decode(document).unwrap()).unwrap();
    let auth = &document["auths"]["registry.example.com"];
    assert_eq!(auth["username"], created.body["access_id"]);
    assert_eq!(auth["password"], created.body["token"]);

    // A rotation hands the successor over the same way.
    let path = format!("{tokens}/{}/rotate", created.body["access_id"].as_str().unwrap());
    let rotated = app
        .post(
            &path,
            &alice,
            json!({"format": "auth-json", "registry": "127.0.0.1:5000"}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let successor = &rotated.body["successor"];
    let auth_json: Value = serde_json::from_str(successor["credential"]["content"].as_str().unwrap()).unwrap();
    let basic = format!(
        "{}:{}",
        successor["access_id"].as_str().unwrap(),
        successor["token"].as_str().unwrap()
    );
    assert_eq!(
        auth_json,
        json!({"auths": {"127.0.0.1:5000": {"auth": BASE64.encode(basic)}}})
    );

    // Bad requests are refused before any token is made.
    let before = count(&app, &alice).await;
    for (body, field) in [
        (json!({"name": "a", "format": "dockerconfigjson"}), "registry"),
        (json!({"name": "b", "format": "yaml"}), "format"),
        (json!({"name": "c", "registry": "registry.example.com"}), "registry"),
        (
            json!({"name": "d", "format": "k8s-secret", "registry": "r.example.com", "secret_name": "Pull"}),
            "secret_name",
        ),
        (
            json!({"name": "e", "format": "auth-json", "registry": "https://r.example.com"}),
            "registry",
        ),
    ] {
        let refused = app.post(tokens, &alice, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text);
        assert_eq!(refused.body["error"]["field"], field, "{body}: {}", refused.text);
    }
    assert_eq!(count(&app, &alice).await, before, "nothing was created");

    // env needs no registry.
    let env = app.post(tokens, &alice, json!({"name": "ci", "format": "env"})).await;
    assert_eq!(env.status, 201, "{}", env.text);
    assert_eq!(
        env.body["credential"]["content"],
        format!(
            "ROBOTS_ACCESS_ID={}\nROBOTS_TOKEN={}\n",
            env.body["access_id"].as_str().unwrap(),
            env.body["token"].as_str().unwrap()
        )
    );
}

async fn count(app: &TestApp, alice: &Auth) -> usize {
    let listed = app.get("/v1/orgs/acme/robots/deployer/tokens", alice).await;
    listed.body["items"].as_array().unwrap().len()
}

/// kubernetes-validate (PyPI; offline, strict) accepts it.
fn validate_manifest(manifest: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.yaml");
    std::fs::write(&file, manifest).unwrap();
    let Ok(validated) = Command::new("kubernetes-validate").arg("--strict").arg(&file).output() else {
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
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}
