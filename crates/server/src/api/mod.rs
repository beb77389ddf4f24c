//! The REST API under `/v1`. Each module owns one resource and exports a
//! `router()`; they are merged here.

pub(crate) mod access;
pub(crate) mod federation;
pub(crate) mod lifecycle;
mod members;
pub mod openapi;
mod orgs;
mod robots;
pub(crate) mod sessions;
mod setup;
pub(crate) mod tokens;
pub(crate) mod users;
pub mod views;

use axum::Router;
use robots_core::policy::{self, Denial, OrgAction};
use robots_core::{Name, Role};
use robots_store::{AccountLookup, Org, Robot, RobotRef};

use crate::auth::UserSession;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(setup::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(orgs::router())
        .merge(members::router())
        .merge(robots::router())
        .merge(tokens::router())
        .merge(access::router())
        .merge(lifecycle::router())
        .merge(federation::router())
        .merge(openapi::router())
}

/// What an organization-scoped route is about, for the personal-account
/// message: robots get the spec's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Org,
    Robots,
}

/// Resolves `org` for `caller` and checks `action` against the policy:
/// 404 when the caller may not see it, 403 when they see it but may not act,
/// 422 `personal_account` when the name is a person's.
pub(crate) async fn authorize_org(
    state: &AppState,
    caller: &UserSession,
    org: &str,
    action: OrgAction,
    scope: Scope,
) -> Result<(Org, Role), ApiError> {
    let not_found = || ApiError::not_found(format!("no organization named {org:?} that you can see"));
    if Name::parse(org).is_err() {
        return Err(not_found());
    }
    let (found, role) = match state.store().lookup_account(org, caller.user.id).await? {
        None => return Err(not_found()),
        Some(AccountLookup::User) => {
            return Err(match scope {
                Scope::Robots => ApiError::personal_account(org),
                Scope::Org => ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "personal_account",
                    format!("{org} is a personal account, not an organization"),
                ),
            });
        }
        Some(AccountLookup::Org { org, role }) => (org, role),
    };
    match policy::authorize(role, action) {
        Ok(()) => Ok((found, role.unwrap_or(Role::Member))),
        Err(Denial::NotFound) => Err(not_found()),
        Err(Denial::AdminRequired) => Err(ApiError::forbidden(format!(
            "only admins of {org} can {}",
            match action {
                OrgAction::ManageRobots => "create, change or delete robot accounts and tokens",
                OrgAction::ManageMembers => "change its members",
                OrgAction::ManageAccess => "change teams, repositories and grants",
                OrgAction::DeleteOrg => "delete it",
                OrgAction::Read | OrgAction::Leave => "do that",
            }
        ))),
    }
}

/// Resolves a team inside an organization the caller may see.
pub(crate) async fn find_team(state: &AppState, org: &Org, team: &str) -> Result<robots_store::Team, ApiError> {
    let not_found = || ApiError::not_found(format!("{} has no team named {team:?}", org.name));
    let name = Name::parse(team).map_err(|_| not_found())?;
    state.store().get_team(org.id, &name).await?.ok_or_else(not_found)
}

/// Resolves a repository (its path inside the organization) the caller may see.
pub(crate) async fn find_repository(
    state: &AppState,
    org: &Org,
    repository: &str,
) -> Result<robots_store::Repository, ApiError> {
    let not_found = || ApiError::not_found(format!("{} has no repository named {repository:?}", org.name));
    let path = robots_core::access::RepoPath::parse(repository).map_err(|_| not_found())?;
    state.store().get_repository(org.id, &path).await?.ok_or_else(not_found)
}

/// Resolves a robot inside an organization the caller may see.
fn no_such_robot(org: &Org, robot: &str) -> ApiError {
    ApiError::not_found(format!("{} has no robot account named {robot:?}", org.name))
}

pub(crate) async fn find_robot(state: &AppState, org: &Org, robot: &str) -> Result<Robot, ApiError> {
    let name = Name::parse(robot).map_err(|_| no_such_robot(org, robot))?;
    let found = state.store().get_robot(org.id, &name).await?;
    found.ok_or_else(|| no_such_robot(org, robot))
}

/// Like [`find_robot`], without the token aggregates (for changes).
pub(crate) async fn find_robot_ref(state: &AppState, org: &Org, robot: &str) -> Result<RobotRef, ApiError> {
    let name = Name::parse(robot).map_err(|_| no_such_robot(org, robot))?;
    let found = state.store().get_robot_ref(org.id, &name).await?;
    found.ok_or_else(|| no_such_robot(org, robot))
}
