//! The command line over the REST API. Everything here is a request a
//! script could make with curl; nothing touches the database.

mod access;
mod audit;
pub mod client;
mod commands;
pub mod docs;
mod federation;
pub mod output;
mod session;

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use reqwest::Method;
use robots_api_types::{LoginRequest, OrgView, SessionView, WhoAmI};

pub use client::CliError;
use client::{Client, Credential, segment};
pub use commands::{MembersCommand, OrgsCommand, TokensCommand};
use output::Format;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Options every API command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The server's URL [default: the one you logged in to, else http://127.0.0.1:8080].
    #[arg(long, env = "ROBOTS_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,

    /// The organization to work in [default: the only one you belong to].
    #[arg(long, env = "ROBOTS_ORG", global = true, value_name = "ORG")]
    pub org: Option<String>,

    /// Output format of reads.
    #[arg(short = 'o', long = "output-format", global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The commands that talk to a server.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Log in and save the session for later commands.
    #[command(after_help = "Examples:\n  robots login --server https://robots.example.com\n  \
        echo \"$PASSWORD\" | robots login --username alice --password-stdin")]
    Login(LoginArgs),
    /// End the saved session.
    Logout,
    /// Show who the saved session (or ROBOTS_TOKEN) belongs to.
    #[command(after_help = "Example:\n  robots whoami -o json")]
    Whoami,
    /// Organizations: list, create, show, delete, and their token policy.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Members of an organization and their roles.
    #[command(subcommand)]
    Members(MembersCommand),
    /// List the organization's robot accounts.
    #[command(after_help = "Example:\n  robots list --org acme")]
    List,
    /// Create a robot account.
    #[command(after_help = "Example:\n  robots create ci-deployer --description \"Pushes images from CI\"")]
    Create(commands::CreateRobotArgs),
    /// Show a robot account: its tokens, teams and permissions.
    #[command(after_help = "Example:\n  robots get ci-deployer -o yaml")]
    Get(commands::RobotArg),
    /// Rename a robot account or change its description.
    #[command(
        after_help = "Example:\n  robots update ci-deployer --name deployer --description \"Deploys to production\""
    )]
    Update(commands::UpdateRobotArgs),
    /// Delete a robot account and its tokens.
    #[command(after_help = "Example:\n  robots delete ci-deployer --yes")]
    Delete(commands::DeleteArgs),
    /// Disable a robot account: its tokens are refused until it is enabled again; nothing is deleted.
    #[command(after_help = "Example:\n  robots disable ci-deployer --yes")]
    Disable(commands::DisableArgs),
    /// Enable a disabled robot account: its tokens work again.
    #[command(after_help = "Example:\n  robots enable ci-deployer")]
    Enable(commands::RobotArg),
    /// Tokens: list, create, rotate, delete, what expires soon, and reporting a leaked one.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Teams: who they hold, and what they grant on repositories.
    #[command(subcommand)]
    Teams(access::TeamsCommand),
    /// Repositories: what robots push to and pull from, and who reaches each.
    #[command(subcommand)]
    Repos(access::ReposCommand),
    /// Keyless robots: which CI jobs may trade their OIDC ID token for a short-lived token of a robot, and the exchange itself.
    #[command(subcommand)]
    Federated(federation::FederatedCommand),
    /// The keys that sign registry tokens and access tokens.
    #[command(subcommand)]
    Keys(commands::KeysCommand),
    /// The audit log: who changed what, when, from where (organization admins; --instance: instance admins).
    #[command(after_help = "Examples:\n  robots audit --since 24h\n  \
        robots audit --action token. --actor alice --limit 200\n  \
        robots audit --since 30d --jsonl > audit.jsonl")]
    Audit(audit::AuditArgs),
    /// Webhooks: where the organization's token events are sent (admins).
    #[command(subcommand)]
    Webhooks(audit::WebhooksCommand),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your username [default: asked for].
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// Read the password from standard input instead of asking.
    #[arg(long)]
    password_stdin: bool,
}

/// What every command works with: the client, the output format, and the
/// options to resolve an organization.
pub struct Context {
    pub client: Client,
    pub format: Format,
    pub global: GlobalArgs,
}

