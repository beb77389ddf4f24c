//! Moving a database's content as a whole: online backups of the embedded
//! SQLite database, restoring one, and copying everything into a new
//! PostgreSQL database when an installation outgrows one machine.
//!
//! A backup is SQLite's `VACUUM INTO`: one read transaction, so it is a
//! consistent snapshot while the server keeps writing. A restore replaces the
//! database of a stopped server ([`DataDirLock`] tells) and keeps the one it
//! replaces. A copy reads the SQLite database in one read transaction and
//! writes PostgreSQL in one transaction, checking every table's count before
//! it commits: all or nothing.

use std::fs::File;
use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::{Pool, Store, StoreError, on_pool};

/// Every table, parents before children: copied in this order, each row's
/// foreign keys point at rows already there. A test holds it to the schema.
pub const TABLES: [&str; 23] = [
    "accounts",
    "users",
    "orgs",
    "org_members",
    "robots",
    "federated_credentials",
    "robot_tokens",
    "sessions",
    "personal_tokens",
    "personal_token_orgs",
    "token_notices",
    "notice_mails",
    "setup_codes",
    "teams",
    "team_users",
    "team_robots",
    "repositories",
    "grants",
    "signing_keys",
    "audit_events",
    "webhooks",
    "webhook_deliveries",
    "instance_policy",
];

/// Rows read and written at a time in a copy.
const BATCH: i64 = 500;

/// How many rows a table holds (after a copy: how many were copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub rows: i64,
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Where the database it replaced now is, if there was one.
    pub previous: Option<PathBuf>,
    pub counts: Vec<TableCount>,
}

/// Held by a server for as long as it uses a data directory: a restore
/// refuses to replace a database a server has open, and a second server
/// refuses to share the directory. The operating system releases it when
/// the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("robots.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| StoreError::Transfer(format!("cannot open {}: {error}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Transfer(format!(
                "a robots server is using {} (it holds robots.lock): stop it first",
                data_dir.display()
            ))),
            Err(std::fs::TryLockError::Error(error)) => {
                Err(StoreError::Transfer(format!("cannot lock {}: {error}", path.display())))
            }
        }
    }
}

impl Store {
    /// Writes a consistent copy of this SQLite database to `destination`
    /// (a new file, readable by its owner only) while the database is in use.
    pub async fn back_up_to(&self, destination: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite(pool, _) = &self.pool else {
            return Err(StoreError::Transfer(
                "this is a PostgreSQL database: back it up with pg_dump (docs/OPERATING.md)".into(),
            ));
        };
        if destination.exists() {
            return Err(StoreError::Transfer(format!(
                "{} exists already: a backup never overwrites a file",
                destination.display()
            )));
        }
        create_private(destination)?;
        let path = destination
            .to_str()
            .ok_or_else(|| StoreError::Transfer(format!("{} is not a UTF-8 path", destination.display())))?;
        if let Err(error) = sqlx::query("VACUUM INTO ?1").bind(path).execute(pool).await {
            let _ = std::fs::remove_file(destination);
            return Err(error.into());
        }
        Ok(())
    }

