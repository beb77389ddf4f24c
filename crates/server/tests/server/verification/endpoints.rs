//! The verification endpoints over HTTP, on both backends.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_core::{SecretKind, SecretToken};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, Credentials, TestApp};

on_both_backends!(
    registry_tokens_grant_the_intersection_of_asked_and_allowed,
    auth_request_answers_200_401_and_403,
    introspection_tells_only_the_callers_own_organization,
    introspection_charges_the_token_not_the_resource_server,
    introspected_jwts_end_with_the_robot_token_they_came_from,
    client_credentials_issue_short_lived_jwts,
    keys_are_published_and_rotated_by_instance_admins,
);

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

async fn registry_token(app: &TestApp, credentials: Option<&Credentials>, query: &str) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/v2/token?{query}", app.base));
    if let Some(c) = credentials {
        request = request.basic_auth(&c.access_id, Some(&c.token));
    }
    request.send().await.unwrap()
}

/// The claims of the registry token issued to `credentials` for `query`.
async fn issued_claims(app: &TestApp, credentials: &Credentials, query: &str) -> Value {
    let answer: Value = registry_token(app, Some(credentials), query)
        .await
        .json()
        .await
        .unwrap();
    claims_of(answer["token"].as_str().unwrap())
}

async fn registry_tokens_grant_the_intersection_of_asked_and_allowed(app: TestApp) {
    let (_, writer, reader) = app.registry_fixture().await;
    let response = registry_token(
        &app,
        Some(&writer),
        "service=registry&scope=repository%3Aacme%2Fapps%2Fweb%3Apull%2Cpush%2Cdelete&scope=repository:acme/other:pull&account=x",
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert!(body["expires_in"].as_u64().unwrap() >= 60);
    assert!(body["issued_at"].is_string());
    let jwt = body["token"].as_str().unwrap();
    let header = header_of(jwt);
    assert_eq!(header["alg"], "ES256");
    assert!(header["x5c"][0].is_string() && header["kid"].is_string());
    let claims = claims_of(jwt);
    assert_eq!(claims["aud"], "registry", "aud is one string, as the registry wants");
    assert_eq!(claims["iss"], app.state.config().issuer.as_str());
    assert_eq!(claims["sub"], "acme/writer");
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "acme/apps/web", "actions": ["pull", "push"]}])
    );
    assert!(claims["exp"].is_i64() && claims["nbf"].is_i64());

    let read = issued_claims(
        &app,
        &reader,
        "service=registry&scope=repository:acme/apps/web:pull,push",
    )
    .await;
    assert_eq!(
        read["access"],
        json!([{"type": "repository", "name": "acme/apps/web", "actions": ["pull"]}])
    );

    // The login probe: no scope, an empty grant.
    let probe = issued_claims(&app, &writer, "service=registry").await;
    assert_eq!(probe["access"], json!([]));

    let anonymous = registry_token(&app, None, "service=registry&scope=repository:acme/apps/web:pull").await;
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let wrong = Credentials {
        access_id: writer.access_id.clone(),
        token: SecretToken::generate(SecretKind::RobotToken).expose().to_owned(),
    };
    assert_eq!(
        registry_token(&app, Some(&wrong), "service=registry").await.status(),
        401
    );
    let session = app.login("alice").await;
    let Auth::Bearer(session) = session else { unreachable!() };
    let user_as_robot = Credentials {
        access_id: "alice".into(),
        token: session,
    };
    assert_eq!(
        registry_token(&app, Some(&user_as_robot), "service=registry")
            .await
            .status(),
        401,
        "users cannot use the registry"
    );
    let elsewhere = registry_token(&app, Some(&writer), "service=else%20where").await;
    assert_eq!(elsewhere.status(), 400);
    let error: Value = elsewhere.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unknown_service");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("\"else where\""),
        "the error names the service: {error}"
    );

    // Scopes joined with spaces (`+` in a query), and a malformed escape,
    // which names no repository of ours.
    let joined = issued_claims(
        &app,
        &writer,
        "scope=repository:acme/apps/web:pull+repository:acme/apps/web%zz:pull",
    )
    .await;
    assert_eq!(
        joined["access"],
        json!([{"type": "repository", "name": "acme/apps/web", "actions": ["pull"]}])
    );
}

