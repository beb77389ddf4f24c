//! Our access tokens, verified by a verifier we did not write: PyJWT's
//! `PyJWKClient` against our JWKS, before and after a key rotation.

use std::process::Command;

use serde_json::Value;

use crate::support::{Auth, TestApp};

const VERIFY: &str = r#"
import json, sys
import jwt
token, jwks_url, audience, issuer = sys.argv[1:5]
key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=issuer)
print(json.dumps({"kid": key.key_id, "claims": claims}))
"#;

/// The Python with PyJWT: `ROBOTS_TEST_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("ROBOTS_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn pyjwt_available() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "PyJWT is required in CI: pip install 'pyjwt[crypto]'"
        );
        eprintln!("note: skipping: pip install 'pyjwt[crypto]'");
    }
    ok
}

/// Verifies with PyJWT; `Err` carries Python's complaint.
fn verify(app: &TestApp, token: &str) -> Result<Value, String> {
    let issuer = &app.state.config().issuer;
    let output = Command::new(python())
        .args([
            "-c",
            VERIFY,
            token,
            &format!("{}/.well-known/jwks.json", app.base),
            issuer,
            issuer,
        ])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

async fn access_token(app: &TestApp, access_id: &str, token: &str) -> String {
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(access_id, Some(token))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_our_access_tokens_across_a_key_rotation() {
    if !pyjwt_available() {
        return;
    }
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let (_, writer, _) = app.registry_fixture().await;

    let before = access_token(&app, &writer.access_id, &writer.token).await;
    let verified = verify(&app, &before).expect("PyJWT verifies the token");
    let claims = &verified["claims"];
    assert_eq!(claims["robot"], "writer");
    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["client_id"], writer.access_id.as_str());
    assert_eq!(claims["permissions"][0]["repository"], "acme/apps/web");
    assert_eq!(claims["permissions"][0]["actions"], serde_json::json!(["pull", "push"]));
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 900);
    let old_kid = verified["kid"].as_str().unwrap().to_owned();

    // A tampered token does not verify.
    let mut parts: Vec<String> = before.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(verify(&app, &parts.join(".")).is_err());

    // Rotate: new tokens carry the new key; the old token still verifies.
    let root = app.login("root").await;
    let rotated = app.post("/v1/keys/rotate", &root, serde_json::json!({})).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let after = access_token(&app, &writer.access_id, &writer.token).await;
    let verified_after = verify(&app, &after).expect("the new key is published");
    assert_ne!(verified_after["kid"].as_str().unwrap(), old_kid);
    assert_eq!(verified_after["kid"], rotated.body["kid"]);
    assert!(
        verify(&app, &before).is_ok(),
        "the old key stays published while its tokens live"
    );

    // Only instance administrators rotate.
    let alice: Auth = app.login("alice").await;
    assert_eq!(
        app.post("/v1/keys/rotate", &alice, serde_json::json!({})).await.status,
        403
    );
}
