//! A freshly minted token's Token, handed out once: written to a 0600 file
//! (`--output`) or shown on standard output. Creating a token, rotating one
//! and the federated exchange all mint one.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::client::CliError;
use super::output;
use super::{Context, session};

/// Refuses an existing `--output` file before a secret is minted that could not be stored.
pub(super) fn refuse_existing_file(output: Option<&Path>, force: bool) -> Result<(), CliError> {
    match output {
        Some(path) if path.exists() && !force => Err(CliError::Usage(format!(
            "{} exists: choose another --output file, or add --force to overwrite it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// `value` without any robot token in it (what may be printed when the Token went to a file).
fn without_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, item)| !item.as_str().is_some_and(|s| s.starts_with("rbt_")))
                .map(|(key, item)| (key.clone(), without_secrets(item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_secrets).collect()),
        other => other.clone(),
    }
}

/// A freshly minted token whose Token exists only in this answer.
pub(super) struct Minted<'a, T> {
    /// The API's whole answer, printed with `-o json|yaml`.
    pub answer: &'a T,
    /// The new token's Access ID…
    pub access_id: Uuid,
    /// …and its Token.
    pub token: &'a str,
    /// What happened, e.g. "Created token ci for deployer".
    pub done: String,
    /// What to do when the file cannot be written.
    pub recovery: String,
}

impl<T> std::fmt::Debug for Minted<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("access_id", &self.access_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// What `--output` writes: all a program needs to authenticate as the robot.
#[derive(Serialize)]
struct TokenFile<'a> {
    access_id: Uuid,
    token: &'a str,
}

/// What is printed when the Token went to a file: the answer without it, and the file.
#[derive(Serialize)]
struct WrittenToFile<'a> {
    #[serde(flatten)]
    answer: Value,
    file: &'a Path,
}

/// Writes the new token's `{"access_id", "token"}` to a 0600 file, or shows
/// its Token on standard output this once (with the warning on stderr).
pub(super) fn hand_out<T: Serialize>(
    context: &Context,
    minted: Minted<'_, T>,
    output: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let Minted {
        answer,
        access_id,
        token,
        done,
        recovery,
    } = minted;
    let local = |error: serde_json::Error| CliError::Local(error.to_string());
    match output {
        Some(path) => {
            let file = serde_json::to_vec_pretty(&TokenFile { access_id, token }).map_err(local)?;
            session::write_private(&path, &file, force).map_err(|error| {
                CliError::Local(format!(
                    "{done} (Access ID {access_id}) but {} could not be written: {error}; {recovery}",
                    path.display()
                ))
            })?;
            eprintln!("{done}; its Access ID and Token are in {} (mode 0600).", path.display());
            let shown = WrittenToFile {
                answer: without_secrets(&serde_json::to_value(answer).map_err(local)?),
                file: &path,
            };
            output::print(context.format, &shown, |_| format!("Access ID: {access_id}\n"));
        }
        None => {
            eprintln!("{done}. The Token is shown only this once and cannot be recovered: store it now.");
            output::print(context.format, answer, |_| {
                format!("Access ID: {access_id}\nToken:     {token}\n")
            });
        }
    }
    Ok(())
}
