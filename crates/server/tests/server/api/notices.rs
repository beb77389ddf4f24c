//! Notices by e-mail, through a real relay (aiosmtpd, from PyPI, requiring
//! STARTTLS and a login): organization admins hear of robot tokens 30, 7
//! and 1 days before they expire and of tokens disabled for going unused,
//! users of their personal access tokens; each threshold once, one mail a
//! day per recipient, however many replicas run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use robots_core::Clock;
use robots_server::mail::Mailer;
use robots_store::Backend;
use serde_json::{Value, json};

use crate::support::{Background, Credentials, TestApp, captured_logs, first_secret_in, free_port, wait_for_port};

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);
const SMTP_PASSWORD: &str = "relay-password-3f9c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_notices_are_mailed_once_per_threshold() {
    notices_are_mailed_once_per_threshold(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notices_are_mailed_once_per_threshold_by_two_replicas() {
    notices_are_mailed_once_per_threshold(Backend::Postgres).await;
}

/// aiosmtpd on a free port, with a certificate for `localhost`; its
/// messages land in the returned directory.
struct Relay {
    process: Option<Background>,
    python: String,
    dir: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
    out: PathBuf,
}

impl Relay {
    /// Its certificate and port, not started yet.
    fn prepare() -> Option<Self> {
        let python = std::env::var("ROBOTS_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let found = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            assert!(
                std::env::var("CI").map_or(true, |ci| ci != "true"),
                "aiosmtpd is required in CI: pip install aiosmtpd (scripts/test does)"
            );
            eprintln!("note: skipping: aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (ca, out) = (dir.path().join("relay.pem"), dir.path().join("out"));
        std::fs::write(&ca, certificate.pem()).unwrap();
        std::fs::write(dir.path().join("relay.key"), key.serialize_pem()).unwrap();
        std::fs::create_dir(&out).unwrap();
        Some(Self {
            process: None,
            python,
            dir,
            port: free_port(),
            ca,
            out,
        })
    }

    async fn start(mut self) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server/smtp_receiver.py");
        let process = Command::new(&self.python)
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.ca)
            .arg(self.dir.path().join("relay.key"))
            .arg("notices")
            .arg(SMTP_PASSWORD)
            .arg(&self.out)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 starts");
        self.process = Some(Background(process));
        wait_for_port(self.port, "aiosmtpd").await;
        self
    }

    fn mailer(&self) -> Mailer {
        Mailer::new(
            &format!("smtp://notices:{SMTP_PASSWORD}@localhost:{}", self.port),
            "Robot Accounts <robots@example.com>",
            Some(&self.ca),
        )
        .unwrap()
    }

    /// Everything received so far, in order: (recipient, subject, message).
    fn received(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
            .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                let content = record["content"].as_str().unwrap().to_owned();
                let rcpt: Vec<&str> = record["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|to| to.as_str().unwrap())
                    .collect();
                assert_eq!(rcpt.len(), 1, "one address a message: {record}");
                assert_eq!(record["mail_from"], "robots@example.com");
                assert_eq!(record["login"], "notices", "sent logged in");
                let subject = content
                    .lines()
                    .find_map(|line| line.strip_prefix("Subject: "))
                    .unwrap()
                    .to_owned();
                Mail {
                    to: rcpt[0].to_owned(),
                    subject,
                    content,
                }
            })
            .collect()
    }
}

#[derive(Debug)]
struct Mail {
    to: String,
    subject: String,
    content: String,
}

/// What the server's background tasks do once a minute, on every replica
/// at once: disable unused tokens, record the notices due, mail them.
async fn pass(app: &TestApp, replica: Option<&TestApp>) -> usize {
    async fn one(app: &TestApp) -> usize {
        app.state.service().disable_unused_tokens().await;
        app.state.service().record_expiry_notices().await;
        app.state.send_notice_mails().await
    }
    match replica {
        Some(replica) => {
            let (here, there) = tokio::join!(one(app), one(replica));
            here + there
        }
        None => one(app).await,
    }
}

