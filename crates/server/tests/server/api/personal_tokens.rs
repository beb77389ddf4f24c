//! Personal access tokens: automation acting for a user, never beyond the
//! token's scopes nor its owner's role, refused wherever robot credentials
//! or a person are expected.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(
    a_token_is_shown_once_and_acts_within_its_scopes,
    a_members_token_cannot_do_what_only_admins_can,
    tokens_are_refused_where_robots_or_people_are_expected,
    a_token_limited_to_organizations_reaches_those_alone,
    an_organizations_policy_can_refuse_or_outlive_tokens,
    removal_deletion_revocation_and_expiry_take_effect_on_the_next_request,
    bad_requests_are_refused_with_the_field_at_fault,
);

/// root (instance admin); alice, admin of acme and globex; bob, a member of acme.
async fn fixture(app: &TestApp) -> (Auth, Auth, Auth) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    let bob = app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    app.org(&alice, "globex").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    app.robot(&alice, "acme", "deployer").await;
    (root, alice, bob)
}

/// Creates a personal access token of `owner`; answers it and the API's answer.
async fn pat(app: &TestApp, owner: &Auth, body: Value) -> (Auth, Value) {
    let created = app.post("/v1/me/tokens", owner, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rpat_"), "{token}");
    (Auth::Bearer(token), created.body)
}

fn refusal(answer: &crate::support::Response) -> (u16, &str) {
    (answer.status, answer.body["error"]["code"].as_str().unwrap_or_default())
}

async fn a_token_is_shown_once_and_acts_within_its_scopes(app: TestApp) {
    let (_, alice, _) = fixture(&app).await;
    let (reader, created) = pat(
        &app,
        &alice,
        json!({"name": "inventory", "scopes": ["robots:read"], "expires_in": "90d"}),
    )
    .await;
    assert_eq!(created["scopes"], json!(["robots:read"]));
    assert_eq!(created["orgs"], Value::Null);
    let secret = created["token"].as_str().unwrap().to_owned();

    // Listed without its secret.
    let listed = app.get("/v1/me/tokens", &alice).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["name"], "inventory");
    assert!(!listed.text.contains(&secret));

    // Reads robots; cannot create one, and is told which scope it lacks.
    assert_eq!(app.get("/v1/orgs/acme/robots", &reader).await.status, 200);
    let refused = app.post("/v1/orgs/acme/robots", &reader, json!({"name": "new"})).await;
    assert_eq!(refusal(&refused), (403, "insufficient_scope"), "{}", refused.text);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("robots:write")
    );
    let refused = app
        .post("/v1/orgs/acme/robots/deployer/tokens", &reader, json!({"name": "ci"}))
        .await;
    assert_eq!(refusal(&refused), (403, "insufficient_scope"));
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens:write")
    );
    // Organizations' own details need orgs:read.
    assert_eq!(
        refusal(&app.get("/v1/orgs/acme/members", &reader).await),
        (403, "insufficient_scope")
    );

    // A token for the automation that manages robots: robots and tokens.
    let (terraform, _) = pat(
        &app,
        &alice,
        json!({"name": "terraform", "scopes": ["robots:write", "tokens:write", "orgs:read"]}),
    )
    .await;
    let robot = app
        .post("/v1/orgs/acme/robots", &terraform, json!({"name": "builder"}))
        .await;
    assert_eq!(robot.status, 201, "{}", robot.text);
    let token = app
        .post(
            "/v1/orgs/acme/robots/builder/tokens",
            &terraform,
            json!({"name": "ci", "expires_in": "30d"}),
        )
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    assert_eq!(
        app.get("/v1/orgs", &terraform).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // …and nothing else: members, teams, webhooks, the audit log.
    for (method, path, body) in [
        ("PUT", "/v1/orgs/acme/members/root", Some(json!({"role": "member"}))),
        ("POST", "/v1/orgs/acme/teams", Some(json!({"name": "ops"}))),
        ("GET", "/v1/orgs/acme/webhooks", None),
        ("GET", "/v1/orgs/acme/audit", None),
    ] {
        let answer = app.request(method, path, &terraform, body).await;
        assert_eq!(refusal(&answer), (403, "insufficient_scope"), "{method} {path}");
    }

    // whoami tells the token; the audit trail names it, and where it was used.
    let me = app.get("/v1/whoami", &terraform).await;
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["personal_token"]["name"], "terraform");
    let audit = app.get("/v1/orgs/acme/audit?action=robot.created", &alice).await;
    let event = &audit.body["items"][0];
    assert_eq!(event["actor"], "alice", "{}", audit.text);
    assert_eq!(event["detail"]["personal_token"], "terraform", "{}", audit.text);
    let listed = app.get("/v1/me/tokens", &alice).await;
    let used = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["name"] == "terraform")
        .unwrap()
        .clone();
    assert!(used["last_used_at"].is_string(), "{used}");
    assert_eq!(used["last_used_ip"], "127.0.0.1");
}

