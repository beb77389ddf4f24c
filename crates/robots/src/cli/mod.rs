//! The command line over the REST API. Everything here is a request a
//! script could make with curl; nothing touches the database.

mod audit;
pub mod client;
pub mod docs;
mod federation;
mod instance;
mod keys;
mod members;
mod minted;
mod orgs;
pub mod output;
mod pat;
mod repositories;
mod robots;
mod session;
mod teams;
mod tokens;
mod users;
mod webhooks;

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use robots_api_types::OrgView;

pub use client::CliError;
use client::{Client, Credential, segment};
pub use members::MembersCommand;
pub use orgs::OrgsCommand;
use output::Format;
pub use tokens::TokensCommand;

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
    /// Log in and save the session (or a personal access token) for later commands.
    #[command(after_help = "Examples:\n  robots login --server https://robots.example.com\n  \
        echo \"$PASSWORD\" | robots login --username alice --password-stdin\n  \
        echo \"$ROBOTS_PAT\" | robots login --token-stdin --server https://robots.example.com")]
    Login(session::LoginArgs),
    /// End the saved session (or, with --others, every other session of yours).
    #[command(after_help = "Examples:\n  robots logout\n  robots logout --others")]
    Logout(session::LogoutArgs),
    /// Change your password; every other session of yours ends.
    #[command(after_help = "Examples:\n  robots password\n  \
        printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | robots password --stdin")]
    Password(users::PasswordArgs),
    /// Users of this installation (instance administrators).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// This installation's own settings: the token policy under every organization's.
    #[command(subcommand)]
    Instance(instance::InstanceCommand),
    /// Personal access tokens: credentials for automation acting as you, within scopes.
    #[command(subcommand)]
    Pat(pat::PatCommand),
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
    Create(robots::CreateRobotArgs),
    /// Show a robot account: its tokens, teams and permissions.
    #[command(after_help = "Example:\n  robots get ci-deployer -o yaml")]
    Get(robots::RobotArg),
    /// Rename a robot account or change its description.
    #[command(
        after_help = "Example:\n  robots update ci-deployer --name deployer --description \"Deploys to production\""
    )]
    Update(robots::UpdateRobotArgs),
    /// Delete a robot account and its tokens.
    #[command(after_help = "Example:\n  robots delete ci-deployer --yes")]
    Delete(robots::DeleteArgs),
    /// Disable a robot account: its tokens are refused until it is enabled again; nothing is deleted.
    #[command(after_help = "Example:\n  robots disable ci-deployer --yes")]
    Disable(robots::DisableArgs),
    /// Enable a disabled robot account: its tokens work again.
    #[command(after_help = "Example:\n  robots enable ci-deployer")]
    Enable(robots::RobotArg),
    /// Tokens: list, create, rotate, delete, what expires soon, and reporting a leaked one.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Teams: who they hold, and what they grant on repositories.
    #[command(subcommand)]
    Teams(teams::TeamsCommand),
    /// Repositories: what robots push to and pull from, and who reaches each.
    #[command(subcommand)]
    Repos(repositories::ReposCommand),
    /// Keyless robots: which CI jobs may trade their OIDC ID token for a short-lived token of a robot, and the exchange itself.
    #[command(subcommand)]
    Federated(federation::FederatedCommand),
    /// The keys that sign registry tokens and access tokens.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The audit log: who changed what, when, from where (organization admins; --instance: instance admins).
    #[command(after_help = "Examples:\n  robots audit --since 24h\n  \
        robots audit --action token. --actor alice --limit 200\n  \
        robots audit --since 30d --jsonl > audit.jsonl")]
    Audit(audit::AuditArgs),
    /// Webhooks: where the organization's token events are sent (admins).
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
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
            | ApiCommand::Keys(keys::KeysCommand::Certificate)
            | ApiCommand::Tokens(TokensCommand::ReportLeaked)
            | ApiCommand::Federated(federation::FederatedCommand::Exchange(_))
    );
    if matches!(credential, Credential::None) && !public {
        return Err(CliError::NotLoggedIn(format!(
            "not logged in to {server}: run `robots login --server {server}` (or set ROBOTS_TOKEN)"
        )));
    }
    match command {
        ApiCommand::Login(args) => session::login(&context, args).await,
        ApiCommand::Logout(args) => session::logout(&context, args).await,
        ApiCommand::Password(args) => users::change_password(&context, args).await,
        ApiCommand::Users(command) => users::users(&context, command).await,
        ApiCommand::Instance(command) => instance::instance(&context, command).await,
        ApiCommand::Whoami => session::whoami(&context).await,
        ApiCommand::Pat(command) => pat::pat(&context, command).await,
        ApiCommand::Orgs(command) => orgs::orgs(&context, command).await,
        ApiCommand::Members(command) => members::members(&context, command).await,
        ApiCommand::List => robots::list_robots(&context).await,
        ApiCommand::Create(args) => robots::create_robot(&context, args).await,
        ApiCommand::Get(args) => robots::get_robot(&context, args).await,
        ApiCommand::Update(args) => robots::update_robot(&context, args).await,
        ApiCommand::Delete(args) => robots::delete_robot(&context, args).await,
        ApiCommand::Disable(args) => robots::disable_robot(&context, args).await,
        ApiCommand::Enable(args) => robots::enable_robot(&context, args).await,
        ApiCommand::Tokens(command) => tokens::tokens(&context, command).await,
        ApiCommand::Teams(command) => teams::teams(&context, command).await,
        ApiCommand::Repos(command) => repositories::repos(&context, command).await,
        ApiCommand::Federated(command) => federation::federated(&context, command).await,
        ApiCommand::Keys(command) => keys::keys(&context, command).await,
        ApiCommand::Audit(args) => audit::audit(&context, args).await,
        ApiCommand::Webhooks(command) => webhooks::webhooks(&context, command).await,
    }
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
