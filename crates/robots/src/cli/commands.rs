//! Organizations, members, robots and tokens.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::{CliError, Credential, query, segment};
use super::output::{self, age, details, table, text};
use super::{Context, confirm, field, session};

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// List the organizations you belong to.
    #[command(after_help = "Example:\n  robots orgs list -o json | jq -r '.[].name'")]
    List,
    /// Create an organization; you become its admin.
    #[command(after_help = "Example:\n  robots orgs create acme --display-name \"Acme Inc.\"")]
    Create {
        /// Lowercase letters, digits and hyphens.
        name: String,
        /// A human-friendly name.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show an organization.
    #[command(after_help = "Example:\n  robots orgs get acme")]
    Get { name: String },
    /// Delete an organization with all its robot accounts and tokens.
    #[command(after_help = "Example:\n  robots orgs delete acme --yes")]
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Show the organization's token policy, or change it (admins): how long new tokens may live.
    #[command(after_help = "Examples:\n  robots orgs policy acme\n  \
        robots orgs policy acme --max-lifetime 90d --require-expiry\n  \
        robots orgs policy --max-lifetime none --no-require-expiry")]
    Policy {
        /// The organization [default: --org, else the only one you belong to].
        org: Option<String>,
        /// The longest a new token may live (e.g. 90d), or none for no limit.
        #[arg(long, value_name = "DURATION|none")]
        max_lifetime: Option<String>,
        /// Every new token must have an expiry.
        #[arg(long, conflicts_with = "no_require_expiry")]
        require_expiry: bool,
        /// New tokens may be created without an expiry (unless there is a maximum lifetime).
        #[arg(long)]
        no_require_expiry: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Manages robots, tokens and members.
    Admin,
    /// Sees robots and tokens.
    Member,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List the organization's members.
    #[command(after_help = "Example:\n  robots members list --org acme")]
    List,
    /// Add a user to the organization, or change their role.
    #[command(after_help = "Example:\n  robots members set bob --role admin")]
    Set {
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Remove a user from the organization.
    #[command(after_help = "Example:\n  robots members remove bob --yes")]
    Remove {
        username: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateRobotArgs {
    /// Lowercase letters, digits and hyphens, e.g. ci-deployer.
    name: String,
    /// What the robot is for.
    #[arg(long)]
    description: Option<String>,
}

#[derive(Debug, Args)]
pub struct RobotArg {
    /// The robot account's name.
    name: String,
}

#[derive(Debug, Args)]
pub struct UpdateRobotArgs {
    /// The robot account's current name.
    name: String,
    /// A new name; its tokens keep working.
    #[arg(long = "name", id = "new_name", value_name = "NEW_NAME")]
    new_name: Option<String>,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The robot account's name.
    name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug, Args)]
pub struct DisableArgs {
    /// The robot account's name.
    name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
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
        robots tokens create ci-deployer --name gitlab --output gitlab-token.json"
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
        /// Write {"access_id", "token"} to this file (mode 0600) instead of printing the Token.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
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
    /// List the tokens of the whole organization that expire soon, soonest first.
    #[command(after_help = "Examples:\n  robots tokens expiring\n  robots tokens expiring --within 30d -o json")]
    Expiring {
        /// How far ahead to look (e.g. 7d, 30d).
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        within: String,
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

fn org_rows(orgs: &[Value]) -> String {
    table(
        &["name", "display name", "role", "created"],
        &orgs
            .iter()
            .map(|org| {
                vec![
                    text(org, "name"),
                    text(org, "display_name"),
                    text(org, "role"),
                    age(org, "created_at", "-"),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

pub async fn orgs(context: &Context, command: OrgsCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        OrgsCommand::List => {
            let orgs = Value::Array(client.get_all("/v1/orgs").await?);
            output::print(context.format, &orgs, |orgs| {
                org_rows(orgs.as_array().map(Vec::as_slice).unwrap_or_default())
            });
        }
        OrgsCommand::Create { name, display_name } => {
            let body = json!({"name": name, "display_name": display_name});
            let org = client.send(Method::POST, "/v1/orgs", Some(&body)).await?;
            eprintln!("Created organization {}; you are its admin.", field(&org, "name"));
            output::print(context.format, &org, |org| org_rows(std::slice::from_ref(org)));
        }
        OrgsCommand::Get { name } => {
            let org = client.get(&format!("/v1/orgs/{}", segment(&name))).await?;
            output::print(context.format, &org, |org| {
                details(&[
                    ("Name", text(org, "name")),
                    ("Display name", text(org, "display_name")),
                    ("Your role", text(org, "role")),
                    ("Created", age(org, "created_at", "-")),
                    ("Token policy", policy_summary(&org["token_policy"])),
                ])
            });
        }
        OrgsCommand::Delete { name, yes } => {
            let path = format!("/v1/orgs/{}", segment(&name));
            let robots = client
                .get_all(&format!("{path}/robots"))
                .await
                .map(|r| r.len())
                .unwrap_or(0);
            confirm(
                &format!(
                    "Delete organization {name}? Its {robots} robot account(s) and all their tokens are deleted, \
                     and every system using them stops authenticating."
                ),
                yes,
            )?;
            client.send(Method::DELETE, &path, None).await?;
            eprintln!("Deleted organization {name}.");
        }
        OrgsCommand::Policy {
            org,
            max_lifetime,
            require_expiry,
            no_require_expiry,
        } => {
            let org = match org {
                Some(org) => org,
                None => context.org().await?,
            };
            token_policy(context, &org, max_lifetime, require_expiry, no_require_expiry).await?;
        }
    }
    Ok(())
}

/// A token policy in a few words: "tokens live at most 90d; expiry required".
fn policy_summary(policy: &Value) -> String {
    let lifetime = match policy["max_lifetime"].as_str() {
        Some(max) => format!("tokens live at most {max}"),
        None => "no maximum lifetime".to_owned(),
    };
    let required = if policy["expiry_required"] == true {
        "expiry required"
    } else {
        "expiry optional"
    };
    format!("{lifetime}; {required}")
}

async fn token_policy(
    context: &Context,
    org: &str,
    max_lifetime: Option<String>,
    require_expiry: bool,
    no_require_expiry: bool,
) -> Result<(), CliError> {
    let client = &context.client;
    let path = format!("/v1/orgs/{}", segment(org));
    // Checked before any request, so a typo changes nothing.
    let max_lifetime = match max_lifetime.as_deref() {
        None => None,
        Some(text) if text.eq_ignore_ascii_case("none") => Some(Value::Null),
        Some(text) => {
            robots_core::duration::parse_duration(text)
                .map_err(|_| CliError::Usage(format!("--max-lifetime {text:?}: use a duration (90d, 12h) or none")))?;
            Some(json!(text))
        }
    };
    let mut found = client.get(&path).await?;
    let changing = max_lifetime.is_some() || require_expiry || no_require_expiry;
    if changing {
        // The API sets the whole policy: what is not being changed is sent as it is.
        let current = &found["token_policy"];
        let policy = json!({
            "max_lifetime": max_lifetime.unwrap_or_else(|| current["max_lifetime"].clone()),
            "expiry_required": if require_expiry {
                true
            } else if no_require_expiry {
                false
            } else {
                current["expiry_required"] == true
            },
        });
        found = client
            .send(Method::PATCH, &path, Some(&json!({"token_policy": policy})))
            .await?;
        eprintln!(
            "Updated the token policy of {org}: {}. It applies to tokens created from now on; \
             existing tokens keep their expiry.",
            policy_summary(&found["token_policy"])
        );
    }
    output::print(context.format, &found["token_policy"], |policy| {
        details(&[
            ("Organization", org.to_owned()),
            (
                "Max lifetime",
                policy["max_lifetime"].as_str().unwrap_or("none").to_owned(),
            ),
            (
                "Expiry required",
                if policy["expiry_required"] == true { "yes" } else { "no" }.to_owned(),
            ),
        ])
    });
    Ok(())
}

pub async fn members(context: &Context, command: MembersCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/members", segment(&org));
    let rows = |members: &[Value]| {
        table(
            &["username", "email", "role", "joined"],
            &members
                .iter()
                .map(|m| {
                    vec![
                        text(m, "username"),
                        text(m, "email"),
                        text(m, "role"),
                        age(m, "joined_at", "-"),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    };
    match command {
        MembersCommand::List => {
            let members = Value::Array(client.get_all(&path).await?);
            output::print(context.format, &members, |m| {
                rows(m.as_array().map(Vec::as_slice).unwrap_or_default())
            });
        }
        MembersCommand::Set { username, role } => {
            let role = match role {
                RoleArg::Admin => "admin",
                RoleArg::Member => "member",
            };
            let member = client
                .send(
                    Method::PUT,
                    &format!("{path}/{}", segment(&username)),
                    Some(&json!({"role": role})),
                )
                .await?;
            eprintln!("{username} is now {role} of {org}.");
            output::print(context.format, &member, |m| rows(std::slice::from_ref(m)));
        }
        MembersCommand::Remove { username, yes } => {
            confirm(
                &format!("Remove {username} from {org}? They will no longer see or manage its robot accounts."),
                yes,
            )?;
            client
                .send(Method::DELETE, &format!("{path}/{}", segment(&username)), None)
                .await?;
            eprintln!("Removed {username} from {org}.");
        }
    }
    Ok(())
}

fn robot_rows(robots: &[Value]) -> String {
    table(
        &["name", "description", "tokens", "created", "last used", "status"],
        &robots
            .iter()
            .map(|robot| {
                vec![
                    text(robot, "name"),
                    text(robot, "description"),
                    text(robot, "token_count"),
                    age(robot, "created_at", "-"),
                    age(robot, "last_used_at", "never used"),
                    status(robot),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// "disabled" or "active".
fn status(robot: &Value) -> String {
    if robot["disabled"] == true {
        "disabled".to_owned()
    } else {
        "active".to_owned()
    }
}

fn token_rows(tokens: &[Value]) -> String {
    table(
        &["name", "access id", "role", "created", "last used", "expires"],
        &tokens
            .iter()
            .map(|token| {
                vec![
                    text(token, "name"),
                    text(token, "access_id"),
                    rotation_role(token),
                    age(token, "created_at", "-"),
                    age(token, "last_used_at", "never used"),
                    expiry(token),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// A token's part in a rotation: nothing for a current token.
fn rotation_role(token: &Value) -> String {
    match token["role"].as_str() {
        Some("rotating_out") => "rotating out".to_owned(),
        Some("successor") => "successor".to_owned(),
        _ => String::new(),
    }
}

/// "never", "in 3 months", "in 3 days (soon)" or "EXPIRED".
fn expiry(token: &Value) -> String {
    let at = token["expires_at"]
        .as_str()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok());
    match at {
        None => "never".to_owned(),
        Some(at) if token["expired"] == true || at <= OffsetDateTime::now_utc() => "EXPIRED".to_owned(),
        Some(_) if token["expiring_soon"] == true => format!("{} (soon)", age(token, "expires_at", "never")),
        Some(_) => age(token, "expires_at", "never"),
    }
}

pub async fn list_robots(context: &Context) -> Result<(), CliError> {
    let robots = Value::Array(context.client.get_all(&context.robots_path().await?).await?);
    output::print(context.format, &robots, |robots| {
        let robots = robots.as_array().map(Vec::as_slice).unwrap_or_default();
        if robots.is_empty() {
            "No robot accounts yet. Create one with `robots create NAME`.\n".to_owned()
        } else {
            robot_rows(robots)
        }
    });
    Ok(())
}

pub async fn create_robot(context: &Context, args: CreateRobotArgs) -> Result<(), CliError> {
    let body = json!({"name": args.name, "description": args.description});
    let robot = context
        .client
        .send(Method::POST, &context.robots_path().await?, Some(&body))
        .await?;
    eprintln!(
        "Created robot account {} in {}. Give it a token with `robots tokens create {} --name NAME`.",
        field(&robot, "name"),
        field(&robot, "org"),
        field(&robot, "name")
    );
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

pub async fn get_robot(context: &Context, args: RobotArg) -> Result<(), CliError> {
    let path = format!("{}/{}", context.robots_path().await?, segment(&args.name));
    let mut robot = context.client.get(&path).await?;
    let tokens = context.client.get_all(&format!("{path}/tokens")).await?;
    let permissions = context.client.get(&format!("{path}/permissions")).await?;
    robot["tokens"] = Value::Array(tokens);
    robot["teams"] = permissions["teams"].clone();
    robot["permissions"] = permissions["items"].clone();
    output::print(context.format, &robot, |robot| {
        let mut out = details(&[
            ("Name", text(robot, "name")),
            ("Organization", text(robot, "org")),
            ("Description", text(robot, "description")),
            (
                "Created",
                format!("{} by {}", age(robot, "created_at", "-"), text(robot, "created_by")),
            ),
            ("Last used", age(robot, "last_used_at", "never used")),
            (
                "Status",
                if robot["disabled"] == true {
                    format!(
                        "disabled {}: its tokens are refused until `robots enable {}`",
                        age(robot, "disabled_at", ""),
                        text(robot, "name")
                    )
                } else {
                    "active".to_owned()
                },
            ),
        ]);
        let tokens = robot["tokens"].as_array().map(Vec::as_slice).unwrap_or_default();
        out.push('\n');
        if tokens.is_empty() {
            out.push_str("No tokens yet. Create one with `robots tokens create NAME --name TOKEN_NAME`.\n");
        } else {
            out.push_str(&token_rows(tokens));
        }
        out.push('\n');
        let teams: Vec<&str> = robot["teams"]
            .as_array()
            .map(|teams| teams.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let teams = if teams.is_empty() {
            "none".to_owned()
        } else {
            teams.join(", ")
        };
        out.push_str(&format!("Teams: {teams}\n"));
        out.push_str(&super::access::permission_rows(&json!({"items": robot["permissions"]})));
        out
    });
    Ok(())
}

pub async fn update_robot(context: &Context, args: UpdateRobotArgs) -> Result<(), CliError> {
    if args.new_name.is_none() && args.description.is_none() {
        return Err(CliError::Usage(
            "nothing to change: give --name and/or --description".into(),
        ));
    }
    let path = format!("{}/{}", context.robots_path().await?, segment(&args.name));
    let mut body = serde_json::Map::new();
    if let Some(name) = args.new_name {
        body.insert("name".into(), json!(name));
    }
    if let Some(description) = args.description {
        body.insert("description".into(), json!(description));
    }
    let robot = context
        .client
        .send(Method::PATCH, &path, Some(&Value::Object(body)))
        .await?;
    eprintln!("Updated robot account {}.", field(&robot, "name"));
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

pub async fn delete_robot(context: &Context, args: DeleteArgs) -> Result<(), CliError> {
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/robots/{}", segment(&org), segment(&args.name));
    let robot = context.client.get(&path).await?;
    let tokens = robot["token_count"].as_i64().unwrap_or(0);
    confirm(
        &format!(
            "Delete robot account {} in {org}? {}",
            args.name,
            match tokens {
                0 => "It has no tokens.".to_owned(),
                1 => "Its 1 token is deleted too, and every system using it stops authenticating at once.".to_owned(),
                n =>
                    format!("Its {n} tokens are deleted too, and every system using them stops authenticating at once."),
            }
        ),
        args.yes,
    )?;
    context.client.send(Method::DELETE, &path, None).await?;
    eprintln!("Deleted robot account {} and its tokens.", args.name);
    Ok(())
}

pub async fn disable_robot(context: &Context, args: DisableArgs) -> Result<(), CliError> {
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/robots/{}", segment(&org), segment(&args.name));
    let robot = context.client.get(&path).await?;
    let name = &args.name;
    let robot = if robot["disabled"] == true {
        eprintln!(
            "Robot account {name} was disabled already ({}); nothing changed.",
            age(&robot, "disabled_at", "-")
        );
        robot
    } else {
        let tokens = robot["token_count"].as_i64().unwrap_or(0);
        let stop = match tokens {
            0 => "It has no tokens; none it gets will work".to_owned(),
            1 => "Its 1 token stops working at once, and every system using it stops authenticating,".to_owned(),
            n => format!("Its {n} tokens stop working at once, and every system using them stops authenticating,"),
        };
        confirm(
            &format!(
                "Disable robot account {name} in {org}? {stop} until you enable it again (`robots enable {name}`). \
                 Nothing is deleted."
            ),
            args.yes,
        )?;
        let disabled = context
            .client
            .send(Method::POST, &format!("{path}/disable"), None)
            .await?;
        eprintln!(
            "Disabled robot account {name}: its tokens are refused until `robots enable {name}`. Nothing was deleted."
        );
        disabled
    };
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

pub async fn enable_robot(context: &Context, args: RobotArg) -> Result<(), CliError> {
    let path = format!("{}/{}/enable", context.robots_path().await?, segment(&args.name));
    let robot = context.client.send(Method::POST, &path, None).await?;
    eprintln!(
        "Enabled robot account {}: its tokens work again (those not expired).",
        field(&robot, "name")
    );
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

/// `--expires`: when a new token stops working.
#[derive(Debug)]
enum Expiry {
    Never,
    /// A lifetime from the server's now, e.g. `30d`.
    In(String),
    /// An RFC 3339 time.
    At(String),
}

impl Expiry {
    /// `never`, an RFC 3339 time, or else a duration from now (which the
    /// server checks, as it checks everything else about an expiry).
    fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.eq_ignore_ascii_case("never") {
            return Self::Never;
        }
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(at) => Self::At(at.format(&Rfc3339).unwrap_or_default()),
            // Sent as a duration, so the server's clock (the one an
            // organization's maximum lifetime is checked against) decides
            // when it ends.
            Err(_) => Self::In(text.to_owned()),
        }
    }

    /// Adds `expires_in` or `expires_at` to a request body.
    fn add_to(&self, body: &mut Value) {
        match self {
            Self::Never => body["expires_in"] = json!("never"),
            Self::In(lifetime) => body["expires_in"] = json!(lifetime),
            Self::At(at) => body["expires_at"] = json!(at),
        }
    }
}

/// A refused token request in the command line's terms: the request's
/// fields named by their flags, and where an expiry was refused by the
/// organization's policy, where to read it.
fn policy_hint(error: CliError) -> CliError {
    const FLAGS: [(&str, &str); 3] = [
        ("expires_at: ", "--expires: "),
        ("expires_in: ", "--expires: "),
        ("grace_period: ", "--grace: "),
    ];
    match error {
        CliError::Api { status, code, message } => {
            let message = FLAGS
                .iter()
                .find_map(|(field, flag)| message.strip_prefix(field).map(|rest| format!("{flag}{rest}")))
                .unwrap_or(message);
            let message = if message.contains("this organization") {
                format!("{message} (choose one with --expires; see `robots orgs policy`)")
            } else {
                message
            };
            CliError::Api { status, code, message }
        }
        other => other,
    }
}

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
#[derive(Debug)]
pub(super) struct Minted<'a> {
    /// The API's whole answer, printed with `-o json|yaml`.
    pub answer: &'a Value,
    /// The new token's `access_id`, `name` and `token`.
    pub token: &'a Value,
    /// What happened, e.g. "Created token ci for deployer".
    pub done: String,
    /// What to do when the file cannot be written.
    pub recovery: String,
}

/// Writes the new token's `{"access_id", "token"}` to a 0600 file, or shows
/// its Token on standard output this once (with the warning on stderr).
pub(super) fn hand_out(
    context: &Context,
    minted: Minted<'_>,
    output: Option<PathBuf>,
    force: bool,
) -> Result<(), CliError> {
    let access_id = field(minted.token, "access_id");
    let token = field(minted.token, "token");
    match output {
        Some(path) => {
            let file = serde_json::to_vec_pretty(&json!({"access_id": access_id, "token": token}))
                .map_err(|error| CliError::Local(error.to_string()))?;
            session::write_private(&path, &file, force).map_err(|error| {
                CliError::Local(format!(
                    "{} (Access ID {access_id}) but {} could not be written: {error}; {}",
                    minted.done,
                    path.display(),
                    minted.recovery
                ))
            })?;
            eprintln!(
                "{}; its Access ID and Token are in {} (mode 0600).",
                minted.done,
                path.display()
            );
            let mut shown = without_secrets(minted.answer);
            shown["file"] = json!(path);
            output::print(context.format, &shown, |_| format!("Access ID: {access_id}\n"));
        }
        None => {
            eprintln!(
                "{}. The Token is shown only this once and cannot be recovered: store it now.",
                minted.done
            );
            output::print(context.format, minted.answer, |_| {
                format!("Access ID: {access_id}\nToken:     {token}\n")
            });
        }
    }
    Ok(())
}

pub async fn tokens(context: &Context, command: TokensCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        TokensCommand::List { robot, expiring_within } => {
            let robots = context.robots_path().await?;
            let filter = query(&[("expiring_within", expiring_within.clone())]);
            let tokens = Value::Array(
                client
                    .get_all(&format!("{robots}/{}/tokens{filter}", segment(&robot)))
                    .await?,
            );
            output::print(context.format, &tokens, |tokens| {
                let tokens = tokens.as_array().map(Vec::as_slice).unwrap_or_default();
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
        } => {
            let expiry = Expiry::parse(&expires);
            // Refuse before minting a secret we could not store.
            refuse_existing_file(output.as_deref(), force)?;
            let robots = context.robots_path().await?;
            let mut body = json!({"name": name});
            expiry.add_to(&mut body);
            let created = client
                .send(
                    Method::POST,
                    &format!("{robots}/{}/tokens", segment(&robot)),
                    Some(&body),
                )
                .await
                .map_err(policy_hint)?;
            let access_id = field(&created, "access_id");
            let minted = Minted {
                answer: &created,
                token: &created,
                done: format!("Created token {name} for {robot}"),
                recovery: format!("delete it with `robots tokens delete {robot} {access_id}`"),
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
            let expiry = expires.as_deref().map(Expiry::parse);
            // Refuse before minting a secret we could not store.
            refuse_existing_file(output.as_deref(), force)?;
            let path = format!(
                "{}/{}/tokens/{}",
                context.robots_path().await?,
                segment(&robot),
                segment(&access_id)
            );
            let mut body = json!({});
            if let Some(grace) = &grace {
                body["grace_period"] = json!(grace);
            }
            if let Some(expiry) = &expiry {
                expiry.add_to(&mut body);
            }
            let rotated = client
                .send(Method::POST, &format!("{path}/rotate"), Some(&body))
                .await
                .map_err(policy_hint)?;
            let successor = &rotated["successor"];
            let new_id = field(successor, "access_id");
            let minted = Minted {
                answer: &rotated,
                token: successor,
                done: format!("Rotated token {} of {robot}", field(successor, "name")),
                recovery: format!(
                    "the old token still works until its grace period ends: delete the successor \
                     (`robots tokens delete {robot} {new_id}`) and create a new token"
                ),
            };
            hand_out(context, minted, output, force)?;
            let out = &rotated["rotating_out"];
            eprintln!(
                "The old token ({access_id}) keeps working until {} ({}), then stops by itself; \
                 delete it sooner with `robots tokens delete {robot} {access_id}`.",
                text(out, "expires_at"),
                age(out, "expires_at", "never")
            );
        }
        TokensCommand::Expiring { within } => {
            let org = context.org().await?;
            let filter = query(&[("expiring_within", Some(within.clone()))]);
            let found = client
                .get(&format!("/v1/orgs/{}/tokens{filter}", segment(&org)))
                .await?;
            output::print(context.format, &found["items"], |items| {
                let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
                if items.is_empty() {
                    return format!("No token of {org} expires within {within}.\n");
                }
                table(
                    &["robot", "name", "access id", "expires", "last used"],
                    &items
                        .iter()
                        .map(|token| {
                            vec![
                                text(token, "robot"),
                                text(token, "name"),
                                text(token, "access_id"),
                                expiry(token),
                                age(token, "last_used_at", "never used"),
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
            let token = client.get(&path).await?;
            confirm(
                &format!(
                    "Delete token {} of {robot}? Every system using Access ID {access_id} stops authenticating at once.",
                    field(&token, "name")
                ),
                yes,
            )?;
            client.send(Method::DELETE, &path, None).await?;
            eprintln!("Deleted token {} of {robot}.", field(&token, "name"));
        }
        TokensCommand::ReportLeaked => {
            let token = read_leaked_token()?;
            // Anyone may report: no credential is sent, logged in or not.
            let answer = client
                .with_credential(Credential::None)
                .send(Method::POST, "/v1/tokens/revoke", Some(&json!({"token": token})))
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

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the signing certificates (PEM) for a registry's auth.token.rootcertbundle. No login needed.
    #[command(
        after_help = "Example:\n  robots keys certificate --server https://robots.example.com > /etc/docker/registry/robots.crt"
    )]
    Certificate,
    /// List the published signing keys (instance administrators).
    #[command(after_help = "Example:\n  robots keys list")]
    List,
    /// Create a new signing key; the current one keeps verifying while its tokens live.
    #[command(after_help = "Examples:\n  robots keys rotate\n  \
        robots keys rotate --after 24h   # publish now, sign from tomorrow: time to update registries")]
    Rotate {
        /// Start signing with the new key after this long (e.g. 24h) [default: now].
        #[arg(long, value_name = "DURATION")]
        after: Option<String>,
    },
}

pub async fn keys(context: &Context, command: KeysCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        KeysCommand::Certificate => {
            let pem = client.get_text("/v1/keys/certificates.pem").await?;
            output::emit(&pem);
        }
        KeysCommand::List => {
            let keys = client.get("/v1/keys").await?;
            output::print(context.format, &keys["items"], |items| {
                table(
                    &["kid", "signing", "signs from", "retired"],
                    &items
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .map(|key| {
                            vec![
                                text(key, "kid"),
                                if key["signing"] == true {
                                    "yes".into()
                                } else {
                                    "no".into()
                                },
                                age(key, "not_before", "-"),
                                age(key, "retired_at", "-"),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
        KeysCommand::Rotate { after } => {
            let body = json!({"after": after});
            let rotated = client.send(Method::POST, "/v1/keys/rotate", Some(&body)).await?;
            eprintln!(
                "Created signing key {}; it signs {}. Give registries the new certificate bundle (`robots keys certificate`).",
                field(&rotated, "kid"),
                age(&rotated, "not_before", "now")
            );
            output::print(context.format, &rotated, |r| {
                details(&[("Key", text(r, "kid")), ("Signs from", text(r, "not_before"))])
            });
        }
    }
    Ok(())
}
