//! Teams, repositories and grants from the command line.

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{CliError, segment};
use super::output::{self, age, details, table, text};
use super::{Context, confirm, field};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PermissionArg {
    /// Pull.
    Read,
    /// Pull and push.
    Write,
    /// Pull, push and delete.
    Admin,
}

impl PermissionArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// Who joins or leaves a team: a user or a robot.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct MemberArg {
    /// A user of the organization.
    #[arg(long)]
    user: Option<String>,
    /// A robot account of the organization.
    #[arg(long)]
    robot: Option<String>,
}

impl MemberArg {
    fn path(&self) -> String {
        match (&self.user, &self.robot) {
            (Some(user), _) => format!("users/{}", segment(user)),
            (_, Some(robot)) => format!("robots/{}", segment(robot)),
            (None, None) => String::new(),
        }
    }

    fn describe(&self) -> String {
        match (&self.user, &self.robot) {
            (Some(user), _) => format!("user {user}"),
            (_, Some(robot)) => format!("robot {robot}"),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TeamsCommand {
    /// List the organization's teams.
    #[command(after_help = "Example:\n  robots teams list")]
    List,
    /// Show a team: its members and grants.
    #[command(after_help = "Example:\n  robots teams get deployers -o yaml")]
    Get { team: String },
    /// Create a team.
    #[command(after_help = "Example:\n  robots teams create deployers --description \"Push application images\"")]
    Create {
        team: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Rename a team or change its description.
    #[command(after_help = "Example:\n  robots teams update deployers --name releasers")]
    Update {
        team: String,
        /// A new name.
        #[arg(long = "name", id = "new_name", value_name = "NEW_NAME")]
        new_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a team; its members lose its grants at once.
    #[command(after_help = "Example:\n  robots teams delete deployers --yes")]
    Delete {
        team: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Add a user or a robot to a team.
    #[command(
        after_help = "Examples:\n  robots teams add deployers --robot ci-deployer\n  robots teams add deployers --user bob"
    )]
    Add {
        team: String,
        #[command(flatten)]
        member: MemberArg,
    },
    /// Remove a user or a robot from a team.
    #[command(after_help = "Example:\n  robots teams remove deployers --robot ci-deployer --yes")]
    Remove {
        team: String,
        #[command(flatten)]
        member: MemberArg,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Grant a team a permission on a repository (or change it).
    #[command(after_help = "Example:\n  robots teams grant deployers apps/web --permission write")]
    Grant {
        team: String,
        /// The repository's path inside the organization, e.g. apps/web.
        repository: String,
        #[arg(long, value_enum)]
        permission: PermissionArg,
    },
    /// Revoke a team's permission on a repository.
    #[command(after_help = "Example:\n  robots teams revoke deployers apps/web --yes")]
    Revoke {
        team: String,
        repository: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReposCommand {
    /// List the organization's repositories.
    #[command(after_help = "Example:\n  robots repos list")]
    List,
    /// Show a repository: every user and robot that reaches it, and through which team.
    #[command(after_help = "Example:\n  robots repos get apps/web")]
    Get { repository: String },
    /// Create a repository (a path such as apps/web).
    #[command(after_help = "Example:\n  robots repos create apps/web")]
    Create { repository: String },
    /// Delete a repository and every grant on it.
    #[command(after_help = "Example:\n  robots repos delete apps/web --yes")]
    Delete {
        repository: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn repository_path(repository: &str) -> String {
    repository.split('/').map(segment).collect::<Vec<_>>().join("/")
}

fn team_rows(teams: &[Value]) -> String {
    table(
        &["name", "description", "users", "robots", "grants"],
        &teams
            .iter()
            .map(|t| {
                vec![
                    text(t, "name"),
                    text(t, "description"),
                    text(t, "user_count"),
                    text(t, "robot_count"),
                    text(t, "grant_count"),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn grant_rows(grants: &[Value]) -> String {
    table(
        &["repository", "team", "permission"],
        &grants
            .iter()
            .map(|g| vec![text(g, "full_name"), text(g, "team"), text(g, "permission")])
            .collect::<Vec<_>>(),
    )
}

pub async fn teams(context: &Context, command: TeamsCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/teams", segment(&org));
    match command {
        TeamsCommand::List => {
            let teams = Value::Array(client.get_all(&base).await?);
            output::print(context.format, &teams, |t| {
                let teams = t.as_array().map(Vec::as_slice).unwrap_or_default();
                if teams.is_empty() {
                    "No teams yet. Create one with `robots teams create NAME`.\n".to_owned()
                } else {
                    team_rows(teams)
                }
            });
        }
        TeamsCommand::Get { team } => {
            let team = client.get(&format!("{base}/{}", segment(&team))).await?;
            output::print(context.format, &team, |t| {
                let mut out = details(&[
                    ("Team", text(t, "name")),
                    ("Organization", text(t, "org")),
                    ("Description", text(t, "description")),
                    ("Created", age(t, "created_at", "-")),
                ]);
                let members = t["members"].as_array().map(Vec::as_slice).unwrap_or_default();
                out.push('\n');
                out.push_str(&table(
                    &["member", "kind"],
                    &members
                        .iter()
                        .map(|m| vec![text(m, "name"), text(m, "kind")])
                        .collect::<Vec<_>>(),
                ));
                out.push('\n');
                out.push_str(&grant_rows(
                    t["grants"].as_array().map(Vec::as_slice).unwrap_or_default(),
                ));
                out
            });
        }
        TeamsCommand::Create { team, description } => {
            let created = client
                .send(
                    Method::POST,
                    &base,
                    Some(&json!({"name": team, "description": description})),
                )
                .await?;
            eprintln!(
                "Created team {}. Add robots with `robots teams add {} --robot NAME`.",
                field(&created, "name"),
                field(&created, "name")
            );
            output::print(context.format, &created, |t| team_rows(std::slice::from_ref(t)));
        }
        TeamsCommand::Update {
            team,
            new_name,
            description,
        } => {
            if new_name.is_none() && description.is_none() {
                return Err(CliError::Usage(
                    "nothing to change: give --name and/or --description".into(),
                ));
            }
            let mut body = serde_json::Map::new();
            if let Some(name) = new_name {
                body.insert("name".into(), json!(name));
            }
            if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            let updated = client
                .send(
                    Method::PATCH,
                    &format!("{base}/{}", segment(&team)),
                    Some(&Value::Object(body)),
                )
                .await?;
            eprintln!("Updated team {}.", field(&updated, "name"));
            output::print(context.format, &updated, |t| team_rows(std::slice::from_ref(t)));
        }
        TeamsCommand::Delete { team, yes } => {
            let path = format!("{base}/{}", segment(&team));
            let found = client.get(&path).await?;
            confirm(
                &format!(
                    "Delete team {team}? Its {} user(s) and {} robot(s) lose its {} grant(s) at once.",
                    text(&found, "user_count"),
                    text(&found, "robot_count"),
                    text(&found, "grant_count")
                ),
                yes,
            )?;
            client.send(Method::DELETE, &path, None).await?;
            eprintln!("Deleted team {team}.");
        }
        TeamsCommand::Add { team, member } => {
            client
                .send(
                    Method::PUT,
                    &format!("{base}/{}/{}", segment(&team), member.path()),
                    None,
                )
                .await?;
            eprintln!("Added {} to team {team}.", member.describe());
        }
        TeamsCommand::Remove { team, member, yes } => {
            confirm(
                &format!(
                    "Remove {} from team {team}? It loses the team's permissions at once.",
                    member.describe()
                ),
                yes,
            )?;
            client
                .send(
                    Method::DELETE,
                    &format!("{base}/{}/{}", segment(&team), member.path()),
                    None,
                )
                .await?;
            eprintln!("Removed {} from team {team}.", member.describe());
        }
        TeamsCommand::Grant {
            team,
            repository,
            permission,
        } => {
            let path = format!("{base}/{}/grants/{}", segment(&team), repository_path(&repository));
            let grant = client
                .send(Method::PUT, &path, Some(&json!({"permission": permission.as_str()})))
                .await?;
            eprintln!(
                "Team {team} now has {} on {}.",
                permission.as_str(),
                field(&grant, "full_name")
            );
            output::print(context.format, &grant, |g| grant_rows(std::slice::from_ref(g)));
        }
        TeamsCommand::Revoke { team, repository, yes } => {
            confirm(
                &format!("Revoke team {team}'s permission on {org}/{repository}? Its members lose it at once."),
                yes,
            )?;
            let path = format!("{base}/{}/grants/{}", segment(&team), repository_path(&repository));
            client.send(Method::DELETE, &path, None).await?;
            eprintln!("Revoked team {team}'s permission on {org}/{repository}.");
        }
    }
    Ok(())
}

pub async fn repos(context: &Context, command: ReposCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/repositories", segment(&org));
    let rows = |repositories: &[Value]| {
        table(
            &["repository", "created"],
            &repositories
                .iter()
                .map(|r| vec![text(r, "full_name"), age(r, "created_at", "-")])
                .collect::<Vec<_>>(),
        )
    };
    match command {
        ReposCommand::List => {
            let repositories = Value::Array(client.get_all(&base).await?);
            output::print(context.format, &repositories, |r| {
                let repositories = r.as_array().map(Vec::as_slice).unwrap_or_default();
                if repositories.is_empty() {
                    "No repositories yet. Create one with `robots repos create PATH`.\n".to_owned()
                } else {
                    rows(repositories)
                }
            });
        }
        ReposCommand::Get { repository } => {
            let found = client.get(&format!("{base}/{}", repository_path(&repository))).await?;
            output::print(context.format, &found, |r| {
                let mut out = details(&[
                    ("Repository", text(r, "full_name")),
                    ("Created", age(r, "created_at", "-")),
                ]);
                let access = r["access"].as_array().map(Vec::as_slice).unwrap_or_default();
                out.push('\n');
                if access.is_empty() {
                    out.push_str("Nobody reaches it: no team with members has a grant on it.\n");
                } else {
                    out.push_str(&table(
                        &["name", "kind", "permission", "through team"],
                        &access
                            .iter()
                            .map(|a| vec![text(a, "name"), text(a, "kind"), text(a, "permission"), text(a, "team")])
                            .collect::<Vec<_>>(),
                    ));
                }
                out
            });
        }
        ReposCommand::Create { repository } => {
            let created = client
                .send(Method::POST, &base, Some(&json!({"name": repository})))
                .await?;
            eprintln!("Created repository {}.", field(&created, "full_name"));
            output::print(context.format, &created, |r| rows(std::slice::from_ref(r)));
        }
        ReposCommand::Delete { repository, yes } => {
            let path = format!("{base}/{}", repository_path(&repository));
            let found = client.get(&path).await?;
            let reaching = found["access"].as_array().map(Vec::len).unwrap_or(0);
            confirm(
                &format!(
                    "Delete repository {org}/{repository}? Every grant on it goes; {reaching} membership(s) lose access at once."
                ),
                yes,
            )?;
            client.send(Method::DELETE, &path, None).await?;
            eprintln!("Deleted repository {org}/{repository}.");
        }
    }
    Ok(())
}

/// The permissions table shown by `robots get`.
pub fn permission_rows(permissions: &Value) -> String {
    let items = permissions["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return "No permissions: add it to a team with `robots teams add TEAM --robot NAME`.\n".to_owned();
    }
    table(
        &["repository", "permission", "allows", "through"],
        &items
            .iter()
            .map(|item| {
                let list = |key: &str, render: &dyn Fn(&Value) -> String| {
                    item[key]
                        .as_array()
                        .map(|values| values.iter().map(render).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                };
                vec![
                    text(item, "full_name"),
                    text(item, "permission"),
                    list("actions", &|a| a.as_str().unwrap_or_default().to_owned()),
                    list("via", &|v| format!("{} ({})", text(v, "team"), text(v, "permission"))),
                ]
            })
            .collect::<Vec<_>>(),
    )
}
