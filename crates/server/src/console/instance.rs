//! The instance's token policy, for instance administrators: the floor
//! under every organization's.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use robots_core::duration::format_duration;
use robots_service::InstancePolicyInput;
use serde::Deserialize;

use super::chrome::{Chrome, Context, PageQuery, chrome, redirect_with_notice};
use super::{ConsoleForm, ConsoleResult, ConsoleUser, field_error, non_blank, ok};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/instance/policy", get(policy).post(save_policy))
}

#[derive(Template)]
#[template(path = "instance_policy.html")]
struct PolicyPage {
    chrome: Chrome,
    max_lifetime: String,
    max_lifetime_error: Option<String>,
    expiry_required: bool,
    personal_token_max_lifetime: String,
    personal_token_max_lifetime_error: Option<String>,
    notice: Option<String>,
}

async fn policy(State(state): State<AppState>, user: ConsoleUser, Query(query): Query<PageQuery>) -> ConsoleResult {
    state
        .service()
        .instance_admin(&user.session, "set the instance's token policy")?;
    let policy = state.service().instance_policy().await?;
    Ok(ok(&PolicyPage {
        chrome: chrome(&state, &user, "account").await?,
        max_lifetime: policy.max_lifetime.map(format_duration).unwrap_or_default(),
        max_lifetime_error: None,
        expiry_required: policy.expiry_required,
        personal_token_max_lifetime: policy
            .personal_token_max_lifetime
            .map(format_duration)
            .unwrap_or_default(),
        personal_token_max_lifetime_error: None,
        notice: query.notice(),
    }))
}

#[derive(Deserialize)]
struct PolicyForm {
    #[serde(default)]
    max_lifetime: String,
    #[serde(default)]
    expiry_required: Option<String>,
    #[serde(default)]
    personal_token_max_lifetime: String,
}

async fn save_policy(State(state): State<AppState>, form: ConsoleForm<PolicyForm>) -> ConsoleResult {
    let admin = state
        .service()
        .instance_admin(&form.user.session, "set the instance's token policy")?;
    let input = InstancePolicyInput {
        max_lifetime: non_blank(&form.data.max_lifetime),
        expiry_required: form.data.expiry_required.is_some(),
        personal_token_max_lifetime: non_blank(&form.data.personal_token_max_lifetime),
    };
    if let Err(error) = state.service().set_instance_policy(&admin, input).await {
        let refused = field_error(error)?;
        let mut page = PolicyPage {
            chrome: chrome(&state, &form.user, "account").await?,
            max_lifetime: form.data.max_lifetime.trim().to_owned(),
            max_lifetime_error: None,
            expiry_required: input.expiry_required,
            personal_token_max_lifetime: form.data.personal_token_max_lifetime.trim().to_owned(),
            personal_token_max_lifetime_error: None,
            notice: None,
        };
        let message = Some(refused.message.clone());
        match refused.field.as_str() {
            "personal_token_max_lifetime" => page.personal_token_max_lifetime_error = message,
            _ => page.max_lifetime_error = message,
        }
        return Ok(refused.render(&page));
    }
    Ok(redirect_with_notice("/instance/policy", "Instance token policy saved."))
}
