//! Robot accounts from the command line: list, create, show (with their
//! tokens, teams and permissions), rename, delete, disable and enable.

use clap::Args;
use reqwest::Method;
use robots_api_types::{CreateRobotRequest, EffectiveView, PermissionsView, RobotView, TokenView, UpdateRobotRequest};
use serde::Serialize;

use super::client::{CliError, NO_BODY, segment};
use super::output::{self, age, age_or, details, optional, table, text};
use super::tokens::token_rows;
use super::{Context, confirm};

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
    /// Allow the robot to rotate the token it authenticates with (robots tokens rotate-self).
    #[arg(long, conflicts_with = "no_self_rotate")]
    self_rotate: bool,
    /// Forbid it again.
    #[arg(long)]
    no_self_rotate: bool,
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
        out.push_str(&permission_rows(&shown.permissions));
        out
    });
    Ok(())
}

pub async fn update_robot(context: &Context, args: UpdateRobotArgs) -> Result<(), CliError> {
    let self_rotate = match (args.self_rotate, args.no_self_rotate) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    if args.new_name.is_none() && args.description.is_none() && self_rotate.is_none() {
        return Err(CliError::Usage(
            "nothing to change: give --name, --description, --self-rotate or --no-self-rotate".into(),
        ));
    }
    let path = format!("{}/{}", context.robots_path().await?, segment(&args.name));
    let body = UpdateRobotRequest {
        name: args.new_name,
        description: args.description,
        self_rotate,
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
