//! The personal account (its password and sessions), and creating
//! organizations.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;

use super::chrome::{Chrome, Context, PageQuery, chrome, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .route("/account/sessions/others/end", post(end_other_sessions))
        .route("/organizations/new", get(new_org))
        .route("/organizations", post(create_org))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    instance_admin: bool,
    notice: Option<String>,
    current_password_error: Option<String>,
    new_password_error: Option<String>,
}

async fn account_page(state: &AppState, user: &ConsoleUser, notice: Option<String>) -> ConsoleResult<AccountPage> {
    Ok(AccountPage {
        chrome: chrome(state, user, "account").await?,
        email: user.session.user.email.clone(),
        instance_admin: user.session.user.instance_admin,
        notice,
        current_password_error: None,
        new_password_error: None,
    })
}

async fn account(State(state): State<AppState>, user: ConsoleUser, Query(query): Query<PageQuery>) -> ConsoleResult {
    Ok(ok(&account_page(&state, &user, query.notice()).await?))
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(State(state): State<AppState>, form: ConsoleForm<PasswordForm>) -> ConsoleResult {
    let changed = state
        .service()
        .change_password(&form.user.session, &form.data.current_password, &form.data.new_password)
        .await;
    match changed {
        Ok(ended) => Ok(redirect_with_notice(
            "/account",
            &format!("Password changed. {}", sessions_ended(ended)),
        )),
        Err(error) => {
            let refused = field_error(error)?;
            let mut page = account_page(&state, &form.user, None).await?;
            match refused.field.as_str() {
                "current_password" => page.current_password_error = Some(refused.message.clone()),
                _ => page.new_password_error = Some(refused.message.clone()),
            }
            Ok(refused.render(&page))
        }
    }
}

async fn end_other_sessions(State(state): State<AppState>, form: ConsoleForm<CsrfOnly>) -> ConsoleResult {
    let ended = state.service().end_other_sessions(&form.user.session).await?;
    Ok(redirect_with_notice("/account", &sessions_ended(ended)))
}

fn sessions_ended(ended: u64) -> String {
    match ended {
        0 => "You had no other sessions.".to_owned(),
        1 => "Your one other session ended.".to_owned(),
        n => format!("Your {n} other sessions ended."),
    }
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
