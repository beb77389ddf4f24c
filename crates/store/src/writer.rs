//! SQLite's one writer: the connection every write transaction of the store
//! queues for, and write scripts that hand it a whole transaction at once.
//!
//! SQLite lets one connection write at a time. Write transactions wait their
//! turn here rather than in SQLite's busy handler, which sleeps and retries
//! on a blocking thread. The connection is a dedicated one because a SQLite
//! connection keeps its page cache only while no other connection writes:
//! with write transactions spread over the pool, each began by reading the
//! B-tree pages it was about to change from the file again (34 `pread`s per
//! token created, at a million tokens).
//!
//! sqlx runs a SQLite connection on a thread of its own and hands every
//! statement over and back, and the write lock is held across all of those
//! hand-offs. Creating a token as `BEGIN`, two `INSERT`s and `COMMIT` held it
//! about 350 µs, most of that waiting for the connection's thread and then
//! the caller's task to be scheduled (`BEGIN IMMEDIATE` alone: 70 µs). A
//! [`WriteScript`] sends the whole transaction as one command: one hand-off.

use std::fmt;

use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Arguments, Connection, Encode, Sqlite, Type};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

#[derive(Debug)]
pub(crate) struct SqliteWriter(Mutex<WriterState>);

#[derive(Debug)]
struct WriterState {
    /// `None` once the store is closed.
    connection: Option<SqliteConnection>,
    /// A script was handed over and its caller went away (its request was
    /// cancelled) before it learned how the script ended. The connection's
    /// thread stops a script whose caller is gone, possibly inside its
    /// transaction: the next writer rolls that back first.
    script_unfinished: bool,
}

impl SqliteWriter {
    pub(crate) fn new(connection: SqliteConnection) -> Self {
        Self(Mutex::new(WriterState {
            connection: Some(connection),
            script_unfinished: false,
        }))
    }

    /// The writer, once the transactions queued before it have ended.
    pub(crate) async fn lock(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>, sqlx::Error> {
        let mut state = self.0.lock().await;
        state.finish_unfinished().await?;
        MutexGuard::try_map(state, |state| state.connection.as_mut()).map_err(|_| sqlx::Error::PoolClosed)
    }

    /// Runs `script` as one transaction; the rows its statements return
    /// (`RETURNING`: SQLite's count of changed rows is the last statement's,
    /// which in a script is not the one that matters). On an error nothing
    /// of it is kept.
    pub(crate) async fn run(&self, script: WriteScript) -> Result<Vec<SqliteRow>, sqlx::Error> {
        let WriteScript { mut sql, arguments } = script;
        sql.push_str("COMMIT;");
        let arguments = arguments.map_err(sqlx::Error::Encode)?;
        let mut state = self.0.lock().await;
        state.finish_unfinished().await?;
        state.script_unfinished = true;
        let connection = state.connection.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        let ran = sqlx::query_with(sqlx::AssertSqlSafe(sql), arguments)
            .fetch_all(&mut *connection)
            .await;
        // A failed statement stops the script inside its transaction. Should
        // rolling back fail too, the next writer tries again.
        if ran.is_ok() || roll_back_if_open(connection).await.is_ok() {
            state.script_unfinished = false;
        }
        ran
    }

    /// Closes the connection; writes after this fail with
    /// [`sqlx::Error::PoolClosed`].
    pub(crate) async fn close(&self) {
        if let Some(connection) = self.0.lock().await.connection.take()
            && let Err(error) = connection.close().await
        {
            tracing::warn!(%error, "closing the database writer");
        }
    }
}

impl WriterState {
    async fn finish_unfinished(&mut self) -> Result<(), sqlx::Error> {
        if self.script_unfinished {
            let connection = self.connection.as_mut().ok_or(sqlx::Error::PoolClosed)?;
            roll_back_if_open(connection).await?;
            self.script_unfinished = false;
        }
        Ok(())
    }
}

/// Ends the connection's transaction, if one is open, keeping nothing of it.
async fn roll_back_if_open(connection: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    match sqlx::query("ROLLBACK").execute(connection).await {
        Ok(_) => Ok(()),
        // SQLite's answer when the script had ended (committed or not) before it stopped.
        Err(sqlx::Error::Database(error)) if error.message().contains("no transaction is active") => Ok(()),
        Err(error) => Err(error),
    }
}

/// A write transaction built to be handed to the [`SqliteWriter`] at once:
/// `BEGIN IMMEDIATE`, the statements, `COMMIT`. Values are bound as they
/// are added; statements refer to them by the [`Placeholder`] that
/// [`WriteScript::value`] returns, so numbering cannot drift from binding.
pub(crate) struct WriteScript {
    sql: String,
    arguments: Result<SqliteArguments, sqlx::error::BoxDynError>,
}

/// `$n`: the `n`th value bound to a script.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placeholder(usize);

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.0)
    }
}

impl WriteScript {
    pub(crate) fn new() -> Self {
        Self {
            sql: String::from("BEGIN IMMEDIATE;\n"),
            arguments: Ok(SqliteArguments::default()),
        }
    }

    /// Binds `value`; statements name it by the placeholder returned.
    pub(crate) fn value<'t, T: Encode<'t, Sqlite> + Type<Sqlite>>(&mut self, value: T) -> Placeholder {
        if let Ok(arguments) = &mut self.arguments {
            match arguments.add(value) {
                Ok(()) => return Placeholder(arguments.len()),
                Err(error) => self.arguments = Err(error),
            }
        }
        // The script fails with the encoding error when it runs.
        Placeholder(0)
    }

    /// Binds the next `$n`, like [`sqlx::query::Query::bind`]: for
    /// statements whose placeholders are numbered in their text.
    pub(crate) fn bind<'t, T: Encode<'t, Sqlite> + Type<Sqlite>>(mut self, value: T) -> Self {
        self.value(value);
        self
    }

    /// Adds one statement (without its `;`).
    pub(crate) fn statement(&mut self, sql: &str) {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
    }
}
