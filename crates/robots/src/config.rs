//! Where the database is: shared by `serve` and `admin`.

use std::path::PathBuf;

use clap::Args;
use robots_store::Store;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory for the embedded SQLite database and other state
    /// [default: $XDG_DATA_HOME/robots, else ~/.local/share/robots].
    #[arg(long, env = "ROBOTS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use this database instead of the embedded one: postgres://user:password@host/db.
    #[arg(
        long,
        env = "ROBOTS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        conflicts_with = "database_url_file"
    )]
    pub database_url: Option<String>,

    /// Read the database URL from a file (keeps the password out of the process list).
    #[arg(long, env = "ROBOTS_DATABASE_URL_FILE", value_name = "FILE")]
    pub database_url_file: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The data directory: `--data-dir`, else `$XDG_DATA_HOME/robots`, else
    /// `~/.local/share/robots`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("robots")
    }

    fn database_url(&self) -> Result<Option<String>, BoxError> {
        if let Some(path) = &self.database_url_file {
            let url = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read --database-url-file {}: {error}", path.display()))?;
            return Ok(Some(url.trim().to_owned()));
        }
        Ok(self.database_url.clone())
    }

    /// The embedded database's directory, locked for as long as the lock
    /// lives: one server per directory, and no restore under a running
    /// server. `None` on an external database.
    pub fn lock_data_dir(&self) -> Result<Option<robots_store::DataDirLock>, BoxError> {
        if self.database_url()?.is_some() {
            return Ok(None);
        }
        let dir = self.data_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|error| format!("cannot create the data directory {}: {error}", dir.display()))?;
        Ok(Some(robots_store::DataDirLock::acquire(&dir)?))
    }

    /// Whether this names an external database (`--database-url`, `--database-url-file`).
    pub fn is_external(&self) -> Result<bool, BoxError> {
        Ok(self.database_url()?.is_some())
    }

    /// Opens the configured database and brings its schema up to date;
    /// returns it with a description for logs (never the URL's password).
    pub async fn open(&self) -> Result<(Store, String), BoxError> {
        match self.database_url()? {
            Some(url) => {
                let store = Store::open_url(&url)
                    .await
                    .map_err(|error| format!("cannot open the database: {error}"))?;
                Ok((store, redact_url(&url)))
            }
            None => {
                let dir = self.data_dir();
                let store = Store::open_data_dir(&dir)
                    .await
                    .map_err(|error| format!("cannot open the database in {}: {error}", dir.display()))?;
                Ok((store, format!("sqlite {}", dir.join("robots.db").display())))
            }
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://robots:s3cret@db:5432/robots"),
            "postgres://robots:***@db:5432/robots"
        );
        assert_eq!(super::redact_url("postgres://db/robots"), "postgres://db/robots");
    }
}
