//! An organization's overview and the Admin Console's Members page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::get;
use robots_service::Read;

use super::chrome::{Chrome, Context, org_page, role_name};
use super::{ConsoleResult, ConsoleUser, ok};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org}", get(overview)).route(
        "/orgs/{org}/admin",
        get(|Path(org): Path<String>| async move { Redirect::to(&format!("/orgs/{org}/admin/robots")) }),
    )
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
    let (at, chrome) = org_page::<Read>(&state, &user, &org, "overview").await?;
    let (org, role) = (at.org(), at.role());
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
