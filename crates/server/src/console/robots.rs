//! The Admin Console's Robots: the landing page, creating and deleting
//! robot accounts, their tokens, and the one screen that shows a Token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_core::policy::OrgAction;
use robots_service::{EXPIRING_SOON, ManageAccess, ManageRobots, NewRobotInput, Phase, Read, RobotUpdate, Standing};
use robots_store::MemberKind;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{
    Chrome, ConfirmPage, Context, PAGE_SIZE, PageQuery, Pager, Stamp, last_used, org_page, redirect_with_notice,
};
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/admin/robots", get(robots).post(create_robot))
        .route("/orgs/{org}/admin/robots/-/new", get(new_robot))
        .route("/orgs/{org}/admin/robots/{robot}", get(robot))
        .route(
            "/orgs/{org}/admin/robots/{robot}/delete",
            get(confirm_delete_robot).post(delete_robot),
        )
        .route("/orgs/{org}/admin/robots/{robot}/teams", post(join_team))
        .route(
            "/orgs/{org}/admin/robots/{robot}/disable",
            get(confirm_disable).post(disable),
        )
        .route("/orgs/{org}/admin/robots/{robot}/enable", post(enable))
        .route(
            "/orgs/{org}/admin/robots/{robot}/self-rotation",
            post(set_self_rotation),
        )
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/enable",
            post(enable_token),
        )
}

struct RobotRow {
    name: String,
    description: String,
    created_at: Stamp,
    token_count: i64,
    last_used: String,
    disabled: bool,
    /// Tokens expiring within a week.
    expiring: usize,
}

#[derive(Template)]
#[template(path = "robots.html")]
struct RobotsPage {
    chrome: Chrome,
    org_name: String,
    can_manage: bool,
    robots: Vec<RobotRow>,
    pager: Pager,
    notice: Option<String>,
}

async fn robots(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<Read>(&state, &user, &org, "robots").await?;
    let service = state.service();
    let now = state.now();
    let page = service.list_robots(&at, query.after(), PAGE_SIZE).await?;
    let total = service.count_robots(&at).await?;
    let expiring = service.expiring_tokens(&at, now + EXPIRING_SOON).await?;
    let expiring_of = |robot: &robots_core::Name| {
        expiring
            .iter()
            .filter(|(name, token)| name == robot && token.expires_at.is_some_and(|at| at > now))
            .count()
    };
    let org = at.org();
    let next = page
        .has_more
        .then(|| page.items.last().map(|robot| robot.name.to_string()))
        .flatten();
    let pager = Pager::new(
        &format!("/orgs/{}/admin/robots", org.name),
        &query,
        page.items.len(),
        total,
        next,
        ("robot account", "robot accounts"),
    );
    Ok(ok(&RobotsPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: at.may(OrgAction::ManageRobots),
        robots: page
            .items
            .into_iter()
            .map(|robot| RobotRow {
                expiring: expiring_of(&robot.name),
                name: robot.name.to_string(),
                description: robot.description,
                created_at: Stamp::new(robot.created_at, now),
                token_count: robot.token_count,
                last_used: last_used(robot.last_used_at, now),
                disabled: robot.disabled_at.is_some(),
            })
            .collect(),
        pager,
        notice: query.notice(),
    }))
}

/// A team offered on the create-robot form, with what joining it grants.
struct TeamChoice {
    name: String,
    summary: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "robot_new.html")]
struct NewRobotPage {
    chrome: Chrome,
    org_name: String,
    name: String,
    description: String,
    name_error: Option<String>,
    description_error: Option<String>,
    teams: Vec<TeamChoice>,
}

