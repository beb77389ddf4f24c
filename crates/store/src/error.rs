//! The store's one error type. Constraint violations become domain errors
//! the API can explain; everything else is an internal error whose details
//! are logged by the caller and never shown to clients.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that name is already taken")]
    NameTaken,
    #[error("that e-mail address is already in use")]
    EmailTaken,
    #[error("an organization must keep at least one admin")]
    LastAdmin,
    #[error("the user is the only admin of {}", .0.join(", "))]
    SoleAdminOf(Vec<String>),
    #[error("the installation must keep an instance administrator")]
    LastInstanceAdmin,
    #[error("no user with that name")]
    UserNotFound,
    #[error("no robot account with that name in the organization")]
    RobotNotFound,
    #[error("no team with that name in the organization")]
    TeamNotFound,
    #[error("the user is not a member of the organization")]
    NotAnOrgMember,
    #[error("at most {limit} {what}")]
    LimitReached { what: &'static str, limit: u32 },
    #[error("the token was rotated already")]
    TokenAlreadyRotated,
    #[error("the setup code is not valid")]
    InvalidSetupCode,
    #[error("setup is already complete")]
    SetupComplete,
    #[error("database URLs must start with postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl,
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    /// A backup, restore or copy refused, saying why.
    #[error("{0}")]
    Transfer(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database could not be reached or cannot take writes
    /// just now (a connection refused, lost or timed out, a server shutting
    /// down, a full disk): the same request may well succeed later.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(error) = self else { return false };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(database) => database.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// SQLSTATE classes 08 (connection exception), 53 (insufficient resources)
/// and 57P (operator intervention: shutdown); SQLite's busy, locked, I/O
/// error, full, cannot open and read-only (primary codes, the low byte).
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") {
        return true;
    }
    code.parse::<i32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// If `error` is a unique-constraint violation, the text that names the
/// constraint: the constraint's name on PostgreSQL (`users_email_key`), the
/// message on SQLite (`UNIQUE constraint failed: users.email`).
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<String> {
    let database_error = error.as_database_error()?;
    if !database_error.is_unique_violation() {
        return None;
    }
    Some(
        database_error
            .constraint()
            .map(str::to_owned)
            .unwrap_or_else(|| database_error.message().to_owned()),
    )
}

/// Maps a unique violation on a name column to [`StoreError::NameTaken`]
/// (and on `email` to [`StoreError::EmailTaken`]); passes other errors on.
pub(crate) fn name_conflict(error: sqlx::Error) -> StoreError {
    match unique_violation(&error) {
        Some(constraint) if constraint.contains("email") => StoreError::EmailTaken,
        Some(_) => StoreError::NameTaken,
        None => StoreError::Database(error),
    }
}
