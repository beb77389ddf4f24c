//! The instance's token policy: read by anyone logged in, set by instance
//! administrators.

use axum::Json;
use axum::extract::State;
use robots_api_types::{InstancePolicyRequest, InstancePolicyView};
use robots_core::duration::format_duration;
use robots_service::InstancePolicyInput;
use robots_store::InstancePolicy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiUser, CurrentUser};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(get_policy, set_policy))
}

fn view(policy: InstancePolicy) -> InstancePolicyView {
    InstancePolicyView {
        max_lifetime: policy.max_lifetime.map(format_duration),
        expiry_required: policy.expiry_required,
        personal_token_max_lifetime: policy.personal_token_max_lifetime.map(format_duration),
    }
}

#[utoipa::path(
    get,
    path = "/v1/instance/policy",
    tag = "setup",
    security(("session" = []), ("personal_token" = [])),
    responses((status = 200, description = "The floor under every organization's token policy", body = InstancePolicyView), crate::openapi::shapes::Failure)
)]
async fn get_policy(State(state): State<AppState>, _caller: ApiUser) -> ApiResult<Json<InstancePolicyView>> {
    Ok(Json(view(state.service().instance_policy().await?)))
}

#[utoipa::path(
    put,
    path = "/v1/instance/policy",
    tag = "setup",
    request_body = InstancePolicyRequest,
    responses((status = 200, description = "Set; it holds for tokens made from now on, and for personal access tokens in use", body = InstancePolicyView), crate::openapi::shapes::Failure)
)]
async fn set_policy(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonBody,
) -> ApiResult<Json<InstancePolicyView>> {
    let admin = state
        .service()
        .instance_admin(&caller, "set the instance's token policy")?;
    let request: InstancePolicyRequest = body.parse()?;
    let input = InstancePolicyInput {
        max_lifetime: request.max_lifetime.as_deref(),
        expiry_required: request.expiry_required,
        personal_token_max_lifetime: request.personal_token_max_lifetime.as_deref(),
    };
    Ok(Json(view(state.service().set_instance_policy(&admin, input).await?)))
}
