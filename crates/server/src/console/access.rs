//! The Admin Console's Teams and Repositories: who gets which permissions,
//! and, for any repository, who reaches it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_core::access::{Permission, RepoPath};
use robots_core::policy::OrgAction;
use robots_core::{Name, Role, text};
use robots_store::{MemberKind, StoreError};
use serde::Deserialize;

use super::chrome::{Chrome, Context, Stamp};
use super::orgs::org_page;
use super::robots::{ConfirmPage, NoticeQuery, notice, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::api::{find_repository, find_team};
use crate::error::ApiError;
use crate::state::AppState;

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
        .route(
            "/orgs/{org}/admin/repositories",
            get(repositories).post(create_repository),
        )
        .route("/orgs/{org}/admin/repositories/-/delete", post(delete_repository))
        .route("/orgs/{org}/admin/repositories/{*repository}", get(repository))
}

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
    notice: Option<String>,
) -> Result<TeamsPage, ConsoleError> {
    let (org, role, chrome) = org_page(state, user, org, OrgAction::Read, "teams").await?;
    let teams = state.store().list_teams(org.id, None, 200).await?;
    Ok(TeamsPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: role == Role::Admin,
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
        notice,
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
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    Ok(ok(&teams_page(&state, &user, &org, notice(query)).await?))
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let mut page = teams_page(&state, &form.user, &org, None).await?;
    page.name = form.data.name.clone();
    page.description = form.data.description.clone();
    let name = Name::parse(form.data.name.trim())
        .map_err(|error| page.name_error = Some(format!("The name {error}.")))
        .ok();
    let description = text::bounded_text(&form.data.description, text::MAX_DESCRIPTION_CHARS)
        .map_err(|error| page.description_error = Some(format!("The description {error}.")))
        .ok();
    let (Some(name), Some(description)) = (name, description) else {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    match state
        .create_team_as(&form.user.session, &found, &name, &description)
        .await
    {
        Ok(team) => Ok(Redirect::to(&format!("/orgs/{}/admin/teams/{}", found.name, team.name)).into_response()),
        Err(StoreError::NameTaken) => {
            page.name_error = Some(format!("{} already has a team named {name}.", found.name));
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
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
    let (org, role, chrome) = org_page(state, user, org, OrgAction::Read, "teams").await?;
    let team = find_team(state, &org, team).await?;
    let members = state.store().list_team_members(team.id).await?;
    let grants = state.store().list_team_grants(team.id).await?;
    let robots = state.store().list_robots(org.id, None, 200).await?;
    let repositories = state.store().list_repositories(org.id, None, 200).await?;
    let in_team = |name: &Name| members.iter().any(|m| m.kind == MemberKind::Robot && &m.name == name);
    Ok(TeamPage {
        chrome,
        org_name: org.name.to_string(),
        team_name: team.name.to_string(),
        description: team.description.clone(),
        can_manage: role == Role::Admin,
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
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    Ok(ok(&team_page(&state, &user, &org, &team, notice(query)).await?))
}

fn team_url(org: &str, team: &str) -> String {
    format!("/orgs/{org}/admin/teams/{team}")
}

/// Re-renders the team page with an error at the top.
async fn team_error(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    team: &str,
    status: StatusCode,
    error: String,
) -> ConsoleResult {
    let mut page = team_page(state, user, org, team, None).await?;
    page.error = Some(error);
    Ok(render(status, &page))
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let team_record = find_team(&state, &found, &team).await?;
    let typed = form.data.name.trim();
    let Ok(name) = Name::parse(typed) else {
        let error = format!("There is no {} named {typed:?} in {}.", form.data.kind, found.name);
        return team_error(&state, &form.user, &org, &team, StatusCode::UNPROCESSABLE_ENTITY, error).await;
    };
    let result = match form.data.kind.as_str() {
        "robot" => {
            state
                .add_team_member_as(&form.user.session, &found, &team_record, MemberKind::Robot, &name)
                .await
        }
        _ => {
            state
                .add_team_member_as(&form.user.session, &found, &team_record, MemberKind::User, &name)
                .await
        }
    };
    match result {
        Ok(_) => Ok(redirect_with_notice(
            &team_url(&org, &team),
            &format!("{name} is now in team {team}."),
        )),
        Err(StoreError::UserNotFound) => {
            team_error(
                &state,
                &form.user,
                &org,
                &team,
                StatusCode::NOT_FOUND,
                format!("There is no user named {name}."),
            )
            .await
        }
        Err(StoreError::NotAnOrgMember) => {
            let error = format!("{name} is not a member of {org}: add them under Members first.");
            team_error(&state, &form.user, &org, &team, StatusCode::UNPROCESSABLE_ENTITY, error).await
        }
        Err(StoreError::RobotNotFound) => {
            let error = format!("{org} has no robot account named {name}.");
            team_error(&state, &form.user, &org, &team, StatusCode::NOT_FOUND, error).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn remove_member(
    State(state): State<AppState>,
    Path((org, team)): Path<(String, String)>,
    form: ConsoleForm<MemberForm>,
) -> ConsoleResult {
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let team_record = find_team(&state, &found, &team).await?;
    let name = Name::parse(&form.data.name).map_err(|_| ApiError::not_found("no such member"))?;
    let removed = match form.data.kind.as_str() {
        "robot" => {
            state
                .remove_team_member_as(&form.user.session, &found, &team_record, MemberKind::Robot, &name)
                .await?
        }
        _ => {
            state
                .remove_team_member_as(&form.user.session, &found, &team_record, MemberKind::User, &name)
                .await?
        }
    };
    if !removed {
        return Err(ApiError::not_found(format!("{name} is not in team {team}")).into());
    }
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let team_record = find_team(&state, &found, &team).await?;
    let repository = find_repository(&state, &found, &form.data.repository).await?;
    let permission = Permission::parse(&form.data.permission)
        .ok_or_else(|| ApiError::bad_request("invalid_form", "permission must be read, write or admin"))?;
    state
        .set_grant_as(&form.user.session, &found, &team_record, &repository, permission)
        .await?;
    Ok(redirect_with_notice(
        &team_url(&org, &team),
        &format!(
            "Team {team} now has {} on {org}/{}.",
            permission.as_str(),
            repository.name
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let team_record = find_team(&state, &found, &team).await?;
    let repository = find_repository(&state, &found, &form.data.repository).await?;
    state
        .revoke_grant_as(&form.user.session, &found, &team_record, &repository)
        .await?;
    Ok(redirect_with_notice(
        &team_url(&org, &team),
        &format!("Team {team} no longer has access to {org}/{}.", repository.name),
    ))
}

async fn confirm_delete_team(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, team)): Path<(String, String)>,
) -> ConsoleResult {
    let (found, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageAccess, "teams").await?;
    let team = find_team(&state, &found, &team).await?;
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "teams").await?;
    let team = find_team(&state, &found, &team).await?;
    state.delete_team_as(&form.user.session, &found, &team).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{org}/admin/teams"),
        &format!("Team {} was deleted.", team.name),
    ))
}

struct RepositoryRow {
    name: String,
    created_at: Stamp,
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct RepositoriesPage {
    chrome: Chrome,
    org_name: String,
    can_manage: bool,
    repositories: Vec<RepositoryRow>,
    notice: Option<String>,
    name: String,
    name_error: Option<String>,
}

async fn repositories_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    notice: Option<String>,
) -> Result<RepositoriesPage, ConsoleError> {
    let (org, role, chrome) = org_page(state, user, org, OrgAction::Read, "repositories").await?;
    let now = state.now();
    let repositories = state.store().list_repositories(org.id, None, 200).await?;
    Ok(RepositoriesPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: role == Role::Admin,
        repositories: repositories
            .items
            .into_iter()
            .map(|r| RepositoryRow {
                name: r.name.to_string(),
                created_at: Stamp::new(r.created_at, now),
            })
            .collect(),
        notice,
        name: String::new(),
        name_error: None,
    })
}

async fn repositories(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    Ok(ok(&repositories_page(&state, &user, &org, notice(query)).await?))
}

#[derive(Deserialize)]
struct NewRepositoryForm {
    name: String,
}

async fn create_repository(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<NewRepositoryForm>,
) -> ConsoleResult {
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "repositories").await?;
    let mut page = repositories_page(&state, &form.user, &org, None).await?;
    page.name = form.data.name.clone();
    let path = match RepoPath::parse(form.data.name.trim()) {
        Ok(path) => path,
        Err(error) => {
            page.name_error = Some(format!("The path {error}. Use names joined by /, e.g. apps/web."));
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match state.create_repository_as(&form.user.session, &found, &path).await {
        Ok(repository) => {
            Ok(Redirect::to(&format!("/orgs/{}/admin/repositories/{}", found.name, repository.name)).into_response())
        }
        Err(StoreError::NameTaken) => {
            page.name_error = Some(format!("{}/{path} already exists.", found.name));
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
}

struct AccessRow {
    kind: &'static str,
    name: String,
    permission: &'static str,
    team: String,
}

#[derive(Template)]
#[template(path = "repository.html")]
struct RepositoryPage {
    chrome: Chrome,
    org_name: String,
    repository: String,
    can_manage: bool,
    access: Vec<AccessRow>,
    /// (team, permission)
    grants: Vec<(String, &'static str)>,
}

async fn repository(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, repository)): Path<(String, String)>,
) -> ConsoleResult {
    let (org, role, chrome) = org_page(&state, &user, &org, OrgAction::Read, "repositories").await?;
    let repository = find_repository(&state, &org, &repository).await?;
    let access = state.store().repository_access(repository.id).await?;
    let grants = state.store().list_repository_grants(repository.id).await?;
    Ok(ok(&RepositoryPage {
        chrome,
        org_name: org.name.to_string(),
        repository: repository.name.to_string(),
        can_manage: role == Role::Admin,
        access: access
            .into_iter()
            .map(|a| AccessRow {
                kind: a.kind.as_str(),
                name: a.name.to_string(),
                permission: a.permission.as_str(),
                team: a.team.to_string(),
            })
            .collect(),
        grants: grants
            .into_iter()
            .map(|g| (g.team.to_string(), g.permission.as_str()))
            .collect(),
    }))
}

async fn delete_repository(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<NewRepositoryForm>,
) -> ConsoleResult {
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageAccess, "repositories").await?;
    let repository = find_repository(&state, &found, &form.data.name).await?;
    state
        .delete_repository_as(&form.user.session, &found, &repository)
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{org}/admin/repositories"),
        &format!("{org}/{} and its grants were deleted.", repository.name),
    ))
}
