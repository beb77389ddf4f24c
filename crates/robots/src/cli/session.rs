//! The saved login: `$XDG_CONFIG_HOME/robots/session.json` (else
//! `~/.config/robots/session.json`), readable by its owner only.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::client::CliError;

#[derive(Serialize, Deserialize)]
pub struct SavedSession {
    pub server: String,
    pub username: String,
    pub token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSession")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub fn config_dir() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("robots")
}

pub fn session_path() -> PathBuf {
    config_dir().join("session.json")
}

pub fn load() -> Option<SavedSession> {
    let text = std::fs::read_to_string(session_path()).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(session: &SavedSession) -> Result<PathBuf, CliError> {
    let dir = config_dir();
    let local =
        |error: std::io::Error| CliError::Local(format!("cannot save the session in {}: {error}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(local)?;
    let path = session_path();
    let json = serde_json::to_vec_pretty(session).map_err(|error| CliError::Local(error.to_string()))?;
    write_private(&path, &json, true).map_err(local)?;
    Ok(path)
}

pub fn forget() -> Result<(), CliError> {
    match std::fs::remove_file(session_path()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(CliError::Local(format!(
            "cannot remove {}: {error}",
            session_path().display()
        ))),
    }
}

/// Writes `bytes` to a file only its owner can read (mode 0600 from the
/// moment it exists). Without `overwrite`, an existing file is an error.
pub fn write_private(path: &std::path::Path, bytes: &[u8], overwrite: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its old mode when truncated: tighten it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}
