//! Teams from the command line: who they hold, and what they grant on
//! repositories.

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use robots_api_types::{CreateTeamRequest, GrantRequest, GrantView, Permission, TeamView, UpdateTeamRequest};

use super::client::{CliError, segment};
use super::output::{self, age, details, table, text};
use super::repositories::{member_kind, repository_path};
use super::{Context, confirm};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PermissionArg {
    /// Pull.
    Read,
    /// Pull and push.
    Write,
    /// Pull, push and delete.
    Admin,
}

impl From<PermissionArg> for Permission {
    fn from(permission: PermissionArg) -> Self {
        match permission {
            PermissionArg::Read => Self::Read,
            PermissionArg::Write => Self::Write,
            PermissionArg::Admin => Self::Admin,
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

fn team_rows(teams: &[TeamView]) -> String {
    table(
        &["name", "description", "users", "robots", "grants"],
        &teams
            .iter()
            .map(|t| {
                vec![
                    text(&t.name),
                    text(&t.description),
                    text(t.user_count),
                    text(t.robot_count),
                    text(t.grant_count),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

fn grant_rows(grants: &[GrantView]) -> String {
    table(
        &["repository", "team", "permission"],
        &grants
            .iter()
            .map(|g| vec![text(&g.full_name), text(&g.team), text(g.permission.as_str())])
            .collect::<Vec<_>>(),
    )
}

pub async fn teams(context: &Context, command: TeamsCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/teams", segment(&org));
    match command {
        TeamsCommand::List => {
            let teams: Vec<TeamView> = client.get_all(&base).await?;
            output::print(context.format, &teams, |teams| {
                if teams.is_empty() {
                    "No teams yet. Create one with `robots teams create NAME`.\n".to_owned()
                } else {
                    team_rows(teams)
                }
            });
        }
        TeamsCommand::Get { team } => {
            let team: TeamView = client.get(&format!("{base}/{}", segment(&team))).await?;
            output::print(context.format, &team, |t| {
                let mut out = details(&[
                    ("Team", text(&t.name)),
                    ("Organization", text(&t.org)),
                    ("Description", text(&t.description)),
                    ("Created", age(t.created_at)),
                ]);
                out.push('\n');
                out.push_str(&table(
                    &["member", "kind"],
                    &t.members
                        .iter()
                        .flatten()
                        .map(|m| vec![text(&m.name), text(member_kind(m.kind))])
                        .collect::<Vec<_>>(),
                ));
                out.push('\n');
                out.push_str(&grant_rows(t.grants.as_deref().unwrap_or_default()));
                out
            });
        }
        TeamsCommand::Create { team, description } => {
            let body = CreateTeamRequest {
                name: team,
                description,
            };
            let created: TeamView = client.send(Method::POST, &base, Some(&body)).await?;
            eprintln!(
                "Created team {}. Add robots with `robots teams add {} --robot NAME`.",
                created.name, created.name
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
            let body = UpdateTeamRequest {
                name: new_name,
                description,
            };
            let updated: TeamView = client
                .send(Method::PATCH, &format!("{base}/{}", segment(&team)), Some(&body))
                .await?;
            eprintln!("Updated team {}.", updated.name);
            output::print(context.format, &updated, |t| team_rows(std::slice::from_ref(t)));
        }
        TeamsCommand::Delete { team, yes } => {
            let path = format!("{base}/{}", segment(&team));
            let found: TeamView = client.get(&path).await?;
            confirm(
                &format!(
                    "Delete team {team}? Its {} user(s) and {} robot(s) lose its {} grant(s) at once.",
                    found.user_count, found.robot_count, found.grant_count
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Deleted team {team}.");
        }
        TeamsCommand::Add { team, member } => {
            client
                .perform(Method::PUT, &format!("{base}/{}/{}", segment(&team), member.path()))
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
                .perform(Method::DELETE, &format!("{base}/{}/{}", segment(&team), member.path()))
                .await?;
            eprintln!("Removed {} from team {team}.", member.describe());
        }
        TeamsCommand::Grant {
            team,
            repository,
            permission,
        } => {
            let path = format!("{base}/{}/grants/{}", segment(&team), repository_path(&repository));
            let body = GrantRequest {
                permission: permission.into(),
            };
            let grant: GrantView = client.send(Method::PUT, &path, Some(&body)).await?;
            eprintln!(
                "Team {team} now has {} on {}.",
                grant.permission.as_str(),
                grant.full_name
            );
            output::print(context.format, &grant, |g| grant_rows(std::slice::from_ref(g)));
        }
        TeamsCommand::Revoke { team, repository, yes } => {
            confirm(
                &format!("Revoke team {team}'s permission on {org}/{repository}? Its members lose it at once."),
                yes,
            )?;
            let path = format!("{base}/{}/grants/{}", segment(&team), repository_path(&repository));
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Revoked team {team}'s permission on {org}/{repository}.");
        }
    }
    Ok(())
}
