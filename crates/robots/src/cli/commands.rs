//! Organizations, members, robots and tokens.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use robots_api_types::{
    CreateOrgRequest, CreateRobotRequest, CreateTokenRequest, CreatedTokenView, EffectiveView, ExpiringTokenView,
    KeyRotateRequest, KeyView, LeakReport, List, MemberView, OrgView, PermissionsView, PolicyRequest, Received,
    RobotView, Role, RotateRequest, RotatedKeyView, RotatedView, SetMemberRequest, TokenPolicyView, TokenRole,
    TokenView, UpdateOrgRequest, UpdateRobotRequest,
};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::client::{CliError, Credential, NO_BODY, query, segment};
use super::output::{self, age, age_or, details, optional, table, text, timestamp};
use super::{Context, confirm, session};

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

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Self::Admin,
            RoleArg::Member => Self::Member,
        }
    }
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

fn org_rows(orgs: &[OrgView]) -> String {
    table(
        &["name", "display name", "role", "created"],
        &orgs
            .iter()
            .map(|org| {
                vec![
                    text(&org.name),
                    text(&org.display_name),
                    text(org.role.as_str()),
                    age(org.created_at),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

pub async fn orgs(context: &Context, command: OrgsCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        OrgsCommand::List => {
            let orgs: Vec<OrgView> = client.get_all("/v1/orgs").await?;
            output::print(context.format, &orgs, |orgs| org_rows(orgs));
        }
        OrgsCommand::Create { name, display_name } => {
            let body = CreateOrgRequest { name, display_name };
            let org: OrgView = client.send(Method::POST, "/v1/orgs", Some(&body)).await?;
            eprintln!("Created organization {}; you are its admin.", org.name);
            output::print(context.format, &org, |org| org_rows(std::slice::from_ref(org)));
        }
        OrgsCommand::Get { name } => {
            let org: OrgView = client.get(&format!("/v1/orgs/{}", segment(&name))).await?;
            output::print(context.format, &org, |org| {
                details(&[
                    ("Name", text(&org.name)),
                    ("Display name", text(&org.display_name)),
                    ("Your role", text(org.role.as_str())),
                    ("Created", age(org.created_at)),
                    ("Token policy", policy_summary(&org.token_policy)),
                ])
            });
        }
        OrgsCommand::Delete { name, yes } => {
            let path = format!("/v1/orgs/{}", segment(&name));
            let robots = client
                .get_all::<RobotView>(&format!("{path}/robots"))
                .await
                .map_or(0, |robots| robots.len());
            confirm(
                &format!(
                    "Delete organization {name}? Its {robots} robot account(s) and all their tokens are deleted, \
                     and every system using them stops authenticating."
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
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
fn policy_summary(policy: &TokenPolicyView) -> String {
    let lifetime = match &policy.max_lifetime {
        Some(max) => format!("tokens live at most {max}"),
        None => "no maximum lifetime".to_owned(),
    };
    let required = if policy.expiry_required {
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
    // Absent when not given; `Some(None)` for no maximum. The server checks
    // the duration before it changes anything.
    let max_lifetime: Option<Option<String>> = match max_lifetime {
        None => None,
        Some(text) if text.eq_ignore_ascii_case("none") => Some(None),
        Some(text) => Some(Some(text)),
    };
    let mut found: OrgView = client.get(&path).await?;
    let changing = max_lifetime.is_some() || require_expiry || no_require_expiry;
    if changing {
        // The API sets the whole policy: what is not being changed is sent as it is.
        let current = found.token_policy;
        let policy = PolicyRequest {
            max_lifetime: max_lifetime.unwrap_or(current.max_lifetime),
            expiry_required: if require_expiry {
                true
            } else if no_require_expiry {
                false
            } else {
                current.expiry_required
            },
        };
        let body = UpdateOrgRequest {
            token_policy: Some(policy),
            ..UpdateOrgRequest::default()
        };
        found = client
            .send(Method::PATCH, &path, Some(&body))
            .await
            .map_err(|error| with_flags(error, &[("token_policy.max_lifetime", "--max-lifetime")]))?;
        eprintln!(
            "Updated the token policy of {org}: {}. It applies to tokens created from now on; \
             existing tokens keep their expiry.",
            policy_summary(&found.token_policy)
        );
    }
    output::print(context.format, &found.token_policy, |policy| {
        details(&[
            ("Organization", org.to_owned()),
            (
                "Max lifetime",
                policy.max_lifetime.as_deref().unwrap_or("none").to_owned(),
            ),
            (
                "Expiry required",
                if policy.expiry_required { "yes" } else { "no" }.to_owned(),
            ),
        ])
    });
    Ok(())
}

pub async fn members(context: &Context, command: MembersCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/members", segment(&org));
    let rows = |members: &[MemberView]| {
        table(
            &["username", "email", "role", "joined"],
            &members
                .iter()
                .map(|m| {
                    vec![
                        text(&m.username),
                        text(&m.email),
                        text(m.role.as_str()),
                        age(m.joined_at),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    };
    match command {
        MembersCommand::List => {
            let members: Vec<MemberView> = client.get_all(&path).await?;
            output::print(context.format, &members, |members| rows(members));
        }
        MembersCommand::Set { username, role } => {
            let body = SetMemberRequest { role: role.into() };
            let member: MemberView = client
                .send(Method::PUT, &format!("{path}/{}", segment(&username)), Some(&body))
                .await?;
            eprintln!("{username} is now {} of {org}.", member.role.as_str());
            output::print(context.format, &member, |m| rows(std::slice::from_ref(m)));
        }
        MembersCommand::Remove { username, yes } => {
            confirm(
                &format!("Remove {username} from {org}? They will no longer see or manage its robot accounts."),
                yes,
            )?;
            client
                .perform(Method::DELETE, &format!("{path}/{}", segment(&username)))
                .await?;
            eprintln!("Removed {username} from {org}.");
        }
    }
    Ok(())
}

fn robot_rows(robots: &[RobotView]) -> String {
    table(
        &["name", "description", "tokens", "created", "last used", "status"],
        &robots
            .iter()
            .map(|robot| {
                vec![
                    text(&robot.name),
                    text(&robot.description),
                    text(robot.token_count),
                    age(robot.created_at),
                    age_or(robot.last_used_at, "never used"),
                    status(robot),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// "disabled" or "active".
fn status(robot: &RobotView) -> String {
    if robot.disabled {
        "disabled".to_owned()
    } else {
        "active".to_owned()
    }
}

fn token_rows(tokens: &[TokenView]) -> String {
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

pub async fn list_robots(context: &Context) -> Result<(), CliError> {
    let robots: Vec<RobotView> = context.client.get_all(&context.robots_path().await?).await?;
    output::print(context.format, &robots, |robots| {
        if robots.is_empty() {
            "No robot accounts yet. Create one with `robots create NAME`.\n".to_owned()
        } else {
            robot_rows(robots)
        }
    });
    Ok(())
}

pub async fn create_robot(context: &Context, args: CreateRobotArgs) -> Result<(), CliError> {
    let body = CreateRobotRequest {
        name: args.name,
        description: args.description,
    };
    let robot: RobotView = context
        .client
        .send(Method::POST, &context.robots_path().await?, Some(&body))
        .await?;
    eprintln!(
        "Created robot account {} in {}. Give it a token with `robots tokens create {} --name NAME`.",
        robot.name, robot.org, robot.name
    );
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

/// What `robots get` shows: the robot, its tokens, its teams and what it may do.
#[derive(Debug, Serialize)]
struct RobotDetails {
    #[serde(flatten)]
    robot: RobotView,
    tokens: Vec<TokenView>,
    teams: Vec<String>,
    permissions: Vec<EffectiveView>,
}

pub async fn get_robot(context: &Context, args: RobotArg) -> Result<(), CliError> {
    let path = format!("{}/{}", context.robots_path().await?, segment(&args.name));
    let robot: RobotView = context.client.get(&path).await?;
    let tokens: Vec<TokenView> = context.client.get_all(&format!("{path}/tokens")).await?;
    let permissions: PermissionsView = context.client.get(&format!("{path}/permissions")).await?;
    let shown = RobotDetails {
        robot,
        tokens,
        teams: permissions.teams,
        permissions: permissions.items,
    };
    output::print(context.format, &shown, |shown| {
        let robot = &shown.robot;
        let mut out = details(&[
            ("Name", text(&robot.name)),
            ("Organization", text(&robot.org)),
            ("Description", text(&robot.description)),
            (
                "Created",
                format!("{} by {}", age(robot.created_at), optional(robot.created_by.as_deref())),
            ),
            ("Last used", age_or(robot.last_used_at, "never used")),
            (
                "Status",
                if robot.disabled {
                    format!(
                        "disabled {}: its tokens are refused until `robots enable {}`",
                        age_or(robot.disabled_at, ""),
                        text(&robot.name)
                    )
                } else {
                    "active".to_owned()
                },
            ),
        ]);
        out.push('\n');
        if shown.tokens.is_empty() {
            out.push_str("No tokens yet. Create one with `robots tokens create NAME --name TOKEN_NAME`.\n");
        } else {
            out.push_str(&token_rows(&shown.tokens));
        }
        out.push('\n');
        let teams = if shown.teams.is_empty() {
            "none".to_owned()
        } else {
            shown.teams.join(", ")
        };
        out.push_str(&format!("Teams: {teams}\n"));
        out.push_str(&super::access::permission_rows(&shown.permissions));
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
    let body = UpdateRobotRequest {
        name: args.new_name,
        description: args.description,
    };
    let robot: RobotView = context.client.send(Method::PATCH, &path, Some(&body)).await?;
    eprintln!("Updated robot account {}.", robot.name);
    output::print(context.format, &robot, |robot| robot_rows(std::slice::from_ref(robot)));
    Ok(())
}

pub async fn delete_robot(context: &Context, args: DeleteArgs) -> Result<(), CliError> {
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/robots/{}", segment(&org), segment(&args.name));
    let robot: RobotView = context.client.get(&path).await?;
    confirm(
        &format!(
            "Delete robot account {} in {org}? {}",
            args.name,
            match robot.token_count {
                0 => "It has no tokens.".to_owned(),
                1 => "Its 1 token is deleted too, and every system using it stops authenticating at once.".to_owned(),
                n =>
                    format!("Its {n} tokens are deleted too, and every system using them stops authenticating at once."),
            }
        ),
        args.yes,
    )?;
    context.client.perform(Method::DELETE, &path).await?;
    eprintln!("Deleted robot account {} and its tokens.", args.name);
    Ok(())
}

pub async fn disable_robot(context: &Context, args: DisableArgs) -> Result<(), CliError> {
    let org = context.org().await?;
    let path = format!("/v1/orgs/{}/robots/{}", segment(&org), segment(&args.name));
    let robot: RobotView = context.client.get(&path).await?;
    let name = &args.name;
    let robot = if robot.disabled {
        eprintln!(
            "Robot account {name} was disabled already ({}); nothing changed.",
            age_or(robot.disabled_at, "-")
        );
        robot
    } else {
        let stop = match robot.token_count {
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
        let disabled: RobotView = context
            .client
            .send(Method::POST, &format!("{path}/disable"), NO_BODY)
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
    let robot: RobotView = context.client.send(Method::POST, &path, NO_BODY).await?;
    eprintln!(
        "Enabled robot account {}: its tokens work again (those not expired).",
        robot.name
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
    /// A point in time.
    At(OffsetDateTime),
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
            Ok(at) => Self::At(at),
            // Sent as a duration, so the server's clock (the one an
            // organization's maximum lifetime is checked against) decides
            // when it ends.
            Err(_) => Self::In(text.to_owned()),
        }
    }

    /// A request's `expires_at` and `expires_in`: one of them is given.
    fn fields(self) -> (Option<OffsetDateTime>, Option<String>) {
        match self {
            Self::Never => (None, Some("never".to_owned())),
            Self::In(lifetime) => (None, Some(lifetime)),
            Self::At(at) => (Some(at), None),
        }
    }
}

/// A refusal in the command line's terms: the API names the request's
/// field at fault (`expires_in: …`), the command line its flag.
fn with_flags(error: CliError, flags: &[(&str, &str)]) -> CliError {
    match error {
        CliError::Api { status, code, message } => {
            let message = flags
                .iter()
                .find_map(|(field, flag)| {
                    message
                        .strip_prefix(field)
                        .and_then(|rest| rest.strip_prefix(": "))
                        .map(|rest| format!("{flag}: {rest}"))
                })
                .unwrap_or(message);
            CliError::Api { status, code, message }
        }
        other => other,
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
        } => {
            let (expires_at, expires_in) = Expiry::parse(&expires).fields();
            // Refuse before minting a secret we could not store.
            refuse_existing_file(output.as_deref(), force)?;
            let robots = context.robots_path().await?;
            let body = CreateTokenRequest {
                name,
                expires_at,
                expires_in,
            };
            let created: CreatedTokenView = client
                .send(
                    Method::POST,
                    &format!("{robots}/{}/tokens", segment(&robot)),
                    Some(&body),
                )
                .await
                .map_err(policy_hint)?;
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
            let keys: List<KeyView> = client.get("/v1/keys").await?;
            output::print(context.format, &keys.items, |keys| {
                table(
                    &["kid", "signing", "signs from", "retired"],
                    &keys
                        .iter()
                        .map(|key| {
                            vec![
                                text(&key.kid),
                                if key.signing { "yes".into() } else { "no".into() },
                                age(key.not_before),
                                age_or(key.retired_at, "-"),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
        KeysCommand::Rotate { after } => {
            let body = KeyRotateRequest { after };
            let rotated: RotatedKeyView = client.send(Method::POST, "/v1/keys/rotate", Some(&body)).await?;
            eprintln!(
                "Created signing key {}; it signs {}. Give registries the new certificate bundle (`robots keys certificate`).",
                rotated.kid,
                age(rotated.not_before)
            );
            output::print(context.format, &rotated, |r| {
                details(&[("Key", text(&r.kid)), ("Signs from", timestamp(r.not_before))])
            });
        }
    }
    Ok(())
}
