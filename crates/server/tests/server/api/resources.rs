//! Organizations, members, robots and tokens: the spec's flow and the rules.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(
    the_spec_flow_from_organization_to_authenticated_robot,
    only_organizations_can_have_robot_accounts,
    names_follow_one_rule_and_are_unique_where_they_must_be,
    an_organization_always_keeps_an_admin,
    members_may_leave,
    robots_can_be_renamed_and_described,
    bad_input_is_refused_naming_the_field_and_nothing_is_half_written,
    lists_paginate_with_cursors,
    deleting_an_organization_stops_its_robots,
);

fn names(list: &Value, key: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_owned())
        .collect()
}

async fn the_spec_flow_from_organization_to_authenticated_robot(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;

    // An organization, with its creator as admin.
    let org = app
        .post("/v1/orgs", &alice, json!({"name": "acme", "display_name": "Acme Inc."}))
        .await;
    assert_eq!(org.status, 201, "{}", org.text);
    assert_eq!(
        (org.body["name"].as_str(), org.body["role"].as_str()),
        (Some("acme"), Some("admin"))
    );
    let orgs = app.get("/v1/orgs", &alice).await;
    assert_eq!(names(&orgs.body, "name"), ["acme"]);

    // Create Robot Account: a name and an optional description.
    let robot = app
        .post(
            "/v1/orgs/acme/robots",
            &alice,
            json!({"name": "ci-deployer", "description": "Pushes images from CI"}),
        )
        .await;
    assert_eq!(robot.status, 201, "{}", robot.text);
    assert_eq!(robot.body["name"], "ci-deployer");
    assert_eq!(robot.body["org"], "acme");
    assert_eq!(robot.body["description"], "Pushes images from CI");
    assert_eq!(robot.body["created_by"], "alice");
    assert_eq!(robot.body["token_count"], 0);

    // Create Token: a name; the Access ID and Token come back once.
    let created = app
        .post(
            "/v1/orgs/acme/robots/ci-deployer/tokens",
            &alice,
            json!({"name": "github-actions"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.headers["cache-control"], "no-store");
    let access_id = created.body["access_id"].as_str().unwrap().to_owned();
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::try_parse(&access_id).is_ok());
    assert!(token.starts_with("rbt_") && token.len() == 53, "{token}");
    assert_eq!(created.body["name"], "github-actions");
    assert!(created.body["created_at"].is_string());
    assert!(created.body["expires_at"].is_null());

    // The first use in a minute is recorded, with where it came from.
    let first_use = app
        .client
        .get(format!("{}/v1/auth", app.base))
        .basic_auth(&access_id, Some(&token))
        .header("user-agent", "deploy-bot/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(first_use.status(), 200);

    // The Access ID and Token are the "username" and "password".
    let basic = Auth::Basic(access_id.clone(), token.clone());
    let me = app.get("/v1/whoami", &basic).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["kind"], "robot");
    assert_eq!(me.body["name"], "ci-deployer");
    assert_eq!(me.body["org"], "acme");
    assert_eq!(me.body["access_id"], access_id.as_str());
    assert_eq!(me.body["token_name"], "github-actions");
    let bearer = Auth::Bearer(token.clone());
    assert_eq!(app.get("/v1/whoami", &bearer).await.body, me.body);

    // No later response contains the Token.
    let tokens = app.get("/v1/orgs/acme/robots/ci-deployer/tokens", &alice).await;
    let one = app
        .get(&format!("/v1/orgs/acme/robots/ci-deployer/tokens/{access_id}"), &alice)
        .await;
    let robot = app.get("/v1/orgs/acme/robots/ci-deployer", &alice).await;
    for later in [&tokens, &one, &robot] {
        assert_eq!(later.status, 200, "{}", later.text);
        assert!(!later.text.contains(&token), "the Token leaked into {}", later.text);
        assert!(!later.text.contains("\"token\""), "{}", later.text);
    }
    assert_eq!(names(&tokens.body, "access_id"), std::slice::from_ref(&access_id));
    assert_eq!(tokens.body["items"][0]["created_by"], "alice");
    assert_eq!(robot.body["token_count"], 1);

    // Last use is recorded (batched, off the request path).
    app.flush_usage().await;
    let used = app
        .get(&format!("/v1/orgs/acme/robots/ci-deployer/tokens/{access_id}"), &alice)
        .await;
    assert!(used.body["last_used_at"].is_string(), "{}", used.text);
    assert_eq!(used.body["last_used_ip"], "127.0.0.1");
    assert_eq!(used.body["last_used_user_agent"], "deploy-bot/1.0");

    // Deleting the token stops it at once.
    let deleted = app
        .delete(&format!("/v1/orgs/acme/robots/ci-deployer/tokens/{access_id}"), &alice)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.get("/v1/whoami", &basic).await.status, 401);
    assert_eq!(app.get("/v1/whoami", &bearer).await.status, 401);
    let again = app
        .delete(&format!("/v1/orgs/acme/robots/ci-deployer/tokens/{access_id}"), &alice)
        .await;
    assert_eq!(again.status, 404);

    // Deleting the robot stops all of its tokens.
    let second = app.token(&alice, "acme", "ci-deployer", "second").await;
    assert_eq!(app.get("/v1/whoami", &second.basic()).await.status, 200);
    assert_eq!(app.delete("/v1/orgs/acme/robots/ci-deployer", &alice).await.status, 204);
    assert_eq!(app.get("/v1/whoami", &second.basic()).await.status, 401);
    assert_eq!(app.get("/v1/orgs/acme/robots/ci-deployer", &alice).await.status, 404);
}