/// The `X-Robot-…`/`X-Access-…` header names a text mentions, lowercased.
fn identity_header_names(text: &str) -> std::collections::BTreeSet<String> {
    text.split('`')
        .filter(|word| word.starts_with("X-Robot-") || word.starts_with("X-Access"))
        .map(str::to_ascii_lowercase)
        .collect()
}

async fn auth_request_answers_200_401_and_403(app: TestApp) {
    let (_, writer, reader) = app.registry_fixture().await;
    let ok = app.get("/v1/auth", &writer.basic()).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers["x-robot-name"], "writer");
    assert_eq!(ok.headers["x-robot-org"], "acme");
    assert_eq!(ok.headers["x-access-id"], writer.access_id.as_str());
    assert!(uuid::Uuid::try_parse(ok.headers["x-robot-id"].to_str().unwrap()).is_ok());
    let sent: std::collections::BTreeSet<String> = ok
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("x-robot-") || name.starts_with("x-access"))
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(
        identity_header_names(&crate::support::readme_paragraph("`GET /v1/auth` answers")),
        sent,
        "the README names the headers /v1/auth sends"
    );
    let document = app.get("/v1/openapi.json", &Auth::None).await;
    let described = document.body["paths"]["/v1/auth"]["get"]["responses"]["200"]["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        identity_header_names(&described),
        sent,
        "the OpenAPI document names the headers /v1/auth sends"
    );
    // A cache in front of us (proxy_cache on the auth location) must not
    // keep who a credential belongs to.
    assert_eq!(ok.headers["cache-control"], "no-store");
    assert_eq!(
        app.get("/v1/auth?repository=acme/apps/web&action=push", &writer.bearer())
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/v1/auth?repository=acme%2Fapps%2Fweb&action=pus%68", &writer.bearer())
            .await
            .status,
        200,
        "a percent-encoded query means the same"
    );
    assert_eq!(
        app.get("/v1/auth?repository=acme/apps/web&action=push", &reader.basic())
            .await
            .status,
        403
    );
    assert_eq!(
        app.get("/v1/auth?repository=acme/apps/web", &reader.basic())
            .await
            .status,
        200,
        "pull by default"
    );
    assert_eq!(
        app.get("/v1/auth?repository=acme/apps/web&action=delete", &writer.basic())
            .await
            .status,
        403
    );
    assert_eq!(
        app.get("/v1/auth?repository=globex/apps/web&action=pull", &writer.basic())
            .await
            .status,
        403
    );
    let unauthenticated = app.get("/v1/auth", &Auth::None).await;
    assert_eq!(unauthenticated.status, 401);
    assert!(unauthenticated.headers.get("www-authenticate").is_some());
    let alice = app.login("alice").await;
    assert_eq!(
        app.get("/v1/auth", &alice).await.status,
        401,
        "a user session is not a robot credential"
    );
    assert_eq!(
        app.get("/v1/auth?repository=acme/apps/web&action=fly", &writer.basic())
            .await
            .status,
        400
    );
    assert_eq!(app.get("/v1/auth?action=pull", &writer.basic()).await.status, 400);
    assert_eq!(
        app.get("/v1/auth?repository=noslash&action=pull", &writer.basic())
            .await
            .status,
        400
    );
}

