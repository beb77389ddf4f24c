//! Fresh, isolated databases for tests, on both backends.
//!
//! SQLite: a new file in a temporary directory. PostgreSQL: a new database
//! on the server named by `ROBOTS_TEST_POSTGRES_URL` (the test command starts
//! one; see `scripts/start-postgres`). Without that variable the PostgreSQL
//! half of a test is skipped with a note on stderr, except in CI
//! (`CI=true`), where it fails: CI must exercise both backends.

use sqlx::Connection;
use tempfile::TempDir;

use crate::{Backend, Store};

/// A store on a fresh database, and what keeps that database alive.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    /// For SQLite, the directory holding the file (deleted on drop).
    pub dir: Option<TempDir>,
    /// For PostgreSQL, the URL of the fresh database.
    pub url: Option<String>,
}

pub async fn fresh(backend: Backend) -> Option<TestStore> {
    match backend {
        Backend::Sqlite => Some(fresh_sqlite().await),
        Backend::Postgres => fresh_postgres().await,
    }
}

#[allow(clippy::expect_used)]
pub async fn fresh_sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open_data_dir(dir.path()).await.expect("open SQLite store");
    TestStore {
        store,
        dir: Some(dir),
        url: None,
    }
}

/// The URL of a new, empty PostgreSQL database, or `None` when no server is
/// configured outside CI.
#[allow(clippy::expect_used, clippy::panic)]
pub async fn fresh_postgres_url() -> Option<String> {
    let Ok(admin_url) = std::env::var("ROBOTS_TEST_POSTGRES_URL") else {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("ROBOTS_TEST_POSTGRES_URL is not set: in CI every test runs on PostgreSQL too");
        }
        eprintln!("note: skipping the PostgreSQL half: set ROBOTS_TEST_POSTGRES_URL or use scripts/test");
        return None;
    };
    let name = format!("robots_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to ROBOTS_TEST_POSTGRES_URL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("URL with a database path");
    Some(format!("{base}/{name}"))
}

#[allow(clippy::expect_used)]
pub async fn fresh_postgres() -> Option<TestStore> {
    let url = fresh_postgres_url().await?;
    let store = Store::open_postgres(&url).await.expect("open PostgreSQL store");
    Some(TestStore {
        store,
        dir: None,
        url: Some(url),
    })
}