async fn a_members_token_cannot_do_what_only_admins_can(app: TestApp) {
    let (_, _, bob) = fixture(&app).await;
    let (token, _) = pat(
        &app,
        &bob,
        json!({"name": "everything", "scopes": ["orgs:write", "robots:write", "tokens:write", "teams:write", "audit:read", "webhooks:write"]}),
    )
    .await;
    // Every scope, and still only what bob's role allows.
    assert_eq!(app.get("/v1/orgs/acme/robots", &token).await.status, 200);
    for (method, path, body) in [
        ("POST", "/v1/orgs/acme/robots", Some(json!({"name": "new"}))),
        (
            "POST",
            "/v1/orgs/acme/robots/deployer/tokens",
            Some(json!({"name": "ci"})),
        ),
        ("GET", "/v1/orgs/acme/audit", None),
        ("POST", "/v1/orgs/acme/teams", Some(json!({"name": "ops"}))),
    ] {
        let answer = app.request(method, path, &token, body).await;
        assert_eq!(refusal(&answer), (403, "forbidden"), "{method} {path}: {}", answer.text);
    }
    // Not a member of globex: it does not exist, for bob's token too.
    assert_eq!(
        refusal(&app.get("/v1/orgs/globex/robots", &token).await),
        (404, "not_found")
    );
}

