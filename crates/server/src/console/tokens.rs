//! The Admin Console's robot tokens: creating one (the one screen that
//! shows a Token), rotating and deleting them.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use robots_service::lifetime::{self, LifetimeChoice};
use robots_service::{Expiry, ManageTokens};
use robots_store::TokenPolicy;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, ConfirmPage, Context, org_page, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "token_new.html")]
struct NewTokenPage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    name: String,
    name_error: Option<String>,
    /// The lifetime chosen.
    expires: String,
    expires_error: Option<String>,
    /// Only what the organization's policy allows.
    expiry_options: Vec<LifetimeChoice>,
    /// The policy in a sentence, when there is one.
    policy: Option<String>,
}

impl NewTokenPage {
    fn new(chrome: Chrome, org: &robots_store::Org, policy: TokenPolicy, robot: &str) -> Self {
        let choices = lifetime::choices(policy);
        Self {
            chrome,
            org_name: org.name.to_string(),
            robot_name: robot.to_owned(),
            name: String::new(),
            name_error: None,
            expires: choices.default,
            expires_error: None,
            expiry_options: choices.choices,
            policy: choices.policy,
        }
    }
}

async fn new_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageTokens>(&state, &user, &org, "robots").await?;
    let robot = state.service().robot(&at, &robot).await?;
    Ok(ok(&NewTokenPage::new(
        chrome,
        at.org(),
        at.policy(),
        robot.name.as_str(),
    )))
}

/// The lifetime a form chose: `never`, or a duration from now.
fn chosen_expiry(choice: &str) -> Expiry<'_> {
    match choice.trim() {
        "" => Expiry::never(),
        within => Expiry::within(within),
    }
}

#[derive(Deserialize)]
struct NewTokenForm {
    name: String,
    #[serde(default)]
    expires: String,
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenCreatedPage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    token_name: String,
    access_id: Uuid,
    token: String,
    expires: Option<String>,
    /// After a rotation: until when the old token keeps working.
    rotation_note: Option<String>,
}

impl std::fmt::Debug for TokenCreatedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreatedPage")
            .field("access_id", &self.access_id)
            .finish_non_exhaustive()
    }
}

/// Creates a token and shows its credentials, this once. The response is
/// the POST's own, marked `no-store`; the secret is not kept anywhere for a
/// second showing. Submitting again is refused: token names are unique.
async fn create_token(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<NewTokenForm>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageTokens>(&state, &form.user, &org, "robots").await?;
    let now = state.now();
    let created = state
        .service()
        .create_token(&at, &robot, &form.data.name, chosen_expiry(&form.data.expires))
        .await;
    let token = match created {
        Ok(token) => token,
        Err(error) => {
            let refused = field_error(error)?;
            let mut page = NewTokenPage::new(chrome, at.org(), at.policy(), &robot);
            page.name = form.data.name.clone();
            page.expires = form.data.expires.clone();
            if refused.field.starts_with("expires") {
                page.expires_error = Some(refused.message.clone());
            } else {
                page.name_error = Some(refused.message.clone());
            }
            return Ok(refused.render(&page));
        }
    };
    let org = at.org();
    let mut response = ok(&TokenCreatedPage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.clone(),
        token_name: token.name.to_string(),
        access_id: token.access_id,
        token: token.secret.expose().to_owned(),
        expires: token.expires_at.map(|at| robots_core::humanize::relative(at, now)),
        rotation_note: None,
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn confirm_delete_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageTokens>(&state, &user, &org, "robots").await?;
    let org = at.org();
    let (robot, token) = state.service().token(&at, &robot, &access_id).await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Delete token {}?", token.name),
        consequence: format!(
            "Every system that authenticates as {} with Access ID {} stops working at once.",
            robot.name, token.access_id
        ),
        action: format!(
            "/orgs/{}/admin/robots/{}/tokens/{}/delete",
            org.name, robot.name, token.access_id
        ),
        button: "Delete token".into(),
        cancel_url: format!("/orgs/{}/admin/robots/{}", org.name, robot.name),
    }))
}

