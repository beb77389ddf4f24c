//! People: changing one's own password, and deleting users (instance
//! administrators).

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};
use reqwest::Method;
use robots_api_types::ChangePasswordRequest;
use serde::de::IgnoredAny;

use super::client::CliError;
use super::{Context, confirm};

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the current and the new password from standard input, one a line,
    /// instead of asking.
    #[arg(long)]
    stdin: bool,
}

/// Changes the logged-in user's password; every other session of theirs
/// ends, this one goes on.
pub async fn change_password(context: &Context, args: PasswordArgs) -> Result<(), CliError> {
    let read_error = |error: std::io::Error| CliError::Local(format!("cannot read the password: {error}"));
    let (current, new) = if args.stdin {
        let mut lines = std::io::stdin().lock().lines();
        let mut next = || -> Result<String, CliError> {
            let line = lines
                .next()
                .ok_or_else(|| {
                    CliError::Usage("--stdin takes two lines: the current password, then the new one".into())
                })?
                .map_err(read_error)?;
            Ok(line.trim_end_matches('\r').to_owned())
        };
        (next()?, next()?)
    } else if std::io::stdin().is_terminal() {
        let current = rpassword::prompt_password("Current password: ").map_err(read_error)?;
        let new = rpassword::prompt_password("New password: ").map_err(read_error)?;
        let again = rpassword::prompt_password("New password, again: ").map_err(read_error)?;
        if new != again {
            return Err(CliError::Usage("the new passwords differ; nothing was changed".into()));
        }
        (current, new)
    } else {
        return Err(CliError::Usage(
            "no terminal to ask for the passwords: use --stdin".into(),
        ));
    };
    let body = ChangePasswordRequest {
        current_password: current,
        new_password: new,
    };
    let _: IgnoredAny = context.client.send(Method::PUT, "/v1/me/password", Some(&body)).await?;
    eprintln!("Password changed; every other session of yours has ended.");
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Delete a user: their sessions end and their memberships go (instance
    /// administrators; refused for an organization's only admin and for the
    /// last instance administrator).
    #[command(after_help = "Example:\n  robots users delete bob --yes")]
    Delete {
        username: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn users(context: &Context, command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Delete { username, yes } => {
            confirm(
                &format!("Delete user {username}? Their sessions end and they leave every organization."),
                yes,
            )?;
            context
                .client
                .perform(Method::DELETE, &format!("/v1/users/{username}"))
                .await?;
            eprintln!("Deleted user {username}.");
            Ok(())
        }
    }
}
