//! An organization's overview and the Admin Console's Members page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_core::policy::OrgAction;
use robots_core::{Name, Role};
use robots_store::{Org, StoreError};
use serde::Deserialize;

use super::chrome::{Chrome, Context, Stamp, chrome, role_name};
use super::robots::ConfirmPage;
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::api::{Scope, authorize_org};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}", get(overview))
        .route(
            "/orgs/{org}/admin",
            get(|Path(org): Path<String>| async move { Redirect::to(&format!("/orgs/{org}/admin/robots")) }),
        )
        .route("/orgs/{org}/admin/members", get(members).post(add_member))
        .route("/orgs/{org}/admin/members/{username}", post(change_role))
        .route(
            "/orgs/{org}/admin/members/{username}/remove",
            get(confirm_remove).post(remove),
        )
}

/// Resolves the organization for a console page: the API's check, then the
/// chrome in the organization's context.
pub(super) async fn org_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    action: OrgAction,
    section: &'static str,
) -> Result<(Org, Role, Chrome), ConsoleError> {
    let (org, role) = authorize_org(state, &user.session, org, action, Scope::Robots).await?;
    let chrome = chrome(state, user, section)
        .await?
        .in_org(&org, role, section != "overview");
    Ok((org, role, chrome))
}

#[derive(Template)]
#[template(path = "org.html")]
struct OverviewPage {
    chrome: Chrome,
    org_name: String,
    org_label: String,
    role: &'static str,
}

async fn overview(State(state): State<AppState>, user: ConsoleUser, Path(org): Path<String>) -> ConsoleResult {
    let (org, role, chrome) = org_page(&state, &user, &org, OrgAction::Read, "overview").await?;
    let org_label = if org.display_name.is_empty() {
        org.name.to_string()
    } else {
        org.display_name.clone()
    };
    Ok(ok(&OverviewPage {
        chrome,
        org_name: org.name.to_string(),
        org_label,
        role: role_name(role),
    }))
}

struct MemberRow {
    username: String,
    email: String,
    role: &'static str,
    joined_at: Stamp,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    org_name: String,
    can_manage: bool,
    members: Vec<MemberRow>,
    notice: Option<String>,
    error: Option<String>,
    username: String,
    username_error: Option<String>,
}

#[derive(Deserialize, Default)]
struct Notice {
    notice: Option<String>,
}

/// Builds the members page; `notice` comes from a redirect after a change.
async fn members_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    notice: Option<String>,
) -> Result<MembersPage, ConsoleError> {
    let (org, role, chrome) = org_page(state, user, org, OrgAction::Read, "members").await?;
    let now = state.now();
    let members = state.store().list_members(org.id, None, 200).await?;
    Ok(MembersPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: role == Role::Admin,
        members: members
            .items
            .into_iter()
            .map(|member| MemberRow {
                username: member.username.to_string(),
                email: member.email,
                role: role_name(member.role),
                joined_at: Stamp::new(member.joined_at, now),
            })
            .collect(),
        notice,
        error: None,
        username: String::new(),
        username_error: None,
    })
}

async fn members(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<Notice>,
) -> ConsoleResult {
    let notice = query.notice.filter(|n| n.len() <= 200);
    Ok(ok(&members_page(&state, &user, &org, notice).await?))
}

#[derive(Deserialize)]
struct AddMemberForm {
    username: String,
    role: String,
}

fn parse_role(role: &str) -> Result<Role, ConsoleError> {
    Role::parse(role)
        .ok_or_else(|| ConsoleError::Api(ApiError::bad_request("invalid_form", "role must be admin or member")))
}

fn notice_redirect(org: &str, notice: &str) -> axum::response::Response {
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
    Redirect::to(&format!("/orgs/{org}/admin/members?notice={encoded}")).into_response()
}

async fn add_member(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<AddMemberForm>,
) -> ConsoleResult {
    let (found, _) = authorize_org(&state, &form.user.session, &org, OrgAction::ManageMembers, Scope::Org).await?;
    let role = parse_role(&form.data.role)?;
    let refuse = |message: String| async {
        let mut page = members_page(&state, &form.user, &org, None).await?;
        page.username = form.data.username.clone();
        page.username_error = Some(message);
        Ok::<_, ConsoleError>(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
    };
    let Ok(username) = Name::parse(form.data.username.trim()) else {
        return refuse(format!("There is no user named {:?}.", form.data.username.trim())).await;
    };
    match state.set_member_as(&form.user.session, &found, &username, role).await {
        Ok((member, _)) => Ok(notice_redirect(
            &org,
            &format!("{} is now {} of {}.", member.username, article(member.role), org),
        )),
        Err(StoreError::UserNotFound) => refuse(format!("There is no user named {username}.")).await,
        Err(other) => Err(other.into()),
    }
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Admin => "an admin",
        Role::Member => "a member",
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    Path((org, username)): Path<(String, String)>,
    form: ConsoleForm<RoleForm>,
) -> ConsoleResult {
    let (found, _) = authorize_org(&state, &form.user.session, &org, OrgAction::ManageMembers, Scope::Org).await?;
    let role = parse_role(&form.data.role)?;
    let username = Name::parse(&username).map_err(|_| ApiError::not_found("no such member"))?;
    match state.set_member_as(&form.user.session, &found, &username, role).await {
        Ok((member, _)) => Ok(notice_redirect(
            &org,
            &format!("{} is now {} of {}.", member.username, article(member.role), org),
        )),
        Err(StoreError::LastAdmin) => {
            let mut page = members_page(&state, &form.user, &org, None).await?;
            page.error = Some("An organization must keep at least one admin: make someone else an admin first.".into());
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
}

async fn confirm_remove(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, username)): Path<(String, String)>,
) -> ConsoleResult {
    let leaving = username == user.session.user.name.as_str();
    let action = if leaving {
        OrgAction::Leave
    } else {
        OrgAction::ManageMembers
    };
    let (found, _, chrome) = org_page(&state, &user, &org, action, "members").await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Remove {username} from {}?", found.name),
        consequence: format!(
            "{username} will no longer see or manage {}'s robot accounts. Their robots and tokens keep working.",
            found.name
        ),
        action: format!("/orgs/{}/admin/members/{username}/remove", found.name),
        button: "Remove member".into(),
        cancel_url: format!("/orgs/{}/admin/members", found.name),
    }))
}

async fn remove(
    State(state): State<AppState>,
    Path((org, username)): Path<(String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let leaving = username == form.user.session.user.name.as_str();
    let action = if leaving {
        OrgAction::Leave
    } else {
        OrgAction::ManageMembers
    };
    let (found, _) = authorize_org(&state, &form.user.session, &org, action, Scope::Org).await?;
    let name = Name::parse(&username).map_err(|_| ApiError::not_found("no such member"))?;
    match state.remove_member_as(&form.user.session, &found, &name).await {
        Ok(true) if leaving => Ok(Redirect::to("/account").into_response()),
        Ok(true) => Ok(notice_redirect(&org, &format!("{username} was removed from {org}."))),
        Ok(false) => Err(ApiError::not_found(format!("{username} is not a member of {org}")).into()),
        Err(StoreError::LastAdmin) => {
            let mut page = members_page(&state, &form.user, &org, None).await?;
            page.error = Some("An organization must keep at least one admin: make someone else an admin first.".into());
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
}
