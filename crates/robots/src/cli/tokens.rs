//! Tokens from the command line: list, create, rotate, delete, what
//! expires soon, and reporting a leaked one.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{
    CreateTokenRequest, CreatedTokenView, ExpiringTokenView, LeakReport, List, Received, RotateRequest, RotatedView,
    TokenRole, TokenView,
};
use robots_core::credentials::CredentialFormat;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::{CliError, Credential, query, segment, with_flags};
use super::minted::{Minted, hand_out, refuse_existing_file};
use super::output::{self, age, age_or, optional, table, text, timestamp};
use super::{Context, confirm};

/// Where `tokens create --output` sends the new token: a credential format
/// printed on standard output, or a file.
#[derive(Debug, Clone)]
pub enum Destination {
    Format(CredentialFormat),
    File(PathBuf),
}

fn destination(value: &str) -> Result<Destination, String> {
    Ok(CredentialFormat::parse(value).map_or_else(|| Destination::File(PathBuf::from(value)), Destination::Format))
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List a robot's tokens (never their secrets), with their roles in rotations and when they expire.
    #[command(
        after_help = "Examples:\n  robots tokens list ci-deployer\n  robots tokens list ci-deployer --expiring-within 30d"
    )]
    List {
        /// The robot account's name.
        robot: String,
        /// Only tokens that expire within this long (e.g. 7d).
        #[arg(long, value_name = "DURATION")]
        expiring_within: Option<String>,
    },
    /// Create a token. Its Token is shown once and never again.
    #[command(
        after_help = "Examples:\n  robots tokens create ci-deployer --name github-actions --expires 90d\n  \
        robots tokens create ci-deployer --name gitlab --output gitlab-token.json\n  \
        robots tokens create ci-deployer --name cluster --expires 90d --output k8s-secret --namespace apps | kubectl apply -f -"
    )]
    Create {
        /// The robot account's name.
        robot: String,
        /// A name for the token, e.g. where it is used.
        #[arg(long)]
        name: String,
        /// When it stops working: a duration (30d, 12h), a time (2027-01-31T00:00:00Z), or never.
        #[arg(long, default_value = "never")]
        expires: String,
        /// dockerconfigjson, k8s-secret (a Kubernetes Secret manifest), auth-json (Podman) or env:
        /// print the credential in that form instead; anything else is a file to write
        /// {"access_id", "token"} to (mode 0600) instead of printing the Token (./env for a file named env).
        #[arg(long, value_name = "FORMAT|FILE", value_parser = destination)]
        output: Option<Destination>,
        /// Overwrite the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
        /// With a format: the registry host it names [default: the server's --registry-host].
        #[arg(long, value_name = "HOST", requires = "output")]
        registry: Option<String>,
        /// With k8s-secret: the Secret's name [default: the robot's name].
        #[arg(long, value_name = "NAME", requires = "output")]
        secret_name: Option<String>,
        /// With k8s-secret: the Secret's namespace [default: none: kubectl's current one].
        #[arg(long, value_name = "NAMESPACE", requires = "output")]
        namespace: Option<String>,
    },
    /// Rotate a token without downtime: a successor takes its name (its Token is shown once), and the old token keeps working for a grace period, then stops by itself.
    #[command(
        after_help = "Examples:\n  robots tokens rotate ci-deployer 5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42\n  \
        robots tokens rotate ci-deployer 5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42 --grace 1h --expires 90d --output token.json"
    )]
    Rotate {
        /// The robot account's name.
        robot: String,
        /// The Access ID of the token to replace.
        access_id: String,
        /// How long the old token keeps working (e.g. 24h, 7d; 0s stops it at once) [default: 24h].
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// When the successor stops working: a duration (30d), a time (2027-01-31T00:00:00Z), or never [default: as long as the old token lived, never if it had no expiry].
        #[arg(long)]
        expires: Option<String>,
        /// Write the successor's {"access_id", "token"} to this file (mode 0600) instead of printing the Token.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// As a robot allowed to (self_rotate), rotate the token you authenticate with (ROBOTS_TOKEN).
    #[command(
        name = "rotate-self",
        after_help = "Examples:\n  ROBOTS_TOKEN=\"$ROBOT_TOKEN\" robots tokens rotate-self --grace 1h --output token.json\n\n\
        An admin allows it with `robots update ROBOT --self-rotate`."
    )]
    RotateSelf {
        /// How long the old token keeps working (e.g. 24h, 7d; 0s stops it at once) [default: 24h].
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// When the successor stops working: a duration (30d), a time, or never [default: as long as the old token lived].
        #[arg(long)]
        expires: Option<String>,
        /// Write the successor's {"access_id", "token"} to this file (mode 0600) instead of printing the Token.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// List the tokens of the whole organization that expire soon, soonest first.
    #[command(after_help = "Examples:\n  robots tokens expiring\n  robots tokens expiring --within 30d -o json")]
    Expiring {
        /// How far ahead to look (e.g. 7d, 30d).
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        within: String,
    },
    /// Disable a token: refused until enabled again; nothing is deleted.
    #[command(after_help = "Example:\n  robots tokens disable ci-deployer 5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42")]
    Disable {
        /// The robot account's name.
        robot: String,
        /// The token's Access ID.
        access_id: String,
    },
    /// Enable a disabled token (by an admin, or for want of use): it works again.
    #[command(after_help = "Example:\n  robots tokens enable ci-deployer 5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42")]
    Enable {
        /// The robot account's name.
        robot: String,
        /// The token's Access ID.
        access_id: String,
    },
    /// Delete a token; it stops working at once.
    #[command(after_help = "Example:\n  robots tokens delete ci-deployer 5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42 --yes")]
    Delete {
        /// The robot account's name.
        robot: String,
        /// The token's Access ID.
        access_id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Report a leaked token, read from standard input (never an argument, which would land in shell history and process lists); a valid one is revoked at once. No login needed.
    #[command(
        after_help = "Examples:\n  robots tokens report-leaked --server https://robots.example.com < leaked.txt\n  \
        robots tokens report-leaked < gitlab-token.json   # a file written by --output works too\n  \
        robots tokens report-leaked                       # at a terminal: asks, without echoing"
    )]
    ReportLeaked,
}

