//! Teams, repositories, grants, and what they let a robot do.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{Auth, TestApp};

on_both_backends!(
    a_robot_gains_permissions_only_through_teams,
    admins_see_who_reaches_a_repository_and_through_which_team,
    deleting_a_team_or_repository_takes_its_permissions_away_at_once,
    team_and_repository_input_is_validated,
    teams_never_reach_across_organizations,
);

async fn fixture(app: &TestApp) -> Auth {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    for user in ["bob", "dave"] {
        app.user(&root, user).await;
    }
    app.org(&alice, "acme").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    app.add_member(&alice, "acme", "dave", "member").await;
    app.robot(&alice, "acme", "deployer").await;
    alice
}

async fn a_robot_gains_permissions_only_through_teams(app: TestApp) {
    let alice = fixture(&app).await;
    let none = app.get("/v1/orgs/acme/robots/deployer/permissions", &alice).await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.body["items"], json!([]), "a new robot has no permissions");
    assert_eq!(none.body["teams"], json!([]));

    app.access_fixture(&alice, "acme").await;
    app.post(
        "/v1/orgs/acme/teams",
        &alice,
        json!({"name": "readers", "description": "Pull everything"}),
    )
    .await;
    app.request("PUT", "/v1/orgs/acme/teams/readers/robots/deployer", &alice, None)
        .await;
    for repository in ["apps/web", "base"] {
        let granted = app
            .request(
                "PUT",
                &format!("/v1/orgs/acme/teams/readers/grants/{repository}"),
                &alice,
                Some(json!({"permission": "read"})),
            )
            .await;
        assert_eq!(granted.status, 201, "{}", granted.text);
        assert_eq!(granted.body["full_name"], format!("acme/{repository}"));
    }

    let permissions = app.get("/v1/orgs/acme/robots/deployer/permissions", &alice).await;
    assert_eq!(permissions.body["teams"], json!(["ops", "readers"]));
    assert_eq!(
        permissions.body["items"],
        json!([
            {"repository": "apps/web", "full_name": "acme/apps/web", "permission": "write", "actions": ["pull", "push"],
             "via": [{"team": "ops", "permission": "write"}, {"team": "readers", "permission": "read"}]},
            {"repository": "base", "full_name": "acme/base", "permission": "read", "actions": ["pull"],
             "via": [{"team": "readers", "permission": "read"}]},
        ])
    );

    // admin ⊇ write ⊇ read; changing a grant answers 200, and it shows at once.
    let changed = app
        .request(
            "PUT",
            "/v1/orgs/acme/teams/ops/grants/apps/web",
            &alice,
            Some(json!({"permission": "admin"})),
        )
        .await;
    assert_eq!(
        (changed.status, changed.body["permission"].as_str()),
        (200, Some("admin"))
    );
    let permissions = app.get("/v1/orgs/acme/robots/deployer/permissions", &alice).await;
    assert_eq!(
        permissions.body["items"][0]["actions"],
        json!(["pull", "push", "delete"])
    );

    // Revoking it, and leaving a team, take rights away.
    assert_eq!(
        app.delete("/v1/orgs/acme/teams/ops/grants/apps/web", &alice)
            .await
            .status,
        204
    );
    assert_eq!(
        app.delete("/v1/orgs/acme/teams/ops/grants/apps/web", &alice)
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete("/v1/orgs/acme/teams/readers/robots/deployer", &alice)
            .await
            .status,
        204
    );
    let permissions = app.get("/v1/orgs/acme/robots/deployer/permissions", &alice).await;
    assert_eq!(permissions.body["items"], json!([]));

    // Members read it all.
    let bob = app.login("bob").await;
    assert_eq!(
        app.get("/v1/orgs/acme/robots/deployer/permissions", &bob).await.status,
        200
    );
    let team = app.get("/v1/orgs/acme/teams/readers", &bob).await;
    assert_eq!(team.body["grants"].as_array().unwrap().len(), 2);
}

