//! Organizations, members, robots and tokens.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::{CliError, segment};
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

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List a robot's tokens (never their secrets).
    #[command(after_help = "Example:\n  robots tokens list ci-deployer")]
    List {
        /// The robot account's name.
        robot: String,
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
    }
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
        &["name", "description", "tokens", "created", "last used"],
        &robots
            .iter()
            .map(|robot| {
                vec![
                    text(robot, "name"),
                    text(robot, "description"),
                    text(robot, "token_count"),
                    age(robot, "created_at", "-"),
                    age(robot, "last_used_at", "never used"),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn token_rows(tokens: &[Value]) -> String {
    table(
        &["name", "access id", "created", "last used", "expires"],
        &tokens
            .iter()
            .map(|token| {
                vec![
                    text(token, "name"),
                    text(token, "access_id"),
                    age(token, "created_at", "-"),
                    age(token, "last_used_at", "never used"),
                    expiry(token),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn expiry(token: &Value) -> String {
    match token["expires_at"]
        .as_str()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
    {
        None => "never".to_owned(),
        Some(at) if at <= OffsetDateTime::now_utc() => "EXPIRED".to_owned(),
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

/// `--expires`: `never`, a duration from now, or an RFC 3339 time.
fn parse_expiry(text: &str) -> Result<Option<String>, CliError> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Some(at.format(&Rfc3339).unwrap_or_default()));
    }
    let duration = robots_core::duration::parse_duration(text).map_err(|_| {
        CliError::Usage(format!(
            "--expires {text:?}: use a duration (30d, 12h), a time (2027-01-31T00:00:00Z) or never"
        ))
    })?;
    let at = OffsetDateTime::now_utc() + duration;
    Ok(Some(at.format(&Rfc3339).unwrap_or_default()))
}

pub async fn tokens(context: &Context, command: TokensCommand) -> Result<(), CliError> {
    let client = &context.client;
    let robots = context.robots_path().await?;
    match command {
        TokensCommand::List { robot } => {
            let tokens = Value::Array(client.get_all(&format!("{robots}/{}/tokens", segment(&robot))).await?);
            output::print(context.format, &tokens, |tokens| {
                let tokens = tokens.as_array().map(Vec::as_slice).unwrap_or_default();
                if tokens.is_empty() {
                    format!("{robot} has no tokens yet. Create one with `robots tokens create {robot} --name NAME`.\n")
                } else {
                    token_rows(tokens)
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
            let expires_at = parse_expiry(&expires)?;
            // Refuse before minting a secret we could not store.
            if let Some(path) = &output
                && path.exists()
                && !force
            {
                return Err(CliError::Usage(format!(
                    "{} exists: choose another --output file, or add --force to overwrite it",
                    path.display()
                )));
            }
            let body = json!({"name": name, "expires_at": expires_at});
            let created = client
                .send(
                    Method::POST,
                    &format!("{robots}/{}/tokens", segment(&robot)),
                    Some(&body),
                )
                .await?;
            let access_id = field(&created, "access_id");
            let token = field(&created, "token");
            match output {
                Some(path) => {
                    let file = serde_json::to_vec_pretty(&json!({"access_id": access_id, "token": token}))
                        .map_err(|error| CliError::Local(error.to_string()))?;
                    session::write_private(&path, &file, force).map_err(|error| {
                        CliError::Local(format!(
                            "the token was created (Access ID {access_id}) but {} could not be written: {error}; \
                             delete it with `robots tokens delete {robot} {access_id}`",
                            path.display()
                        ))
                    })?;
                    eprintln!(
                        "Created token {name} for {robot}; its Access ID and Token are in {} (mode 0600).",
                        path.display()
                    );
                    output::print(
                        context.format,
                        &json!({"access_id": access_id, "name": name, "file": path}),
                        |_| format!("Access ID: {access_id}\n"),
                    );
                }
                None => {
                    eprintln!(
                        "Created token {name} for {robot}. The Token is shown only this once and cannot be \
                         recovered: store it now."
                    );
                    output::print(context.format, &created, |_| {
                        format!("Access ID: {access_id}\nToken:     {token}\n")
                    });
                }
            }
        }
        TokensCommand::Delete { robot, access_id, yes } => {
            let path = format!("{robots}/{}/tokens/{}", segment(&robot), segment(&access_id));
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
    }
    Ok(())
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
