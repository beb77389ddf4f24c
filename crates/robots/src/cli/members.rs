//! Members of an organization and their roles, from the command line.

use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use robots_api_types::{MemberView, Role, SetMemberRequest};

use super::client::{CliError, segment};
use super::output::{self, age, table, text};
use super::{Context, confirm};

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