/// The organization's teams, each with a one-line summary of its grants,
/// so "add to team" can happen in the same step as creating the robot.
async fn team_choices<R>(
    state: &AppState,
    at: &robots_service::Authorized<'_, R>,
    checked: &[String],
) -> Result<Vec<TeamChoice>, ConsoleError> {
    let teams = state.service().teams_with_grants(at).await?;
    Ok(teams
        .into_iter()
        .map(|(team, grants)| TeamChoice {
            checked: checked.iter().any(|c| c == team.name.as_str()),
            name: team.name.to_string(),
            summary: if grants.is_empty() {
                "grants nothing yet".to_owned()
            } else {
                grants
                    .iter()
                    .map(|g| format!("{} on {}", g.permission.as_str(), g.repository))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
        .collect())
}

async fn new_robot(State(state): State<AppState>, user: ConsoleUser, Path(org): Path<String>) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    Ok(ok(&NewRobotPage {
        chrome,
        org_name: at.org().name.to_string(),
        name: String::new(),
        description: String::new(),
        name_error: None,
        description_error: None,
        teams: team_choices(&state, &at, &[]).await?,
    }))
}

/// The create-robot form: `name`, `description`, and `teams` once per
/// checked team (hence pairs, not a struct).
async fn create_robot(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<Vec<(String, String)>>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &form.user, &org, "robots").await?;
    let value = |key: &str| {
        form.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let checked: Vec<String> = form
        .data
        .iter()
        .filter(|(k, _)| k == "teams")
        .map(|(_, v)| v.clone())
        .collect();
    let teams: Vec<&str> = checked.iter().map(String::as_str).collect();
    let input = NewRobotInput {
        name: value("name"),
        description: value("description"),
        teams: &teams,
    };
    let refused = match state.service().create_robot(&at, input).await {
        Ok(robot) => {
            return Ok(Redirect::to(&format!("/orgs/{}/admin/robots/{}", at.org().name, robot.name)).into_response());
        }
        Err(error) => field_error(error)?,
    };
    let mut page = NewRobotPage {
        chrome,
        org_name: at.org().name.to_string(),
        name: input.name.to_owned(),
        description: input.description.to_owned(),
        name_error: None,
        description_error: None,
        teams: team_choices(&state, &at, &checked).await?,
    };
    match refused.field.as_str() {
        "description" => page.description_error = Some(refused.message.clone()),
        _ => page.name_error = Some(refused.message.clone()),
    }
    Ok(refused.render(&page))
}

struct TokenRow {
    name: String,
    access_id: Uuid,
    created_at: Stamp,
    last_used: String,
    expires: String,
    expired: bool,
    expiring_soon: bool,
    /// Empty for an ordinary token; "successor" or "rotating out" during a
    /// rotation; "exchanged via …" for a token from an OIDC token exchange.
    role: String,
    can_rotate: bool,
    disabled: bool,
}

struct PermissionRow {
    repository: String,
    permission: &'static str,
    /// "pull, push"
    actions: String,
    /// "ops (write), readers (read)"
    via: String,
}

#[derive(Template)]
#[template(path = "robot.html")]
struct RobotPage {
    chrome: Chrome,
    disabled: bool,
    self_rotate: bool,
    permissions: Vec<PermissionRow>,
    teams: Vec<String>,
    /// Teams the robot could join.
    joinable_teams: Vec<String>,
    /// Whether the viewer may add the robot to teams.
    can_join_teams: bool,
    org_name: String,
    robot_name: String,
    description: String,
    created_at: Stamp,
    created_by: Option<String>,
    last_used: String,
    can_manage: bool,
    tokens: Vec<TokenRow>,
    tokens_pager: Pager,
    credentials: Vec<super::federation::CredentialRow>,
    /// Recent token exchanges; shown to admins only, as the audit log is.
    exchanges: Vec<super::federation::ExchangeRow>,
    notice: Option<String>,
}

async fn robot(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<Read>(&state, &user, &org, "robots").await?;
    let service = state.service();
    let now = state.now();
    let permissions = service.robot_permissions(&at, &robot).await?;
    let robot = permissions.robot;
    let (_, tokens) = service
        .list_tokens(&at, robot.name.as_str(), None, query.after(), PAGE_SIZE)
        .await?;
    let all_teams = service.list_teams(&at, None, u32::MAX).await?;
    let (credentials, exchanges) = super::federation::robot_section(&state, &at, robot.name.as_str()).await?;
    let org = at.org();
    let next = tokens
        .has_more
        .then(|| tokens.items.last().map(robots_store::TokenInfo::page_key))
        .flatten();
    let tokens_pager = Pager::new(
        &format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
        &query,
        tokens.items.len(),
        robot.token_count,
        next,
        ("token", "tokens"),
    );
    let teams: Vec<String> = permissions.teams.iter().map(ToString::to_string).collect();
    Ok(ok(&RobotPage {
        credentials,
        exchanges,
        chrome,
        joinable_teams: all_teams
            .items
            .iter()
            .map(|team| team.name.to_string())
            .filter(|team| !teams.contains(team))
            .collect(),
        can_join_teams: at.may(OrgAction::ManageAccess),
        teams,
        permissions: permissions
            .effective
            .into_iter()
            .map(|entry| PermissionRow {
                repository: entry.repository.to_string(),
                permission: entry.permission.as_str(),
                actions: entry
                    .permission
                    .actions()
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                via: entry
                    .via
                    .iter()
                    .map(|v| format!("{} ({})", v.team, v.permission.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        disabled: robot.disabled_at.is_some(),
        self_rotate: robot.self_rotate,
        description: robot.description,
        created_at: Stamp::new(robot.created_at, now),
        created_by: robot.created_by.map(|name| name.to_string()),
        last_used: last_used(robot.last_used_at, now),
        can_manage: at.may(OrgAction::ManageRobots),
        tokens_pager,
        tokens: tokens
            .items
            .into_iter()
            .map(|token| {
                let standing = Standing::of(&token, now);
                let exchanged = token.federated_by.as_ref();
                TokenRow {
                    expires: match token.expires_at {
                        None => "never".to_owned(),
                        Some(_) if standing.expired => "expired".to_owned(),
                        Some(at) => robots_core::humanize::relative(at, now),
                    },
                    role: match (standing.phase, exchanged) {
                        (Phase::RotatingOut, _) => "rotating out".to_owned(),
                        (Phase::Successor, _) => "successor".to_owned(),
                        (_, Some(credential)) => format!("exchanged via {credential}"),
                        _ => String::new(),
                    },
                    // Exchanged tokens live minutes and are replaced by the next exchange.
                    can_rotate: standing.phase != Phase::RotatingOut && !standing.expired && exchanged.is_none(),
                    expired: standing.expired,
                    disabled: token.disabled_at.is_some(),
                    expiring_soon: standing.expiring_soon && exchanged.is_none(),
                    name: token.name.to_string(),
                    access_id: token.access_id,
                    created_at: Stamp::new(token.created_at, now),
                    last_used: last_used(token.last_used_at, now),
                }
            })
            .collect(),
        notice: query.notice(),
    }))
}

#[derive(Deserialize)]
struct JoinTeamForm {
    team: String,
}

async fn join_team(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<JoinTeamForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    state
        .service()
        .add_team_member(&at, &form.data.team, MemberKind::Robot, &robot)
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{robot}", at.org().name),
        &format!("{robot} is now in team {} and has its permissions.", form.data.team),
    ))
}

async fn confirm_delete_robot(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    let org = at.org();
    let robot = state.service().robot(&at, &robot).await?;
    let tokens = match robot.token_count {
        0 => "It has no tokens.".to_owned(),
        1 => "Its 1 token will be deleted too, and every system using it stops authenticating at once.".to_owned(),
        n => format!("Its {n} tokens will be deleted too, and every system using them stops authenticating at once."),
    };
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Delete robot account {}?", robot.name),
        consequence: format!(
            "Deleting {} removes the robot account from {}. {tokens}",
            robot.name, org.name
        ),
        action: format!("/orgs/{}/admin/robots/{}/delete", org.name, robot.name),
        button: "Delete robot account".into(),
        cancel_url: format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
    }))
}

async fn delete_robot(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageRobots>(&form.user.session, &org)
        .await?;
    let robot = state.service().delete_robot(&at, &robot).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots", at.org().name),
        &format!("Robot account {} and its tokens were deleted.", robot.name),
    ))
}

