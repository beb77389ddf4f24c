//! A token's plaintext appears in exactly one response: never in logs,
//! errors, or the database.

use std::process::Command;

use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestApp, captured_logs};

on_both_backends!(a_full_flow_leaves_no_plaintext_in_logs_or_database);

async fn a_full_flow_leaves_no_plaintext_in_logs_or_database(mut app: TestApp) {
    let root = app.setup_admin().await;
    let alice = app.user(&root, "alice").await;
    app.org(&alice, "acme").await;
    app.robot(&alice, "acme", "deployer").await;
    let credentials = app.token(&alice, "acme", "deployer", "ci").await;
    let crate::support::Auth::Bearer(session) = alice.clone() else {
        unreachable!()
    };

    // Use it every way, fail with it every way, then delete it.
    assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 200);
    assert_eq!(app.get("/v1/whoami", &credentials.bearer()).await.status, 200);
    assert_eq!(app.get("/v1/orgs", &credentials.basic()).await.status, 403);
    let as_password = app
        .post(
            "/v1/sessions",
            &crate::support::Auth::None,
            json!({"username": "alice", "password": credentials.token}),
        )
        .await;
    assert_eq!(as_password.status, 403);
    let mistyped = format!("{}x", credentials.token);
    assert_eq!(
        app.get("/v1/whoami", &crate::support::Auth::Bearer(mistyped))
            .await
            .status,
        401
    );
    app.flush_usage().await;
    let path = format!("/v1/orgs/acme/robots/deployer/tokens/{}", credentials.access_id);
    assert_eq!(app.delete(&path, &alice).await.status, 204);
    assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 401);
    app.stop().await;

    let logs = captured_logs();
    assert!(logs.contains("robot token created"), "the flow was logged at all");
    let random_part = &credentials.token[4..];
    assert!(!logs.contains(random_part), "a token's plaintext reached the logs");
    assert!(!logs.contains(&session[4..]), "a session token reached the logs");
    assert!(!logs.contains(crate::support::PASSWORD), "a password reached the logs");

    let database = database_contents(&app);
    assert!(!database.is_empty());
    assert!(database_contains(&database, b"acme"), "the dump holds the data at all");
    assert!(
        !database_contains(&database, random_part.as_bytes()),
        "a token's plaintext reached the database"
    );
    assert!(
        !database_contains(&database, &session.as_bytes()[4..]),
        "a session token reached the database"
    );
    assert!(
        !database_contains(&database, crate::support::PASSWORD.as_bytes()),
        "a password reached the database"
    );
    assert_eq!(
        secrets_in(&database),
        Vec::<String>::new(),
        "no secret of any kind in the database"
    );
}

/// Every secret-shaped string in `bytes`: a prefix of ours followed by the
/// 49 base62 characters of a secret. Random binary data (hashes, UUIDs) is
/// practically never 49 base62 bytes in a row.
pub fn secrets_in(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in [b"rbt_", b"rsn_"] {
        for start in 0..bytes.len().saturating_sub(53) {
            if &bytes[start..start + 4] == prefix && bytes[start + 4..start + 53].iter().all(u8::is_ascii_alphanumeric)
            {
                found.push(String::from_utf8_lossy(&bytes[start..start + 53]).into_owned());
            }
        }
    }
    found
}

/// Every byte the database holds: the SQLite files, or a full dump of the
/// PostgreSQL database.
pub fn database_contents(app: &TestApp) -> Vec<u8> {
    if let Some(dir) = &app.database.dir {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        return bytes;
    }
    let url = app.database.url.as_ref().unwrap();
    let pg_dump = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("bin/pg_dump"))
        .find(|path| path.exists())
        .expect("pg_dump from the postgresql package");
    let output = Command::new(pg_dump).arg(url).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn database_contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn the_secret_scanner_finds_secrets_and_nothing_else() {
    use robots_core::{SecretKind, SecretToken};
    let token = SecretToken::generate(SecretKind::RobotToken);
    let session = SecretToken::generate(SecretKind::Session);
    let scan = |text: String| crate::support::first_secret_in(text.as_bytes());
    assert!(scan(format!("a log line with {} in it", token.expose())).is_some());
    assert!(scan(format!("cookie=rsn={}", session.expose())).is_some());
    let personal = SecretToken::generate(SecretKind::PersonalToken);
    assert!(scan(format!("Authorization: Bearer {}", personal.expose())).is_some());
    assert_eq!(scan("prefix rbt_ and rbt_short and rsn_ and rpat_".to_owned()), None);
    let found = scan(token.expose().to_owned()).unwrap();
    assert!(found.len() < 12, "the failure message shows only the start");
}
