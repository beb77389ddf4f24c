//! The personal access tokens of the logged-in user: listed with their
//! last use, created (the token shown on one screen, once), revoked.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use robots_core::Scope;
use robots_core::humanize::relative;
use robots_service::{Expiry, PersonalTokenInput};

use super::chrome::{Chrome, Context, PageQuery, chrome, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/tokens", get(tokens).post(create))
        .route("/account/tokens/{token}/revoke", post(revoke))
}

/// A token as the list shows it.
struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    orgs: String,
    expires: String,
    expired: bool,
    last_used: String,
}

/// A scope the form offers, and whether it is ticked.
struct ScopeChoice {
    name: &'static str,
    describe: &'static str,
    checked: bool,
}

/// An organization the form offers to limit the token to.
struct OrgChoice {
    name: String,
    checked: bool,
}

/// The lifetimes offered; 30 days first, as the API's default.
const LIFETIMES: [(&str, &str); 5] = [
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("180d", "180 days"),
    ("366d", "A year"),
];

#[derive(Template)]
#[template(path = "personal_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    notice: Option<String>,
    name: String,
    name_error: Option<String>,
    scopes: Vec<ScopeChoice>,
    scopes_error: Option<String>,
    orgs: Vec<OrgChoice>,
    orgs_error: Option<String>,
    lifetimes: Vec<(&'static str, &'static str, bool)>,
    expires_error: Option<String>,
}

/// What the create form sent, to show it again when refused.
#[derive(Default)]
struct Asked {
    name: String,
    scopes: Vec<String>,
    orgs: Vec<String>,
    expires: String,
}

async fn page(
    state: &AppState,
    user: &ConsoleUser,
    asked: &Asked,
    notice: Option<String>,
) -> ConsoleResult<TokensPage> {
    let now = state.now();
    let tokens = state.service().personal_tokens(&user.session).await?;
    let chrome = chrome(state, user, "account").await?;
    let orgs = chrome
        .orgs
        .iter()
        .map(|org| OrgChoice {
            name: org.name.clone(),
            checked: asked.orgs.contains(&org.name),
        })
        .collect();
    let expires = if asked.expires.is_empty() {
        "30d"
    } else {
        asked.expires.as_str()
    };
    Ok(TokensPage {
        chrome,
        tokens: tokens
            .into_iter()
            .map(|token| TokenRow {
                id: token.id.to_string(),
                scopes: token.scopes.to_string(),
                orgs: token.orgs.map_or_else(
                    || "All your organizations".to_owned(),
                    |orgs| orgs.iter().map(|org| org.name.as_str()).collect::<Vec<_>>().join(", "),
                ),
                expires: relative(token.expires_at, now),
                expired: token.expires_at <= now,
                last_used: match (token.last_used_at, token.last_used_ip) {
                    (Some(at), Some(ip)) => format!("{} from {ip}", relative(at, now)),
                    (Some(at), None) => relative(at, now),
                    (None, _) => "Never".to_owned(),
                },
                name: token.name.into(),
            })
            .collect(),
        notice,
        name: asked.name.clone(),
        name_error: None,
        scopes: Scope::ALL
            .into_iter()
            .map(|scope| ScopeChoice {
                name: scope.as_str(),
                describe: scope.describe(),
                checked: asked.scopes.iter().any(|asked| asked == scope.as_str()),
            })
            .collect(),
        scopes_error: None,
        orgs,
        orgs_error: None,
        lifetimes: LIFETIMES
            .into_iter()
            .map(|(value, label)| (value, label, value == expires))
            .collect(),
        expires_error: None,
    })
}

async fn tokens(State(state): State<AppState>, user: ConsoleUser, Query(query): Query<PageQuery>) -> ConsoleResult {
    Ok(ok(&page(&state, &user, &Asked::default(), query.notice()).await?))
}

#[derive(Template)]
#[template(path = "personal_token_created.html")]
struct CreatedPage {
    chrome: Chrome,
    name: String,
    token: String,
    scopes: String,
    expires: String,
}

/// The create form: `name`, `expires`, and `scopes` and `orgs` once per
/// ticked box.
async fn create(State(state): State<AppState>, form: ConsoleForm<Vec<(String, String)>>) -> ConsoleResult {
    let values = |key: &str| -> Vec<String> {
        form.data
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .collect()
    };
    let asked = Asked {
        name: values("name").concat(),
        scopes: values("scopes"),
        orgs: values("orgs"),
        expires: values("expires").concat(),
    };
    let input = PersonalTokenInput {
        name: &asked.name,
        scopes: &asked.scopes,
        // No box ticked: every organization.
        orgs: (!asked.orgs.is_empty()).then_some(asked.orgs.as_slice()),
        // The form's blank is the API's absent: the default lifetime.
        expiry: if asked.expires.trim().is_empty() {
            Expiry::default()
        } else {
            Expiry::within(&asked.expires)
        },
    };
    match state.service().create_personal_token(&form.user.session, input).await {
        Ok(created) => Ok(ok(&CreatedPage {
            chrome: chrome(&state, &form.user, "account").await?,
            name: created.info.name.to_string(),
            token: created.token.expose().to_owned(),
            scopes: created.info.scopes.to_string(),
            expires: relative(created.info.expires_at, state.now()),
        })),
        Err(error) => {
            let refused = field_error(error)?;
            let mut page = page(&state, &form.user, &asked, None).await?;
            let message = Some(refused.message.clone());
            match refused.field.as_str() {
                "scopes" => page.scopes_error = message,
                "orgs" => page.orgs_error = message,
                "expires_at" | "expires_in" => page.expires_error = message,
                _ => page.name_error = message,
            }
            Ok(refused.render(&page))
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(token): Path<String>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let revoked = state
        .service()
        .revoke_personal_token(&form.user.session, &token)
        .await?;
    Ok(redirect_with_notice(
        "/account/tokens",
        &format!("Revoked {}: it stopped working.", revoked.name),
    ))
}
