//! The Admin Console's Teams: their people and robots, and their grants.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_api_types::ErrorCode;
use robots_core::Name;
use robots_core::access::Permission;
use robots_core::policy::OrgAction;
use robots_service::{ManageAccess, Read, ServiceError};
use robots_store::MemberKind;
use serde::Deserialize;

use super::chrome::{Chrome, ConfirmPage, Context, PAGE_SIZE, PageQuery, Pager, org_page, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok, refused, sentence};
use crate::error::ApiError;
use crate::state::AppState;

struct TeamRow {
    name: String,
    description: String,
    user_count: i64,
    robot_count: i64,
    grant_count: i64,
}

#[derive(Template)]
#[template(path = "teams.html")]
struct TeamsPage {
    chrome: Chrome,
    org_name: String,
    can_manage: bool,
    teams: Vec<TeamRow>,
    pager: Pager,
    notice: Option<String>,
    name: String,
    description: String,
    name_error: Option<String>,
    description_error: Option<String>,
}

async fn teams_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    query: &PageQuery,
) -> Result<TeamsPage, ConsoleError> {
    let (at, chrome) = org_page::<Read>(state, user, org, "teams").await?;
    let teams = state.service().list_teams(&at, query.after(), PAGE_SIZE).await?;
    let total = state.service().count_teams(&at).await?;
    let org = at.org();
    let next = teams
        .has_more
        .then(|| teams.items.last().map(|team| team.name.to_string()))
        .flatten();
    Ok(TeamsPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: at.may(OrgAction::ManageAccess),
        pager: Pager::new(
            &format!("/orgs/{}/admin/teams", org.name),
            query,
            teams.items.len(),
            total,
            next,
            ("team", "teams"),
        ),
        teams: teams
            .items
            .into_iter()
            .map(|team| TeamRow {
                name: team.name.to_string(),
                description: team.description,
                user_count: team.user_count,
                robot_count: team.robot_count,
                grant_count: team.grant_count,
            })
            .collect(),
        notice: query.notice(),
        name: String::new(),
        description: String::new(),
        name_error: None,
        description_error: None,
    })
}

async fn teams(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    Ok(ok(&teams_page(&state, &user, &org, &query).await?))
}

#[derive(Deserialize)]
struct NewTeamForm {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_team(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<NewTeamForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let refused = match state
        .service()
        .create_team(&at, &form.data.name, &form.data.description)
        .await
    {
        Ok(team) => {
            return Ok(Redirect::to(&format!("/orgs/{}/admin/teams/{}", at.org().name, team.name)).into_response());
        }
        Err(error) => field_error(error)?,
    };
    let mut page = teams_page(&state, &form.user, &org, &PageQuery::default()).await?;
    page.name = form.data.name.clone();
    page.description = form.data.description.clone();
    match refused.field.as_str() {
        "description" => page.description_error = Some(refused.message.clone()),
        _ => page.name_error = Some(refused.message.clone()),
    }
    Ok(refused.render(&page))
}

struct MemberRow {
    kind: &'static str,
    name: String,
}

struct GrantRow {
    repository: String,
    permission: &'static str,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    chrome: Chrome,
    org_name: String,
    team_name: String,
    description: String,
    can_manage: bool,
    members: Vec<MemberRow>,
    grants: Vec<GrantRow>,
    /// Robots of the organization not yet in the team.
    robots: Vec<String>,
    /// Repositories of the organization, for the grant form.
    repositories: Vec<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn team_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    team: &str,
    notice: Option<String>,
) -> Result<TeamPage, ConsoleError> {
    let (at, chrome) = org_page::<Read>(state, user, org, "teams").await?;
    let service = state.service();
    let detail = service.team_detail(&at, team).await?;
    let (team, members, grants) = (detail.team, detail.members, detail.grants);
    // The forms offer every robot and repository: no silent cap.
    let robots = service.list_robots(&at, None, u32::MAX).await?;
    let repositories = service.list_repositories(&at, None, u32::MAX).await?;
    let org = at.org();
    let in_team = |name: &Name| members.iter().any(|m| m.kind == MemberKind::Robot && &m.name == name);
    Ok(TeamPage {
        chrome,
        org_name: org.name.to_string(),
        team_name: team.name.to_string(),
        description: team.description.clone(),
        can_manage: at.may(OrgAction::ManageAccess),
        robots: robots
            .items
            .iter()
            .filter(|r| !in_team(&r.name))
            .map(|r| r.name.to_string())
            .collect(),
        members: members
            .iter()
            .map(|m| MemberRow {
                kind: m.kind.as_str(),
                name: m.name.to_string(),
            })
            .collect(),
        grants: grants
            .into_iter()
            .map(|g| GrantRow {
                repository: g.repository.to_string(),
                permission: g.permission.as_str(),
            })
            .collect(),
        repositories: repositories.items.into_iter().map(|r| r.name.to_string()).collect(),
        notice,
        error: None,
    })
}

async fn team(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, team)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    Ok(ok(&team_page(&state, &user, &org, &team, query.notice()).await?))
}