async fn only_organizations_can_have_robot_accounts(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    for (method, path, body) in [
        ("GET", "/v1/orgs/alice/robots", None),
        ("POST", "/v1/orgs/alice/robots", Some(json!({"name": "bot"}))),
        ("GET", "/v1/orgs/alice/robots/bot", None),
        ("GET", "/v1/orgs/alice/robots/bot/tokens", None),
        ("POST", "/v1/orgs/alice/robots/bot/tokens", Some(json!({"name": "t"}))),
    ] {
        let refused = app.request(method, path, &alice, body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (422, "personal_account"),
            "{method} {path}"
        );
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Only organizations can have robot accounts"),
            "{message}"
        );
        assert!(
            message.contains("personal accounts can't create robot accounts"),
            "{message}"
        );
    }
    let as_org = app.get("/v1/orgs/alice", &alice).await;
    assert_eq!((as_org.status, as_org.code()), (422, "personal_account"));
}

async fn names_follow_one_rule_and_are_unique_where_they_must_be(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;

    for bad in [
        "Deployer",
        "robot$ci",
        "a+b",
        "has space",
        "-lead",
        "trail-",
        "",
        &"x".repeat(64),
    ] {
        for (path, body) in [
            ("/v1/orgs", json!({"name": bad})),
            ("/v1/orgs/acme/robots", json!({"name": bad})),
        ] {
            let refused = app.post(path, &alice, body).await;
            assert_eq!(
                (refused.status, refused.code()),
                (422, "invalid_field"),
                "{bad:?} at {path}"
            );
            assert_eq!(refused.body["error"]["field"], "name");
        }
    }

    // Users and organizations share one namespace.
    let clash = app.post("/v1/orgs", &alice, json!({"name": "alice"})).await;
    assert_eq!((clash.status, clash.code()), (409, "name_taken"));
    let clash = app
        .post(
            "/v1/users",
            &root,
            json!({"username": "acme", "email": "acme@example.com", "password": crate::support::PASSWORD}),
        )
        .await;
    assert_eq!((clash.status, clash.code()), (409, "name_taken"));

    // Robot names are unique in their organization, not across organizations.
    app.robot(&alice, "acme", "deployer").await;
    let duplicate = app
        .post("/v1/orgs/acme/robots", &alice, json!({"name": "deployer"}))
        .await;
    assert_eq!((duplicate.status, duplicate.code()), (409, "name_taken"));
    app.org(&alice, "globex").await;
    app.robot(&alice, "globex", "deployer").await;

    // Token names are unique per robot.
    app.token(&alice, "acme", "deployer", "ci").await;
    let duplicate = app
        .post("/v1/orgs/acme/robots/deployer/tokens", &alice, json!({"name": "ci"}))
        .await;
    assert_eq!((duplicate.status, duplicate.code()), (409, "name_taken"));
    app.token(&alice, "globex", "deployer", "ci").await;
    let bad_token_name = app
        .post(
            "/v1/orgs/acme/robots/deployer/tokens",
            &alice,
            json!({"name": "CI Token"}),
        )
        .await;
    assert_eq!(
        (bad_token_name.status, bad_token_name.body["error"]["field"].as_str()),
        (422, Some("name"))
    );
}

async fn an_organization_always_keeps_an_admin(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.user(&root, "bob").await;
    app.org(&alice, "acme").await;

    let demote = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/alice",
            &alice,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!((demote.status, demote.code()), (409, "last_admin"));
    let leave = app.delete("/v1/orgs/acme/members/alice", &alice).await;
    assert_eq!((leave.status, leave.code()), (409, "last_admin"));

    let added = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/bob",
            &alice,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(
        (added.body["username"].as_str(), added.body["role"].as_str()),
        (Some("bob"), Some("admin"))
    );
    let changed = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/bob",
            &alice,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(changed.status, 200);
    let demoted = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/alice",
            &alice,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(demoted.status, 200);
    let members = app.get("/v1/orgs/acme/members", &alice).await;
    let roles: Vec<(String, String)> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [("alice".into(), "member".into()), ("bob".into(), "admin".into())]
    );

    let unknown = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/nobody",
            &alice,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(unknown.status, 403, "alice is a member now: {}", unknown.text);
    let bob = app.login("bob").await;
    let unknown = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/nobody",
            &bob,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["field"].as_str()),
        (404, Some("username"))
    );
    let bad_role = app
        .request(
            "PUT",
            "/v1/orgs/acme/members/alice",
            &bob,
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(
        (bad_role.status, bad_role.body["error"]["field"].as_str()),
        (422, Some("role"))
    );
}

