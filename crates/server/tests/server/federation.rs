//! Keyless robots: a test-run OIDC issuer on loopback (discovery and JWKS,
//! keys generated here) signs ID tokens shaped like GitHub Actions'; the
//! server trades them for short-lived robot tokens, or refuses, and says why
//! in the audit log.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use robots_core::clock::Clock;
use robots_store::Backend;
use serde_json::{Value, json};

use crate::support::{Auth, Credentials, TestApp};
use crate::verification::registry;

pub(crate) const AUDIENCE: &str = "https://robots.example.com";

/// A signing key of the test issuer.
enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

pub(crate) struct IssuerKey {
    kid: String,
    key: SigningKey,
}

impl IssuerKey {
    /// RSA keys come from openssl (ring cannot generate them); its DER
    /// output is PKCS#1.
    pub(crate) fn rsa(kid: &str) -> Self {
        let output = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .expect("openssl generates an RSA key");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        Self {
            kid: kid.to_owned(),
            key: SigningKey::Rsa(RsaKeyPair::from_der(&output.stdout).unwrap()),
        }
    }

    pub(crate) fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self {
            kid: kid.to_owned(),
            key: SigningKey::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap(),
            ),
        }
    }

    fn jwk(&self) -> Value {
        match &self.key {
            SigningKey::Rsa(pair) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                       "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)})
            }
            SigningKey::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
            }
        }
    }

    fn alg(&self) -> &'static str {
        match self.key {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::Ec(_) => "ES256",
        }
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match &self.key {
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut signature)
                    .unwrap();
                signature
            }
            SigningKey::Ec(pair) => pair.sign(&rng, signed.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// An OIDC issuer on loopback: what it publishes can change mid-test.
pub(crate) struct Issuer {
    pub(crate) url: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<Mutex<u32>>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Published {
    url: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<Mutex<u32>>,
}

impl Issuer {
    pub(crate) async fn start(keys: &[&IssuerKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{address}");
        let jwks = Arc::new(Mutex::new(keys.iter().map(|key| key.jwk()).collect()));
        let fetches = Arc::new(Mutex::new(0));
        let published = Published {
            url: url.clone(),
            jwks: jwks.clone(),
            fetches: fetches.clone(),
        };
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(published): State<Published>| async move {
                    Json(json!({
                        "issuer": published.url,
                        "jwks_uri": format!("{}/.well-known/jwks", published.url),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    }))
                }),
            )
            .route(
                "/.well-known/jwks",
                get(|State(published): State<Published>| async move {
                    *published.fetches.lock().unwrap() += 1;
                    let keys = published.jwks.lock().unwrap().clone();
                    ([("cache-control", "max-age=300")], Json(json!({"keys": keys})))
                }),
            )
            .with_state(published);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            jwks,
            fetches,
            server,
        }
    }

    fn publish(&self, keys: &[&IssuerKey]) {
        *self.jwks.lock().unwrap() = keys.iter().map(|key| key.jwk()).collect();
    }

    fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Claims as GitHub Actions sends them for a push to `ref` of `repository`.
pub(crate) fn github_claims(app: &TestApp, issuer: &str, repository: &str, git_ref: &str) -> Value {
    let now = app.clock.now().unix_timestamp();
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": format!("repo:{repository}:ref:{git_ref}"),
        "repository": repository,
        "repository_owner": repository.split('/').next().unwrap(),
        "ref": git_ref,
        "ref_type": "branch",
        "event_name": "push",
        "workflow": "deploy",
        "run_id": "4242",
        "jti": format!("jti-{}", uuid::Uuid::new_v4()),
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    })
}

pub(crate) async fn exchange(app: &TestApp, id_token: &str, robot: &str) -> crate::support::Response {
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", id_token),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
            ("robot", robot),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    crate::support::Response {
        status,
        headers,
        text,
        body,
    }
}