fn team_url(org: &str, team: &str) -> String {
    format!("/orgs/{org}/admin/teams/{team}")
}

/// Re-renders the team page with the refusal, said as `message`, at the top.
async fn team_error(
    state: &AppState,
    user: &ConsoleUser,
    (org, team): (&str, &str),
    error: &ServiceError,
    message: String,
) -> ConsoleResult {
    let mut page = team_page(state, user, org, team, None).await?;
    page.error = Some(message);
    Ok(refused(error, &page))
}

#[derive(Deserialize)]
struct MemberForm {
    kind: String,
    name: String,
}

async fn add_member(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<MemberForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let typed = form.data.name.trim();
    let kind = member_kind(&form.data.kind);
    let error = match state.service().add_team_member(&at, &team, kind, typed).await {
        Ok(_) => {
            return Ok(redirect_with_notice(
                &team_url(&org, &team),
                &format!("{typed} is now in team {team}."),
            ));
        }
        Err(error) => error,
    };
    let message = match &error {
        ServiceError::UserNotFound => format!("There is no user named {typed}."),
        ServiceError::NotAnOrgMember => format!("{typed} is not a member of {org}: add them under Members first."),
        ServiceError::NotFound(message) if kind == MemberKind::Robot => sentence(message),
        _ => return Err(error.into()),
    };
    team_error(&state, &form.user, (&org, &team), &error, message).await
}

fn member_kind(kind: &str) -> MemberKind {
    match kind {
        "robot" => MemberKind::Robot,
        _ => MemberKind::User,
    }
}

async fn remove_member(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<MemberForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let name = &form.data.name;
    state
        .service()
        .remove_team_member(&at, &team, member_kind(&form.data.kind), name)
        .await?;
    Ok(redirect_with_notice(
        &team_url(&org, &team),
        &format!("{name} was removed from team {team}."),
    ))
}

#[derive(Deserialize)]
struct GrantForm {
    repository: String,
    permission: String,
}

async fn grant(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<GrantForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let permission = Permission::parse(&form.data.permission)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidForm, "permission must be read, write or admin"))?;
    let (grant, _) = state
        .service()
        .set_grant(&at, &team, &form.data.repository, permission)
        .await?;
    Ok(redirect_with_notice(
        &team_url(&org, &team),
        &format!(
            "Team {team} now has {} on {org}/{}.",
            permission.as_str(),
            grant.repository
        ),
    ))
}

#[derive(Deserialize)]
struct RevokeForm {
    repository: String,
}

async fn revoke(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<RevokeForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let repository = &form.data.repository;
    state.service().revoke_grant(&at, &team, repository).await?;
    Ok(redirect_with_notice(
        &team_url(&org, &team),
        &format!("Team {team} no longer has access to {org}/{repository}."),
    ))
}

async fn confirm_delete_team(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, team)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageAccess>(&state, &user, &org, "teams").await?;
    let found = at.org();
    let team = state.service().team(&at, &team).await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Delete team {}?", team.name),
        consequence: format!(
            "Its {} user(s) and {} robot(s) lose the team's {} grant(s) at once; robots that had access only through {} can no longer pull or push.",
            team.user_count, team.robot_count, team.grant_count, team.name
        ),
        action: format!("/orgs/{}/admin/teams/{}/delete", found.name, team.name),
        button: "Delete team".into(),
        cancel_url: team_url(found.name.as_str(), team.name.as_str()),
    }))
}

async fn delete_team(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let team = state.service().delete_team(&at, &team).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{org}/admin/teams"),
        &format!("Team {} was deleted.", team.name),
    ))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/admin/teams", get(teams).post(create_team))
        .route("/orgs/{org}/admin/teams/{team}", get(team))
        .route(
            "/orgs/{org}/admin/teams/{team}/delete",
            get(confirm_delete_team).post(delete_team),
        )
        .route("/orgs/{org}/admin/teams/{team}/members", post(add_member))
        .route("/orgs/{org}/admin/teams/{team}/members/-/remove", post(remove_member))
        .route("/orgs/{org}/admin/teams/{team}/grants", post(grant))
        .route("/orgs/{org}/admin/teams/{team}/grants/-/revoke", post(revoke))
}
