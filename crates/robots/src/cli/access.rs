//! Teams, repositories and grants from the command line.

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use robots_api_types::{
    AccessView, CreateRepositoryRequest, CreateTeamRequest, EffectiveView, GrantRequest, GrantView, MemberKind,
    Permission, RepositoryView, TeamView, UpdateTeamRequest,
};

use super::client::{CliError, segment};
use super::output::{self, age, details, table, text};
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

/// "user" or "robot", as the API writes it.
fn member_kind(kind: MemberKind) -> &'static str {
    match kind {
        MemberKind::User => "user",
        MemberKind::Robot => "robot",
    }
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

pub async fn repos(context: &Context, command: ReposCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/repositories", segment(&org));
    let rows = |repositories: &[RepositoryView]| {
        table(
            &["repository", "created"],
            &repositories
                .iter()
                .map(|r| vec![text(&r.full_name), age(r.created_at)])
                .collect::<Vec<_>>(),
        )
    };
    match command {
        ReposCommand::List => {
            let repositories: Vec<RepositoryView> = client.get_all(&base).await?;
            output::print(context.format, &repositories, |repositories| {
                if repositories.is_empty() {
                    "No repositories yet. Create one with `robots repos create PATH`.\n".to_owned()
                } else {
                    rows(repositories)
                }
            });
        }
        ReposCommand::Get { repository } => {
            let found: RepositoryView = client.get(&format!("{base}/{}", repository_path(&repository))).await?;
            output::print(context.format, &found, |r| {
                let mut out = details(&[("Repository", text(&r.full_name)), ("Created", age(r.created_at))]);
                let access = r.access.as_deref().unwrap_or_default();
                out.push('\n');
                if access.is_empty() {
                    out.push_str("Nobody reaches it: no team with members has a grant on it.\n");
                } else {
                    out.push_str(&table(
                        &["name", "kind", "permission", "through team"],
                        &access.iter().map(access_row).collect::<Vec<_>>(),
                    ));
                }
                out
            });
        }
        ReposCommand::Create { repository } => {
            let body = CreateRepositoryRequest { name: repository };
            let created: RepositoryView = client.send(Method::POST, &base, Some(&body)).await?;
            eprintln!("Created repository {}.", created.full_name);
            output::print(context.format, &created, |r| rows(std::slice::from_ref(r)));
        }
        ReposCommand::Delete { repository, yes } => {
            let path = format!("{base}/{}", repository_path(&repository));
            let found: RepositoryView = client.get(&path).await?;
            let reaching = found.access.map_or(0, |access| access.len());
            confirm(
                &format!(
                    "Delete repository {org}/{repository}? Every grant on it goes; {reaching} membership(s) lose access at once."
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Deleted repository {org}/{repository}.");
        }
    }
    Ok(())
}

/// Who reaches a repository: name, kind, permission, through which team.
fn access_row(access: &AccessView) -> Vec<String> {
    vec![
        text(&access.name),
        text(member_kind(access.kind)),
        text(access.permission.as_str()),
        text(&access.team),
    ]
}

/// The permissions table shown by `robots get`.
pub fn permission_rows(permissions: &[EffectiveView]) -> String {
    if permissions.is_empty() {
        return "No permissions: add it to a team with `robots teams add TEAM --robot NAME`.\n".to_owned();
    }
    table(
        &["repository", "permission", "allows", "through"],
        &permissions
            .iter()
            .map(|item| {
                let actions: Vec<&str> = item.actions.iter().map(|action| action.as_str()).collect();
                let via: Vec<String> = item
                    .via
                    .iter()
                    .map(|via| format!("{} ({})", text(&via.team), via.permission.as_str()))
                    .collect();
                vec![
                    text(&item.full_name),
                    text(item.permission.as_str()),
                    actions.join(", "),
                    via.join(", "),
                ]
            })
            .collect::<Vec<_>>(),
    )
}