async fn introspect(app: &TestApp, caller: &Auth, token: &str) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/v1/introspect", app.base))
        .form(&[("token", token)]);
    request = match caller {
        Auth::None => request,
        Auth::Bearer(t) => request.bearer_auth(t),
        Auth::Basic(u, p) => request.basic_auth(u, Some(p)),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn introspection_tells_only_the_callers_own_organization(app: TestApp) {
    let (alice, writer, reader) = app.registry_fixture().await;
    let inactive = json!({"active": false});

    let (status, active) = introspect(&app, &reader.basic(), &writer.token).await;
    assert_eq!(status, 200);
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], writer.access_id.as_str());
    assert_eq!(active["username"], "acme/writer");
    assert_eq!(active["scope"], "repository:acme/apps/web:pull,push");
    assert_eq!(active["token_type"], "robot_token");
    assert!(
        active["iat"].is_i64() && active.get("exp").is_none(),
        "no expiry, no exp"
    );
    assert_eq!(
        introspect(&app, &alice, &writer.token).await.1["active"],
        true,
        "a member of the organization"
    );

    // The answer follows the robot's grants from the next request on.
    let regranted = app
        .request(
            "PUT",
            "/v1/orgs/acme/teams/writers/grants/apps/web",
            &alice,
            Some(json!({"permission": "admin"})),
        )
        .await;
    assert!(regranted.status < 300, "{}", regranted.text);
    assert_eq!(
        introspect(&app, &reader.basic(), &writer.token).await.1["scope"],
        "repository:acme/apps/web:pull,push,delete"
    );

    // Another organization's caller learns nothing.
    let root = app.login("root").await;
    let bob = app.user(&root, "bob").await;
    app.org(&bob, "globex").await;
    app.robot(&bob, "globex", "checker").await;
    let checker = app.token(&bob, "globex", "checker", "ci").await;
    assert_eq!(introspect(&app, &checker.basic(), &writer.token).await.1, inactive);
    assert_eq!(introspect(&app, &bob, &writer.token).await.1, inactive);

    // Unknown, malformed, deleted, expired: {"active": false} and nothing else.
    let unknown = SecretToken::generate(SecretKind::RobotToken).expose().to_owned();
    assert_eq!(introspect(&app, &reader.basic(), &unknown).await.1, inactive);
    assert_eq!(introspect(&app, &reader.basic(), "garbage").await.1, inactive);
    let path = format!("/v1/orgs/acme/robots/writer/tokens/{}", writer.access_id);
    assert_eq!(app.delete(&path, &alice).await.status, 204);
    assert_eq!(introspect(&app, &reader.basic(), &writer.token).await.1, inactive);
    let short_token = app
        .token_expiring_in(&alice, "acme", "writer", "short", std::time::Duration::from_secs(60))
        .await
        .token;
    assert!(introspect(&app, &reader.basic(), &short_token).await.1["exp"].is_i64());
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(introspect(&app, &reader.basic(), &short_token).await.1, inactive);

    // Callers must authenticate; a body is required.
    assert_eq!(introspect(&app, &Auth::None, &reader.token).await.0, 401);
    let no_token = app
        .client
        .post(format!("{}/v1/introspect", app.base))
        .basic_auth(&reader.access_id, Some(&reader.token))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 400);

    // Our own access tokens introspect too.
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(&reader.access_id, Some(&reader.token))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let access_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, answer) = introspect(&app, &alice, &access_token).await;
    assert_eq!(
        (answer["active"].as_bool(), answer["token_type"].as_str()),
        (Some(true), Some("access_token"))
    );
    assert_eq!(answer["username"], "acme/reader");
    assert_eq!(introspect(&app, &bob, &access_token).await.1, inactive);
}

async fn introspection_charges_the_token_not_the_resource_server(app: TestApp) {
    let (alice, writer, reader) = app.registry_fixture().await;
    // `reader` is a resource server; its clients send it garbage, more of
    // it than an address may fail to authenticate itself.
    let burst = app.state.config().service.limits.robot_failures_per_address.burst;
    for _ in 0..burst + 20 {
        let unknown = SecretToken::generate(SecretKind::RobotToken).expose().to_owned();
        let (status, answer) = introspect(&app, &reader.basic(), &unknown).await;
        assert_eq!((status, answer), (200, json!({"active": false})));
    }
    // A real token past its expiry, again and again: charged to its Access ID.
    let short_token = app
        .token_expiring_in(&alice, "acme", "writer", "short", std::time::Duration::from_secs(60))
        .await
        .token;
    app.clock.advance(std::time::Duration::from_secs(61));
    for _ in 0..30 {
        assert_eq!(introspect(&app, &reader.basic(), &short_token).await.1["active"], false);
    }
    // The resource server is not locked out, and still gets answers.
    assert_eq!(app.get("/v1/whoami", &reader.basic()).await.status, 200);
    let (status, answer) = introspect(&app, &reader.basic(), &writer.token).await;
    assert_eq!((status, answer["active"].as_bool()), (200, Some(true)));

    // The token's last use says who asked, not the asker's address.
    let fresh = app.token(&alice, "acme", "writer", "fresh").await;
    assert_eq!(introspect(&app, &reader.basic(), &fresh.token).await.1["active"], true);
    app.flush_usage().await;
    let path = format!("/v1/orgs/acme/robots/writer/tokens/{}", fresh.access_id);
    let used = app.get(&path, &alice).await;
    assert!(used.body["last_used_at"].is_string(), "{}", used.text);
    assert_eq!(used.body["last_used_ip"], Value::Null, "{}", used.text);
    assert_eq!(used.body["last_used_user_agent"], "introspection by acme/reader");
}