async fn confirm_disable(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    let org = at.org();
    let robot = state.service().robot(&at, &robot).await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Disable robot account {}?", robot.name),
        consequence: format!(
            "Its {} token(s) stop authenticating at once, and every system using them is refused until you enable it again. \
             Nothing is deleted.",
            robot.token_count
        ),
        action: format!("/orgs/{}/admin/robots/{}/disable", org.name, robot.name),
        button: "Disable robot account".into(),
        cancel_url: format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
    }))
}

async fn set_disabled(state: &AppState, user: &ConsoleUser, org: &str, robot: &str, disable: bool) -> ConsoleResult {
    let at = state.service().authorize::<ManageRobots>(&user.session, org).await?;
    let robot = state.service().set_robot_disabled(&at, robot, disable).await?;
    let org = at.org();
    let notice = if disable {
        format!("{} is disabled; its tokens are refused.", robot.name)
    } else {
        format!("{} is enabled; its tokens work again.", robot.name)
    };
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
        &notice,
    ))
}

/// Enables a disabled token: one click.
async fn enable_token(
    State(state): State<AppState>,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<robots_service::ManageTokens>(&form.user.session, &org)
        .await?;
    let token = state
        .service()
        .set_token_disabled(&at, &robot, &access_id, false)
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{robot}", at.org().name),
        &format!("Token {} works again.", token.name),
    ))
}

#[derive(serde::Deserialize)]
struct SelfRotationForm {
    /// `allow` or `forbid`.
    self_rotate: String,
}

async fn set_self_rotation(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<SelfRotationForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageRobots>(&form.user.session, &org)
        .await?;
    let allow = form.data.self_rotate == "allow";
    let update = RobotUpdate {
        self_rotate: Some(allow),
        ..RobotUpdate::default()
    };
    let robot = state.service().update_robot(&at, &robot, update).await?;
    let notice = if allow {
        format!("{} may now rotate the token it authenticates with.", robot.name)
    } else {
        format!("{} may no longer rotate its own tokens.", robot.name)
    };
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{}", at.org().name, robot.name),
        &notice,
    ))
}

async fn disable(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    set_disabled(&state, &form.user, &org, &robot, true).await
}

async fn enable(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    set_disabled(&state, &form.user, &org, &robot, false).await
}
