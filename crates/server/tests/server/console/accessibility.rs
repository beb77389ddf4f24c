//! The console for everyone: every page audited with axe-core (the browser
//! audits each page it lands on, see `webdriver.rs`, and this test visits
//! them all, error pages and the open menu included), and the seed's path
//! walked by keyboard alone, with a visible focus ring at every stop.

use serde_json::{Value, json};

use super::flows::{log_in, start};
use crate::support::Auth;
use crate::webdriver::Browser;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const ARROW_DOWN: &str = "\u{E015}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_passes_axe_core() {
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
    app.post("/v1/orgs/acme/teams", &alice, json!({"name": "deployers"}))
        .await;
    app.post("/v1/orgs/acme/repositories", &alice, json!({"name": "apps/web"}))
        .await;

    browser.goto(&format!("{}/login", app.base)).await;
    log_in(&app, &browser, "alice").await;
    // Each `goto` is audited; a violation fails here, naming the page.
    for path in [
        "/account",
        "/organizations/new",
        "/orgs/acme",
        "/orgs/acme/admin/robots",
        "/orgs/acme/admin/robots/-/new",
        "/orgs/acme/admin/robots/deployer",
        "/orgs/acme/admin/robots/deployer/tokens/-/new",
        "/orgs/acme/admin/robots/deployer/federated/-/new",
        "/orgs/acme/admin/teams",
        "/orgs/acme/admin/teams/deployers",
        "/orgs/acme/admin/repositories",
        "/orgs/acme/admin/repositories/apps/web",
        "/orgs/acme/admin/members",
        "/orgs/acme/admin/audit",
        "/orgs/acme/admin/webhooks",
        "/orgs/acme/admin/settings",
        "/no/such/page",
        "/logout",
    ] {
        browser.goto(&format!("{}{path}", app.base)).await;
        browser.find("h1").await;
    }
    // A console address that takes only a form's POST: the console's page, not JSON.
    assert_eq!(browser.text("h1").await, "Not a page");

    // The credentials screen, and the menu open.
    browser
        .goto(&format!("{}/orgs/acme/admin/robots/deployer/tokens/-/new", app.base))
        .await;
    browser.type_into("#name", "laptop").await;
    browser.follow("Create Token").await;
    browser.find("#token").await;
    browser.goto(&format!("{}/orgs/acme/admin/robots", app.base)).await;
    browser.click(&browser.find(".account-menu summary").await).await;
    browser.audit().await;
    browser.click(&browser.find("h1").await).await;
    assert_eq!(
        browser
            .execute("return document.querySelector('.account-menu').open")
            .await,
        json!(false),
        "a click elsewhere closes the menu"
    );

    // What a member sees, read-only, and refused.
    browser.click(&browser.find(".account-menu summary").await).await;
    browser.follow("Log out").await;
    log_in(&app, &browser, "bob").await;
    for path in [
        "/orgs/acme/admin/robots",
        "/orgs/acme/admin/robots/deployer",
        "/orgs/acme/admin/settings",
    ] {
        browser.goto(&format!("{}{path}", app.base)).await;
    }
    browser.quit().await;
}