pub(super) fn token_rows(tokens: &[TokenView]) -> String {
    table(
        &["name", "access id", "role", "created", "last used", "expires"],
        &tokens
            .iter()
            .map(|token| {
                vec![
                    text(&token.name),
                    text(token.access_id),
                    rotation_role(token.role).to_owned(),
                    age(token.created_at),
                    age_or(token.last_used_at, "never used"),
                    expiry(token),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// A token's part in a rotation: nothing for a current token.
fn rotation_role(role: TokenRole) -> &'static str {
    match role {
        TokenRole::RotatingOut => "rotating out",
        TokenRole::Successor => "successor",
        TokenRole::Current => "",
    }
}

/// "never", "in 3 months", "in 3 days (soon)" or "EXPIRED".
fn expiry(token: &TokenView) -> String {
    match token.expires_at {
        None => "never".to_owned(),
        Some(at) if token.expired || at <= OffsetDateTime::now_utc() => "EXPIRED".to_owned(),
        Some(at) if token.expiring_soon => format!("{} (soon)", age(at)),
        Some(at) => age(at),
    }
}

/// `--expires`: when a new token stops working.
#[derive(Debug)]
pub(super) enum Expiry {
    Never,
    /// A lifetime from the server's now, e.g. `30d`.
    In(String),
    /// A point in time.
    At(OffsetDateTime),
}

impl Expiry {
    /// `never`, an RFC 3339 time, or else a duration from now (which the
    /// server checks, as it checks everything else about an expiry).
    pub(super) fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.eq_ignore_ascii_case("never") {
            return Self::Never;
        }
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(at) => Self::At(at),
            // Sent as a duration, so the server's clock (the one an
            // organization's maximum lifetime is checked against) decides
            // when it ends.
            Err(_) => Self::In(text.to_owned()),
        }
    }

    /// A request's `expires_at` and `expires_in`: one of them is given.
    pub(super) fn fields(self) -> (Option<OffsetDateTime>, Option<String>) {
        match self {
            Self::Never => (None, Some("never".to_owned())),
            Self::In(lifetime) => (None, Some(lifetime)),
            Self::At(at) => (Some(at), None),
        }
    }
}

/// A refused token request in the command line's terms, and where an
/// expiry was refused by the organization's policy, where to read it.
fn policy_hint(error: CliError) -> CliError {
    let flags = [
        ("expires_at", "--expires"),
        ("expires_in", "--expires"),
        ("grace_period", "--grace"),
    ];
    match with_flags(error, &flags) {
        CliError::Api { status, code, message } if message.contains("this organization") => CliError::Api {
            status,
            code,
            message: format!("{message} (choose one with --expires; see `robots orgs policy`)"),
        },
        other => other,
    }
}

/// `POST …/tokens/{access_id}/disable` or `/enable`.
async fn set_disabled(context: &Context, robot: &str, access_id: &str, action: &str) -> Result<TokenView, CliError> {
    let path = format!(
        "{}/{}/tokens/{}/{action}",
        context.robots_path().await?,
        segment(robot),
        segment(access_id)
    );
    context.client.send(Method::POST, &path, None::<&()>).await
}

pub async fn tokens(context: &Context, command: TokensCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        TokensCommand::List { robot, expiring_within } => {
            let robots = context.robots_path().await?;
            let filter = query(&[("expiring_within", expiring_within.clone())]);
            let tokens: Vec<TokenView> = client
                .get_all(&format!("{robots}/{}/tokens{filter}", segment(&robot)))
                .await?;
            output::print(context.format, &tokens, |tokens| {
                match (&expiring_within, tokens.is_empty()) {
                    (Some(within), true) => format!("No token of {robot} expires within {within}.\n"),
                    (None, true) => format!(
                        "{robot} has no tokens yet. Create one with `robots tokens create {robot} --name NAME`.\n"
                    ),
                    (_, false) => token_rows(tokens),
                }
            });
        }
        TokensCommand::Create {
            robot,
            name,
            expires,
            output,
            force,
            registry,
            secret_name,
            namespace,
        } => {
            let (expires_at, expires_in) = Expiry::parse(&expires).fields();
            let (format, output) = match output {
                Some(Destination::Format(format)) => (Some(format), None),
                Some(Destination::File(path)) => (None, Some(path)),
                None => (None, None),
            };
            // Refuse before minting a secret we could not store.
            refuse_existing_file(output.as_deref(), force)?;
            let robots = context.robots_path().await?;
            let body = CreateTokenRequest {
                name,
                expires_at,
                expires_in,
                format: format.map(|format| format.as_str().to_owned()),
                registry,
                secret_name,
                namespace,
            };
            let created: CreatedTokenView = client
                .send(
                    Method::POST,
                    &format!("{robots}/{}/tokens", segment(&robot)),
                    Some(&body),
                )
                .await
                .map_err(policy_hint)?;
            if let Some(credential) = &created.credential {
                eprintln!(
                    "Created token {} for {robot} (Access ID {}). Its credential ({}) is shown only this once: store it now.",
                    body.name, created.access_id, credential.format
                );
                print!("{}", credential.content);
                return Ok(());
            }
            let minted = Minted {
                answer: &created,
                access_id: created.access_id,
                token: created.token.expose(),
                done: format!("Created token {} for {robot}", body.name),
                recovery: format!("delete it with `robots tokens delete {robot} {}`", created.access_id),
            };
            hand_out(context, minted, output, force)?;
        }
        TokensCommand::Rotate {
            robot,
            access_id,
            grace,
            expires,
            output,
            force,
        } => {
            let (expires_at, expires_in) = expires
                .as_deref()
                .map(Expiry::parse)
                .map_or((None, None), Expiry::fields);
            // Refuse before minting a secret we could not store.
            refuse_existing_file(output.as_deref(), force)?;
            let path = format!(
                "{}/{}/tokens/{}",
                context.robots_path().await?,
                segment(&robot),
                segment(&access_id)
            );
            let body = RotateRequest {
                grace_period: grace,
                expires_at,
                expires_in,
                ..RotateRequest::default()
            };
            let rotated: RotatedView = client
                .send(Method::POST, &format!("{path}/rotate"), Some(&body))
                .await
                .map_err(policy_hint)?;
            let successor = &rotated.successor;
            let minted = Minted {
                answer: &rotated,
                access_id: successor.access_id,
                token: successor.token.expose(),
                done: format!("Rotated token {} of {robot}", successor.name),
                recovery: format!(
                    "the old token still works until its grace period ends: delete the successor \
                     (`robots tokens delete {robot} {}`) and create a new token",
                    successor.access_id
                ),
            };
            hand_out(context, minted, output, force)?;
            let ends = rotated.rotating_out.expires_at;
            eprintln!(
                "The old token ({access_id}) keeps working until {} ({}), then stops by itself; \
                 delete it sooner with `robots tokens delete {robot} {access_id}`.",
                optional(ends.map(timestamp)),
                age_or(ends, "never")
            );
        }
        TokensCommand::RotateSelf {
            grace,
            expires,
            output,
            force,
        } => {
            let (expires_at, expires_in) = expires
                .as_deref()
                .map(Expiry::parse)
                .map_or((None, None), Expiry::fields);
            refuse_existing_file(output.as_deref(), force)?;
            let body = RotateRequest {
                grace_period: grace,
                expires_at,
                expires_in,
                ..RotateRequest::default()
            };
            let rotated: RotatedView = client
                .send(Method::POST, "/v1/robot/tokens/current/rotate", Some(&body))
                .await
                .map_err(policy_hint)?;
            let successor = &rotated.successor;
            let minted = Minted {
                answer: &rotated,
                access_id: successor.access_id,
                token: successor.token.expose(),
                done: format!("Rotated token {}", successor.name),
                recovery: "the old token still works until its grace period ends: rotate again with it".to_owned(),
            };
            hand_out(context, minted, output, force)?;
            let ends = rotated.rotating_out.expires_at;
            eprintln!(
                "The old token ({}) keeps working until {} ({}), then stops by itself.",
                rotated.rotating_out.access_id,
                optional(ends.map(timestamp)),
                age_or(ends, "never")
            );
        }
        TokensCommand::Expiring { within } => {
            let org = context.org().await?;
            let filter = query(&[("expiring_within", Some(within.clone()))]);
            let found: List<ExpiringTokenView> = client
                .get(&format!("/v1/orgs/{}/tokens{filter}", segment(&org)))
                .await?;
            output::print(context.format, &found.items, |items| {
                if items.is_empty() {
                    return format!("No token of {org} expires within {within}.\n");
                }
                table(
                    &["robot", "name", "access id", "expires", "last used"],
                    &items
                        .iter()
                        .map(|ExpiringTokenView { robot, token }| {
                            vec![
                                text(robot),
                                text(&token.name),
                                text(token.access_id),
                                expiry(token),
                                age_or(token.last_used_at, "never used"),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
        TokensCommand::Delete { robot, access_id, yes } => {
            let path = format!(
                "{}/{}/tokens/{}",
                context.robots_path().await?,
                segment(&robot),
                segment(&access_id)
            );
            let token: TokenView = client.get(&path).await?;
            confirm(
                &format!(
                    "Delete token {} of {robot}? Every system using Access ID {access_id} stops authenticating at once.",
                    token.name
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Deleted token {} of {robot}.", token.name);
        }
        TokensCommand::Disable { robot, access_id } => {
            let token = set_disabled(context, &robot, &access_id, "disable").await?;
            eprintln!(
                "Token {} of {robot} is disabled: it is refused until enabled again.",
                token.name
            );
        }
        TokensCommand::Enable { robot, access_id } => {
            let token = set_disabled(context, &robot, &access_id, "enable").await?;
            eprintln!("Token {} of {robot} works again.", token.name);
        }
        TokensCommand::ReportLeaked => {
            let token = read_leaked_token()?;
            // Anyone may report: no credential is sent, logged in or not.
            let answer: Received = client
                .with_credential(Credential::None)
                .send(Method::POST, "/v1/tokens/revoke", Some(&LeakReport { token }))
                .await?;
            eprintln!("Reported; if the token was valid it is revoked now.");
            if context.format != output::Format::Table {
                output::print(context.format, &answer, |_| String::new());
            }
        }
    }
    Ok(())
}

/// The leaked token from standard input: asked for without echo at a
/// terminal, else read whole (a bare token, or a file `--output` wrote).
fn read_leaked_token() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let input = if stdin.is_terminal() {
        rpassword::prompt_password("Leaked token (not shown): ")
            .map_err(|error| CliError::Local(format!("cannot read the token: {error}")))?
    } else {
        let mut input = String::new();
        stdin
            .lock()
            .read_to_string(&mut input)
            .map_err(|error| CliError::Local(format!("cannot read the token from standard input: {error}")))?;
        input
    };
    let input = input.trim();
    let token = match serde_json::from_str::<Value>(input) {
        Ok(Value::Object(map)) => map.get("token").and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => input.to_owned(),
    };
    if token.is_empty() {
        return Err(CliError::Usage(
            "no token on standard input: pipe it in, e.g. `robots tokens report-leaked < leaked.txt`".into(),
        ));
    }
    if !token.starts_with("rbt_") || token.contains(char::is_whitespace) {
        return Err(CliError::Usage(
            "standard input does not hold one robot token (they start with rbt_); nothing was reported".into(),
        ));
    }
    Ok(token)
}