async fn members_may_leave(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    let bob = app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    assert_eq!(app.delete("/v1/orgs/acme/members/bob", &bob).await.status, 204);
    assert_eq!(app.get("/v1/orgs/acme", &bob).await.status, 404);
}

async fn robots_can_be_renamed_and_described(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let credentials = app.token(&alice, "acme", "deployer", "ci").await;

    let described = app
        .request(
            "PATCH",
            "/v1/orgs/acme/robots/deployer",
            &alice,
            Some(json!({"description": "  ships it  "})),
        )
        .await;
    assert_eq!(described.status, 200, "{}", described.text);
    assert_eq!(described.body["description"], "ships it");
    assert_eq!(described.body["name"], "deployer");

    let renamed = app
        .request(
            "PATCH",
            "/v1/orgs/acme/robots/deployer",
            &alice,
            Some(json!({"name": "shipper"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body["name"], "shipper");
    assert_eq!(renamed.body["description"], "ships it");
    assert_eq!(app.get("/v1/orgs/acme/robots/deployer", &alice).await.status, 404);
    // Its tokens keep working, under the new name.
    let me = app.get("/v1/whoami", &credentials.basic()).await;
    assert_eq!(me.body["name"], "shipper");

    app.robot(&alice, "acme", "other").await;
    let clash = app
        .request(
            "PATCH",
            "/v1/orgs/acme/robots/shipper",
            &alice,
            Some(json!({"name": "other"})),
        )
        .await;
    assert_eq!((clash.status, clash.code()), (409, "name_taken"));
}

async fn bad_input_is_refused_naming_the_field_and_nothing_is_half_written(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    let Auth::Bearer(session) = &alice else { unreachable!() };

    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(format!("{}/v1/orgs/acme/robots", app.base))
            .bearer_auth(session)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = raw("{\"name\": ", "application/json").await.unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    let trailing = raw("{\"name\": \"x\"} trailing", "application/json").await.unwrap();
    assert_eq!(trailing.status(), 400);
    let not_json = raw("name=x", "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(not_json.status(), 415);

    let cases = [
        (json!({"name": "bot", "colour": "red"}), "colour"),
        (json!({"description": "no name"}), "name"),
        (json!({"name": 7}), "name"),
        (json!({"name": "bot", "description": "x".repeat(513)}), "description"),
        (json!({"name": "bot", "description": "bell\u{7}"}), "description"),
    ];
    for (body, field) in cases {
        let refused = app.post("/v1/orgs/acme/robots", &alice, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text);
        assert_eq!(refused.body["error"]["field"], field, "{body}: {}", refused.text);
        assert!(
            refused.body["error"]["message"].as_str().unwrap().starts_with(field),
            "{}",
            refused.text
        );
    }
    let huge = app
        .post(
            "/v1/orgs/acme/robots",
            &alice,
            json!({"name": "bot", "description": "x".repeat(100_000)}),
        )
        .await;
    assert_eq!((huge.status, huge.code()), (413, "payload_too_large"));

    app.robot(&alice, "acme", "bot").await;
    let past = app
        .post(
            "/v1/orgs/acme/robots/bot/tokens",
            &alice,
            json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (past.status, past.body["error"]["field"].as_str()),
        (422, Some("expires_at"))
    );
    let not_a_time = app
        .post(
            "/v1/orgs/acme/robots/bot/tokens",
            &alice,
            json!({"name": "old", "expires_at": "tomorrow"}),
        )
        .await;
    assert_eq!(
        (not_a_time.status, not_a_time.body["error"]["field"].as_str()),
        (422, Some("expires_at"))
    );

    // None of the refused requests left anything behind.
    let robots = app.get("/v1/orgs/acme/robots", &alice).await;
    assert_eq!(names(&robots.body, "name"), ["bot"]);
    assert_eq!(robots.body["items"][0]["token_count"], 0);
}

async fn lists_paginate_with_cursors(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    for name in ["e", "a", "d", "b", "c"] {
        app.robot(&alice, "acme", name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/orgs/acme/robots?limit=2".to_owned();
    loop {
        let page = app.get(&path, &alice).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(names(&page.body, "name"));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/orgs/acme/robots?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    for bad in ["?limit=0", "?limit=201", "?limit=ten", "?cursor=%%%"] {
        let refused = app.get(&format!("/v1/orgs/acme/robots{bad}"), &alice).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text);
    }
}

async fn deleting_an_organization_stops_its_robots(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let credentials = app.token(&alice, "acme", "deployer", "ci").await;
    assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 200);
    assert_eq!(app.delete("/v1/orgs/acme", &alice).await.status, 204);
    assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 401);
    assert_eq!(app.get("/v1/orgs/acme", &alice).await.status, 404);
    assert!(names(&app.get("/v1/orgs", &alice).await.body, "name").is_empty());
}