/// Where the focus is, and whether its ring can be seen: drawn (solid, 2 px
/// or more) in a colour at least 3:1 against what it is drawn on.
const FOCUS_RING: &str = r#"
const e = document.activeElement;
if (e === document.body) return {body: true, what: "body", text: "", id: ""};
const style = getComputedStyle(e);
const rgba = (c) => (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
const opaque = (c) => { const v = rgba(c); return v.length < 4 || v[3] > 0; };
const luminance = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
// A ring drawn outside the element sits on its parent; an inset one on the element.
let under = parseFloat(style.outlineOffset) < 0 ? e : e.parentElement;
while (under && !opaque(getComputedStyle(under).backgroundColor)) under = under.parentElement;
const background = under ? rgba(getComputedStyle(under).backgroundColor) : [255, 255, 255];
const [ring, behind] = [luminance(rgba(style.outlineColor)), luminance(background)];
return {
  what: `${e.tagName.toLowerCase()} ${(e.innerText || e.value || e.id || "").trim().slice(0, 40)}`,
  text: (e.textContent || "").replace(/\s+/g, " ").trim(),
  id: e.id,
  style: style.outlineStyle,
  width: parseFloat(style.outlineWidth),
  contrast: (Math.max(ring, behind) + 0.05) / (Math.min(ring, behind) + 0.05),
};
"#;

/// Presses Tab until the focus reaches `target` (`#id`, or an element whose
/// text contains it), checking the ring at every stop on the way.
async fn tab_to(browser: &Browser, target: &str) {
    for _ in 0..80 {
        browser.press(TAB).await;
        let focus: Value = browser.execute(FOCUS_RING).await;
        if focus["body"] == true {
            continue; // past the last stop, before the first
        }
        assert!(
            focus["style"] == "solid" && focus["width"].as_f64().unwrap() >= 2.0,
            "no visible focus ring on {}: {focus}",
            focus["what"]
        );
        assert!(
            focus["contrast"].as_f64().unwrap() >= 3.0,
            "the focus ring on {} has {:.2}:1 contrast (WCAG 2.2 asks 3:1)",
            focus["what"],
            focus["contrast"].as_f64().unwrap()
        );
        let reached = match target.strip_prefix('#') {
            Some(id) => focus["id"] == id,
            None => focus["text"].as_str().unwrap().contains(target),
        };
        if reached {
            return;
        }
    }
    panic!("Tab never reached {target:?} on {}", browser.url().await);
}

/// Presses Enter on what has the focus and waits for the page it leads to.
async fn enter(browser: &Browser) {
    browser.execute("window.__leaving = true").await;
    browser.press(ENTER).await;
    for _ in 0..300 {
        let loaded = browser
            .execute("return window.__leaving === undefined && document.readyState === 'complete'")
            .await;
        if loaded == json!(true) {
            browser.audit().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("Enter led nowhere from {}", browser.url().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_and_its_token_by_keyboard_alone() {
    let Some((app, browser)) = start().await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;

    // Log in: the username field has the focus.
    browser.goto(&format!("{}/login", app.base)).await;
    browser.type_keys("alice").await;
    browser.press(TAB).await;
    browser.type_keys(crate::support::PASSWORD).await;
    enter(&browser).await;
    assert!(browser.url().await.ends_with("/account"));

    // The account menu: Enter opens it, Escape closes it and gives the focus back.
    tab_to(&browser, "account menu").await;
    browser.press(ENTER).await;
    assert_eq!(
        browser
            .execute("return document.querySelector('.account-menu').open")
            .await,
        json!(true)
    );
    browser.audit().await;
    browser.screenshot("focus-account-menu").await;
    browser.press(ESCAPE).await;
    assert_eq!(
        browser
            .execute("return document.querySelector('.account-menu').open")
            .await,
        json!(false)
    );
    assert!(
        browser.focused().await.contains("account menu"),
        "{}",
        browser.focused().await
    );

    // To the organization's robots, and a new robot.
    browser.press(ENTER).await;
    tab_to(&browser, "acme").await;
    enter(&browser).await;
    tab_to(&browser, "Admin Console").await;
    enter(&browser).await;
    assert!(
        browser.url().await.ends_with("/orgs/acme/admin/robots"),
        "{}",
        browser.url().await
    );
    tab_to(&browser, "Create Robot Account").await;
    browser.screenshot("focus-ring").await;
    enter(&browser).await;
    tab_to(&browser, "#name").await;
    browser.type_keys("keyboard-bot").await;
    tab_to(&browser, "Create Robot Account").await;
    enter(&browser).await;
    assert!(browser.url().await.ends_with("/orgs/acme/admin/robots/keyboard-bot"));

    // A token: a name, and an expiry picked with the arrow keys.
    tab_to(&browser, "Create Token").await;
    enter(&browser).await;
    tab_to(&browser, "#name").await;
    browser.type_keys("by-keyboard").await;
    browser.press(TAB).await;
    let before = browser.value("#expires").await;
    browser.press(ARROW_DOWN).await;
    let after = browser.value("#expires").await;
    assert_ne!(before, after, "the arrow keys change the expiry");
    tab_to(&browser, "Create Token").await;
    enter(&browser).await;

    // The credentials, copied by keyboard; they work.
    let access_id = browser.value("#access-id").await;
    let token = browser.value("#token").await;
    tab_to(&browser, "Copy Token").await;
    browser.press(ENTER).await;
    browser.text_once_it_contains(".copy-status", "Copied the Token").await;
    let me = app.get("/v1/whoami", &Auth::Basic(access_id, token)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["name"], "keyboard-bot");
    browser.quit().await;
}
