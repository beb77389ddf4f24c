//! The Admin Console's Members: adding people, changing roles, removing
//! them (and leaving).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_api_types::ErrorCode;
use robots_core::Role;
use robots_core::policy::OrgAction;
use robots_service::{Leave, ManageMembers, Read, ServiceError};
use serde::Deserialize;

use super::chrome::{
    Chrome, ConfirmPage, Context, PAGE_SIZE, PageQuery, Pager, Stamp, org_page, redirect_with_notice, role_name,
};
use super::session::CsrfOnly;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, ok, refused, sentence};
use crate::error::ApiError;
use crate::state::AppState;

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
    pager: Pager,
    notice: Option<String>,
    error: Option<String>,
    username: String,
    username_error: Option<String>,
}

/// Builds the members page at `query` (its page and its notice).
async fn members_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    query: &PageQuery,
) -> Result<MembersPage, ConsoleError> {
    let (at, chrome) = org_page::<Read>(state, user, org, "members").await?;
    let now = state.now();
    let members = state.service().list_members(&at, query.after(), PAGE_SIZE).await?;
    let total = state.service().count_members(&at).await?;
    let org = at.org();
    let next = members
        .has_more
        .then(|| members.items.last().map(|member| member.username.to_string()))
        .flatten();
    Ok(MembersPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: at.may(OrgAction::ManageMembers),
        pager: Pager::new(
            &format!("/orgs/{}/admin/members", org.name),
            query,
            members.items.len(),
            total,
            next,
            ("member", "members"),
        ),
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
        notice: query.notice(),
        error: None,
        username: String::new(),
        username_error: None,
    })
}

async fn members(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    Ok(ok(&members_page(&state, &user, &org, &query).await?))
}

#[derive(Deserialize)]
struct AddMemberForm {
    username: String,
    role: String,
}

fn parse_role(role: &str) -> Result<Role, ConsoleError> {
    Role::parse(role).ok_or_else(|| {
        ConsoleError::Api(ApiError::bad_request(
            ErrorCode::InvalidForm,
            "role must be admin or member",
        ))
    })
}

fn notice_redirect(org: &str, notice: &str) -> axum::response::Response {
    redirect_with_notice(&format!("/orgs/{org}/admin/members"), notice)
}

async fn add_member(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<AddMemberForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageMembers>(&form.user.session, &org)
        .await?;
    let role = parse_role(&form.data.role)?;
    let typed = form.data.username.trim();
    match state.service().set_member(&at, typed, role).await {
        Ok(change) => Ok(notice_redirect(
            &org,
            &format!(
                "{} is now {} of {}.",
                change.member.username,
                article(change.member.role),
                org
            ),
        )),
        Err(error @ ServiceError::UserNotFound) => {
            let mut page = members_page(&state, &form.user, &org, &PageQuery::default()).await?;
            page.username = form.data.username.clone();
            page.username_error = Some(format!("There is no user named {typed}."));
            Ok(refused(&error, &page))
        }
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
    let at = state
        .service()
        .authorize::<ManageMembers>(&form.user.session, &org)
        .await?;
    let role = parse_role(&form.data.role)?;
    match state.service().set_member(&at, &username, role).await {
        Ok(change) => Ok(notice_redirect(
            &org,
            &format!(
                "{} is now {} of {}.",
                change.member.username,
                article(change.member.role),
                org
            ),
        )),
        Err(error @ ServiceError::LastAdmin) => last_admin(&state, &form.user, &org, error).await,
        Err(other) => Err(other.into()),
    }
}

/// The members page, saying why the last admin cannot go.
async fn last_admin(state: &AppState, user: &ConsoleUser, org: &str, error: ServiceError) -> ConsoleResult {
    let mut page = members_page(state, user, org, &PageQuery::default()).await?;
    page.error = Some(sentence(&error.to_string()));
    Ok(refused(&error, &page))
}

async fn confirm_remove(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, username)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<Leave>(&state, &user, &org, "members").await?;
    if username != user.session.user.name.as_str() {
        at.with::<ManageMembers>()?;
    }
    let found = at.org();
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
    let at = state.service().authorize::<Leave>(&form.user.session, &org).await?;
    match state.service().remove_member(&at, &username).await {
        Ok(()) if leaving => Ok(Redirect::to("/account").into_response()),
        Ok(()) => Ok(notice_redirect(&org, &format!("{username} was removed from {org}."))),
        Err(error @ ServiceError::LastAdmin) => last_admin(&state, &form.user, &org, error).await,
        Err(other) => Err(other.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/admin/members", get(members).post(add_member))
        .route("/orgs/{org}/admin/members/{username}", post(change_role))
        .route(
            "/orgs/{org}/admin/members/{username}/remove",
            get(confirm_remove).post(remove),
        )
}