async fn admins_see_who_reaches_a_repository_and_through_which_team(app: TestApp) {
    let alice = fixture(&app).await;
    app.access_fixture(&alice, "acme").await;
    app.post("/v1/orgs/acme/teams", &alice, json!({"name": "auditors"}))
        .await;
    app.request("PUT", "/v1/orgs/acme/teams/auditors/users/bob", &alice, None)
        .await;
    app.request("PUT", "/v1/orgs/acme/teams/auditors/robots/deployer", &alice, None)
        .await;
    app.request(
        "PUT",
        "/v1/orgs/acme/teams/auditors/grants/apps/web",
        &alice,
        Some(json!({"permission": "read"})),
    )
    .await;

    let repository = app.get("/v1/orgs/acme/repositories/apps/web", &alice).await;
    assert_eq!(repository.status, 200, "{}", repository.text);
    assert_eq!(repository.body["full_name"], "acme/apps/web");
    assert_eq!(
        repository.body["access"],
        json!([
            {"kind": "user", "name": "bob", "permission": "read", "team": "auditors"},
            {"kind": "user", "name": "dave", "permission": "write", "team": "ops"},
            {"kind": "robot", "name": "deployer", "permission": "read", "team": "auditors"},
            {"kind": "robot", "name": "deployer", "permission": "write", "team": "ops"},
        ])
    );
    assert_eq!(repository.body["grants"].as_array().unwrap().len(), 2);

    let team = app.get("/v1/orgs/acme/teams/ops", &alice).await;
    assert_eq!(
        team.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["kind"].as_str().unwrap(), m["name"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [("user", "dave"), ("robot", "deployer")]
    );
    let teams = app.get("/v1/orgs/acme/teams", &alice).await;
    let ops = &teams.body["items"][1];
    assert_eq!(
        (
            ops["name"].as_str(),
            ops["user_count"].as_i64(),
            ops["robot_count"].as_i64(),
            ops["grant_count"].as_i64()
        ),
        (Some("ops"), Some(1), Some(1), Some(1))
    );
    assert!(ops.get("members").is_none(), "lists carry counts, not members");
}

async fn deleting_a_team_or_repository_takes_its_permissions_away_at_once(app: TestApp) {
    let alice = fixture(&app).await;
    app.access_fixture(&alice, "acme").await;
    assert_eq!(reach(&app, &alice).await, 1);
    assert_eq!(app.delete("/v1/orgs/acme/teams/ops", &alice).await.status, 204);
    assert_eq!(reach(&app, &alice).await, 0);

    app.access_fixture_again(&alice).await;
    assert_eq!(reach(&app, &alice).await, 1);
    assert_eq!(
        app.delete("/v1/orgs/acme/repositories/apps/web", &alice).await.status,
        204
    );
    assert_eq!(reach(&app, &alice).await, 0);
    assert_eq!(app.get("/v1/orgs/acme/repositories/apps/web", &alice).await.status, 404);
}

async fn team_and_repository_input_is_validated(app: TestApp) {
    let alice = fixture(&app).await;
    app.access_fixture(&alice, "acme").await;
    for bad in ["Apps/Web", "apps//web", "/web", "web/", "web.git", "has space"] {
        let refused = app
            .post("/v1/orgs/acme/repositories", &alice, json!({"name": bad}))
            .await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (422, Some("name")),
            "{bad}: {}",
            refused.text
        );
    }
    let taken = app
        .post("/v1/orgs/acme/repositories", &alice, json!({"name": "apps/web"}))
        .await;
    assert_eq!((taken.status, taken.code()), (409, "name_taken"));
    let nested = app
        .post(
            "/v1/orgs/acme/repositories",
            &alice,
            json!({"name": "apps/web/frontend"}),
        )
        .await;
    assert_eq!(nested.status, 201);
    assert_eq!(nested.body["full_name"], "acme/apps/web/frontend");

    let bad_team = app
        .post("/v1/orgs/acme/teams", &alice, json!({"name": "Ops Team"}))
        .await;
    assert_eq!(
        (bad_team.status, bad_team.body["error"]["field"].as_str()),
        (422, Some("name"))
    );
    let taken = app.post("/v1/orgs/acme/teams", &alice, json!({"name": "ops"})).await;
    assert_eq!((taken.status, taken.code()), (409, "name_taken"));
    let renamed = app
        .request(
            "PATCH",
            "/v1/orgs/acme/teams/ops",
            &alice,
            Some(json!({"name": "operations"})),
        )
        .await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str()),
        (200, Some("operations"))
    );

    let bad_permission = app
        .request(
            "PUT",
            "/v1/orgs/acme/teams/operations/grants/base",
            &alice,
            Some(json!({"permission": "owner"})),
        )
        .await;
    assert_eq!(
        (bad_permission.status, bad_permission.body["error"]["field"].as_str()),
        (422, Some("permission"))
    );
    let no_repository = app
        .request(
            "PUT",
            "/v1/orgs/acme/teams/operations/grants/nothing/here",
            &alice,
            Some(json!({"permission": "read"})),
        )
        .await;
    assert_eq!(no_repository.status, 404);
    let no_robot = app
        .request("PUT", "/v1/orgs/acme/teams/operations/robots/ghost", &alice, None)
        .await;
    assert_eq!(no_robot.status, 404);

    // Users join teams only through the organization.
    let root = app.login("root").await;
    app.user(&root, "stranger").await;
    let outsider = app
        .request("PUT", "/v1/orgs/acme/teams/operations/users/stranger", &alice, None)
        .await;
    assert_eq!(
        (outsider.status, outsider.code()),
        (422, "not_an_org_member"),
        "{}",
        outsider.text
    );
    let again = app
        .request("PUT", "/v1/orgs/acme/teams/operations/users/dave", &alice, None)
        .await;
    assert_eq!(again.status, 200, "already a member: {}", again.text);
}

async fn teams_never_reach_across_organizations(app: TestApp) {
    let alice = fixture(&app).await;
    app.access_fixture(&alice, "acme").await;
    app.org(&alice, "globex").await;
    app.add_member(&alice, "globex", "dave", "member").await;
    app.robot(&alice, "globex", "deployer").await;
    app.robot(&alice, "globex", "spy").await;
    app.access_fixture(&alice, "globex").await;

    // Same admin, same names: acme's team cannot take globex's robot, nor grant on globex's repository.
    let foreign_robot = app
        .request("PUT", "/v1/orgs/acme/teams/ops/robots/spy", &alice, None)
        .await;
    assert_eq!(foreign_robot.status, 404);
    let acme = app.get("/v1/orgs/acme/robots/deployer/permissions", &alice).await;
    let globex = app.get("/v1/orgs/globex/robots/deployer/permissions", &alice).await;
    assert_eq!(acme.body["items"][0]["full_name"], "acme/apps/web");
    assert_eq!(globex.body["items"][0]["full_name"], "globex/apps/web");
    let spy = app.get("/v1/orgs/globex/robots/spy/permissions", &alice).await;
    assert_eq!(spy.body["items"], json!([]));
}

/// How many repositories the robot `deployer` of acme reaches.
async fn reach(app: &TestApp, admin: &Auth) -> usize {
    let permissions = app.get("/v1/orgs/acme/robots/deployer/permissions", admin).await;
    permissions.body["items"].as_array().unwrap().len()
}
