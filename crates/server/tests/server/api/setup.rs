//! First run, users, sessions.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{Auth, PASSWORD, TestApp};

on_both_backends!(
    the_setup_code_makes_the_first_instance_admin_once,
    a_wrong_setup_code_is_refused,
    setup_hashes_no_password_for_strangers,
    sign_up_is_closed_by_default,
    open_sign_up_creates_ordinary_users,
    login_and_logout,
    changing_a_password_ends_every_other_session,
    other_sessions_end_on_request,
    instance_admins_delete_users_but_never_the_last_admin,
    wrong_passwords_and_unknown_users_get_the_same_answer,
    user_input_is_validated,
);

async fn the_setup_code_makes_the_first_instance_admin_once(app: TestApp) {
    let code = app.setup_code.clone().unwrap();
    let lowercase_without_dashes = code.replace('-', "").to_lowercase();
    let created = app
        .post(
            "/v1/setup",
            &Auth::None,
            json!({"code": lowercase_without_dashes, "username": "root", "email": "root@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["username"], "root");
    assert_eq!(created.body["instance_admin"], true);
    assert!(created.body.get("password_hash").is_none());

    let again = app
        .post(
            "/v1/setup",
            &Auth::None,
            json!({"code": code, "username": "second", "email": "second@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!((again.status, again.code()), (409, "setup_complete"), "{}", again.text);

    let root = app.login("root").await;
    let me = app.get("/v1/whoami", &root).await;
    assert_eq!(me.body["kind"], "user");
    assert_eq!(me.body["instance_admin"], true);
    // A restart on a database with users prints no new code.
    assert!(robots_server::prepare_first_run(&app.state).await.unwrap().is_none());
}

async fn setup_hashes_no_password_for_strangers(app: TestApp) {
    let app = &app;
    let attempt = |code: String| {
        let body = json!({"code": code, "username": "mallory", "email": "m@example.com", "password": PASSWORD});
        async move { app.post("/v1/setup", &Auth::None, body).await }
    };
    let hashes = || app.state.service().password_hashes_done();
    let before = hashes();
    let guessed = attempt("AAAA-BBBB-CCCC-DDDD".into()).await;
    assert_eq!((guessed.status, guessed.code()), (403, "forbidden"), "{}", guessed.text);
    assert_eq!(hashes(), before, "a wrong code costs no hash");

    app.setup_admin().await;
    let after_setup = hashes();
    let code = app.setup_code.clone().unwrap();
    for _ in 0..20 {
        let refused = attempt(code.clone()).await;
        assert_eq!(
            (refused.status, refused.code()),
            (409, "setup_complete"),
            "{}",
            refused.text
        );
    }
    assert_eq!(hashes(), after_setup, "once set up, setup hashes nothing");
}

async fn a_wrong_setup_code_is_refused(app: TestApp) {
    let attempt = |code: &str| {
        app.post(
            "/v1/setup",
            &Auth::None,
            json!({"code": code, "username": "mallory", "email": "m@example.com", "password": PASSWORD}),
        )
    };
    let guessed = attempt("AAAA-BBBB-CCCC-DDDD").await;
    assert_eq!((guessed.status, guessed.code()), (403, "forbidden"), "{}", guessed.text);
    let garbage = attempt("not a code").await;
    assert_eq!((garbage.status, garbage.code()), (422, "invalid_field"));
    assert_eq!(garbage.body["error"]["field"], "code");
    // Nothing was consumed: the real code still works.
    app.setup_admin().await;
}

async fn sign_up_is_closed_by_default(app: TestApp) {
    let root = app.setup_admin().await;
    let body = json!({"username": "eve", "email": "eve@example.com", "password": PASSWORD});
    let anonymous = app.post("/v1/users", &Auth::None, body.clone()).await;
    assert_eq!(anonymous.status, 401);
    let bob = app.user(&root, "bob").await;
    let by_user = app.post("/v1/users", &bob, body.clone()).await;
    assert_eq!((by_user.status, by_user.code()), (403, "forbidden"));
    let by_admin = app.post("/v1/users", &root, body).await;
    assert_eq!(by_admin.status, 201);
    assert_eq!(by_admin.body["instance_admin"], false);
}

async fn open_sign_up_creates_ordinary_users(app: TestApp) {
    let backend = app.backend();
    drop(app);
    let app = TestApp::spawn_with(backend, |config| {
        config.service.signup = robots_server::SignupPolicy::Open;
    })
    .await
    .unwrap();
    let body = json!({"username": "eve", "email": "eve@example.com", "password": PASSWORD});
    let created = app.post("/v1/users", &Auth::None, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["instance_admin"], false);
    let escalate = app
        .post(
            "/v1/users",
            &Auth::None,
            json!({"username": "eve2", "email": "eve2@example.com", "password": PASSWORD, "instance_admin": true}),
        )
        .await;
    assert_eq!(
        (escalate.status, escalate.body["error"]["field"].as_str()),
        (403, Some("instance_admin"))
    );
}

async fn login_and_logout(app: TestApp) {
    let root = app.setup_admin().await;
    let session = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await;
    assert_eq!(session.status, 201);
    let token = session.body["token"].as_str().unwrap();
    assert!(token.starts_with("rsn_"));
    let expires_at = time::OffsetDateTime::parse(
        session.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = expires_at - robots_core::Clock::now(&*app.clock);
    assert!(
        ttl > time::Duration::hours(11) && ttl <= time::Duration::hours(12),
        "{ttl}"
    );

    let auth = Auth::Bearer(token.to_owned());
    assert_eq!(app.get("/v1/whoami", &auth).await.status, 200);
    assert_eq!(app.delete("/v1/sessions/current", &auth).await.status, 204);
    let after = app.get("/v1/whoami", &auth).await;
    assert_eq!(after.status, 401);
    // Other sessions of the same user live on.
    assert_eq!(app.get("/v1/whoami", &root).await.status, 200);

    // Sessions expire.
    app.clock.advance(std::time::Duration::from_secs(13 * 3600));
    assert_eq!(app.get("/v1/whoami", &root).await.status, 401);
}

async fn wrong_passwords_and_unknown_users_get_the_same_answer(app: TestApp) {
    app.setup_admin().await;
    let wrong = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "root", "password": "wrong password"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "nobody", "password": "wrong password"}),
        )
        .await;
    let invalid_name = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "No Body", "password": "wrong password"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.text, invalid_name.text);
}

async fn user_input_is_validated(app: TestApp) {
    let root = app.setup_admin().await;
    let cases = [
        (
            json!({"username": "Bad Name", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ok", "email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "ok", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (json!({"username": "ok", "email": "a@example.com"}), "password"),
        (
            json!({"username": "ok", "email": "a@example.com", "password": PASSWORD, "role": "god"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let refused = app.post("/v1/users", &root, body.clone()).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text);
        assert_eq!(refused.body["error"]["field"], field, "{body}: {}", refused.text);
    }
    let taken = app
        .post(
            "/v1/users",
            &root,
            json!({"username": "root", "email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!((taken.status, taken.code()), (409, "name_taken"));
    let email_taken = app
        .post(
            "/v1/users",
            &root,
            json!({"username": "other", "email": "root@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!((email_taken.status, email_taken.code()), (409, "email_taken"));
    // Nothing was half-written: "other" is still free.
    app.user(&root, "other").await;
}

async fn changing_a_password_ends_every_other_session(app: TestApp) {
    let root = app.setup_admin().await;
    let here = app.user(&root, "alice").await;
    let elsewhere = app.login("alice").await;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let here = &here;
        let app = &app;
        async move { app.request("PUT", "/v1/me/password", here, Some(body)).await }
    };
    let wrong = change("not my password", "a brand new passphrase").await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["field"].as_str()),
        (422, Some("current_password")),
        "{}",
        wrong.text
    );
    let short = change(PASSWORD, "short").await;
    assert_eq!(
        (short.status, short.body["error"]["field"].as_str()),
        (422, Some("new_password")),
        "{}",
        short.text
    );
    let same = change(PASSWORD, PASSWORD).await;
    assert_eq!(
        (same.status, same.body["error"]["field"].as_str()),
        (422, Some("new_password")),
        "{}",
        same.text
    );
    assert_eq!(
        app.get("/v1/whoami", &elsewhere).await.status,
        200,
        "refusals change nothing"
    );

    let changed = change(PASSWORD, "a brand new passphrase").await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    assert_eq!(app.get("/v1/whoami", &here).await.status, 200, "this session goes on");
    assert_eq!(
        app.get("/v1/whoami", &elsewhere).await.status,
        401,
        "every other one ended"
    );
    let old = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, 401);
    let new = app
        .post(
            "/v1/sessions",
            &Auth::None,
            json!({"username": "alice", "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(new.status, 201);
    let audit = app.get("/v1/audit?action=user.password_changed", &root).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    assert!(!audit.text.contains("brand new"), "no password in the log");
}

async fn other_sessions_end_on_request(app: TestApp) {
    let root = app.setup_admin().await;
    let here = app.user(&root, "alice").await;
    let laptop = app.login("alice").await;
    let phone = app.login("alice").await;
    assert_eq!(app.delete("/v1/sessions", &here).await.status, 204);
    assert_eq!(app.get("/v1/whoami", &laptop).await.status, 401);
    assert_eq!(app.get("/v1/whoami", &phone).await.status, 401);
    assert_eq!(app.get("/v1/whoami", &here).await.status, 200);
    assert_eq!(
        app.get("/v1/whoami", &root).await.status,
        200,
        "other users' sessions live on"
    );
    assert_eq!(app.delete("/v1/sessions", &Auth::None).await.status, 401);
}

async fn instance_admins_delete_users_but_never_the_last_admin(app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    let bob = app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    app.org(&alice, "globex").await;
    app.add_member(&alice, "acme", "bob", "member").await;

    let forbidden = app.delete("/v1/users/bob", &alice).await;
    assert_eq!(
        (forbidden.status, forbidden.code()),
        (403, "forbidden"),
        "{}",
        forbidden.text
    );
    let sole = app.delete("/v1/users/alice", &root).await;
    assert_eq!((sole.status, sole.code()), (409, "last_admin"), "{}", sole.text);
    let message = sole.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("acme") && message.contains("globex"), "{message}");
    assert_eq!(
        app.get("/v1/whoami", &alice).await.status,
        200,
        "refused: nothing changed"
    );

    assert_eq!(app.delete("/v1/users/bob", &root).await.status, 204);
    assert_eq!(
        app.get("/v1/whoami", &bob).await.status,
        401,
        "the user's sessions ended"
    );
    let members = app.get("/v1/orgs/acme/members", &alice).await;
    assert!(!members.text.contains("\"bob\""), "{}", members.text);
    assert_eq!(app.delete("/v1/users/bob", &root).await.status, 404);
    let audit = app.get("/v1/audit?action=user.deleted", &root).await;
    assert_eq!(audit.body["items"][0]["target"], "user bob", "{}", audit.text);

    let last = app.delete("/v1/users/root", &root).await;
    assert_eq!(
        (last.status, last.code()),
        (409, "last_instance_admin"),
        "{}",
        last.text
    );
}
