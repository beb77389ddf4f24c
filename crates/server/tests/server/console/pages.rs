//! What the console's pages offer, read over plain HTTP: lists that page
//! with a visible count, and a token form that offers only the lifetimes
//! the organization's policy allows.

use serde_json::json;

use super::security::{client, console_login, hidden_value};
use crate::support::TestApp;

/// The page at `path` as alice sees it.
async fn page(app: &TestApp, client: &reqwest::Client, cookie: &str, path: &str) -> String {
    let response = client
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The rows of the robots table: the robots' names, in order.
fn robot_names(html: &str) -> Vec<String> {
    html.split("<th scope=\"row\"><a href=\"/orgs/acme/admin/robots/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The `href` of the link whose text is `label`.
fn link(html: &str, label: &str) -> Option<String> {
    let at = html.find(&format!("\">{label}</a>"))?;
    let start = html[..at].rfind("href=\"")? + "href=\"".len();
    let href = html[start..].split('"').next()?;
    // As a browser reads the attribute: `&` is written as a character reference.
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_a_count_and_nothing_is_left_out() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    const ROBOTS: usize = 123;
    for i in 0..ROBOTS {
        app.robot(&alice, "acme", &format!("r{i:03}")).await;
    }
    let client = client();
    let cookie = format!("robots_session={}", console_login(&app, &client, "alice").await);

    let mut seen = Vec::new();
    let mut path = "/orgs/acme/admin/robots".to_owned();
    let mut summaries = Vec::new();
    loop {
        let html = page(&app, &client, &cookie, &path).await;
        let names = robot_names(&html);
        assert!(names.len() <= 50, "a page holds at most 50 rows: {}", names.len());
        let summary = html
            .split("<p class=\"muted\" role=\"status\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap()
            .to_owned();
        summaries.push(summary);
        seen.extend(names);
        match link(&html, "Next page") {
            Some(next) => path = next,
            None => break,
        }
    }
    let expected: Vec<String> = (0..ROBOTS).map(|i| format!("r{i:03}")).collect();
    assert_eq!(seen, expected, "every robot once, in order, across the pages");
    assert_eq!(
        summaries,
        [
            "Showing 1–50 of 123 robot accounts",
            "Showing 51–100 of 123 robot accounts",
            "Showing 101–123 of 123 robot accounts",
        ]
    );
}

/// The values of the `expires` select's options, and the one selected.
fn expiry_options(html: &str) -> (Vec<String>, String) {
    let select = html
        .split("<select id=\"expires\"")
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap();
    let mut values = Vec::new();
    let mut selected = String::new();
    for option in select.split("<option value=\"").skip(1) {
        let value = option.split('"').next().unwrap().to_owned();
        if option.split('>').next().unwrap().contains("selected") {
            selected = value.clone();
        }
        values.push(value);
    }
    (values, selected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_form_offers_what_the_policy_allows() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "ci").await;
    let client = client();
    let cookie = format!("robots_session={}", console_login(&app, &client, "alice").await);
    let form = "/orgs/acme/admin/robots/ci/tokens/-/new";

    let open = page(&app, &client, &cookie, form).await;
    assert_eq!(
        expiry_options(&open),
        (
            ["7d", "30d", "90d", "180d", "365d", "never"].map(String::from).to_vec(),
            "90d".to_owned()
        )
    );

    let policy = json!({"token_policy": {"max_lifetime": "45d", "expiry_required": true}});
    let set = app.request("PATCH", "/v1/orgs/acme", &alice, Some(policy)).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let tight = page(&app, &client, &cookie, form).await;
    assert_eq!(
        expiry_options(&tight),
        (["7d", "30d", "45d"].map(String::from).to_vec(), "45d".to_owned())
    );
    assert!(
        tight.contains("This organization allows tokens to live at most 45 days."),
        "the form says what the policy is"
    );

    // A lifetime the form does not offer is refused all the same.
    let csrf = hidden_value(&tight, "csrf");
    let refused = client
        .post(format!("{}/orgs/acme/admin/robots/ci/tokens", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "long"), ("expires", "90d")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(refused.headers()["x-robots-error"], "invalid_field");
    let html = refused.text().await.unwrap();
    assert!(html.contains("at most 45d"), "the refusal is beside the field");
    let tokens = app.get("/v1/orgs/acme/robots/ci/tokens", &alice).await;
    assert_eq!(tokens.body["items"], json!([]), "nothing was created");
}

/// The account page changes the password (every other session ends) and
/// ends other sessions on request, through the same rules as the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_changes_the_password_and_ends_other_sessions() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let root = app.setup_admin().await;
    app.user(&root, "alice").await;
    let client = client();
    let here = format!("robots_session={}", console_login(&app, &client, "alice").await);
    let elsewhere = format!("robots_session={}", console_login(&app, &client, "alice").await);
    let post = |cookie: &str, path: &str, form: Vec<(&str, &str)>| {
        client
            .post(format!("{}{path}", app.base))
            .header("cookie", cookie)
            .form(&form)
            .send()
    };
    let account = page(&app, &client, &here, "/account").await;
    assert!(account.contains("Change password") && account.contains("Log out other sessions"));
    let csrf = hidden_value(&account, "csrf");

    let wrong = post(
        &here,
        "/account/password",
        vec![
            ("csrf", &csrf),
            ("current_password", "nope"),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(wrong.headers()["x-robots-error"], "invalid_field");
    assert!(wrong.text().await.unwrap().contains("Is not your current password."));

    let changed = post(
        &here,
        "/account/password",
        vec![
            ("csrf", &csrf),
            ("current_password", crate::support::PASSWORD),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), 303);
    let location = changed.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/account?notice=Password"), "{location}");
    let gone = client
        .get(format!("{}/account", app.base))
        .header("cookie", &elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 303, "the other session ended");
    // Alice's API session from `user` and the console one elsewhere.
    assert!(
        page(&app, &client, &here, &location)
            .await
            .contains("Your 2 other sessions ended.")
    );

    // A session logged in again elsewhere, ended from here.
    let again = format!("robots_session={}", {
        let response = app
            .post(
                "/v1/sessions",
                &crate::support::Auth::None,
                json!({"username": "alice", "password": "a brand new passphrase"}),
            )
            .await;
        response.body["token"].as_str().unwrap().to_owned()
    });
    let ended = post(&here, "/account/sessions/others/end", vec![("csrf", &csrf)])
        .await
        .unwrap();
    assert_eq!(ended.status(), 303);
    let gone = client
        .get(format!("{}/account", app.base))
        .header("cookie", &again)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 303);
    assert_eq!(
        client
            .get(format!("{}/account", app.base))
            .header("cookie", &here)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn pages_travel_compressed_and_assets_are_cached_for_good() {
    let app = TestApp::spawn(robots_store::Backend::Sqlite).await.unwrap();
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    let client = client();
    let session = console_login(&app, &client, "alice").await;
    let cookie = format!("robots_session={session}");

    let get = |path: &str, encoding: &str| {
        client
            .get(format!("{}{path}", app.base))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .header("accept-encoding", encoding)
            .send()
    };
    // Pages: brotli or gzip, whichever the browser takes.
    let plain = get("/orgs/acme/admin/robots", "identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let html = plain.text().await.unwrap();
    for (asked, answered) in [("br, gzip", "br"), ("gzip", "gzip")] {
        let page = get("/orgs/acme/admin/robots", asked).await.unwrap();
        assert_eq!(page.headers()["content-encoding"], answered, "{asked}");
        let size = page.bytes().await.unwrap().len();
        assert!(size * 2 < html.len(), "{answered}: {size} bytes of {}", html.len());
    }

    // Titles name the page and the organization; every page has a description.
    assert!(html.contains("<title>Robots · acme · Robot Accounts</title>"), "{html}");
    assert!(html.contains(r#"<meta name="description" content=""#));

    // Assets: named by their content, compressed, kept a year.
    let stylesheet = html
        .split(r#"<link rel="stylesheet" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(stylesheet.starts_with("/static/console.") && stylesheet.len() > "/static/console..css".len());
    let css = get(&stylesheet, "br").await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(css.headers()["content-encoding"], "br");
    assert_eq!(get("/static/console.css", "br").await.unwrap().status(), 404);

    // An address that takes only a form's POST: the console's page for a
    // browser, the API's JSON error for everyone else.
    let page = get("/logout", "identity").await.unwrap();
    assert_eq!(page.status(), 405);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("Not a page"));
    let api = client.get(format!("{}/logout", app.base)).send().await.unwrap();
    assert_eq!(api.status(), 405);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let missing = get("/no/such/page", "identity").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("There is no page at this address.")
    );
}
