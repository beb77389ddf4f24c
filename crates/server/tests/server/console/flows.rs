//! The spec's flows, clicked through in a real headless Chromium.

use serde_json::json;

use crate::support::{Auth, PASSWORD, TestApp};
use crate::webdriver::Browser;

/// A server on SQLite and a browser; `None` when the browser is missing
/// outside CI. The console runs on the same store code as the API, whose
/// tests cover both backends.
pub async fn start() -> Option<(TestApp, Browser)> {
    let app = TestApp::spawn(robots_store::Backend::Sqlite).await?;
    let browser = Browser::start().await?;
    Some((app, browser))
}

pub async fn log_in(app: &TestApp, browser: &Browser, username: &str) {
    browser.goto(&format!("{}/login", app.base)).await;
    browser.type_into("#username", username).await;
    browser.type_into("#password", PASSWORD).await;
    browser.follow("Log in").await;
    browser.find(".account-menu").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_flow_from_first_run_to_a_working_token() {
    let Some((app, browser)) = start().await else {
        return;
    };

    // First run: the setup page, so the first admin never needs curl.
    browser.goto(&app.base).await;
    assert!(
        browser.url().await.ends_with("/setup"),
        "a fresh installation opens the setup page"
    );
    browser.type_into("#code", app.setup_code.as_deref().unwrap()).await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#email", "alice@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser.screenshot("01-setup").await;
    browser.follow("Create administrator").await;
    browser.find(".account-menu").await;
    assert!(browser.url().await.ends_with("/account"));

    // Log out and in again.
    browser.click(&browser.find(".account-menu summary").await).await;
    browser.follow("Log out").await;
    browser.find("#username").await;
    browser.screenshot("02-login").await;
    log_in(&app, &browser, "alice").await;

    // The personal account: no Admin Console, and an explanation.
    let text = browser.page_text().await;
    assert!(text.contains("Only organizations can have robot accounts"), "{text}");
    assert!(!browser.has_text_control("Admin Console").await);
    browser.screenshot("03-personal-account").await;
    browser.follow("Create organization").await;
    browser.type_into("#name", "acme").await;
    browser.type_into("#display_name", "Acme Inc.").await;
    browser.follow("Create organization").await;

    // 1. Select the organization from the account menu.
    browser.goto(&format!("{}/account", app.base)).await;
    browser.click(&browser.find(".account-menu summary").await).await;
    let menu = browser.text(".account-menu .menu").await;
    assert!(menu.contains("alice") && menu.contains("Acme Inc."), "{menu}");
    browser.screenshot("04-account-menu").await;
    browser.follow("Acme Inc.").await;
    assert!(browser.url().await.ends_with("/orgs/acme"));
    assert!(browser.text("h1").await.contains("Acme Inc."));

    // 2. Select Admin Console (from the account menu, where it now appears under the organization).
    browser.click(&browser.find(".account-menu summary").await).await;
    browser.screenshot("05-organization-admin-console-entry").await;
    browser
        .follow_element(&browser.find(".account-menu .menu-sub").await)
        .await;

    // 3. Select Robots from the left-hand navigation.
    browser.follow("Robots").await;
    assert!(browser.url().await.ends_with("/orgs/acme/admin/robots"));
    assert!(browser.page_text().await.contains("No robot accounts yet"));
    // Drawn, not an emoji: Debian's fonts have no robot face.
    assert!(browser.has(".empty-icon svg").await);
    assert!(
        !browser
            .source()
            .await
            .chars()
            .any(|c| ('\u{1F300}'..='\u{1FAFF}').contains(&c)),
        "the page depends on an emoji font"
    );
    browser.screenshot("06-robots-empty").await;

    // 4. Select Create Robot Account. 5. Provide a Name and optional description.
    browser
        .follow_element(&browser.find(".page-header .button-primary").await)
        .await;
    browser.type_into("#name", "ci-deployer").await;
    browser.type_into("#description", "Pushes images from CI").await;
    browser.screenshot("07-create-robot-account").await;
    // 6. Select Create Robot Account.
    browser.follow("Create Robot Account").await;
    assert!(browser.url().await.ends_with("/orgs/acme/admin/robots/ci-deployer"));
    assert!(browser.page_text().await.contains("This robot has no tokens yet"));
    browser.screenshot("08-robot").await;

    // 7. Select Create Token. 8. Provide a Name for the token.
    browser.follow("Create Token").await;
    browser.type_into("#name", "github-actions").await;
    browser.screenshot("09-create-token").await;
    browser.follow("Create Token").await;

    // The next screen shows the Access ID and Token, with the warning.
    let access_id = browser.value("#access-id").await;
    let token = browser.value("#token").await;
    assert!(uuid::Uuid::try_parse(&access_id).is_ok(), "{access_id}");
    assert!(token.starts_with("rbt_"), "the credentials screen shows the Token");
    assert!(
        browser
            .page_text()
            .await
            .contains("The Token is unrecoverable after this screen.")
    );
    assert!(browser.has("[data-copy='access-id']").await && browser.has("[data-copy='token']").await);
    browser.screenshot("10-token-credentials").await;

    // They work as the robot's username and password.
    let credentials = Auth::Basic(access_id.clone(), token.clone());
    let me = app.get("/v1/whoami", &credentials).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        (me.body["name"].as_str(), me.body["org"].as_str()),
        (Some("ci-deployer"), Some("acme"))
    );

    // Copy puts the value on the clipboard and says so.
    browser.click(&browser.find("[data-copy='token']").await).await;
    let status = browser.text_once_it_contains(".copy-status", "Copied").await;
    assert_eq!(status, "Copied the Token to the clipboard.");
    let names = browser
        .execute("return [...document.querySelectorAll('[data-copy]')].map((b) => b.textContent)")
        .await;
    assert_eq!(
        names,
        json!(["Copy Access ID", "Copy Token"]),
        "each copy button names its value"
    );

    // Reloading never shows the Token again...
    browser.refresh().await;
    assert!(browser.url().await.ends_with("/orgs/acme/admin/robots/ci-deployer"));
    assert!(!browser.source().await.contains(&token));
    assert!(browser.page_text().await.contains("github-actions"));
    // ...nor does going back to it.
    browser.follow("Robots").await;
    browser.back().await;
    browser.find("h1").await;
    assert!(
        !browser.source().await.contains(&token),
        "back-navigation showed the Token"
    );

    // The robots landing page now lists it.
    browser.follow("Robots").await;
    let listed = browser.text("table").await;
    assert!(
        listed.contains("ci-deployer") && listed.contains("Pushes images from CI"),
        "{listed}"
    );
    browser.screenshot("11-robots").await;

    // Delete the token: the confirmation names what stops working.
    browser.follow("ci-deployer").await;
    browser.follow("Delete token github-actions").await;
    let confirmation = browser.page_text().await;
    assert!(
        confirmation.contains(&access_id) && confirmation.contains("stops working"),
        "{confirmation}"
    );
    browser.screenshot("12-delete-token").await;
    browser.follow("Delete token").await;
    assert!(browser.page_text().await.contains("was deleted"));
    assert_eq!(
        app.get("/v1/whoami", &credentials).await.status,
        401,
        "a deleted token stops at once"
    );

    // Delete the robot.
    let second = app
        .token(&app.login("alice").await, "acme", "ci-deployer", "second")
        .await;
    browser.refresh().await;
    browser.follow("Delete robot account").await;
    assert!(browser.page_text().await.contains("Its 1 token will be deleted too"));
    browser.follow("Delete robot account").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("ci-deployer and its tokens were deleted")
    );
    assert_eq!(app.get("/v1/whoami", &second.basic()).await.status, 401);

    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_explained_next_to_the_field_and_kept() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "taken").await;
    log_in(&app, &browser, "alice").await;

    browser
        .goto(&format!("{}/orgs/acme/admin/robots/-/new", app.base))
        .await;
    browser.type_into("#name", "CI Deployer!").await;
    browser.type_into("#description", "keeps this").await;
    browser.follow("Create Robot Account").await;
    let error = browser.text("#name-error").await;
    assert!(error.contains("lowercase letters, digits and hyphens"), "{error}");
    assert_eq!(browser.value("#name").await, "CI Deployer!", "what was typed is kept");
    assert_eq!(browser.value("#description").await, "keeps this");
    let invalid = browser
        .execute("return document.getElementById('name').getAttribute('aria-invalid')")
        .await;
    assert_eq!(invalid, json!("true"));
    // An error summary at the top has the focus and leads to the field.
    let focused = browser
        .execute("return document.activeElement.className + ' | ' + document.activeElement.innerText")
        .await;
    let focused = focused.as_str().unwrap();
    assert!(
        focused.starts_with("error-summary | There is a problem") && focused.contains("Name: "),
        "{focused}"
    );
    browser.screenshot("error-summary").await;
    browser.press("\u{E004}").await;
    browser.press("\u{E007}").await;
    assert_eq!(
        browser.execute("return document.activeElement.id").await,
        json!("name"),
        "the summary's link moves the focus to the field"
    );
    browser.screenshot("robot-name-invalid").await;

    browser.type_into("#name", "taken").await;
    browser.follow("Create Robot Account").await;
    assert!(
        browser
            .text("#name-error")
            .await
            .contains("already has a robot account named taken")
    );

    // Token names too.
    browser
        .goto(&format!("{}/orgs/acme/admin/robots/taken/tokens/-/new", app.base))
        .await;
    browser.type_into("#name", "no spaces please").await;
    browser.follow("Create Token").await;
    assert!(browser.text("#name-error").await.contains("lowercase"));
    assert_eq!(browser.value("#name").await, "no spaces please");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_credentials_are_refused_at_login() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let robot = app.token(&alice, "acme", "deployer", "ci").await;

    browser.goto(&format!("{}/login", app.base)).await;
    browser.type_into("#username", &robot.access_id).await;
    browser.type_into("#password", &robot.token).await;
    browser.follow("Log in").await;
    let alert = browser.text(".alert-error").await;
    assert!(alert.contains("Robot accounts cannot use the console"), "{alert}");
    assert!(
        !browser.source().await.contains(&robot.token),
        "the refused Token is not echoed back"
    );
    browser.screenshot("robot-login-refused").await;

    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "wrong password").await;
    browser.follow("Log in").await;
    assert!(
        browser
            .text(".alert-error")
            .await
            .contains("Wrong username or password")
    );
    assert_eq!(browser.value("#username").await, "alice");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_robots_and_tokens_read_only() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    app.add_member(&alice, "acme", "bob", "member").await;
    app.robot(&alice, "acme", "deployer").await;
    app.token(&alice, "acme", "deployer", "ci").await;

    log_in(&app, &browser, "bob").await;
    browser.goto(&format!("{}/orgs/acme/admin/robots", app.base)).await;
    assert!(browser.text("table").await.contains("deployer"));
    assert!(!browser.has_text_control("Create Robot Account").await);
    assert!(
        browser
            .text(".read-only-note")
            .await
            .starts_with("Only organization admins can create robot accounts."),
        "a member is told why there is no button"
    );
    browser.follow("deployer").await;
    assert!(browser.text(".read-only-note").await.contains("tokens"));
    assert!(browser.text("table").await.contains("ci"), "members see tokens");
    for control in ["Create Token", "Delete", "Delete robot account"] {
        assert!(!browser.has_text_control(control).await, "a member sees {control:?}");
    }
    browser.screenshot("member-read-only").await;

    // Typing the address of a form does not help either.
    browser
        .goto(&format!("{}/orgs/acme/admin/robots/-/new", app.base))
        .await;
    assert_eq!(browser.text("h1").await, "Permission needed");
    assert!(browser.page_text().await.contains("Only admins of acme can"));
    browser.goto(&format!("{}/orgs/acme/admin/settings", app.base)).await;
    let explained = browser.text("main h1 + p").await;
    assert!(
        explained.starts_with("Only admins of acme can") && explained.ends_with('.'),
        "settings explain the permission: {explained}"
    );
    browser.goto(&format!("{}/orgs/acme/admin/members", app.base)).await;
    assert!(!browser.has("#new-role").await, "members cannot add members");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_account_is_told_that_only_organizations_have_robots() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    app.user(&root, "carol").await;
    log_in(&app, &browser, "carol").await;

    browser.click(&browser.find(".account-menu summary").await).await;
    let menu = browser.text(".account-menu .menu").await;
    assert!(menu.contains("No organizations yet"), "{menu}");
    assert!(
        !browser.has(".account-menu .menu-sub").await,
        "no Admin Console for a personal account"
    );

    // Where a user would look for robots on their own account.
    browser.goto(&format!("{}/orgs/carol/admin/robots", app.base)).await;
    let text = browser.page_text().await;
    assert!(text.contains("Only organizations can have robot accounts"), "{text}");
    browser.follow("Create organization").await;
    assert!(browser.url().await.ends_with("/organizations/new"));
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_by_keyboard_and_on_a_phone() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    log_in(&app, &browser, "alice").await;

    // The account menu opens from the keyboard.
    let summary = browser.find(".account-menu summary").await;
    browser.send_keys(&summary, "\u{E007}").await;
    let open = browser
        .execute("return document.querySelector('.account-menu').open")
        .await;
    assert_eq!(open, json!(true));
    browser.send_keys(&summary, "\u{E00C}").await;
    let open = browser
        .execute("return document.querySelector('.account-menu').open")
        .await;
    assert_eq!(open, json!(false), "Escape closes it");

    // 375 px wide: nothing scrolls sideways, and the layout is a column.
    browser.resize(375, 812).await;
    for path in [
        "/account",
        "/orgs/acme/admin/robots",
        "/orgs/acme/admin/robots/deployer",
        "/orgs/acme/admin/robots/-/new",
    ] {
        browser.goto(&format!("{}{path}", app.base)).await;
        browser.find("h1").await;
        let overflow = browser
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{path} scrolls sideways by {overflow}px at 375 px"
        );
    }
    browser.goto(&format!("{}/orgs/acme/admin/robots", app.base)).await;
    browser.screenshot("mobile-robots").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_members() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.user(&root, "bob").await;
    app.org(&alice, "acme").await;
    log_in(&app, &browser, "alice").await;

    browser.goto(&format!("{}/orgs/acme/admin/members", app.base)).await;
    browser.type_into("#username", "nobody").await;
    browser.follow("Add member").await;
    assert!(browser.text("#username-error").await.contains("no user named nobody"));
    assert_eq!(browser.value("#username").await, "nobody");

    browser.type_into("#username", "bob").await;
    browser.follow("Add member").await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("bob is now a member of acme")
    );
    let members = app.get("/v1/orgs/acme/members", &alice).await;
    assert_eq!(members.body["items"][1]["username"], "bob");

    // The last admin cannot step down...
    browser
        .execute("document.getElementById('role-alice').value = 'member'")
        .await;
    let save = browser
        .find("form[action='/orgs/acme/admin/members/alice'] button")
        .await;
    browser.follow_element(&save).await;
    assert!(browser.text(".alert-error").await.contains("at least one admin"));
    // ...until someone else is one.
    browser
        .execute("document.getElementById('role-bob').value = 'admin'")
        .await;
    let save = browser.find("form[action='/orgs/acme/admin/members/bob'] button").await;
    browser.follow_element(&save).await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("bob is now an admin of acme")
    );
    browser.screenshot("members").await;

    browser.follow("Remove bob").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("Their robots and tokens keep working")
    );
    browser.follow("Remove member").await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("bob was removed from acme")
    );
    assert_eq!(app.get("/v1/orgs/acme", &app.login("bob").await).await.status, 404);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_and_grants_give_a_new_robot_its_permissions_in_one_step() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    log_in(&app, &browser, "alice").await;
    let base = format!("{}/orgs/acme/admin", app.base);

    // A repository, and a team with write on it.
    browser.goto(&format!("{base}/repositories")).await;
    browser.type_into("#name", "Apps/Web").await;
    browser.follow("Create repository").await;
    assert!(
        browser.text("#name-error").await.contains("lowercase"),
        "invalid paths are explained"
    );
    browser.type_into("#name", "apps/web").await;
    browser.follow("Create repository").await;
    assert!(browser.text("h1").await.contains("acme/apps/web"));
    assert!(browser.page_text().await.contains("Nobody"));

    browser.follow("Teams").await;
    browser.type_into("#name", "deployers").await;
    browser.type_into("#description", "Push application images").await;
    browser.follow("Create team").await;
    assert!(browser.page_text().await.contains("This team grants nothing yet"));
    browser
        .execute("document.getElementById('grant-permission').value = 'write'")
        .await;
    browser.follow("Grant").await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("deployers now has write on acme/apps/web")
    );

    // Creating a robot offers the team right away.
    browser.follow("Robots").await;
    browser.follow("Create Robot Account").await;
    let offered = browser.text("fieldset").await;
    assert!(
        offered.contains("deployers") && offered.contains("write on apps/web"),
        "{offered}"
    );
    browser.type_into("#name", "ci-deployer").await;
    browser
        .click(&browser.find("input[name='teams'][value='deployers']").await)
        .await;
    browser.screenshot("13-create-robot-with-team").await;
    browser.follow("Create Robot Account").await;
    let permissions = browser.text("table").await;
    assert!(
        permissions.contains("acme/apps/web")
            && permissions.contains("pull, push")
            && permissions.contains("deployers (write)"),
        "{permissions}"
    );
    browser.screenshot("14-robot-permissions").await;
    let api = app.get("/v1/orgs/acme/robots/ci-deployer/permissions", &alice).await;
    assert_eq!(api.body["items"][0]["permission"], "write");

    // The repository shows who reaches it, and through which team.
    browser.goto(&format!("{base}/repositories/apps/web")).await;
    let access = browser.text("table").await;
    assert!(
        access.contains("ci-deployer") && access.contains("robot") && access.contains("deployers"),
        "{access}"
    );
    browser.screenshot("15-repository-access").await;

    // Leaving the team takes the permission away; the robot page says so, and offers to join again.
    browser.goto(&format!("{base}/teams/deployers")).await;
    browser.follow("Remove ci-deployer from deployers").await;
    browser.goto(&format!("{base}/robots/ci-deployer")).await;
    assert!(browser.page_text().await.contains("This robot has no permissions yet"));
    browser.follow("Add to team").await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("ci-deployer is now in team deployers")
    );
    assert!(browser.text("table").await.contains("acme/apps/web"));

    // Deleting the team takes them away at once.
    browser.goto(&format!("{base}/teams/deployers")).await;
    browser.follow("Delete team").await;
    assert!(browser.page_text().await.contains("1 robot(s) lose"));
    browser.follow("Delete team").await;
    let api = app.get("/v1/orgs/acme/robots/ci-deployer/permissions", &alice).await;
    assert_eq!(api.body["items"], serde_json::json!([]));
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_access_tokens_are_made_shown_once_used_and_revoked() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.org(&alice, "globex").await;
    log_in(&app, &browser, "alice").await;
    browser.goto(&format!("{}/account", app.base)).await;
    browser.follow("Manage personal access tokens").await;
    assert!(browser.page_text().await.contains("You have no personal access tokens"));

    // No scope ticked: refused beside the scopes, the name kept.
    browser.type_into("#name", "terraform").await;
    browser.follow("Create token").await;
    assert!(browser.text("#scopes-error").await.contains("at least one"));
    assert_eq!(browser.value("#name").await, "terraform");

    for scope in ["robots:write", "tokens:write"] {
        browser
            .click(&browser.find(&format!("input[value=\"{scope}\"]")).await)
            .await;
    }
    browser.click(&browser.find("input[name=orgs][value=acme]").await).await;
    browser
        .execute("document.querySelector('#expires').value = '90d'")
        .await;
    browser.follow("Create token").await;
    let token = browser.value("#token").await;
    assert!(token.starts_with("rpat_"), "{token}");
    assert!(browser.page_text().await.contains("robots:write tokens:write"));
    browser.audit().await;
    browser.screenshot("personal-token-created").await;

    // It works within its scope and organization.
    let automation = Auth::Bearer(token.clone());
    let robot = app
        .post("/v1/orgs/acme/robots", &automation, json!({"name": "builder"}))
        .await;
    assert_eq!(robot.status, 201, "{}", robot.text);
    assert_eq!(
        app.post("/v1/orgs/globex/robots", &automation, json!({"name": "builder"}))
            .await
            .status,
        403
    );

    // Gone from the screen once left; listed with its last use.
    browser.follow("Done").await;
    let listed = browser.page_text().await;
    assert!(
        listed.contains("terraform") && listed.contains("from 127.0.0.1"),
        "{listed}"
    );
    browser.audit().await;
    assert!(!browser.source().await.contains(&token));
    browser
        .follow_element(&browser.find("button[aria-label='Revoke terraform']").await)
        .await;
    assert!(browser.text(".alert-success").await.contains("Revoked terraform"));
    assert_eq!(app.get("/v1/orgs/acme/robots", &automation).await.status, 401);

    // It is no password.
    browser.click(&browser.find(".account-menu summary").await).await;
    browser.follow("Log out").await;
    browser.goto(&format!("{}/login", app.base)).await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", &token).await;
    browser.follow("Log in").await;
    assert!(
        browser
            .text(".alert-error")
            .await
            .contains("A personal access token does not log in to the console")
    );
    assert!(!browser.source().await.contains(&token));
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_administrators_set_the_floor_under_every_organizations_policy() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    app.org(&root, "acme").await;
    log_in(&app, &browser, "root").await;
    browser.goto(&format!("{}/account", app.base)).await;
    browser.follow("Instance token policy").await;
    browser.type_into("#personal_token_max_lifetime", "400d").await;
    browser.follow("Save policy").await;
    assert!(
        browser
            .text("#personal_token_max_lifetime-error")
            .await
            .contains("366d")
    );
    browser.type_into("#personal_token_max_lifetime", "90d").await;
    browser.type_into("#max_lifetime", "30d").await;
    browser.click(&browser.find("input[name=expiry_required]").await).await;
    browser.follow("Save policy").await;
    assert!(
        browser
            .text(".alert-success")
            .await
            .contains("Instance token policy saved")
    );
    browser.audit().await;
    assert_eq!(
        app.get("/v1/instance/policy", &root).await.body,
        json!({"max_lifetime": "30d", "expiry_required": true, "personal_token_max_lifetime": "90d"})
    );
    browser.goto(&format!("{}/orgs/acme/admin/settings", app.base)).await;
    assert!(
        browser
            .page_text()
            .await
            .contains("This installation allows tokens to live at most 30d and requires every token to expire")
    );
    browser.quit().await;
}