async fn tokens_are_refused_where_robots_or_people_are_expected(app: TestApp) {
    let (_, alice, _) = fixture(&app).await;
    let (token, created) = pat(
        &app,
        &alice,
        json!({"name": "all", "scopes": ["orgs:write", "robots:write", "tokens:write"]}),
    )
    .await;
    let secret = created["token"].as_str().unwrap().to_owned();
    let basic = Auth::Basic("alice".into(), secret.clone());
    // The verification endpoints take robot credentials only.
    for auth in [&token, &basic] {
        assert_eq!(app.get("/v1/auth", auth).await.status, 401);
        assert_eq!(
            app.get("/v2/token?service=registry&scope=repository:acme/app:pull", auth)
                .await
                .status,
            401
        );
        let introspected = app
            .client
            .post(format!("{}/v1/introspect", app.base))
            .header(
                "Authorization",
                match auth {
                    Auth::Bearer(secret) => format!("Bearer {secret}"),
                    _ => format!("Basic {}", base64_basic("alice", &secret)),
                },
            )
            .form(&[("token", secret.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(introspected.status(), 401);
    }
    // Asked about by a resource server, it is no live robot token.
    let robot = app.token(&alice, "acme", "deployer", "ci").await;
    let answer: Value = app
        .client
        .post(format!("{}/v1/introspect", app.base))
        .basic_auth(&robot.access_id, Some(&robot.token))
        .form(&[("token", secret.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, json!({"active": false}));

    // It does not log in, and it cannot do what only a person, logged in, may.
    let login = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "alice", "password": secret}),
        )
        .await;
    assert_eq!(login.status, 422, "{}", login.text);
    assert_eq!(login.body["error"]["field"], "password");
    for (method, path, body) in [
        (
            "POST",
            "/v1/me/tokens",
            Some(json!({"name": "child", "scopes": ["robots:read"]})),
        ),
        ("GET", "/v1/me/tokens", None),
        ("DELETE", "/v1/me/tokens/all", None),
        (
            "PUT",
            "/v1/me/password",
            Some(json!({"current_password": "x", "new_password": "a brand new passphrase"})),
        ),
        ("DELETE", "/v1/sessions", None),
        ("DELETE", "/v1/sessions/current", None),
        ("GET", "/v1/audit", None),
        ("DELETE", "/v1/users/bob", None),
    ] {
        let answer = app.request(method, path, &token, body).await;
        assert_eq!(
            refusal(&answer),
            (403, "session_required"),
            "{method} {path}: {}",
            answer.text
        );
    }
    // Still alive after all that.
    assert_eq!(app.get("/v1/orgs/acme/robots", &token).await.status, 200);
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

async fn a_token_limited_to_organizations_reaches_those_alone(app: TestApp) {
    let (_, alice, bob) = fixture(&app).await;
    let (token, created) = pat(
        &app,
        &alice,
        json!({"name": "acme-only", "scopes": ["orgs:write", "robots:read"], "orgs": ["acme"]}),
    )
    .await;
    assert_eq!(created["orgs"], json!(["acme"]));
    assert_eq!(app.get("/v1/orgs/acme/robots", &token).await.status, 200);
    let elsewhere = app.get("/v1/orgs/globex/robots", &token).await;
    assert_eq!(refusal(&elsewhere), (403, "forbidden"), "{}", elsewhere.text);
    let listed = app.get("/v1/orgs", &token).await;
    let names: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|org| org["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme"]);
    // A limited token creates no organizations it could not reach.
    assert_eq!(
        refusal(&app.post("/v1/orgs", &token, json!({"name": "initech"})).await),
        (403, "forbidden")
    );
    // Only organizations one belongs to can be named.
    let outside = app
        .post(
            "/v1/me/tokens",
            &bob,
            json!({"name": "x", "scopes": ["robots:read"], "orgs": ["globex"]}),
        )
        .await;
    assert_eq!(
        (outside.status, outside.body["error"]["field"].as_str()),
        (422, Some("orgs"))
    );
}

async fn an_organizations_policy_can_refuse_or_outlive_tokens(app: TestApp) {
    let (_, alice, _) = fixture(&app).await;
    let (year, _) = pat(
        &app,
        &alice,
        json!({"name": "year", "scopes": ["robots:read"], "expires_in": "365d"}),
    )
    .await;
    assert_eq!(app.get("/v1/orgs/globex/robots", &year).await.status, 200);
    let policy = |body: Value| app.request("PATCH", "/v1/orgs/globex", &alice, Some(json!({"token_policy": body})));

    // A maximum lifetime holds for personal access tokens used there.
    let capped = policy(json!({"max_lifetime": "30d"})).await;
    assert_eq!(capped.status, 200, "{}", capped.text);
    assert_eq!(capped.body["token_policy"]["personal_tokens_allowed"], true);
    let refused = app.get("/v1/orgs/globex/robots", &year).await;
    assert_eq!(refusal(&refused), (403, "forbidden"));
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 30d"),
        "{}",
        refused.text
    );
    assert_eq!(app.get("/v1/orgs/acme/robots", &year).await.status, 200);
    // A token limited to globex is made to fit by default, and refused beyond.
    let (_, fitted) = pat(
        &app,
        &alice,
        json!({"name": "fitted", "scopes": ["robots:read"], "orgs": ["globex"]}),
    )
    .await;
    let lifetime = time::OffsetDateTime::parse(
        fitted["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - time::OffsetDateTime::parse(
            fitted["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
    assert_eq!(lifetime, time::Duration::days(30));
    let too_long = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "long", "scopes": ["robots:read"], "orgs": ["globex"], "expires_in": "60d"}),
        )
        .await;
    assert_eq!(
        (too_long.status, too_long.body["error"]["field"].as_str()),
        (422, Some("expires_at"))
    );

    // Refused altogether.
    let forbidden = policy(json!({"personal_tokens_allowed": false})).await;
    assert_eq!(forbidden.body["token_policy"]["personal_tokens_allowed"], false);
    let (recent, _) = pat(
        &app,
        &alice,
        json!({"name": "recent", "scopes": ["robots:read"], "expires_in": "7d"}),
    )
    .await;
    let refused = app.get("/v1/orgs/globex/robots", &recent).await;
    assert_eq!(refusal(&refused), (403, "forbidden"));
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not accept personal access tokens")
    );
    let limited = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "globex", "scopes": ["robots:read"], "orgs": ["globex"]}),
        )
        .await;
    assert_eq!(
        (limited.status, limited.body["error"]["field"].as_str()),
        (422, Some("orgs"))
    );
    // The session still works there.
    assert_eq!(app.get("/v1/orgs/globex/robots", &alice).await.status, 200);
}