/// `acme` (admin alice) with robot `writer` (write on `apps/web`), trusting
/// `issuer` for pushes to main of acme/app.
async fn trusting_fixture(app: &TestApp, issuer: &str) -> Auth {
    let (alice, _, _) = app.registry_fixture().await;
    let created = app
        .post(
            "/v1/orgs/acme/robots/writer/federated-credentials",
            &alice,
            json!({
                "name": "github-main",
                "issuer": issuer,
                "audience": AUDIENCE,
                "subject": "repo:acme/app:ref:refs/heads/main",
                "claims": {"repository": "acme/app", "ref": "refs/heads/main"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    alice
}

async fn spawn() -> Option<TestApp> {
    TestApp::spawn_with(Backend::Sqlite, |config| {
        config.service.allow_insecure_issuers = true;
        // Counting, as with --metrics-listen (this server serves no metrics).
        config.metrics_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await
}

fn credentials(answer: &Value) -> Credentials {
    Credentials {
        access_id: answer["access_id"].as_str().unwrap().to_owned(),
        token: answer["access_token"].as_str().unwrap().to_owned(),
    }
}

async fn refusal_reasons(app: &TestApp, alice: &Auth) -> Vec<String> {
    app.flush_usage().await;
    let events = app
        .get("/v1/orgs/acme/audit?action=token.exchange_refused&limit=200", alice)
        .await;
    events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["detail"]["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_id_token_is_traded_for_a_short_lived_robot_token() {
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::rsa("gh-1");
    let issuer = Issuer::start(&[&key]).await;
    let alice = trusting_fixture(&app, &issuer.url).await;

    let id_token = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main"));
    let answer = exchange(&app, &id_token, "acme/writer").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900, "15 minutes by default");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let token = credentials(&answer.body);
    assert!(token.token.starts_with("rbt_"));

    // It works like any robot token: Basic, Bearer, introspection.
    let whoami = app.get("/v1/whoami", &token.basic()).await;
    assert_eq!(whoami.status, 200, "{}", whoami.text);
    assert_eq!(whoami.body["name"], "writer");
    assert_eq!(app.get("/v1/whoami", &token.bearer()).await.status, 200);
    let listed = app.get("/v1/orgs/acme/robots/writer/tokens", &alice).await;
    let minted = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["access_id"] == token.access_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(minted["federated_credential"], "github-main");
    assert_eq!(minted["created_by"], Value::Null);

    // The exchange is audited with the ID token's subject and jti.
    let events = app.get("/v1/orgs/acme/audit?action=token.exchanged", &alice).await;
    let event = &events.body["items"][0];
    assert_eq!(event["actor_kind"], "federated");
    assert_eq!(event["actor"], "repo:acme/app:ref:refs/heads/main");
    assert_eq!(event["detail"]["credential"], "github-main");
    assert!(event["detail"]["jti"].as_str().unwrap().starts_with("jti-"));

    // A replay within the ID token's lifetime is exchanged again, and audited again.
    assert_eq!(exchange(&app, &id_token, "acme/writer").await.status, 200);
    let events = app.get("/v1/orgs/acme/audit?action=token.exchanged", &alice).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 2);

    // It expires on its own.
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(app.get("/v1/whoami", &token.basic()).await.status, 401);
    assert_eq!(issuer.fetches(), 1, "the keys were fetched once and cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organizations_maximum_lifetime_caps_the_exchanged_token() {
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::ec("gl-1");
    let issuer = Issuer::start(&[&key]).await;
    let alice = trusting_fixture(&app, &issuer.url).await;
    let policy = app
        .request(
            "PATCH",
            "/v1/orgs/acme",
            &alice,
            Some(json!({"token_policy": {"max_lifetime": "5m"}})),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text);
    let id_token = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main"));
    let answer = exchange(&app, &id_token, "acme/writer").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["expires_in"], 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_do_not_match_are_refused_alike_and_audited_with_the_reason() {
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::rsa("gh-1");
    let issuer = Issuer::start(&[&key]).await;
    let stranger_key = IssuerKey::rsa("gh-1");
    let stranger = Issuer::start(&[&stranger_key]).await;
    let alice = trusting_fixture(&app, &issuer.url).await;
    let claims = || github_claims(&app, &issuer.url, "acme/app", "refs/heads/main");
    let now = app.clock.now().unix_timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims();
        change(&mut claims);
        key.sign(&claims)
    };
    let unsigned = |alg: &str, secret: Option<&[u8]>| {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "kid": "gh-1"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        let signature = secret.map_or_else(String::new, |secret| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes()))
        });
        format!("{header}.{payload}.{signature}")
    };
    let unknown_kid = IssuerKey::rsa("gh-unpublished");
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("https://elsewhere.example.com")),
            "aud is",
            "forbidden",
        ),
        (
            "wrong repository",
            with(&|c| {
                c["repository"] = json!("acme/other");
                c["sub"] = json!("repo:acme/other:ref:refs/heads/main");
            }),
            "claim \"sub\"",
            "forbidden",
        ),
        (
            "wrong branch",
            with(&|c| {
                c["ref"] = json!("refs/heads/dev");
                c["sub"] = json!("repo:acme/app:ref:refs/heads/main");
            }),
            "claim \"ref\" is \"refs/heads/dev\"",
            "forbidden",
        ),
        ("expired", with(&|c| c["exp"] = json!(now - 120)), "expired", "expired"),
        (
            "not yet valid",
            with(&|c| c["nbf"] = json!(now + 600)),
            "not valid yet",
            "expired",
        ),
        (
            "unknown kid",
            unknown_kid.sign(&claims()),
            "publishes no key \"gh-unpublished\"",
            "unknown",
        ),
        ("alg none", unsigned("none", None), "algorithm \"none\"", "unknown"),
        (
            "HMAC with a guessable secret",
            unsigned("HS256", Some(AUDIENCE.as_bytes())),
            "algorithm \"HS256\"",
            "unknown",
        ),
        (
            "another issuer",
            stranger_key.sign(&github_claims(&app, &stranger.url, "acme/app", "refs/heads/main")),
            "trusts issuer",
            "unknown",
        ),
        (
            "signed by another key under the right kid",
            stranger_key.sign(&claims()),
            "signature does not verify",
            "wrong_secret",
        ),
        ("garbage", "not.a.jwt".to_owned(), "malformed", "unknown"),
    ];
    for (case, id_token, _, _) in &cases {
        let answer = exchange(&app, id_token, "acme/writer").await;
        assert_eq!(answer.status, 400, "{case}: {}", answer.text);
        assert_eq!(answer.body["error"], "invalid_grant", "{case}");
        assert_eq!(
            answer.body["error_description"], "the subject token was not accepted for that robot",
            "{case}: every refusal reads the same"
        );
    }
    // An unknown robot reads the same, too.
    let good = key.sign(&claims());
    let answer = exchange(&app, &good, "acme/nobody").await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let reasons = refusal_reasons(&app, &alice).await;
    for (case, _, reason, _) in &cases {
        assert!(
            reasons.iter().any(|logged| logged.contains(reason)),
            "{case}: no audit event says {reason:?}; logged: {reasons:#?}"
        );
    }
    // And the right token still works after all that.
    assert_eq!(exchange(&app, &good, "acme/writer").await.status, 200);

    // The metrics count each refusal by its kind, which the client never hears.
    for outcome in ["forbidden", "expired", "unknown", "wrong_secret", "ok"] {
        let expected = cases.iter().filter(|case| case.3 == outcome).count()
            + usize::from(outcome == "unknown")
            + usize::from(outcome == "ok");
        assert_eq!(exchanges_counted(&app, outcome), expected, "{outcome}");
    }
}

