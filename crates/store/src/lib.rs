//! Persistence for the robot accounts service.
//!
//! One [`Store`] type, two backends: an embedded SQLite file (the default) and
//! PostgreSQL (for many stateless replicas on one database). Every query is
//! written once, with `$n` placeholders that both backends understand, and
//! runs on whichever pool the store holds ([`on_pool!`]); only the migration
//! DDL differs per backend, and the two hottest SQLite writes, which go to
//! its writer as one script each (`writer`). The same test suite runs
//! against both.
//!
//! The store speaks in domain types from `robots-core` and never sees a
//! secret's plaintext: tokens, sessions and setup codes arrive as hashes.
//! Times are stored as Unix milliseconds in both backends.

mod audit;
mod cache;
mod changes;
mod error;
mod federation;
mod figures;
mod grants;
mod instance;
mod keys;
mod notices;
mod orgs;
mod personal_tokens;
mod records;
mod repositories;
mod robot_access;
mod robots;
mod sessions;
mod teams;
mod tokens;
mod trail;
mod transfer;
mod users;
mod webhooks;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use robots_core::Name;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

pub use audit::{AuditEvent, AuditQuery};
pub use cache::GenerationCache;
pub use error::StoreError;
pub use federation::{FederatedCredential, FederatedCredentialSpec};
pub use figures::{DeliveryFigures, TokenFigures};
pub use keys::{SigningAlgorithm, SigningKeyRecord};
pub use notices::{DueExpiry, NoticeKind, NoticeRecipient, NoticeToken, UnmailedNotice};
pub use personal_tokens::{NewPersonalToken, PersonalToken, TokenOrg};
pub use records::*;
pub use trail::Trail;
pub use transfer::{DataDirLock, Restored, TABLES, TableCount, restore_backup};
pub use webhooks::{Delivery, DueDelivery, NewWebhook, Webhook};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Pool {
    /// With the connection its write transactions queue for (see `writer`).
    Sqlite(SqlitePool, std::sync::Arc<writer::SqliteWriter>),
    Postgres(PgPool),
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    /// SQLite's data directory, whose writability readiness checks.
    data_dir: Option<std::sync::Arc<std::path::PathBuf>>,
    changes: std::sync::Arc<changes::Changes>,
    /// What is read on most requests and rarely changes (see `cache`).
    caches: std::sync::Arc<Caches>,
}

/// Runs `$body` with `$pool` bound to the concrete pool. The body is the same
/// text for both backends, monomorphised twice.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool, _) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_pool!`], but binds `$tx` to a write transaction. SQLite's runs
/// on the store's one writer connection (`writer`) and must start
/// `IMMEDIATE`: a deferred transaction that later wants to write can fail
/// with `SQLITE_BUSY` instead of waiting its turn.
macro_rules! in_write_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite(_, writer) => {
                let mut writer = writer.lock().await?;
                #[allow(unused_mut)]
                let mut $tx = sqlx::Connection::begin_with(&mut *writer, "BEGIN IMMEDIATE").await?;
                $body
            }
            $crate::Pool::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}