    /// How many rows each table holds.
    pub async fn table_counts(&self) -> Result<Vec<TableCount>, StoreError> {
        let mut counts = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows: i64 = on_pool!(self, pool => sqlx::query_scalar(trusted(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await)?;
            counts.push(TableCount { table, rows });
        }
        Ok(counts)
    }

    /// Copies everything in this SQLite database into `target`, a new
    /// PostgreSQL database (its schema in place, no rows): users, orgs,
    /// robots, token hashes, teams, grants, audit, keys, webhooks. Answers
    /// each table's count, checked against the source before committing.
    pub async fn copy_into(&self, target: &Store) -> Result<Vec<TableCount>, StoreError> {
        let Pool::Sqlite(source, _) = &self.pool else {
            return Err(StoreError::Transfer("the source must be a SQLite database".into()));
        };
        let Pool::Postgres(target) = &target.pool else {
            return Err(StoreError::Transfer("the target must be a PostgreSQL database".into()));
        };
        let mut writing = target.begin().await?;
        for table in TABLES {
            let rows: i64 = sqlx::query_scalar(trusted(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *writing)
                .await?;
            if rows > 0 {
                return Err(StoreError::Transfer(format!(
                    "the target database is not empty ({table} has {rows} rows): copy into a new database"
                )));
            }
        }
        // One read transaction: the snapshot a running server cannot change.
        let mut reading = source.acquire().await?;
        sqlx::query("BEGIN").execute(&mut *reading).await?;
        let copied = copy_tables(&mut reading, &mut writing).await;
        let _ = sqlx::query("ROLLBACK").execute(&mut *reading).await;
        let copied = copied?;
        writing.commit().await?;
        Ok(copied)
    }
}

async fn copy_tables(
    reading: &mut SqliteConnection,
    writing: &mut sqlx::PgConnection,
) -> Result<Vec<TableCount>, StoreError> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *writing)
        .await?;
        let kinds = columns
            .iter()
            .map(|(name, kind)| {
                ColumnKind::of(kind).ok_or_else(|| {
                    StoreError::Transfer(format!("{table}.{name} has type {kind}, which the copy does not know"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let names = columns
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let expected: i64 = sqlx::query_scalar(trusted(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *reading)
            .await?;
        // Pages by rowid: every table has one, and it is the order of insertion.
        let mut after = i64::MIN;
        let mut copied = 0_i64;
        loop {
            let rows: Vec<SqliteRow> = sqlx::query(trusted(format!(
                "SELECT rowid, {names} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT {BATCH}"
            )))
            .bind(after)
            .fetch_all(&mut *reading)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get(0)?;
            let values = rows
                .iter()
                .map(|row| {
                    kinds
                        .iter()
                        .enumerate()
                        .map(|(index, kind)| kind.read(row, index + 1, table))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({names}) "));
            insert.push_values(values, |mut row, values| {
                for value in values {
                    match value {
                        Value::Uuid(value) => row.push_bind(value),
                        Value::BigInt(value) => row.push_bind(value),
                        Value::Integer(value) => row.push_bind(value),
                        Value::Boolean(value) => row.push_bind(value),
                        Value::Bytes(value) => row.push_bind(value),
                        Value::Text(value) => row.push_bind(value),
                    };
                }
            });
            copied += i64::try_from(insert.build().execute(&mut *writing).await?.rows_affected()).unwrap_or(i64::MAX);
        }
        let landed: i64 = sqlx::query_scalar(trusted(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *writing)
            .await?;
        if copied != expected || landed != expected {
            return Err(StoreError::Transfer(format!(
                "{table}: {expected} rows in the source, {copied} copied, {landed} in the target; nothing was committed"
            )));
        }
        counts.push(TableCount { table, rows: landed });
    }
    Ok(counts)
}

/// A PostgreSQL column type, and how the same column reads from SQLite.
#[derive(Debug, Clone, Copy)]
enum ColumnKind {
    Uuid,
    BigInt,
    Integer,
    Boolean,
    Bytes,
    Text,
}

enum Value {
    Uuid(Option<Uuid>),
    BigInt(Option<i64>),
    Integer(Option<i32>),
    Boolean(Option<bool>),
    Bytes(Option<Vec<u8>>),
    Text(Option<String>),
}

impl ColumnKind {
    fn of(data_type: &str) -> Option<Self> {
        Some(match data_type {
            "uuid" => Self::Uuid,
            "bigint" => Self::BigInt,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "bytea" => Self::Bytes,
            "text" => Self::Text,
            _ => return None,
        })
    }

    fn read(self, row: &SqliteRow, index: usize, table: &str) -> Result<Value, StoreError> {
        Ok(match self {
            // 16-byte BLOBs in SQLite.
            Self::Uuid => Value::Uuid(
                row.try_get::<Option<Vec<u8>>, _>(index)?
                    .map(|bytes| {
                        Uuid::from_slice(&bytes)
                            .map_err(|_| StoreError::Corrupt(format!("{table}: an id of {} bytes", bytes.len())))
                    })
                    .transpose()?,
            ),
            Self::BigInt => Value::BigInt(row.try_get(index)?),
            Self::Integer => Value::Integer(
                row.try_get::<Option<i64>, _>(index)?
                    .map(|wide| {
                        i32::try_from(wide).map_err(|_| StoreError::Corrupt(format!("{table}: {wide} is out of range")))
                    })
                    .transpose()?,
            ),
            Self::Boolean => Value::Boolean(row.try_get(index)?),
            Self::Bytes => Value::Bytes(row.try_get(index)?),
            Self::Text => Value::Text(row.try_get(index)?),
        })
    }
}

/// Replaces the SQLite database in `data_dir` with the backup at `backup`,
/// once the backup has proved whole and of a schema this version knows. The
/// database it replaces is kept beside it (`robots.db.before-restore-…`).
/// Refused while a server uses the directory.
pub async fn restore_backup(data_dir: &Path, backup: &Path) -> Result<Restored, StoreError> {
    check_backup(backup).await?;
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let _lock = DataDirLock::acquire(data_dir)?;
    let live = data_dir.join("robots.db");
    let previous = if live.exists() {
        // Fold the write-ahead log into the file first: moved without it,
        // the last committed transactions would be left behind.
        let mut connection = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&live)).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let kept = data_dir.join(format!("robots.db.before-restore-{stamp}"));
        rename(&live, &kept)?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(data_dir.join(format!("robots.db{suffix}")));
        }
        Some(kept)
    } else {
        None
    };
    let incoming = data_dir.join("robots.db.restoring");
    let _ = std::fs::remove_file(&incoming);
    create_private(&incoming)?;
    std::fs::copy(backup, &incoming)
        .and_then(|_| File::open(&incoming)?.sync_all())
        .map_err(|error| StoreError::Transfer(format!("cannot copy {}: {error}", backup.display())))?;
    rename(&incoming, &live)?;
    // Opening brings an older backup's schema up to date.
    let store = Store::open_sqlite(&live).await?;
    let counts = store.table_counts().await?;
    store.close().await;
    Ok(Restored { previous, counts })
}

/// A backup is whole (SQLite's integrity check) and made by this version or
/// an older one.
async fn check_backup(backup: &Path) -> Result<(), StoreError> {
    if !backup.is_file() {
        return Err(StoreError::Transfer(format!("{} is not a file", backup.display())));
    }
    let options = SqliteConnectOptions::new().filename(backup).read_only(true);
    let not_a_backup =
        |why: String| StoreError::Transfer(format!("{} is not a robots backup: {why}", backup.display()));
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| not_a_backup(error.to_string()))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .map_err(|error| not_a_backup(error.to_string()))?;
    if integrity != "ok" {
        return Err(not_a_backup(format!("SQLite's integrity check says {integrity}")));
    }
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut connection)
        .await
        .map_err(|_| not_a_backup("it has no schema history".into()))?;
    connection.close().await?;
    let known = sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    match newest {
        Some(version) if version > known => Err(StoreError::Transfer(format!(
            "{} was made by a newer version of robots (schema {version}; this one knows up to {known})",
            backup.display()
        ))),
        Some(_) => Ok(()),
        None => Err(not_a_backup("it has no schema history".into())),
    }
}

/// SQL put together from [`TABLES`] and the column names of our own schema
/// (never from input), so nothing in it can be injected.
fn trusted(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

fn create_private(path: &Path) -> Result<(), StoreError> {
    crate::create_private_file(path)
        .map_err(|error| StoreError::Transfer(format!("cannot create {}: {error}", path.display())))
}

fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::rename(from, to)
        .map_err(|error| StoreError::Transfer(format!("cannot move {} to {}: {error}", from.display(), to.display())))
}
