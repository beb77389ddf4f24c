//! An organization's webhooks and their deliveries.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::{CreateWebhookRequest, DeliveryView, List, WebhookView};
use robots_service::ManageWebhooks;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/webhooks",
    tag = "audit",
    params(crate::openapi::shapes::OrgPath),
    responses((status = 200, description = "OK", body = List<WebhookView>), crate::openapi::shapes::Failure)
)]
async fn list_webhooks(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
) -> ApiResult<Json<List<WebhookView>>> {
    let at = state.service().authorize::<ManageWebhooks>(&caller, &org).await?;
    let webhooks = state.service().list_webhooks(&at).await?;
    Ok(Json(views::all(
        webhooks.into_iter().map(|webhook| views::webhook(webhook, None)),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/webhooks",
    tag = "audit",
    params(crate::openapi::shapes::OrgPath),
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "The webhook, with its signing secret shown this once", body = WebhookView), crate::openapi::shapes::Failure)
)]
async fn create_webhook(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let at = state.service().authorize::<ManageWebhooks>(&caller, &org).await?;
    let request: CreateWebhookRequest = body.parse()?;
    let created = state
        .service()
        .create_webhook(&at, &request.url, request.events.as_deref())
        .await?;
    let view = views::webhook(created.webhook, Some(created.secret));
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/webhooks/{id}",
    tag = "audit",
    params(crate::openapi::shapes::OrgPath, ("id" = uuid::Uuid, Path, description = "The webhook's id")),
    responses((status = 204, description = "Deleted"), crate::openapi::shapes::Failure)
)]
async fn delete_webhook(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageWebhooks>(&caller, &org).await?;
    state.service().delete_webhook(&at, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/webhooks/{id}/deliveries",
    tag = "audit",
    params(crate::openapi::shapes::OrgPath, ("id" = uuid::Uuid, Path, description = "The webhook's id")),
    responses((status = 200, description = "The latest 100 deliveries", body = List<DeliveryView>), crate::openapi::shapes::Failure)
)]
async fn list_deliveries(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<List<DeliveryView>>> {
    let at = state.service().authorize::<ManageWebhooks>(&caller, &org).await?;
    let deliveries = state.service().webhook_deliveries(&at, &id, 100).await?;
    Ok(Json(views::all(deliveries.into_iter().map(views::delivery))))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(list_deliveries))
}

#[cfg(test)]
mod tests {
    /// The OpenAPI document's list of events is the service's.
    #[test]
    fn the_documented_events_are_the_events() {
        let documented = robots_api_types::EventKind::ALL.map(robots_api_types::EventKind::as_str);
        assert_eq!(documented, robots_service::events::EVENTS);
    }
}
