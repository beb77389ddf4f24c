//! A small WebDriver client driving Debian's headless Chromium through
//! chromedriver: enough to click through the console as a person would.
//!
//! Outside CI, a machine without chromedriver skips browser tests with a
//! note; in CI (`CI=true`) that is a failure (the test command installs it).

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

    /// Saves a PNG of the viewport as `name`.png in the screenshots directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.command("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
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

/// Where the suite saves its screenshots: `target/…/screenshots`.
pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}
