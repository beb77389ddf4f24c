//! The Admin Console's Settings: the organization's token policy.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use robots_core::duration::format_duration;
use robots_service::{ManageMembers, OrgUpdate, PolicyInput};
use serde::Deserialize;

use super::chrome::{Chrome, Context, PageQuery, org_page, redirect_with_notice};
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, non_blank, ok};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    org_name: String,
    max_lifetime: String,
    max_lifetime_error: Option<String>,
    expiry_required: bool,
    personal_tokens_allowed: bool,
    disable_unused_after: String,
    disable_unused_after_error: Option<String>,
    /// The instance's floor in a sentence, when it sets one.
    floor: Option<String>,
    notice: Option<String>,
}

/// The instance's floor in a sentence, when it sets one.
async fn floor(state: &AppState) -> ConsoleResult<Option<String>> {
    let policy = state.service().instance_policy().await?;
    let mut rules = Vec::new();
    if let Some(max) = policy.max_lifetime {
        rules.push(format!("allows tokens to live at most {}", format_duration(max)));
    }
    if policy.expiry_required {
        rules.push("requires every token to expire".to_owned());
    }
    Ok((!rules.is_empty()).then(|| {
        format!(
            "This installation {}; this policy may only be stricter.",
            rules.join(" and ")
        )
    }))
}

async fn settings(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageMembers>(&state, &user, &org, "settings").await?;
    let org = at.org();
    Ok(ok(&SettingsPage {
        chrome,
        org_name: org.name.to_string(),
        max_lifetime: org.token_policy.max_lifetime.map(format_duration).unwrap_or_default(),
        max_lifetime_error: None,
        expiry_required: org.token_policy.expiry_required,
        personal_tokens_allowed: org.token_policy.personal_tokens_allowed,
        disable_unused_after: org
            .token_policy
            .disable_unused_after
            .map(format_duration)
            .unwrap_or_default(),
        disable_unused_after_error: None,
        floor: floor(&state).await?,
        notice: query.notice(),
    }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    max_lifetime: String,
    #[serde(default)]
    expiry_required: Option<String>,
    #[serde(default)]
    personal_tokens_allowed: Option<String>,
    #[serde(default)]
    disable_unused_after: String,
}

async fn save_settings(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<SettingsForm>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageMembers>(&state, &form.user, &org, "settings").await?;
    let expiry_required = form.data.expiry_required.is_some();
    let personal_tokens_allowed = form.data.personal_tokens_allowed.is_some();
    let update = OrgUpdate {
        display_name: None,
        token_policy: Some(PolicyInput {
            max_lifetime: non_blank(&form.data.max_lifetime),
            expiry_required,
            forbid_personal_tokens: !personal_tokens_allowed,
            disable_unused_after: non_blank(&form.data.disable_unused_after),
        }),
    };
    if let Err(error) = state.service().update_org(&at, update).await {
        let refused = field_error(error)?;
        let mut page = SettingsPage {
            chrome,
            org_name: at.org().name.to_string(),
            max_lifetime: form.data.max_lifetime.trim().to_owned(),
            max_lifetime_error: None,
            expiry_required,
            personal_tokens_allowed,
            disable_unused_after: form.data.disable_unused_after.trim().to_owned(),
            disable_unused_after_error: None,
            floor: floor(&state).await?,
            notice: None,
        };
        if refused.field.ends_with("disable_unused_after") {
            page.disable_unused_after_error = Some(format!("{} Leave it empty to never disable.", refused.message));
        } else {
            page.max_lifetime_error = Some(format!("{} Leave it empty for no maximum.", refused.message));
        }
        return Ok(refused.render(&page));
    }
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/settings", at.org().name),
        "Token policy saved.",
    ))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org}/admin/settings", get(settings).post(save_settings))
}