async fn removal_deletion_revocation_and_expiry_take_effect_on_the_next_request(app: TestApp) {
    let (root, alice, bob) = fixture(&app).await;
    let (bobs, _) = pat(&app, &bob, json!({"name": "bob", "scopes": ["robots:read"]})).await;
    assert_eq!(app.get("/v1/orgs/acme/robots", &bobs).await.status, 200);
    assert_eq!(app.delete("/v1/orgs/acme/members/bob", &alice).await.status, 204);
    assert_eq!(
        refusal(&app.get("/v1/orgs/acme/robots", &bobs).await),
        (404, "not_found")
    );
    assert_eq!(app.delete("/v1/users/bob", &root).await.status, 204);
    assert_eq!(app.get("/v1/whoami", &bobs).await.status, 401);

    let (revoked, created) = pat(&app, &alice, json!({"name": "revoked", "scopes": ["robots:read"]})).await;
    assert_eq!(app.get("/v1/orgs/acme/robots", &revoked).await.status, 200);
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/me/tokens/{id}"), &alice).await.status, 204);
    assert_eq!(app.get("/v1/orgs/acme/robots", &revoked).await.status, 401);
    assert_eq!(
        refusal(&app.delete("/v1/me/tokens/revoked", &alice).await),
        (404, "not_found")
    );
    let audit = app.get("/v1/audit?action=personal_token.revoked", &root).await;
    assert_eq!(audit.body["items"][0]["detail"]["name"], "revoked", "{}", audit.text);

    let (short, _) = pat(
        &app,
        &alice,
        json!({"name": "short", "scopes": ["robots:read"], "expires_in": "1h"}),
    )
    .await;
    assert_eq!(app.get("/v1/orgs/acme/robots", &short).await.status, 200);
    app.clock.advance(std::time::Duration::from_secs(61 * 60));
    assert_eq!(app.get("/v1/orgs/acme/robots", &short).await.status, 401);
    let listed = app.get("/v1/me/tokens", &app.login("alice").await).await;
    assert_eq!(listed.body["items"][0]["expired"], true, "{}", listed.text);
}

async fn bad_requests_are_refused_with_the_field_at_fault(app: TestApp) {
    let (_, alice, _) = fixture(&app).await;
    for (body, field, words) in [
        (json!({"name": "x", "scopes": []}), "scopes", "at least one"),
        (
            json!({"name": "x", "scopes": ["robots:admin"]}),
            "scopes",
            "\"robots:admin\" is not a scope",
        ),
        (json!({"name": "Not A Name", "scopes": ["robots:read"]}), "name", ""),
        (
            json!({"name": "x", "scopes": ["robots:read"], "expires_in": "never"}),
            "expires_in",
            "always expire",
        ),
        (
            json!({"name": "x", "scopes": ["robots:read"], "expires_in": "400d"}),
            "expires_at",
            "at most 366d",
        ),
        (
            json!({"name": "x", "scopes": ["robots:read"], "orgs": []}),
            "orgs",
            "at least one",
        ),
    ] {
        let refused = app.post("/v1/me/tokens", &alice, body.clone()).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {}",
            refused.text
        );
        assert!(
            refused.body["error"]["message"].as_str().unwrap().contains(words),
            "{body}: {}",
            refused.text
        );
    }
    pat(&app, &alice, json!({"name": "twice", "scopes": ["robots:read"]})).await;
    let again = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "twice", "scopes": ["robots:read"]}),
        )
        .await;
    assert_eq!(refusal(&again), (409, "name_taken"), "{}", again.text);
    assert_eq!(
        app.get("/v1/me/tokens", &alice).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