impl Context {
    /// The organization: `--org`/`ROBOTS_ORG`, else the only one the user belongs to.
    pub async fn org(&self) -> Result<String, CliError> {
        if let Some(org) = &self.global.org {
            return Ok(org.clone());
        }
        let orgs: Vec<OrgView> = self.client.get_all("/v1/orgs").await?;
        match orgs.as_slice() {
            [only] => Ok(only.name.clone()),
            [] => Err(CliError::Usage(
                "you belong to no organization: create one with `robots orgs create NAME` \
                 (only organizations can have robot accounts)"
                    .into(),
            )),
            several => Err(CliError::Usage(format!(
                "you belong to several organizations ({}): choose one with --org or ROBOTS_ORG",
                several
                    .iter()
                    .map(|org| org.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    pub async fn robots_path(&self) -> Result<String, CliError> {
        Ok(format!("/v1/orgs/{}/robots", segment(&self.org().await?)))
    }
}

/// Runs an API command; returns the exit code.
pub async fn run(command: ApiCommand, global: GlobalArgs) -> Result<(), CliError> {
    let saved = session::load();
    let server = global
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let credential = match std::env::var("ROBOTS_TOKEN") {
        Ok(token) if !token.is_empty() => Credential::Bearer(token),
        _ => match &saved {
            Some(saved) if saved.server.trim_end_matches('/') == server.trim_end_matches('/') => {
                Credential::Bearer(saved.token.clone())
            }
            _ => Credential::None,
        },
    };
    let context = Context {
        client: Client::new(&server, credential.clone())?,
        format: global.format,
        global,
    };
    let public = matches!(
        command,
        ApiCommand::Login(_)
            | ApiCommand::Keys(commands::KeysCommand::Certificate)
            | ApiCommand::Tokens(TokensCommand::ReportLeaked)
            | ApiCommand::Federated(federation::FederatedCommand::Exchange(_))
    );
    if matches!(credential, Credential::None) && !public {
        return Err(CliError::NotLoggedIn(format!(
            "not logged in to {server}: run `robots login --server {server}` (or set ROBOTS_TOKEN)"
        )));
    }
    match command {
        ApiCommand::Login(args) => login(&context, args).await,
        ApiCommand::Logout => logout(&context).await,
        ApiCommand::Whoami => whoami(&context).await,
        ApiCommand::Orgs(command) => commands::orgs(&context, command).await,
        ApiCommand::Members(command) => commands::members(&context, command).await,
        ApiCommand::List => commands::list_robots(&context).await,
        ApiCommand::Create(args) => commands::create_robot(&context, args).await,
        ApiCommand::Get(args) => commands::get_robot(&context, args).await,
        ApiCommand::Update(args) => commands::update_robot(&context, args).await,
        ApiCommand::Delete(args) => commands::delete_robot(&context, args).await,
        ApiCommand::Disable(args) => commands::disable_robot(&context, args).await,
        ApiCommand::Enable(args) => commands::enable_robot(&context, args).await,
        ApiCommand::Tokens(command) => commands::tokens(&context, command).await,
        ApiCommand::Teams(command) => access::teams(&context, command).await,
        ApiCommand::Repos(command) => access::repos(&context, command).await,
        ApiCommand::Federated(command) => federation::federated(&context, command).await,
        ApiCommand::Keys(command) => commands::keys(&context, command).await,
        ApiCommand::Audit(args) => audit::audit(&context, args).await,
        ApiCommand::Webhooks(command) => audit::webhooks(&context, command).await,
    }
}

async fn login(context: &Context, args: LoginArgs) -> Result<(), CliError> {
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
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|error| CliError::Local(format!("cannot read the password: {error}")))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
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
    let saved = session::SavedSession {
        server: context.client.server.clone(),
        username: session.user.username,
        token: session.token.expose().to_owned(),
        expires_at: output::timestamp(session.expires_at),
    };
    let path = session::save(&saved)?;
    eprintln!(
        "Logged in to {} as {} (session saved in {}, expires {}).",
        saved.server,
        saved.username,
        path.display(),
        output::age(session.expires_at)
    );
    Ok(())
}

async fn logout(context: &Context) -> Result<(), CliError> {
    let result = context.client.perform(Method::DELETE, "/v1/sessions/current").await;
    session::forget()?;
    match result {
        // An expired session is as logged out as it gets.
        Ok(()) | Err(CliError::Api { .. } | CliError::Http { .. }) => {
            eprintln!("Logged out of {}.", context.client.server);
            Ok(())
        }
        Err(other) => Err(other),
    }
}

async fn whoami(context: &Context) -> Result<(), CliError> {
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
        } => output::details(&[
            ("User", output::text(&user.username)),
            ("E-mail", output::text(&user.email)),
            ("Instance admin", output::text(user.instance_admin)),
            ("Session expires", output::age(*session_expires_at)),
            ("Server", context.client.server.clone()),
        ]),
    });
    Ok(())
}

/// Asks on the terminal; errors when there is none.
fn prompt(question: &str) -> Result<String, CliError> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| CliError::Local(format!("cannot read from the terminal: {error}")))?;
    Ok(line.trim().to_owned())
}

/// Asks before a deletion, naming what stops working. `--yes` skips the
/// question; without a terminal and without `--yes`, refuses rather than hang.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "{question}\nrefusing without confirmation: no terminal to ask; pass --yes"
        )));
    }
    let answer = prompt(&format!("{question} [y/N] "))?;
    if matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Usage("cancelled; nothing was deleted".into()))
    }
}
