//! The Admin Console's Robots: the landing page, creating and deleting
//! robot accounts, their tokens, and the one screen that shows a Token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use robots_core::policy::OrgAction;
use robots_core::{Name, Role, text};
use robots_store::StoreError;
use serde::Deserialize;
use time::Duration;
use uuid::Uuid;

use super::chrome::{Chrome, Context, Stamp, last_used};
use super::orgs::org_page;
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::api::{find_robot, find_robot_ref};
use crate::error::ApiError;
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
        .route("/orgs/{org}/admin/robots/{robot}/teams", axum::routing::post(join_team))
        .route(
            "/orgs/{org}/admin/robots/{robot}/disable",
            get(confirm_disable).post(disable),
        )
        .route("/orgs/{org}/admin/robots/{robot}/enable", axum::routing::post(enable))
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/rotate",
            get(rotate_form).post(rotate),
        )
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens",
            axum::routing::post(create_token),
        )
        .route("/orgs/{org}/admin/robots/{robot}/tokens/-/new", get(new_token))
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/delete",
            get(confirm_delete_token).post(delete_token),
        )
}

#[derive(Deserialize, Default)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) fn notice(query: NoticeQuery) -> Option<String> {
    query.notice.filter(|notice| notice.len() <= 200)
}

pub(super) fn redirect_with_notice(path: &str, notice: &str) -> Response {
    let encoded: String = notice
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Redirect::to(&format!("{path}?notice={encoded}")).into_response()
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
    notice: Option<String>,
}

