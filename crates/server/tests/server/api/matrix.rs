//! The authorization matrix: every route × every kind of caller, with the
//! status each cell must answer. Each cell runs against a fresh
//! organization, so destructive cells cannot disturb the others.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Auth, PASSWORD, TestApp};

on_both_backends!(every_route_by_every_caller);

/// Whether a row's path is an instance of an OpenAPI path template. The
/// repository path, last in its templates, may span several segments.
fn instance_of(path: &str, template: &str) -> bool {
    let (mut path, mut template) = (path.split('/'), template.split('/'));
    loop {
        match (template.next(), path.next()) {
            (None, None) => return true,
            (Some("{repository}"), Some(segment)) if !segment.is_empty() => return template.next().is_none(),
            (Some(wanted), Some(segment)) if wanted == segment || (wanted.starts_with('{') && !segment.is_empty()) => {}
            _ => return false,
        }
    }
}

/// The matrix covers the whole REST API: every operation the OpenAPI
/// document lists has a row (the verification endpoints, which speak their
/// own protocols to other systems, have tests of their own).
#[test]
fn every_documented_operation_has_a_row() {
    let document: Value = serde_json::from_str(&robots_server::openapi::document_json()).unwrap();
    let rows = rows();
    let mut missing = Vec::new();
    for (method, template) in crate::api::openapi::documented_operations() {
        let operation = &document["paths"][&template][method.to_lowercase()];
        if operation["tags"][0] == "verification" {
            continue;
        }
        if !rows
            .iter()
            .any(|row| row.method == method && instance_of(row.path, &template))
        {
            missing.push(format!("{method} {template}"));
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a row in the matrix:\n{}",
        missing.join("\n")
    );
}

/// The last two are personal access tokens of the admin: one with every
/// scope (it may do what its owner's role allows on the organization
/// routes, and nothing that needs a person logged in), one that reads
/// (`orgs:read robots:read`: no audit log, no webhooks, no changes).
const ACTORS: [&str; 8] = [
    "anonymous",
    "robot",
    "member",
    "admin",
    "other-org-admin",
    "instance-admin",
    "admin-token",
    "admin-reader-token",
];

struct Row {
    method: &'static str,
    /// `{org}` and `{target}` (a token's Access ID) are filled in per cell.
    path: &'static str,
    body: Option<Value>,
    /// Expected status per actor, in the order of [`ACTORS`].
    expect: [u16; 8],
}

fn rows() -> Vec<Row> {
    let row = |method, path, body: Option<Value>, expect| Row {
        method,
        path,
        body,
        expect,
    };
    vec![
        row("GET", "/v1/me/tokens", None, [401, 403, 200, 200, 200, 200, 403, 403]),
        row(
            "POST",
            "/v1/me/tokens",
            Some(json!({"name": "{fresh}", "scopes": ["robots:read"]})),
            [401, 403, 201, 201, 201, 201, 403, 403],
        ),
        row(
            "DELETE",
            "/v1/me/tokens/nothing",
            None,
            [401, 403, 404, 404, 404, 404, 403, 403],
        ),
        // The robot (deployer, not allowed to rotate its own tokens) is
        // refused by the rule, not for being a robot.
        row(
            "POST",
            "/v1/robot/tokens/current/rotate",
            None,
            [401, 403, 403, 403, 403, 403, 403, 403],
        ),
        row(
            "GET",
            "/v1/instance/policy",
            None,
            [401, 403, 200, 200, 200, 200, 200, 200],
        ),
        row(
            "PUT",
            "/v1/instance/policy",
            Some(json!({"max_lifetime": null})),
            [401, 403, 403, 403, 403, 200, 403, 403],
        ),
        row("GET", "/v1/whoami", None, [401, 200, 200, 200, 200, 200, 200, 200]),
        row(
            "POST",
            "/v1/sessions",
            Some(json!({"username": "alice", "password": PASSWORD})),
            [201, 403, 201, 201, 201, 201, 403, 403],
        ),
        row(
            "DELETE",
            "/v1/sessions/current",
            None,
            [401, 403, 204, 204, 204, 204, 403, 403],
        ),
        row("DELETE", "/v1/sessions", None, [401, 403, 204, 204, 204, 204, 403, 403]),
        // A wrong current password: who may ask, without changing anyone's.
        row(
            "PUT",
            "/v1/me/password",
            Some(json!({"current_password": "not the password", "new_password": "a brand new passphrase"})),
            [401, 403, 422, 422, 422, 422, 403, 403],
        ),
        row(
            "DELETE",
            "/v1/users/{fresh}",
            None,
            [401, 403, 403, 403, 403, 404, 403, 403],
        ),
        row(
            "POST",
            "/v1/setup",
            Some(
                json!({"code": "AAAA-BBBB-CCCC-DDDD", "username": "late", "email": "late@example.com", "password": PASSWORD}),
            ),
            [409, 403, 409, 409, 409, 409, 403, 403],
        ),
        row(
            "POST",
            "/v1/users",
            Some(json!({"username": "{fresh}", "email": "{fresh}@example.com", "password": PASSWORD})),
            [401, 403, 403, 403, 403, 201, 403, 403],
        ),
        row("GET", "/v1/orgs", None, [401, 403, 200, 200, 200, 200, 200, 200]),
        row(
            "POST",
            "/v1/orgs",
            Some(json!({"name": "{fresh}"})),
            [401, 403, 201, 201, 201, 201, 201, 403],
        ),
        row("GET", "/v1/orgs/{org}", None, [401, 403, 200, 200, 404, 404, 200, 200]),
        row(
            "DELETE",
            "/v1/orgs/{org}",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/members",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "PUT",
            "/v1/orgs/{org}/members/erin",
            Some(json!({"role": "member"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/members/dave",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots",
            Some(json!({"name": "new-robot"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "PATCH",
            "/v1/orgs/{org}/robots/deployer",
            Some(json!({"description": "changed"})),
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/robots/deployer",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer/tokens",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/tokens",
            Some(json!({"name": "new-token"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer/tokens/{target}",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/robots/deployer/tokens/{target}",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer/federated-credentials",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/federated-credentials",
            Some(
                json!({"name": "gitlab", "issuer": "https://gitlab.com", "audience": "https://robots.example.com",
                        "subject": "project_path:acme/app:ref_type:branch:ref:main"}),
            ),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer/federated-credentials/github",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "PATCH",
            "/v1/orgs/{org}/robots/deployer/federated-credentials/github",
            Some(json!({"subject": "repo:acme/app:environment:production"})),
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/robots/deployer/federated-credentials/github",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/robots/deployer/permissions",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/disable",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/enable",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/tokens/{target}/rotate",
            Some(json!({"grace_period": "1h"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/tokens/{target}/disable",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/robots/deployer/tokens/{paused}/enable",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/tokens",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "PATCH",
            "/v1/orgs/{org}",
            Some(json!({"display_name": "Changed"})),
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/teams",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/teams",
            Some(json!({"name": "new-team"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/teams/ops",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "PATCH",
            "/v1/orgs/{org}/teams/ops",
            Some(json!({"description": "changed"})),
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/teams/ops",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "PUT",
            "/v1/orgs/{org}/teams/ops/users/bob",
            None,
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/teams/ops/users/dave",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "PUT",
            "/v1/orgs/{org}/teams/ops/robots/builder",
            None,
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/teams/ops/robots/deployer",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "PUT",
            "/v1/orgs/{org}/teams/ops/grants/base",
            Some(json!({"permission": "read"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/teams/ops/grants/apps/web",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/repositories",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/repositories",
            Some(json!({"name": "new/repo"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/repositories/apps/web",
            None,
            [401, 403, 200, 200, 404, 404, 200, 200],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/repositories/base",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/audit",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row("GET", "/v1/audit", None, [401, 403, 403, 403, 403, 200, 403, 403]),
        row(
            "POST",
            "/v1/tokens/revoke",
            Some(json!({"token": "{target_token}"})),
            [202, 202, 202, 202, 202, 202, 202, 202],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/webhooks",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
        row(
            "POST",
            "/v1/orgs/{org}/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/other"})),
            [401, 403, 403, 201, 404, 404, 201, 403],
        ),
        row(
            "DELETE",
            "/v1/orgs/{org}/webhooks/{webhook}",
            None,
            [401, 403, 403, 204, 404, 404, 204, 403],
        ),
        row(
            "GET",
            "/v1/orgs/{org}/webhooks/{webhook}/deliveries",
            None,
            [401, 403, 403, 200, 404, 404, 200, 403],
        ),
    ]
}

async fn every_route_by_every_caller(app: TestApp) {
    let root = app.setup_admin().await;
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        app.user(&root, user).await;
    }
    // carol administers another organization.
    app.org(&app.login("carol").await, "globex").await;
    let alice_token = |scopes: &[&str], name: &str| {
        let body = json!({"name": name, "scopes": scopes});
        async {
            let alice = app.login("alice").await;
            let created = app.post("/v1/me/tokens", &alice, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            Auth::Bearer(created.body["token"].as_str().unwrap().to_owned())
        }
    };
    let every_scope = [
        "orgs:write",
        "robots:write",
        "tokens:write",
        "teams:write",
        "audit:read",
        "webhooks:write",
    ];
    let admin_token = alice_token(&every_scope, "every-scope").await;
    let reader_token = alice_token(&["orgs:read", "robots:read"], "reader").await;

    let mut failures = String::new();
    let mut cell = 0;
    for row in rows() {
        for (index, actor) in ACTORS.iter().enumerate() {
            cell += 1;
            let org = format!("org-{cell}");
            let alice = app.login("alice").await;
            app.org(&alice, &org).await;
            app.add_member(&alice, &org, "bob", "member").await;
            app.add_member(&alice, &org, "dave", "member").await;
            app.robot(&alice, &org, "deployer").await;
            let robot = app.token(&alice, &org, "deployer", "actor").await;
            let target = app.token(&alice, &org, "deployer", "target").await;
            let paused = app.token(&alice, &org, "deployer", "paused").await;
            let disabled = app
                .post(
                    &format!("/v1/orgs/{org}/robots/deployer/tokens/{}/disable", paused.access_id),
                    &alice,
                    json!({}),
                )
                .await;
            assert_eq!(disabled.status, 200, "{}", disabled.text);
            app.robot(&alice, &org, "builder").await;
            let trusted = app
                .post(
                    &format!("/v1/orgs/{org}/robots/deployer/federated-credentials"),
                    &alice,
                    json!({"name": "github", "issuer": "https://token.actions.githubusercontent.com",
                           "audience": "https://robots.example.com", "subject": "repo:acme/app:ref:refs/heads/main"}),
                )
                .await;
            assert_eq!(trusted.status, 201, "{}", trusted.text);
            app.access_fixture(&alice, &org).await;
            let webhook = app
                .post(
                    &format!("/v1/orgs/{org}/webhooks"),
                    &alice,
                    json!({"url": "http://127.0.0.1:9/hook"}),
                )
                .await;
            let webhook = webhook.body["id"].as_str().unwrap().to_owned();

            let auth = match *actor {
                "anonymous" => Auth::None,
                "robot" => robot.basic(),
                "member" => app.login("bob").await,
                "admin" => alice.clone(),
                // Fresh sessions: one row logs its caller out.
                "other-org-admin" => app.login("carol").await,
                "instance-admin" => app.login("root").await,
                "admin-token" => admin_token.clone(),
                "admin-reader-token" => reader_token.clone(),
                _ => unreachable!(),
            };
            let fresh = format!("fresh-{cell}");
            let path = row
                .path
                .replace("{org}", &org)
                .replace("{target}", &target.access_id)
                .replace("{paused}", &paused.access_id)
                .replace("{webhook}", &webhook);
            let body = row.body.as_ref().map(|body| {
                let body = body
                    .to_string()
                    .replace("{fresh}", &fresh)
                    .replace("{target_token}", &target.token);
                serde_json::from_str(&body).unwrap()
            });
            let (audited_before, instance_before) = app.state.store().count_audit_events().await.unwrap();
            let response = app.request(row.method, &path, &auth, body).await;
            // Every change leaves an audit event (deleting an organization
            // takes its log along, and leaves one in the instance's).
            if row.method != "GET" && (200..300).contains(&response.status) {
                let (audited, instance) = app.state.store().count_audit_events().await.unwrap();
                let recorded = if row.method == "DELETE" && row.path == "/v1/orgs/{org}" {
                    instance > instance_before
                } else {
                    audited > audited_before
                };
                if !recorded {
                    writeln!(
                        failures,
                        "{} {} as {actor}: {} without an audit event",
                        row.method, row.path, response.status
                    )
                    .unwrap();
                }
            }
            let expected = row.expect[index];
            if response.status != expected {
                writeln!(
                    failures,
                    "{} {} as {actor}: expected {expected}, got {} {}",
                    row.method, row.path, response.status, response.text
                )
                .unwrap();
            }
            if response.status == 403
                && *actor == "robot"
                && response.code() != "robot_forbidden"
                && !row.path.starts_with("/v1/robot/")
            {
                writeln!(
                    failures,
                    "{} {} as robot: 403 must say robot_forbidden",
                    row.method, row.path
                )
                .unwrap();
            }
            if response.status == 401 && response.headers.get("www-authenticate").is_none() {
                writeln!(
                    failures,
                    "{} {} as {actor}: 401 without WWW-Authenticate",
                    row.method, row.path
                )
                .unwrap();
            }
            if response.status >= 400 && response.code().is_empty() {
                writeln!(
                    failures,
                    "{} {} as {actor}: error without a code: {}",
                    row.method, row.path, response.text
                )
                .unwrap();
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix ({} cells):\n{failures}",
        cell
    );
    app.flush_usage().await;
    let database = crate::api::secrets::database_contents(&app);
    assert_eq!(
        crate::api::secrets::secrets_in(&database),
        Vec::<String>::new(),
        "a secret in the database (audit log included)"
    );
}