/// `robots_authentications_total` of the exchange with this outcome.
fn exchanges_counted(app: &TestApp, outcome: &str) -> usize {
    let exposition = app.state.metrics().render(app.state.store(), &[]);
    let series = format!("robots_authentications_total{{verifier=\"exchange\",outcome=\"{outcome}\"}} ");
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series}in {exposition}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_at_the_issuer_is_followed() {
    let Some(app) = spawn().await else { return };
    let old = IssuerKey::rsa("2026-11");
    let issuer = Issuer::start(&[&old]).await;
    trusting_fixture(&app, &issuer.url).await;
    let claims = || github_claims(&app, &issuer.url, "acme/app", "refs/heads/main");
    assert_eq!(exchange(&app, &old.sign(&claims()), "acme/writer").await.status, 200);

    // The issuer rotates: a new key, the old one withdrawn.
    let new = IssuerKey::ec("2026-12");
    issuer.publish(&[&new]);
    // A token under the new kid makes us look again (not more than twice a minute).
    app.clock.advance(Duration::from_secs(31));
    let answer = exchange(&app, &new.sign(&claims()), "acme/writer").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(issuer.fetches(), 2);
    // Unknown kids right after a fetch do not send us back to the issuer.
    let made_up = IssuerKey::ec("made-up");
    assert_eq!(
        exchange(&app, &made_up.sign(&claims()), "acme/writer").await.status,
        400
    );
    assert_eq!(issuer.fetches(), 2);
    // Once the cache expires, the withdrawn key is gone for good.
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(exchange(&app, &old.sign(&claims()), "acme/writer").await.status, 400);
    assert_eq!(exchange(&app, &new.sign(&claims()), "acme/writer").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_managed_by_admins_audited_and_revoke_what_they_minted() {
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::ec("k1");
    let issuer = Issuer::start(&[&key]).await;
    let alice = trusting_fixture(&app, &issuer.url).await;
    let root = app.login("root").await;
    app.user(&root, "bob").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    let bob = app.login("bob").await;
    let base = "/v1/orgs/acme/robots/writer/federated-credentials";

    // Members read; only admins change.
    let listed = app.get(base, &bob).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"][0]["name"], "github-main");
    assert_eq!(listed.body["items"][0]["claims"]["ref"], "refs/heads/main");
    let refused = app.request("DELETE", &format!("{base}/github-main"), &bob, None).await;
    assert_eq!(refused.status, 403);

    // Bad terms are refused with the field named.
    for (body, field) in [
        (
            json!({"name": "x", "issuer": "ftp://a", "audience": AUDIENCE, "subject": "repo:acme/*"}),
            "issuer",
        ),
        (
            json!({"name": "x", "issuer": issuer.url, "audience": "", "subject": "repo:acme/*"}),
            "audience",
        ),
        (
            json!({"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "subject": "*"}),
            "subject",
        ),
        // Every repository on the issuer would become the robot.
        (
            json!({"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "subject": "*:*"}),
            "subject",
        ),
        (
            json!({"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "subject": "repo:*"}),
            "subject",
        ),
        (
            json!({"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "subject": "project_path:*"}),
            "subject",
        ),
        (
            json!({"name": "x", "issuer": issuer.url, "audience": AUDIENCE, "subject": "repo:acme/*", "claims": {"aud": "x"}}),
            "claims.aud",
        ),
    ] {
        let answer = app.post(base, &alice, body).await;
        assert_eq!(answer.status, 422, "{}", answer.text);
        assert_eq!(answer.body["error"]["field"], field, "{}", answer.text);
    }

    // A token minted under the old terms dies when the terms change.
    let minted = exchange(
        &app,
        &key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main")),
        "acme/writer",
    )
    .await;
    let minted = credentials(&minted.body);
    assert_eq!(app.get("/v1/whoami", &minted.basic()).await.status, 200);
    let changed = app
        .request(
            "PATCH",
            &format!("{base}/github-main"),
            &alice,
            Some(json!({"claims": {"ref": "refs/heads/release-*"}})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["claims"], json!({"ref": "refs/heads/release-*"}));
    assert_eq!(app.get("/v1/whoami", &minted.basic()).await.status, 401);

    // The new terms: a release branch passes, main no longer does.
    let release = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/release-2"));
    let changed_subject = app
        .request(
            "PATCH",
            &format!("{base}/github-main"),
            &alice,
            Some(json!({"subject": "repo:acme/app:ref:refs/heads/release-*"})),
        )
        .await;
    assert_eq!(changed_subject.status, 200);
    let minted = exchange(&app, &release, "acme/writer").await;
    assert_eq!(minted.status, 200, "{}", minted.text);
    let minted = credentials(&minted.body);

    // Deleting the credential revokes its tokens at once.
    let deleted = app
        .request("DELETE", &format!("{base}/github-main"), &alice, None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.get("/v1/whoami", &minted.basic()).await.status, 401);
    assert_eq!(exchange(&app, &release, "acme/writer").await.status, 400);

    let events = app
        .get("/v1/orgs/acme/audit?action=federated_credential.", &alice)
        .await;
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "federated_credential.deleted",
            "federated_credential.updated",
            "federated_credential.updated",
            "federated_credential.created"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_robot_cannot_be_exchanged_for() {
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::ec("k1");
    let issuer = Issuer::start(&[&key]).await;
    let alice = trusting_fixture(&app, &issuer.url).await;
    let disabled = app.post("/v1/orgs/acme/robots/writer/disable", &alice, json!({})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    let id_token = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main"));
    assert_eq!(exchange(&app, &id_token, "acme/writer").await.status, 400);
    assert!(
        refusal_reasons(&app, &alice)
            .await
            .iter()
            .any(|reason| reason == "the robot is disabled")
    );
    assert_eq!(exchanges_counted(&app, "disabled"), 1);
}

#[tokio::test]
async fn issuers_must_be_https_unless_allowed() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (alice, _, _) = app.registry_fixture().await;
    let answer = app
        .post(
            "/v1/orgs/acme/robots/writer/federated-credentials",
            &alice,
            json!({"name": "local", "issuer": "http://127.0.0.1:1", "audience": AUDIENCE, "subject": "repo:acme/*"}),
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(answer.body["error"]["field"], "issuer");
    assert!(answer.text.contains("https://"), "{}", answer.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchanged_token_pushes_to_the_real_registry() {
    if !crate::support::have_tool("docker-registry", "apt-get install docker-registry")
        || !crate::support::have_tool("skopeo", "apt-get install skopeo")
    {
        return;
    }
    let Some(app) = spawn().await else { return };
    let key = IssuerKey::rsa("gh-1");
    let issuer = Issuer::start(&[&key]).await;
    trusting_fixture(&app, &issuer.url).await;
    let dir = tempfile::tempdir().unwrap();
    let layout = registry::build_image(dir.path(), "pushed by a keyless robot\n");
    let (_registry, registry) = registry::start_registry(&app, dir.path()).await;

    let id_token = key.sign(&github_claims(&app, &issuer.url, "acme/app", "refs/heads/main"));
    let answer = exchange(&app, &id_token, "acme/writer").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The Access ID is the username, the exchanged Token the password.
    let pushed = registry::push(&layout, &registry, "acme/apps/web", &credentials(&answer.body));
    assert!(pushed.status.success(), "push: {}", registry::stderr(&pushed));
}