async fn robots(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    let (org, role, chrome) = org_page(&state, &user, &org, OrgAction::Read, "robots").await?;
    let now = state.now();
    let page = state.store().list_robots(org.id, None, 200).await?;
    let expiring = state
        .store()
        .list_expiring_tokens(org.id, now + crate::api::views::EXPIRING_SOON)
        .await?;
    let expiring_of = |robot: &robots_core::Name| {
        expiring
            .iter()
            .filter(|(name, token)| name == robot && token.expires_at.is_some_and(|at| at > now))
            .count()
    };
    Ok(ok(&RobotsPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: role == Role::Admin,
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
        notice: notice(query),
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
async fn team_choices(
    state: &AppState,
    org_id: uuid::Uuid,
    checked: &[String],
) -> Result<Vec<TeamChoice>, ConsoleError> {
    let teams = state.store().list_teams(org_id, None, 200).await?;
    let mut choices = Vec::with_capacity(teams.items.len());
    for team in teams.items {
        let grants = state.store().list_team_grants(team.id).await?;
        let summary = if grants.is_empty() {
            "grants nothing yet".to_owned()
        } else {
            grants
                .iter()
                .map(|g| format!("{} on {}", g.permission.as_str(), g.repository))
                .collect::<Vec<_>>()
                .join(", ")
        };
        choices.push(TeamChoice {
            checked: checked.iter().any(|c| c == team.name.as_str()),
            name: team.name.to_string(),
            summary,
        });
    }
    Ok(choices)
}

async fn new_robot(State(state): State<AppState>, user: ConsoleUser, Path(org): Path<String>) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    Ok(ok(&NewRobotPage {
        chrome,
        org_name: org.name.to_string(),
        name: String::new(),
        description: String::new(),
        name_error: None,
        description_error: None,
        teams: team_choices(&state, org.id, &[]).await?,
    }))
}

/// The create-robot form: `name`, `description`, and `teams` once per
/// checked team (hence pairs, not a struct).
async fn create_robot(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<Vec<(String, String)>>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let value = |key: &str| {
        form.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let checked: Vec<String> = form
        .data
        .iter()
        .filter(|(k, _)| k == "teams")
        .map(|(_, v)| v.clone())
        .collect();
    let (typed_name, typed_description) = (value("name"), value("description"));
    let mut page = NewRobotPage {
        chrome,
        org_name: org.name.to_string(),
        name: typed_name.clone(),
        description: typed_description.clone(),
        name_error: None,
        description_error: None,
        teams: team_choices(&state, org.id, &checked).await?,
    };
    let name = Name::parse(typed_name.trim())
        .map_err(|error| page.name_error = Some(format!("The name {error}.")))
        .ok();
    let description = text::bounded_text(&typed_description, text::MAX_DESCRIPTION_CHARS)
        .map_err(|error| page.description_error = Some(format!("The description {error}.")))
        .ok();
    let (Some(name), Some(description)) = (name, description) else {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    let mut teams = Vec::new();
    for team in &checked {
        teams.push(crate::api::find_team(&state, &org, team).await?);
    }
    match state
        .create_robot_as(&form.user.session, &org, &name, &description, &teams)
        .await
    {
        Ok(robot) => Ok(Redirect::to(&format!("/orgs/{}/admin/robots/{}", org.name, robot.name)).into_response()),
        Err(StoreError::NameTaken) => {
            page.name_error = Some(format!("{} already has a robot account named {name}.", org.name));
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
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
    permissions: Vec<PermissionRow>,
    teams: Vec<String>,
    /// Teams the robot could join.
    joinable_teams: Vec<String>,
    org_name: String,
    robot_name: String,
    description: String,
    created_at: Stamp,
    created_by: Option<String>,
    last_used: String,
    can_manage: bool,
    tokens: Vec<TokenRow>,
    credentials: Vec<super::federation::CredentialRow>,
    /// Recent token exchanges; shown to admins only, as the audit log is.
    exchanges: Vec<super::federation::ExchangeRow>,
    notice: Option<String>,
}

async fn robot(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    let (org, role, chrome) = org_page(&state, &user, &org, OrgAction::Read, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let now = state.now();
    let tokens = state.store().list_tokens(robot.id, None, None, 200).await?;
    let permissions = crate::api::access::permissions_of(&state, org.name.as_str(), &robot).await?;
    let all_teams = state.store().list_teams(org.id, None, 200).await?;
    let (credentials, exchanges) = super::federation::robot_section(&state, &org, robot.id, &robot.name).await?;
    Ok(ok(&RobotPage {
        credentials,
        exchanges: if role == Role::Admin { exchanges } else { Vec::new() },
        chrome,
        joinable_teams: all_teams
            .items
            .iter()
            .map(|team| team.name.to_string())
            .filter(|team| !permissions.teams.contains(team))
            .collect(),
        teams: permissions.teams.clone(),
        permissions: permissions
            .items
            .into_iter()
            .map(|entry| PermissionRow {
                repository: entry.repository,
                permission: entry.permission.as_str(),
                actions: entry.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "),
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
        description: robot.description,
        created_at: Stamp::new(robot.created_at, now),
        created_by: robot.created_by.map(|name| name.to_string()),
        last_used: last_used(robot.last_used_at, now),
        can_manage: role == Role::Admin,
        tokens: tokens
            .items
            .into_iter()
            .map(|token| {
                let view = crate::api::views::TokenView::new(token, now);
                TokenRow {
                    expires: match view.expires_at {
                        None => "never".to_owned(),
                        Some(_) if view.expired => "expired".to_owned(),
                        Some(at) => robots_core::humanize::relative(at, now),
                    },
                    role: match (view.role, &view.federated_credential) {
                        ("rotating_out", _) => "rotating out".to_owned(),
                        ("successor", _) => "successor".to_owned(),
                        (_, Some(credential)) => format!("exchanged via {credential}"),
                        _ => String::new(),
                    },
                    // Exchanged tokens live minutes and are replaced by the next exchange.
                    can_rotate: view.role != "rotating_out" && !view.expired && view.federated_credential.is_none(),
                    expired: view.expired,
                    expiring_soon: view.expiring_soon && view.federated_credential.is_none(),
                    name: view.name,
                    access_id: view.access_id,
                    created_at: Stamp::new(view.created_at, now),
                    last_used: last_used(view.last_used_at, now),
                }
            })
            .collect(),
        notice: notice(query),
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
    let (org, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let team = crate::api::find_team(&state, &org, &form.data.team).await?;
    state
        .add_team_member_as(
            &form.user.session,
            &org,
            &team,
            robots_store::MemberKind::Robot,
            &robot.name,
        )
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
        &format!("{} is now in team {} and has its permissions.", robot.name, team.name),
    ))
}

/// A confirmation that names what will stop working.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct ConfirmPage {
    pub chrome: Chrome,
    pub title: String,
    pub consequence: String,
    pub action: String,
    pub button: String,
    pub cancel_url: String,
}

async fn confirm_delete_robot(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
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
    let (org, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    state.delete_robot_as(&form.user.session, &org, &robot).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots", org.name),
        &format!("Robot account {} and its tokens were deleted.", robot.name),
    ))
}

/// Expiry choices on the token form: (form value, label).
const EXPIRY_OPTIONS: [(&str, &str); 6] = [
    ("never", "Never"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
    ("90d", "In 90 days"),
    ("180d", "In 180 days"),
    ("365d", "In a year"),
];

#[derive(Template)]
#[template(path = "token_new.html")]
struct NewTokenPage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    name: String,
    name_error: Option<String>,
    expires: String,
    expiry_options: [(&'static str, &'static str); 6],
}

async fn new_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    Ok(ok(&NewTokenPage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        name: String::new(),
        name_error: None,
        expires: "never".into(),
        expiry_options: EXPIRY_OPTIONS,
    }))
}

#[derive(Deserialize)]
struct NewTokenForm {
    name: String,
    #[serde(default)]
    expires: String,
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenCreatedPage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    token_name: String,
    access_id: Uuid,
    token: String,
    expires: Option<String>,
    /// After a rotation: until when the old token keeps working.
    rotation_note: Option<String>,
}

impl std::fmt::Debug for TokenCreatedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreatedPage")
            .field("access_id", &self.access_id)
            .finish_non_exhaustive()
    }
}

/// Creates a token and shows its credentials, this once. The response is
/// the POST's own, marked `no-store`; the secret is not kept anywhere for a
/// second showing. Submitting again is refused: token names are unique.
async fn create_token(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<NewTokenForm>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let now = state.now();
    let mut page = NewTokenPage {
        chrome: chrome.clone(),
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        name: form.data.name.clone(),
        name_error: None,
        expires: form.data.expires.clone(),
        expiry_options: EXPIRY_OPTIONS,
    };
    let expires_at = match form.data.expires.as_str() {
        "" | "never" => None,
        choice => match EXPIRY_OPTIONS.iter().find(|(value, _)| *value == choice) {
            Some((value, _)) => {
                let days: i64 = value.trim_end_matches('d').parse().unwrap_or(0);
                Some(now + Duration::days(days))
            }
            None => {
                return Err(ConsoleError::Api(ApiError::bad_request(
                    "invalid_form",
                    "unknown expiry choice",
                )));
            }
        },
    };
    let name = match Name::parse(form.data.name.trim()) {
        Ok(name) => name,
        Err(error) => {
            page.name_error = Some(format!("The name {error}."));
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let token = match state
        .create_token_as(&form.user.session, &org, &robot, &name, expires_at)
        .await
    {
        Ok(token) => token,
        Err(StoreError::NameTaken) => {
            page.name_error = Some(format!(
                "{} already has a token named {name}. Token names are unique per robot.",
                robot.name
            ));
            return Ok(render(StatusCode::CONFLICT, &page));
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = ok(&TokenCreatedPage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        token_name: token.name.to_string(),
        access_id: token.access_id,
        token: token.secret.expose().to_owned(),
        expires: token.expires_at.map(|at| robots_core::humanize::relative(at, now)),
        rotation_note: None,
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn confirm_delete_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let token = find_token(&state, robot.id, &access_id).await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Delete token {}?", token.name),
        consequence: format!(
            "Every system that authenticates as {} with Access ID {} stops working at once.",
            robot.name, token.access_id
        ),
        action: format!(
            "/orgs/{}/admin/robots/{}/tokens/{}/delete",
            org.name, robot.name, token.access_id
        ),
        button: "Delete token".into(),
        cancel_url: format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
    }))
}

async fn delete_token(
    State(state): State<AppState>,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let (org, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let token = find_token(&state, robot.id, &access_id).await?;
    state
        .delete_token_as(&form.user.session, &org, &robot, token.access_id)
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
        &format!("Token {} was deleted; it no longer authenticates.", token.name),
    ))
}

async fn find_token(
    state: &AppState,
    robot_id: Uuid,
    access_id: &str,
) -> Result<robots_store::TokenInfo, ConsoleError> {
    let not_found = || {
        ConsoleError::Api(ApiError::not_found(format!(
            "there is no token with Access ID {access_id}"
        )))
    };
    let id = Uuid::try_parse(access_id).map_err(|_| not_found())?;
    state.store().get_token(robot_id, id).await?.ok_or_else(not_found)
}

async fn confirm_disable(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
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
    let (org, _, _) = org_page(state, user, org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(state, &org, robot).await?;
    state
        .set_robot_disabled_as(&user.session, &org, &robot, disable)
        .await?;
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

#[derive(Template)]
#[template(path = "token_rotate.html")]
struct RotatePage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    token_name: String,
    access_id: Uuid,
}

async fn rotate_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let token = find_token(&state, robot.id, &access_id).await?;
    Ok(ok(&RotatePage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        token_name: token.name.to_string(),
        access_id: token.access_id,
    }))
}

#[derive(Deserialize)]
struct RotateForm {
    grace: String,
}

/// Rotates a token and shows the successor's credentials, this once.
async fn rotate(
    State(state): State<AppState>,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    form: ConsoleForm<RotateForm>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot(&state, &org, &robot).await?;
    let old = find_token(&state, robot.id, &access_id).await?;
    let grace = robots_core::duration::parse_duration(&form.data.grace)
        .map_err(|_| ApiError::bad_request("invalid_form", "unknown grace period"))?;
    // The successor lives as long as the old token was meant to, within the
    // organization's policy.
    let now = state.now();
    let lifetime = old.expires_at.map(|at| at - old.created_at).filter(|d| d.is_positive());
    let expires_at = match (org.token_policy.max_lifetime, lifetime) {
        (Some(max), Some(lifetime)) => Some(now + lifetime.min(time::Duration::try_from(max).unwrap_or(lifetime))),
        (Some(max), None) => Some(now + max),
        (None, Some(lifetime)) => Some(now + lifetime),
        (None, None) if org.token_policy.expiry_required => Some(now + time::Duration::days(90)),
        (None, None) => None,
    };
    let (rotating_out, new, secret) = match state
        .rotate_token_as(&form.user.session, &org, &robot, &old, grace, expires_at)
        .await
    {
        Ok(Some(rotated)) => rotated,
        Ok(None) => return Err(ApiError::not_found(format!("there is no token with Access ID {access_id}")).into()),
        Err(StoreError::TokenAlreadyRotated) => {
            return Err(ApiError::conflict(
                "already_rotated",
                "This token was rotated already: rotate its successor instead.",
            )
            .into());
        }
        Err(other) => return Err(other.into()),
    };
    let note = match rotating_out.expires_at {
        Some(at) if at <= now => format!("The old token (Access ID {}) stopped working now.", old.access_id),
        Some(at) => format!(
            "The old token (Access ID {}) keeps working until {} ({}); update every system that uses it before then.",
            old.access_id,
            crate::api::tokens::rfc3339(at),
            robots_core::humanize::relative(at, now)
        ),
        None => String::new(),
    };
    let mut response = ok(&TokenCreatedPage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.name.to_string(),
        token_name: new.name.to_string(),
        access_id: new.access_id,
        token: secret.expose().to_owned(),
        expires: new.expires_at.map(|at| robots_core::humanize::relative(at, now)),
        rotation_note: Some(note),
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
