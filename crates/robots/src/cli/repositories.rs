//! Repositories from the command line: what robots push to and pull from,
//! and who reaches each.

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{AccessView, CreateRepositoryRequest, MemberKind, RepositoryView};

use super::client::{CliError, segment};
use super::output::{self, age, details, table, text};
use super::{Context, confirm};

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

pub(super) fn repository_path(repository: &str) -> String {
    repository.split('/').map(segment).collect::<Vec<_>>().join("/")
}

/// "user" or "robot", as the API writes it.
pub(super) fn member_kind(kind: MemberKind) -> &'static str {
    match kind {
        MemberKind::User => "user",
        MemberKind::Robot => "robot",
    }
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
