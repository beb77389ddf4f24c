//! The personal account, and creating organizations.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::chrome::{Chrome, Context, chrome};
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
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
    let created = state
        .service()
        .create_org(&form.user.session, &form.data.name, &form.data.display_name)
        .await;
    match created {
        Ok(org) => Ok(Redirect::to(&format!("/orgs/{}", org.name)).into_response()),
        Err(error) => {
            let refused = field_error(error)?;
            match refused.field.as_str() {
                "display_name" => page.display_name_error = Some(refused.message.clone()),
                _ => page.name_error = Some(refused.message.clone()),
            }
            Ok(refused.render(&page))
        }
    }
}
