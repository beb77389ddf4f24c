//! The personal account, and creating organizations.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_core::{Name, text};
use robots_store::StoreError;
use serde::Deserialize;

use super::chrome::{Chrome, Context, chrome};
use super::{ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/organizations/new", get(new_org))
        .route("/organizations", post(create_org))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    instance_admin: bool,
}

async fn account(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult {
    Ok(ok(&AccountPage {
        chrome: chrome(&state, &user, "account").await?,
        email: user.session.user.email.clone(),
        instance_admin: user.session.user.instance_admin,
    }))
}

#[derive(Template)]
#[template(path = "org_new.html")]
struct NewOrgPage {
    chrome: Chrome,
    name: String,
    display_name: String,
    error: Option<String>,
    name_error: Option<String>,
    display_name_error: Option<String>,
}

async fn new_org(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult {
    Ok(ok(&NewOrgPage {
        chrome: chrome(&state, &user, "new-org").await?,
        name: String::new(),
        display_name: String::new(),
        error: None,
        name_error: None,
        display_name_error: None,
    }))
}

#[derive(Deserialize)]
struct NewOrgForm {
    name: String,
    #[serde(default)]
    display_name: String,
}

async fn create_org(State(state): State<AppState>, form: ConsoleForm<NewOrgForm>) -> ConsoleResult {
    let mut page = NewOrgPage {
        chrome: chrome(&state, &form.user, "new-org").await?,
        name: form.data.name.clone(),
        display_name: form.data.display_name.clone(),
        error: None,
        name_error: None,
        display_name_error: None,
    };
    let name = Name::parse(form.data.name.trim())
        .map_err(|error| page.name_error = Some(format!("The name {error}.")))
        .ok();
    let display_name = text::bounded_text(&form.data.display_name, text::MAX_DISPLAY_NAME_CHARS)
        .map_err(|error| page.display_name_error = Some(format!("The display name {error}.")))
        .ok();
    let (Some(name), Some(display_name)) = (name, display_name) else {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    match state.create_org_as(&form.user.session, &name, &display_name).await {
        Ok(org) => Ok(Redirect::to(&format!("/orgs/{}", org.name)).into_response()),
        Err(StoreError::NameTaken) => {
            page.name_error = Some(format!(
                "The name {name} is already taken by a user or an organization."
            ));
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(other.into()),
    }
}
