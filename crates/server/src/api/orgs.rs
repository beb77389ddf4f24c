//! Organizations: created by any user, who becomes their first admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use robots_core::policy::OrgAction;
use robots_core::{Name, Role, text};
use serde::Deserialize;

use super::views::{List, OrgView};
use super::{Scope, authorize_org};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, ListParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", get(list_orgs).post(create_org))
        .route("/v1/orgs/{org}", get(get_org).delete(delete_org))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrgRequest {
    name: Name,
    #[serde(default)]
    display_name: Option<String>,
}

async fn list_orgs(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    params: ListParams,
) -> ApiResult<Json<List<OrgView>>> {
    let page = state
        .store()
        .list_orgs_of_user(caller.user.id, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(List::from_page(
        page,
        |m| m.org.name.to_string(),
        |m| OrgView::new(m.org, m.role),
    )))
}

async fn create_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let request: CreateOrgRequest = body.parse()?;
    let display_name = text::bounded_text(
        request.display_name.as_deref().unwrap_or(""),
        text::MAX_DISPLAY_NAME_CHARS,
    )
    .map_err(|error| ApiError::invalid_field("display_name", error))?;
    let org = state.create_org_as(&caller, &request.name, &display_name).await?;
    Ok((StatusCode::CREATED, Json(OrgView::new(org, Role::Admin))))
}

async fn get_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    let (org, role) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Org).await?;
    Ok(Json(OrgView::new(org, role)))
}

async fn delete_org(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::DeleteOrg, Scope::Org).await?;
    state.delete_org_as(&caller, &org).await?;
    Ok(StatusCode::NO_CONTENT)
}