async fn delete_token(
    State(state): State<AppState>,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageTokens>(&form.user.session, &org)
        .await?;
    let token = state.service().delete_token(&at, &robot, &access_id).await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/robots/{robot}", at.org().name),
        &format!("Token {} was deleted; it no longer authenticates.", token.name),
    ))
}

#[derive(Template)]
#[template(path = "token_rotate.html")]
struct RotatePage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    token_name: String,
    access_id: Uuid,
    /// The successor's lifetime: "" for the old token's own, within the policy.
    expires: String,
    expires_error: Option<String>,
    expiry_options: Vec<LifetimeChoice>,
    policy: Option<String>,
}

impl RotatePage {
    fn new(
        chrome: Chrome,
        org: &robots_store::Org,
        policy: TokenPolicy,
        robot: &str,
        token: &robots_store::TokenInfo,
    ) -> Self {
        let choices = lifetime::choices(policy);
        Self {
            chrome,
            org_name: org.name.to_string(),
            robot_name: robot.to_owned(),
            token_name: token.name.to_string(),
            access_id: token.access_id,
            expires: String::new(),
            expires_error: None,
            expiry_options: choices.choices,
            policy: choices.policy,
        }
    }
}

async fn rotate_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageTokens>(&state, &user, &org, "robots").await?;
    let (robot, token) = state.service().token(&at, &robot, &access_id).await?;
    Ok(ok(&RotatePage::new(
        chrome,
        at.org(),
        at.policy(),
        robot.name.as_str(),
        &token,
    )))
}

#[derive(Deserialize)]
struct RotateForm {
    grace: String,
    /// Empty: the old token's own lifetime, within the policy.
    #[serde(default)]
    expires: String,
}

/// Rotates a token and shows the successor's credentials, this once.
async fn rotate(
    State(state): State<AppState>,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    form: ConsoleForm<RotateForm>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageTokens>(&state, &form.user, &org, "robots").await?;
    let now = state.now();
    let expiry = match form.data.expires.trim() {
        "" => Expiry::default(),
        choice => chosen_expiry(choice),
    };
    let rotated = state
        .service()
        .rotate_token(&at, &robot, &access_id, Some(&form.data.grace), expiry)
        .await;
    let rotated = match rotated {
        Ok(rotated) => rotated,
        Err(error) => {
            let refused = field_error(error)?;
            let (robot, token) = state.service().token(&at, &robot, &access_id).await?;
            let mut page = RotatePage::new(chrome, at.org(), at.policy(), robot.name.as_str(), &token);
            page.expires = form.data.expires.clone();
            page.expires_error = Some(refused.message.clone());
            return Ok(refused.render(&page));
        }
    };
    let (rotating_out, new, secret) = (rotated.rotating_out, rotated.successor, rotated.secret);
    let org = at.org();
    let note = match rotating_out.expires_at {
        Some(at) if at <= now => format!(
            "The old token (Access ID {}) stopped working now.",
            rotating_out.access_id
        ),
        Some(at) => format!(
            "The old token (Access ID {}) keeps working until {} ({}); update every system that uses it before then.",
            rotating_out.access_id,
            robots_service::events::rfc3339(at),
            robots_core::humanize::relative(at, now)
        ),
        None => String::new(),
    };
    let mut response = ok(&TokenCreatedPage {
        chrome,
        org_name: org.name.to_string(),
        robot_name: robot.clone(),
        token_name: new.name.to_string(),
        access_id: new.access_id,
        token: secret.expose().to_owned(),
        expires: new.expires_at.map(|at| robots_core::humanize::relative(at, now)),
        rotation_note: Some(note),
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/rotate",
            get(rotate_form).post(rotate),
        )
        .route("/orgs/{org}/admin/robots/{robot}/tokens", post(create_token))
        .route("/orgs/{org}/admin/robots/{robot}/tokens/-/new", get(new_token))
        .route(
            "/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/delete",
            get(confirm_delete_token).post(delete_token),
        )
}
