//! A small WebDriver client driving Debian's headless Chromium through
//! chromedriver: enough to click through the console as a person would.
//!
//! Outside CI, a machine without chromedriver skips browser tests with a
//! note; in CI (`CI=true`) that is a failure (the test command installs it).
//!
//! Every page the browser lands on (and every state a test asks about, such
//! as an open menu) is audited with axe-core from npm, against WCAG 2.2 A
//! and AA: any violation fails the test that visited the page.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    http: reqwest::Client,
    session_url: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    pub async fn start() -> Option<Self> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var("CI").map_or(true, |ci| ci != "true"),
                "chromium and chromium-driver are required in CI (scripts/test installs them)"
            );
            eprintln!("note: skipping a browser test: apt-get install chromium chromium-driver");
            return None;
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        // Its own session and process group, so that dropping the browser
        // can kill chromedriver and every Chromium process it started.
        let driver = Command::new("setsid")
            .arg(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Some(Self {
            http,
            session_url: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        })
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session_url);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = response["value"]["error"].as_str() {
            panic!("WebDriver {method} {path}: {error}: {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url}))).await;
        self.audit().await;
    }

    /// Runs a script that calls its last argument with the result.
    pub async fn execute_async(&self, script: &str) -> Value {
        self.command("POST", "/execute/async", Some(json!({"script": script, "args": []})))
            .await
    }

    /// Audits the page as it is now with axe-core (WCAG 2.2 A and AA), and
    /// fails on any violation, naming the rule and the elements.
    pub async fn audit(&self) {
        let Some(axe) = axe_source() else {
            return;
        };
        let loaded = self.execute("return typeof window.axe === 'object'").await;
        if loaded != json!(true) {
            self.execute(&format!("{axe}\nreturn true")).await;
        }
        let violations = self.execute_async(AXE_RUN).await;
        let violations = violations
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("axe-core: {violations}"));
        if !violations.is_empty() {
            let described: Vec<String> = violations
                .iter()
                .map(|v| format!("- {} ({}): {}\n    {}", v["id"], v["impact"], v["help"], v["nodes"]))
                .collect();
            panic!(
                "axe-core finds {} WCAG 2.2 AA violation(s) on {}:\n{}",
                violations.len(),
                self.url().await,
                described.join("\n")
            );
        }
    }

    /// Presses a key (WebDriver's code points: Tab \u{E004}, Enter
    /// \u{E007}, Escape \u{E00C}, arrows \u{E012}–\u{E015}) wherever the
    /// focus is, as a keyboard would.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
        ]}]});
        self.command("POST", "/actions", Some(actions)).await;
    }

    /// Types text where the focus is, key by key.
    pub async fn type_keys(&self, text: &str) {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let key = c.to_string();
                [
                    json!({"type": "keyDown", "value": key}),
                    json!({"type": "keyUp", "value": key}),
                ]
            })
            .collect();
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.command("POST", "/actions", Some(actions)).await;
    }

    /// What has the focus: its tag, text (or value) and accessible label.
    pub async fn focused(&self) -> String {
        self.execute(
            "const e = document.activeElement; return e ? `${e.tagName.toLowerCase()} ${(e.innerText || e.value || '').trim()} ${e.getAttribute('aria-label') || ''}`.trim() : ''",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn url(&self) -> String {
        self.command("GET", "/url", None).await.as_str().unwrap().to_owned()
    }

    pub async fn source(&self) -> String {
        self.command("GET", "/source", None).await.as_str().unwrap().to_owned()
    }

    pub async fn refresh(&self) {
        self.command("POST", "/refresh", None).await;
    }

    pub async fn back(&self) {
        self.command("POST", "/back", None).await;
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
            .await
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.command("POST", "/window/rect", Some(json!({"width": width, "height": height})))
            .await;
    }

    async fn try_find(&self, using: &str, value: &str) -> Option<Element> {
        let url = format!("{}/element", self.session_url);
        let response: Value = self
            .http
            .post(url)
            .json(&json!({"using": using, "value": value}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["value"][ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    /// The first element matching a CSS selector, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        self.wait_for("css selector", css).await
    }

    /// The first link or button whose visible text is exactly `text`.
    pub async fn find_text(&self, text: &str) -> Element {
        let xpath = format!(
            "//*[self::a or self::button or self::summary][normalize-space()='{text}' or @aria-label='{text}']"
        );
        self.wait_for("xpath", &xpath).await
    }

    async fn wait_for(&self, using: &str, value: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Some(element) = self.try_find(using, value).await {
                return element;
            }
            if started.elapsed() > Duration::from_secs(10) {
                panic!("no element {value:?} on {}:\n{}", self.url().await, self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether any element matches a CSS selector, now.
    pub async fn has(&self, css: &str) -> bool {
        self.try_find("css selector", css).await.is_some()
    }

    pub async fn has_text_control(&self, text: &str) -> bool {
        let xpath = format!("//*[self::a or self::button][normalize-space()='{text}']");
        self.try_find("xpath", &xpath).await.is_some()
    }

    pub async fn click(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.0), None)
            .await;
    }

    /// Clicks a link or submit button found by its text, and waits for the
    /// page it leads to.
    pub async fn follow(&self, text: &str) {
        let element = self.find_text(text).await;
        self.follow_element(&element).await;
    }

    /// Clicks an element that navigates, and waits until the next document
    /// has loaded (so nothing is read from the page being left).
    pub async fn follow_element(&self, element: &Element) {
        self.execute("window.__leaving = true").await;
        self.click(element).await;
        let started = Instant::now();
        loop {
            let url = format!("{}/execute/sync", self.session_url);
            let script = "return window.__leaving === undefined && document.readyState === 'complete'";
            let response: Option<Value> = match self
                .http
                .post(url)
                .json(&json!({"script": script, "args": []}))
                .send()
                .await
            {
                Ok(response) => response.json().await.ok(),
                Err(_) => None,
            };
            if response.is_some_and(|r| r["value"] == json!(true)) {
                self.audit().await;
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the click did not lead to a new page"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command("POST", &format!("/element/{}/clear", element.0), None)
            .await;
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn send_keys(&self, element: &Element, keys: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": keys})),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.read(css, "text").await
    }

    /// The visible text of `css` once it contains `expected`, waiting up to
    /// 10 s: for what a script writes after an event (a copy's status
    /// waits for the clipboard).
    pub async fn text_once_it_contains(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return text;
            }
            if started.elapsed() > Duration::from_secs(10) {
                panic!("{css} says {text:?}, not {expected:?}, after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn value(&self, css: &str) -> String {
        self.read(css, "property/value").await
    }

    /// Finds `css` and reads `what` of it, finding it again if the page
    /// was replaced in between (a form submission still loading).
    async fn read(&self, css: &str, what: &str) -> String {
        let started = Instant::now();
        loop {
            let element = self.find(css).await;
            let url = format!("{}/element/{}/{what}", self.session_url, element.0);
            let response: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
            match response["value"]["error"].as_str() {
                None => return response["value"].as_str().unwrap_or("").to_owned(),
                Some("stale element reference") if started.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Some(error) => panic!("WebDriver reading {what} of {css}: {error}"),
            }
        }
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Saves a PNG of the viewport as `name`.png in the screenshots
    /// directory; with `UPDATE_DOCS=1`, the ones the docs show go to
    /// `docs/screenshots` too.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.command("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        if std::env::var("UPDATE_DOCS").is_ok_and(|update| update == "1") && DOCUMENTED.contains(&name) {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
        path
    }

    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session_url).send().await;
        self.kill();
    }

    fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs axe-core on the document and answers its violations, each with the
/// elements that fail and why.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
  resultTypes: ["violations"],
}).then(
  (results) => done(results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
  }))),
  (error) => done({error: String(error)}),
);
"#;

/// axe-core's script: `ROBOTS_TEST_AXE`, else where the test command's
/// `npm install` puts it (`target/npm`). Missing outside CI: pages are not
/// audited, with a note; in CI: a failure.
fn axe_source() -> Option<&'static str> {
    static SOURCE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = std::env::var("ROBOTS_TEST_AXE").map(PathBuf::from).unwrap_or_else(|_| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/npm/node_modules/axe-core/axe.min.js")
            });
            match std::fs::read_to_string(&path) {
                Ok(source) => Some(source),
                Err(error) => {
                    assert!(
                        std::env::var("CI").map_or(true, |ci| ci != "true"),
                        "axe-core is required in CI at {}: {error} (scripts/test installs it)",
                        path.display()
                    );
                    eprintln!("note: pages are not audited: npm install --prefix target/npm axe-core@4.14.1");
                    None
                }
            }
        })
        .as_deref()
}

/// The screenshots in `docs/screenshots` (README, docs), each taken by a test.
const DOCUMENTED: &[&str] = &[
    "04-account-menu",
    "06-robots-empty",
    "07-create-robot-account",
    "08-robot",
    "10-token-credentials",
    "11-robots",
    "13-create-robot-with-team",
    "14-robot-permissions",
    "15-repository-access",
    "16-token-rotated",
    "17-robot-disabled",
    "18-audit-log",
    "19-webhooks",
    "mobile-robots",
    "focus-ring",
    "error-summary",
    "member-read-only",
];

/// Where the suite saves its screenshots: `target/…/screenshots`.
pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}