/// An OAuth2 access token signed for `robot`'s credentials.
async fn access_token(app: &TestApp, robot: &Credentials) -> String {
    let response = app
        .client
        .post(format!("{}/v1/oauth/token", app.base))
        .basic_auth(&robot.access_id, Some(&robot.token))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn introspected_jwts_end_with_the_robot_token_they_came_from(app: TestApp) {
    let (alice, _, reader) = app.registry_fixture().await;
    let active = |jwt: String| {
        let (app, alice) = (&app, &alice);
        async move { introspect(app, alice, &jwt).await.1["active"].as_bool() }
    };
    let tokens = "/v1/orgs/acme/robots/reader/tokens";

    // Deleted.
    let jwt = access_token(&app, &reader).await;
    assert_eq!(active(jwt.clone()).await, Some(true));
    let deleted = app.delete(&format!("{tokens}/{}", reader.access_id), &alice).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(active(jwt).await, Some(false), "its robot token was deleted");

    // The robot disabled (and enabled again).
    let second = app.token(&alice, "acme", "reader", "second").await;
    let jwt = access_token(&app, &second).await;
    let disable = app.post("/v1/orgs/acme/robots/reader/disable", &alice, json!({})).await;
    assert!(disable.status < 300, "{}", disable.text);
    assert_eq!(active(jwt.clone()).await, Some(false), "its robot is disabled");
    let enable = app.post("/v1/orgs/acme/robots/reader/enable", &alice, json!({})).await;
    assert!(enable.status < 300, "{}", enable.text);
    assert_eq!(active(jwt.clone()).await, Some(true));

    // Rotated out: valid through the grace period, not after.
    let rotated = app
        .post(
            &format!("{tokens}/{}/rotate", second.access_id),
            &alice,
            json!({"grace_period": "5m"}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    assert_eq!(active(jwt.clone()).await, Some(true), "within the grace period");
    app.clock.advance(std::time::Duration::from_secs(5 * 60 + 1));
    assert_eq!(active(jwt).await, Some(false), "its robot token rotated out");

    // Expired before the JWT did.
    let short = app
        .token_expiring_in(&alice, "acme", "reader", "short", std::time::Duration::from_secs(60))
        .await;
    let jwt = access_token(&app, &short).await;
    assert_eq!(active(jwt.clone()).await, Some(true));
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_eq!(active(jwt).await, Some(false), "its robot token expired");

    // The robot deleted.
    let last = app.token(&alice, "acme", "reader", "last").await;
    let jwt = access_token(&app, &last).await;
    assert_eq!(app.delete("/v1/orgs/acme/robots/reader", &alice).await.status, 204);
    assert_eq!(active(jwt).await, Some(false), "its robot was deleted");
}

async fn client_credentials_issue_short_lived_jwts(app: TestApp) {
    let (_, writer, reader) = app.registry_fixture().await;
    let token_request = |form: Vec<(&'static str, String)>, basic: Option<&Credentials>| {
        let mut request = app.client.post(format!("{}/v1/oauth/token", app.base)).form(&form);
        if let Some(c) = basic {
            request = request.basic_auth(&c.access_id, Some(&c.token));
        }
        request.send()
    };
    let grant = || ("grant_type", "client_credentials".to_owned());

    let by_basic = token_request(vec![grant()], Some(&writer)).await.unwrap();
    assert_eq!(by_basic.status(), 200);
    assert_eq!(by_basic.headers()["cache-control"], "no-store");
    let body: Value = by_basic.json().await.unwrap();
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_u64()),
        (Some("Bearer"), Some(900))
    );
    assert_eq!(body["scope"], "repository:acme/apps/web:pull,push");
    let claims = claims_of(body["access_token"].as_str().unwrap());
    for key in ["iss", "sub", "aud", "exp", "iat", "jti", "org", "robot", "permissions"] {
        assert!(!claims[key].is_null(), "claim {key}");
    }
    assert_eq!(claims["aud"], app.state.config().issuer.as_str());

    let by_form = token_request(
        vec![
            grant(),
            ("client_id", reader.access_id.clone()),
            ("client_secret", reader.token.clone()),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(by_form.status(), 200);
    let narrowed: Value = token_request(
        vec![grant(), ("scope", "repository:acme/apps/web:pull".into())],
        Some(&writer),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(narrowed["scope"], "repository:acme/apps/web:pull");

    /// The form, Basic credentials, and the expected status and OAuth error.
    type Case<'a> = (Vec<(&'static str, String)>, Option<&'a Credentials>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], Some(&writer), 400, "unsupported_grant_type"),
        (
            vec![("grant_type", "password".into())],
            Some(&writer),
            400,
            "unsupported_grant_type",
        ),
        (vec![grant()], None, 401, "invalid_client"),
        (
            vec![
                grant(),
                ("client_id", writer.access_id.clone()),
                ("client_secret", reader.token.clone()),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![
                grant(),
                ("client_id", writer.access_id.clone()),
                ("client_secret", writer.token.clone()),
            ],
            Some(&writer),
            400,
            "invalid_request",
        ),
        (
            vec![grant(), ("scope", "repository:acme/secret:pull".into())],
            Some(&writer),
            400,
            "invalid_scope",
        ),
        (
            vec![grant(), ("audience", "https://elsewhere".into())],
            Some(&writer),
            400,
            "invalid_target",
        ),
    ];
    for (form, basic, status, code) in cases {
        let response = token_request(form.clone(), basic).await.unwrap();
        assert_eq!(response.status(), status, "{form:?}");
        if status == 401 {
            assert!(response.headers().get("www-authenticate").is_some());
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{form:?}: {body}");
    }
}

async fn keys_are_published_and_rotated_by_instance_admins(app: TestApp) {
    let root = app.setup_admin().await;
    let jwks = app.get("/.well-known/jwks.json", &Auth::None).await;
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            keys[0]["kty"].as_str(),
            keys[0]["crv"].as_str(),
            keys[0]["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(keys[0].get("d").is_none(), "never the private part");
    let discovery = app.get("/.well-known/openid-configuration", &Auth::None).await;
    assert_eq!(discovery.body["issuer"], app.state.config().issuer.as_str());
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base)
    );
    assert_eq!(discovery.body["token_endpoint"], format!("{}/v1/oauth/token", app.base));

    let listed = app.get("/v1/keys", &root).await;
    assert_eq!(listed.body["items"][0]["signing"], true);
    let alice = app.user(&root, "alice").await;
    assert_eq!(app.get("/v1/keys", &alice).await.status, 403);
    assert_eq!(app.get("/v1/keys", &Auth::None).await.status, 401);

    // A scheduled rotation publishes the next key at once and signs with it later.
    let scheduled = app.post("/v1/keys/rotate", &root, json!({"after": "1h"})).await;
    assert_eq!(scheduled.status, 201, "{}", scheduled.text);
    let listed = app.get("/v1/keys", &root).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|k| k["signing"] == true).count(), 1);
    assert_eq!(items[0]["signing"], true, "the old key signs until the hour is up");
    let pem = app
        .client
        .get(format!("{}/v1/keys/certificates.pem", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        pem.matches("BEGIN CERTIFICATE").count(),
        2,
        "registries can trust both before the switch"
    );
    app.clock.advance(std::time::Duration::from_secs(3601));
    let listed = app.get("/v1/keys", &root).await;
    let signing: Vec<&Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["signing"] == true)
        .collect();
    assert_eq!(signing[0]["kid"], scheduled.body["kid"]);
    assert_eq!(
        app.post("/v1/keys/rotate", &root, json!({"after": "soon"}))
            .await
            .status,
        422
    );
}