/// Inside [`in_write_tx!`], locks the row `$id` of `$table` until the
/// transaction ends, so that a count and the insert it allows are one step
/// for every transaction that locks the same row (caps on robots per
/// organization, tokens per robot). PostgreSQL only: SQLite's write
/// transactions already run one at a time.
macro_rules! lock_row {
    ($store:expr, $tx:ident, $table:literal, $id:expr) => {
        if $store.backend() == $crate::Backend::Postgres {
            sqlx::query(concat!("SELECT 1 FROM ", $table, " WHERE id = $1 FOR UPDATE"))
                .bind($id)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

pub(crate) use {in_write_tx, lock_row, on_pool};

/// The store's own caches, under the change generation.
#[derive(Debug)]
struct Caches {
    /// Organizations' webhooks, read on every audited change.
    webhooks: GenerationCache<Uuid, webhooks::OrgWebhooks>,
    /// Robots by organization and name, read on every request about one.
    robots: GenerationCache<(Uuid, Name), RobotRef>,
    /// Accounts by name, as seen by one user (their role in an
    /// organization), read on every request about an organization.
    accounts: GenerationCache<(String, Uuid), AccountLookup>,
    /// Tokens' standing by Access ID, read when a JWT issued on one is
    /// introspected.
    token_standing: GenerationCache<Uuid, TokenStanding>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            webhooks: GenerationCache::new(10_000),
            robots: GenerationCache::new(100_000),
            accounts: GenerationCache::new(100_000),
            token_standing: GenerationCache::new(100_000),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database `robots.db` in
    /// `data_dir` and brings its schema up to date.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        restrict_permissions(data_dir);
        let path = data_dir.join("robots.db");
        if !path.exists()
            && let Err(error) = create_private_file(&path)
        {
            tracing::warn!(path = %path.display(), %error, "could not create the database file");
        }
        Self::open_sqlite(&path).await
    }

    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a transaction acknowledged to a client survives power
            // loss too, not only the process dying (WAL with NORMAL may lose
            // the last ones). Its cost on token creation is measured in
            // docs/PERFORMANCE.md.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        let writer = sqlx::ConnectOptions::connect(&options).await?;
        let store = Self {
            pool: Pool::Sqlite(pool, std::sync::Arc::new(writer::SqliteWriter::new(writer))),
            data_dir: path.parent().map(|dir| std::sync::Arc::new(dir.to_path_buf())),
            changes: Default::default(),
            caches: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to PostgreSQL (`postgres://…`) and brings its schema up to date.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A database out of reach is answered within 2 s (503 with
            // Retry-After), not after a long stall clients take for a hang.
            .acquire_timeout(Duration::from_millis(1500))
            .connect_with(options)
            .await?;
        let store = Self {
            pool: Pool::Postgres(pool),
            data_dir: None,
            changes: Default::default(),
            caches: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens whichever database `url` names: `postgres://` / `postgresql://`
    /// or `sqlite://PATH`.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Self::open_sqlite(Path::new(path)).await
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(..) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The one number `sql` (with `$1` bound to `id`) counts.
    pub(crate) async fn count(&self, sql: &'static str, id: Uuid) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)?)
    }

    /// The pool's connections: (open, idle), for metrics.
    pub fn pool_connections(&self) -> (u32, u32) {
        let (open, idle) = on_pool!(self, pool => (pool.size(), pool.num_idle()));
        (open, u32::try_from(idle).unwrap_or(u32::MAX))
    }

    /// Whether the database answers; for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Whether this store can serve: the database answers and, on SQLite,
    /// its data directory takes a write (a full disk or a directory gone
    /// fails here before a token creation would).
    pub async fn readiness(&self) -> Result<(), String> {
        self.ping()
            .await
            .map_err(|error| format!("database unreachable: {error}"))?;
        if let Some(dir) = &self.data_dir {
            let probe = dir.join(".robots-ready");
            let written = tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut file = std::fs::File::create(&probe)?;
                file.write_all(&[0; 4096])?;
                file.sync_data()?;
                std::fs::remove_file(&probe)
            })
            .await
            .map_err(|error| error.to_string())?;
            written.map_err(|error| format!("data directory {} not writable: {error}", dir.display()))?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool, writer) => {
                writer.close().await;
                pool.close().await;
            }
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// The data directory holds the database and (later) signing keys: owner only.
fn restrict_permissions(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(error) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!(path = %dir.display(), %error, "could not restrict the data directory to its owner");
        }
    }
}

/// Creates a new, empty file readable by its owner only: a database (it
/// holds password hashes and signing keys) before SQLite creates it with the
/// umask's mode (SQLite gives its `-wal` and `-shm` files the same mode), or
/// a backup. Fails if the file exists.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// Keyset pagination: at most `limit` items after `after`, plus whether more exist.
pub(crate) fn page<T>(mut rows: Vec<T>, limit: u32) -> Page<T> {
    let limit = limit as usize;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    Page { items: rows, has_more }
}

/// The `LIMIT` to ask the database for: one more than the page, to learn
/// whether another page exists.
pub(crate) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    /// `synchronous` is per connection: the writer and every reader run FULL.
    #[tokio::test]
    async fn every_sqlite_connection_syncs_each_commit() {
        let test = testing::fresh_sqlite().await;
        let Pool::Sqlite(readers, writer) = &test.store.pool else {
            unreachable!("a SQLite store")
        };
        const FULL: i64 = 2;
        let read: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(readers)
            .await
            .unwrap();
        assert_eq!(read, FULL, "a reader");
        let mut connection = writer.lock().await.unwrap();
        let written: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        assert_eq!(written, FULL, "the writer");
    }
}
