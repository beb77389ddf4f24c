//! The console's defences, checked over plain HTTP: cookies, CSRF, headers.

use crate::support::{PASSWORD, TestApp};

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in through the console form; returns the session cookie's value.
pub(super) async fn console_login(app: &TestApp, client: &reqwest::Client, username: &str) -> String {
    let page = client.get(format!("{}/login", app.base)).send().await.unwrap();
    let csrf_cookie = set_cookie(&page, "robots_csrf").expect("the login page sets a CSRF cookie");
    let html = page.text().await.unwrap();
    let csrf = hidden_value(&html, "csrf");
    assert_eq!(csrf, csrf_cookie);
    let response = client
        .post(format!("{}/login", app.base))
        .header("cookie", format!("robots_csrf={csrf_cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", PASSWORD),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("robots_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(header.contains(attribute), "session cookie lacks {attribute}: {header}");
    }
    assert!(!header.contains("Secure"), "not over plain HTTP");
    header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("robots_session=")
        .to_owned()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            value
                .strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap().to_owned())
        })
}

pub(super) fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_needs_its_csrf_token() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    let client = client();
    let session = console_login(&app, &client, "alice").await;
    let cookie = format!("robots_session={session}");

    let form_page = client
        .get(format!("{}/orgs/acme/admin/robots/-/new", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(form_page.status(), 200);
    let csrf = hidden_value(&form_page.text().await.unwrap(), "csrf");

    let post = |csrf: Option<&str>, name: &'static str| {
        let mut fields = vec![("name", name.to_owned())];
        if let Some(csrf) = csrf {
            fields.push(("csrf", csrf.to_owned()));
        }
        client
            .post(format!("{}/orgs/acme/admin/robots", app.base))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    assert_eq!(post(None, "forged").await.unwrap().status(), 403);
    assert_eq!(post(Some("not-the-token"), "forged").await.unwrap().status(), 403);
    let same_length_guess = "x".repeat(csrf.len());
    assert_eq!(post(Some(&same_length_guess), "forged").await.unwrap().status(), 403);
    let robots = app.get("/v1/orgs/acme/robots", &alice).await;
    assert_eq!(
        robots.body["items"].as_array().unwrap().len(),
        0,
        "no forged request got through"
    );

    let accepted = post(Some(&csrf), "real").await.unwrap();
    assert_eq!(accepted.status(), 303);
    assert_eq!(accepted.headers()["location"], "/orgs/acme/admin/robots/real");

    // The login form too: without the double-submit cookie, no login.
    let forged_login = client
        .post(format!("{}/login", app.base))
        .form(&[("csrf", "abc"), ("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged_login.status(), 403);
    assert!(set_cookie(&forged_login, "robots_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_never_cache() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let client = client();
    let session = console_login(&app, &client, "alice").await;
    let cookie = format!("robots_session={session}");

    for path in [
        "/login",
        "/account",
        "/orgs/acme/admin/robots",
        "/orgs/acme/admin/robots/deployer",
    ] {
        let response = client
            .get(format!("{}{path}", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("<script>") && !html.contains(" onclick="),
            "{path} has inline script"
        );
    }

    // Creating a token answers no-store, with the Token in that one response only.
    let form = client
        .get(format!("{}/orgs/acme/admin/robots/deployer/tokens/-/new", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&form, "csrf");
    let created = client
        .post(format!("{}/orgs/acme/admin/robots/deployer/tokens", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "ci"), ("expires", "30d")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let html = created.text().await.unwrap();
    let token = hidden_value(&html.replace("id=\"token\" value", "name=\"token\" value"), "token");
    assert!(token.starts_with("rbt_"));
    let robot_page = client
        .get(format!("{}/orgs/acme/admin/robots/deployer", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!robot_page.contains(&token));
    assert!(
        robot_page.contains("in 30 days") || robot_page.contains("in 29 days"),
        "the expiry is shown"
    );

    // Submitting the same form again does not mint a second token.
    let again = client
        .post(format!("{}/orgs/acme/admin/robots/deployer/tokens", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "ci"), ("expires", "30d")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert!(!again.text().await.unwrap().contains("rbt_"));

    // Logged out, pages send you to log in and come back after.
    let anonymous = client
        .get(format!("{}/orgs/acme/admin/robots", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/login?next=/orgs/acme/admin/robots");
}

/// After logging in, `next` leads only to a path on this site: a tab (which
/// browsers drop), a second slash or a backslash would lead off it, and a
/// CR or LF would break the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_redirects_stay_on_this_site() {
    let Some(app) = TestApp::spawn(robots_store::Backend::Sqlite).await else {
        return;
    };
    app.setup_admin().await;
    let client = client();
    for (next, expected) in [
        ("/orgs", "/orgs"),
        ("/\t/evil.example", "/account"),
        ("//evil.example", "/account"),
        ("/\\evil.example", "/account"),
        ("https://evil.example/", "/account"),
        ("/account\r\nSet-Cookie: robots_session=stolen", "/account"),
        ("/\n/evil.example", "/account"),
    ] {
        let page = client.get(format!("{}/login", app.base)).send().await.unwrap();
        let csrf_cookie = set_cookie(&page, "robots_csrf").unwrap();
        let csrf = hidden_value(&page.text().await.unwrap(), "csrf");
        let response = client
            .post(format!("{}/login", app.base))
            .header("cookie", format!("robots_csrf={csrf_cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "root"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "next={next:?}");
        assert_eq!(response.headers()["location"], expected, "next={next:?}");
    }
}
