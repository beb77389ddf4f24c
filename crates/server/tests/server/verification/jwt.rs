//! Our access tokens and discovery documents, checked by code we did not
//! write: PyJWT's `PyJWKClient` against our JWKS (ES256 and RS256, before
//! and after a key rotation), and authlib's metadata validators.

use std::process::Command;

use serde_json::Value;

use crate::support::{Auth, TestApp};

const VERIFY: &str = r#"
import json, sys
import jwt
token, jwks_url, audience, issuer, algorithm = sys.argv[1:6]
key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=audience, issuer=issuer)
print(json.dumps({"kid": key.key_id, "claims": claims}))
"#;

/// The Python with PyJWT: `ROBOTS_TEST_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("ROBOTS_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether Python can `import` what a test needs; in CI it must.
fn python_has(modules: &str, install: &str) -> bool {
    let ok = Command::new(python())
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "{modules} is required in CI: {install}"
        );
        eprintln!("note: skipping: {install}");
    }
    ok
}

fn pyjwt_available() -> bool {
    python_has("jwt, cryptography", "pip install 'pyjwt[crypto]'")
}

/// Verifies an ES256 token with PyJWT; `Err` carries Python's complaint.
fn verify(app: &TestApp, token: &str) -> Result<Value, String> {
    verify_as(app, token, "ES256")
}

/// Verifies with PyJWT, accepting only `algorithm`.
fn verify_as(app: &TestApp, token: &str, algorithm: &str) -> Result<Value, String> {
    let issuer = &app.state.config().issuer;
    let output = Command::new(python())
        .args([
            "-c",
            VERIFY,
            token,
            &format!("{}/.well-known/jwks.json", app.base),
            issuer,
            issuer,
            algorithm,
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
    token_request(app, access_id, token, &[("grant_type", "client_credentials")])
        .await
        .expect("an access token")
}

/// Asks the token endpoint; `Err` is the OAuth error body.
async fn token_request(app: &TestApp, access_id: &str, token: &str, form: &[(&str, &str)]) -> Result<String, Value> {
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(access_id, Some(token))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if status == 200 {
        Ok(body["access_token"].as_str().unwrap().to_owned())
    } else {
        Err(body)
    }
}

fn header(jwt: &str) -> Value {
    use base64::Engine;
    let segment = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_on_request_verify_and_rotate() {
    if !pyjwt_available() {
        return;
    }
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let (_, writer, _) = app.registry_fixture().await;
    let rs256 = [("grant_type", "client_credentials"), ("signing_alg", "RS256")];
    let es256 = access_token(&app, &writer.access_id, &writer.token).await;
    assert_eq!(header(&es256)["alg"], "ES256", "ES256 unless asked");

    let first = token_request(&app, &writer.access_id, &writer.token, &rs256)
        .await
        .unwrap();
    assert_eq!(header(&first)["alg"], "RS256");
    let verified = verify_as(&app, &first, "RS256").expect("PyJWT verifies the RS256 token");
    assert_eq!(verified["claims"]["robot"], "writer");
    let rsa_kid = verified["kid"].as_str().unwrap().to_owned();
    assert!(verify(&app, &es256).is_ok(), "the ES256 key still signs ES256 tokens");

    let refused = token_request(
        &app,
        &writer.access_id,
        &writer.token,
        &[("grant_type", "client_credentials"), ("signing_alg", "HS256")],
    )
    .await
    .unwrap_err();
    assert_eq!(refused["error"], "invalid_request");
    assert!(
        refused["error_description"].as_str().unwrap().contains("HS256"),
        "{refused}"
    );

    // Both algorithms are listed, each with its signing key.
    let root = app.login("root").await;
    let listed = app.get("/v1/keys", &root).await;
    let signing: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| key["signing"] == true)
        .map(|key| key["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(signing, ["ES256", "RS256"], "{}", listed.text);

    // A rotation rotates the RSA key too; tokens it signed still verify.
    let rotated = app.post("/v1/keys/rotate", &root, serde_json::json!({})).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let next = token_request(&app, &writer.access_id, &writer.token, &rs256)
        .await
        .unwrap();
    let verified_next = verify_as(&app, &next, "RS256").expect("the next RSA key is published");
    assert_ne!(verified_next["kid"].as_str().unwrap(), rsa_kid);
    assert!(
        verify_as(&app, &first, "RS256").is_ok(),
        "the old RSA key stays published"
    );
    let introspected = app
        .client
        .post(format!("{}/v1/introspect", app.base))
        .basic_auth(&writer.access_id, Some(&writer.token))
        .form(&[("token", next.as_str())])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        introspected["active"], true,
        "introspection reads RS256 tokens: {introspected}"
    );
}

const VALIDATE_METADATA: &str = r#"
import json, sys
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
kind, document = sys.argv[1], json.loads(sys.argv[2])
{"openid": OpenIDProviderMetadata, "oauth": AuthorizationServerMetadata}[kind](document).validate()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_documents_pass_authlib_and_claim_only_what_the_server_does() {
    if !python_has("authlib", "pip install authlib") {
        return;
    }
    // Validators insist on https; the server is told its public address is.
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.public_url = "https://robots.example.test".to_owned();
        config.issuer = "https://robots.example.test".to_owned();
    })
    .await
    else {
        return;
    };
    let openid = app.get("/.well-known/openid-configuration", &Auth::None).await;
    let oauth = app.get("/.well-known/oauth-authorization-server", &Auth::None).await;
    assert_eq!((openid.status, oauth.status), (200, 200));
    for (kind, document) in [("openid", &openid.body), ("oauth", &oauth.body)] {
        let output = Command::new(python())
            .args(["-c", VALIDATE_METADATA, kind, &document.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "authlib refuses the {kind} document: {}\n{document}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // What it claims, it does: every signing algorithm, on request, and every grant type.
    let document = &openid.body;
    assert!(
        !document["response_types_supported"]
            .as_array()
            .unwrap()
            .contains(&"token".into())
    );
    assert!(document.get("authorization_endpoint").is_none(), "there is none");
    let (_, writer, _) = app.registry_fixture().await;
    for algorithm in document["id_token_signing_alg_values_supported"].as_array().unwrap() {
        let algorithm = algorithm.as_str().unwrap();
        let jwt = token_request(
            &app,
            &writer.access_id,
            &writer.token,
            &[("grant_type", "client_credentials"), ("signing_alg", algorithm)],
        )
        .await
        .unwrap_or_else(|error| panic!("{algorithm}: {error}"));
        assert_eq!(header(&jwt)["alg"], algorithm);
    }
    let jwks = app.get("/.well-known/jwks.json", &Auth::None).await.body;
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["alg"].as_str().unwrap())
        .collect();
    assert_eq!(published, ["ES256", "RS256"]);
    for grant in document["grant_types_supported"].as_array().unwrap() {
        let answer = token_request(&app, "nobody", "nothing", &[("grant_type", grant.as_str().unwrap())]).await;
        assert_ne!(answer.unwrap_err()["error"], "unsupported_grant_type", "{grant}");
    }
}