async fn notices_are_mailed_once_per_threshold(backend: Backend) {
    let Some(relay) = Relay::prepare() else { return };
    let relay = relay.start().await;
    let mailer = relay.mailer();
    let Some(app) = TestApp::spawn_with(backend, |config| config.mailer = Some(mailer)).await else {
        return;
    };
    let replica = match backend {
        Backend::Postgres => Some(app.replica().await),
        Backend::Sqlite => None,
    };
    let replica = replica.as_ref();
    let root = app.setup_admin().await;
    for user in ["alice", "bob", "carol"] {
        app.user(&root, user).await;
    }
    // The day starts at 01:00 UTC, so that "later that day" is the same day.
    let now = app.clock.now();
    let midnight = now.replace_time(time::Time::MIDNIGHT) + DAY;
    app.clock.advance((midnight - now).unsigned_abs() + HOUR);
    let start = app.clock.now();
    let alice = app.login("alice").await;
    app.org(&alice, "acme").await;
    app.add_member(&alice, "acme", "bob", "admin").await;
    app.add_member(&alice, "acme", "carol", "member").await;
    app.robot(&alice, "acme", "deployer").await;
    let mut secrets = vec![
        app.token_expiring_in(&alice, "acme", "deployer", "monthly", 40 * DAY)
            .await,
        app.token_expiring_in(&alice, "acme", "deployer", "weekly", 20 * DAY)
            .await,
        app.token_expiring_in(&alice, "acme", "deployer", "late", 20 * DAY + 12 * HOUR)
            .await,
        // A token that lives a day needs no notice the day before.
        app.token_expiring_in(&alice, "acme", "deployer", "daily", DAY).await,
    ];
    let pat = app
        .post(
            "/v1/me/tokens",
            &alice,
            json!({"name": "terraform", "scopes": ["robots:read"], "expires_in": "40d"}),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    secrets.push(Credentials {
        access_id: String::new(),
        token: pat.body["token"].as_str().unwrap().to_owned(),
    });
    // Another organization disables tokens unused for ten days.
    app.org(&alice, "beta").await;
    app.robot(&alice, "beta", "builder").await;
    secrets.push(app.token(&alice, "beta", "builder", "idle").await);
    let policy = app
        .request(
            "PATCH",
            "/v1/orgs/beta",
            &alice,
            Some(json!({"token_policy": {"disable_unused_after": "10d"}})),
        )
        .await;
    assert_eq!(policy.status, 200, "{}", policy.text);

    assert_eq!(pass(&app, replica).await, 0, "nothing is owed yet");
    assert!(relay.received().is_empty());

    // Day 11: "monthly" and alice's personal token have 29 days left; beta's
    // idle token went unused for ten days.
    app.clock.set(start + 11 * DAY);
    assert_eq!(pass(&app, replica).await, 3);
    let mails = relay.received();
    let mut seen: Vec<(&str, &str)> = mails
        .iter()
        .map(|mail| (mail.to.as_str(), mail.subject.as_str()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("alice@example.com", "Your personal access token terraform expires soon"),
            ("alice@example.com", "acme: 1 robot token expiring soon"),
            ("alice@example.com", "beta: 1 robot token disabled for going unused"),
            ("bob@example.com", "acme: 1 robot token expiring soon"),
        ],
        "admins hear of their organizations' tokens, owners of their own; members nothing"
    );
    let acme = mails.iter().find(|mail| mail.subject.starts_with("acme")).unwrap();
    assert!(acme.content.contains("deployer/monthly"), "{}", acme.content);
    assert!(acme.content.contains("(in 29 days)"), "{}", acme.content);
    assert!(!acme.content.contains("weekly") && !acme.content.contains("daily"));
    let beta = mails.iter().find(|mail| mail.subject.starts_with("beta")).unwrap();
    assert!(beta.content.contains("builder/idle"), "{}", beta.content);
    assert!(beta.content.contains("robots tokens enable"), "{}", beta.content);
    assert_eq!(pass(&app, replica).await, 0, "each notice is mailed once");

    // Day 13, 01:00: "weekly" has less than 7 days left.
    app.clock.set(start + 13 * DAY);
    assert_eq!(pass(&app, replica).await, 1);
    // 13:00 the same day, "late" crosses too: its mail waits for tomorrow.
    app.clock.set(start + 13 * DAY + 12 * HOUR);
    assert_eq!(pass(&app, replica).await, 0, "one mail a day per organization");
    app.clock.set(start + 14 * DAY);
    assert_eq!(pass(&app, replica).await, 1);
    // Day 19, 02:00: "weekly" has less than a day left.
    app.clock.set(start + 19 * DAY + HOUR);
    assert_eq!(pass(&app, replica).await, 1);

    let mails = relay.received();
    let to_bob: Vec<&Mail> = mails.iter().filter(|mail| mail.to == "bob@example.com").collect();
    let listed = |mail: &Mail| {
        ["monthly", "weekly", "late", "daily"]
            .into_iter()
            .filter(|name| mail.content.contains(&format!("deployer/{name} ")))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        to_bob.iter().map(|mail| listed(mail)).collect::<Vec<_>>(),
        [vec!["monthly"], vec!["weekly"], vec!["late"], vec!["weekly"]],
        "each token at each threshold once: 30 days, then 7, then 1"
    );
    assert!(to_bob[3].content.contains("(in 23 hours)"), "{}", to_bob[3].content);
    assert_eq!(mails.iter().filter(|mail| mail.to == "alice@example.com").count(), 6);
    assert!(mails.iter().all(|mail| mail.to != "carol@example.com"));

    // No secret in any mail, nor the relay's password in the logs.
    for mail in &mails {
        assert_eq!(first_secret_in(mail.content.as_bytes()), None, "{}", mail.content);
        for secret in &secrets {
            assert!(!mail.content.contains(&secret.token));
        }
    }
    assert!(!captured_logs().contains(SMTP_PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_the_relay_could_not_take_is_sent_once_it_can() {
    let Some(relay) = Relay::prepare() else { return };
    let mailer = relay.mailer();
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |config| config.mailer = Some(mailer)).await else {
        return;
    };
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    app.token_expiring_in(&alice, "acme", "deployer", "ci", 40 * DAY).await;
    app.clock.advance(11 * DAY);
    assert_eq!(pass(&app, None).await, 0, "the relay is not running");
    assert_eq!(
        pass(&app, None).await,
        0,
        "still not running: tried again, not given up"
    );

    let relay = relay.start().await;
    assert_eq!(pass(&app, None).await, 1, "the day was given back: sent now");
    assert_eq!(pass(&app, None).await, 0);
    let mails = relay.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        (mails[0].to.as_str(), mails[0].subject.as_str()),
        ("alice@example.com", "acme: 1 robot token expiring soon")
    );
}
