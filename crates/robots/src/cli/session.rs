//! Sessions from the command line: logging in and out, who the session (or
//! `ROBOTS_TOKEN`) belongs to, and the saved login:
//! `$XDG_CONFIG_HOME/robots/session.json` (else
//! `~/.config/robots/session.json`), readable by its owner only.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use reqwest::Method;
use robots_api_types::{LoginRequest, SessionView, WhoAmI};
use serde::{Deserialize, Serialize};

use super::client::{CliError, Credential};
use super::output;
use super::{Context, prompt};

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

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your username [default: asked for].
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// Read the password from standard input instead of asking.
    #[arg(long)]
    password_stdin: bool,
    /// Read a personal access token (rpat_…) from standard input and save
    /// it instead of a session: for automation that must not hold a password.
    #[arg(long, conflicts_with_all = ["username", "password_stdin"])]
    token_stdin: bool,
}

fn read_line(what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| CliError::Local(format!("cannot read the {what}: {error}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Saves a personal access token as the login, once the server knows it.
async fn login_with_token(context: &Context) -> Result<(), CliError> {
    let token = read_line("token")?.trim().to_owned();
    if !token.starts_with("rpat_") {
        return Err(CliError::Usage(
            "--token-stdin takes a personal access token (rpat_…); robots send their token with each request instead"
                .into(),
        ));
    }
    let client = context.client.with_credential(Credential::Bearer(token.clone()));
    let me: WhoAmI = client.get("/v1/whoami").await?;
    let WhoAmI::User {
        user,
        session_expires_at,
        personal_token: Some(personal_token),
    } = me
    else {
        return Err(CliError::Usage("that is not a personal access token".into()));
    };
    let saved = SavedSession {
        server: context.client.server.clone(),
        username: user.username,
        token,
        expires_at: output::timestamp(session_expires_at),
    };
    let path = save(&saved)?;
    eprintln!(
        "Logged in to {} as {} with personal access token {} ({}; saved in {}, expires {}).",
        saved.server,
        saved.username,
        personal_token.name,
        personal_token.scopes.join(" "),
        path.display(),
        output::age(session_expires_at)
    );
    Ok(())
}

pub async fn login(context: &Context, args: LoginArgs) -> Result<(), CliError> {
    if args.token_stdin {
        return login_with_token(context).await;
    }
    let stdin = std::io::stdin();
    let username = match args.username {
        Some(username) => username,
        None if stdin.is_terminal() && !args.password_stdin => prompt("Username: ")?,
        None => {
            return Err(CliError::Usage(
                "--username is required when the password comes from standard input".into(),
            ));
        }
    };
    let password = if args.password_stdin {
        read_line("password")?
    } else if stdin.is_terminal() {
        rpassword::prompt_password("Password: ")
            .map_err(|error| CliError::Local(format!("cannot read the password: {error}")))?
    } else {
        return Err(CliError::Usage(
            "no terminal to ask for the password: use --password-stdin".into(),
        ));
    };
    let anonymous = context.client.with_credential(Credential::None);
    let body = LoginRequest { username, password };
    let session: SessionView = anonymous.send(Method::POST, "/v1/sessions", Some(&body)).await?;
    let saved = SavedSession {
        server: context.client.server.clone(),
        username: session.user.username,
        token: session.token.expose().to_owned(),
        expires_at: output::timestamp(session.expires_at),
    };
    let path = save(&saved)?;
    eprintln!(
        "Logged in to {} as {} (session saved in {}, expires {}).",
        saved.server,
        saved.username,
        path.display(),
        output::age(session.expires_at)
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// End every other session of yours instead (a lost laptop, a shared
    /// machine); this one stays logged in.
    #[arg(long)]
    others: bool,
}

pub async fn logout(context: &Context, args: LogoutArgs) -> Result<(), CliError> {
    if args.others {
        context.client.perform(Method::DELETE, "/v1/sessions").await?;
        eprintln!("Every other session of yours on {} has ended.", context.client.server);
        return Ok(());
    }
    if load().is_some_and(|saved| saved.token.starts_with("rpat_")) {
        forget()?;
        eprintln!(
            "Forgot the personal access token saved for {}. It still works until it expires or you revoke it \
             (robots pat revoke NAME, logged in).",
            context.client.server
        );
        return Ok(());
    }
    let result = context.client.perform(Method::DELETE, "/v1/sessions/current").await;
    forget()?;
    match result {
        // An expired session is as logged out as it gets.
        Ok(()) | Err(CliError::Api { .. } | CliError::Http { .. }) => {
            eprintln!("Logged out of {}.", context.client.server);
            Ok(())
        }
        Err(other) => Err(other),
    }
}

pub async fn whoami(context: &Context) -> Result<(), CliError> {
    let me: WhoAmI = context.client.get("/v1/whoami").await?;
    output::print(context.format, &me, |me| match me {
        WhoAmI::Robot {
            name,
            org,
            access_id,
            token_name,
            token_expires_at,
            ..
        } => output::details(&[
            ("Robot", output::text(name)),
            ("Organization", output::text(org)),
            ("Access ID", output::text(access_id)),
            ("Token", output::text(token_name)),
            ("Expires", output::age_or(*token_expires_at, "never")),
        ]),
        WhoAmI::User {
            user,
            session_expires_at,
            personal_token: None,
        } => output::details(&[
            ("User", output::text(&user.username)),
            ("E-mail", output::text(&user.email)),
            ("Instance admin", output::text(user.instance_admin)),
            ("Session expires", output::age(*session_expires_at)),
            ("Server", context.client.server.clone()),
        ]),
        WhoAmI::User {
            user,
            session_expires_at,
            personal_token: Some(token),
        } => output::details(&[
            ("User", output::text(&user.username)),
            ("Personal access token", output::text(&token.name)),
            ("Scopes", token.scopes.join(" ")),
            (
                "Organizations",
                token
                    .orgs
                    .as_ref()
                    .map_or_else(|| "all".to_owned(), |orgs| orgs.join(" ")),
            ),
            ("Expires", output::age(*session_expires_at)),
            ("Server", context.client.server.clone()),
        ]),
    });
    Ok(())
}
