//! The Admin Console's Repositories, and, for any repository, who reaches it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_core::policy::OrgAction;
use robots_service::{ManageAccess, Read};
use serde::Deserialize;

use super::chrome::{Chrome, Context, PAGE_SIZE, PageQuery, Pager, Stamp, org_page, redirect_with_notice};
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

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
    pager: Pager,
    notice: Option<String>,
    name: String,
    name_error: Option<String>,
}

async fn repositories_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    query: &PageQuery,
) -> Result<RepositoriesPage, ConsoleError> {
    let (at, chrome) = org_page::<Read>(state, user, org, "repositories").await?;
    let now = state.now();
    let repositories = state.service().list_repositories(&at, query.after(), PAGE_SIZE).await?;
    let total = state.service().count_repositories(&at).await?;
    let org = at.org();
    let next = repositories
        .has_more
        .then(|| repositories.items.last().map(|repository| repository.name.to_string()))
        .flatten();
    Ok(RepositoriesPage {
        chrome,
        org_name: org.name.to_string(),
        can_manage: at.may(OrgAction::ManageAccess),
        pager: Pager::new(
            &format!("/orgs/{}/admin/repositories", org.name),
            query,
            repositories.items.len(),
            total,
            next,
            ("repository", "repositories"),
        ),
        repositories: repositories
            .items
            .into_iter()
            .map(|r| RepositoryRow {
                name: r.name.to_string(),
                created_at: Stamp::new(r.created_at, now),
            })
            .collect(),
        notice: query.notice(),
        name: String::new(),
        name_error: None,
    })
}

async fn repositories(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    Ok(ok(&repositories_page(&state, &user, &org, &query).await?))
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
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let refused = match state.service().create_repository(&at, &form.data.name).await {
        Ok(repository) => {
            let url = format!("/orgs/{}/admin/repositories/{}", at.org().name, repository.name);
            return Ok(Redirect::to(&url).into_response());
        }
        Err(error) => field_error(error)?,
    };
    let mut page = repositories_page(&state, &form.user, &org, &PageQuery::default()).await?;
    page.name = form.data.name.clone();
    page.name_error = Some(if refused.status == StatusCode::CONFLICT {
        refused.message.clone()
    } else {
        format!("{} Use names joined by /, e.g. apps/web.", refused.message)
    });
    Ok(refused.render(&page))
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
    let (at, chrome) = org_page::<Read>(&state, &user, &org, "repositories").await?;
    let (repository, grants, access) = state.service().repository_detail(&at, &repository).await?;
    Ok(ok(&RepositoryPage {
        chrome,
        org_name: at.org().name.to_string(),
        repository: repository.name.to_string(),
        can_manage: at.may(OrgAction::ManageAccess),
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
    let at = state
        .service()
        .authorize::<ManageAccess>(&form.user.session, &org)
        .await?;
    let repository = state.service().delete_repository(&at, &form.data.name).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{org}/admin/repositories"),
        &format!("{org}/{} and its grants were deleted.", repository.name),
    ))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/orgs/{org}/admin/repositories",
            get(repositories).post(create_repository),
        )
        .route("/orgs/{org}/admin/repositories/-/delete", post(delete_repository))
        .route("/orgs/{org}/admin/repositories/{*repository}", get(repository))
}
