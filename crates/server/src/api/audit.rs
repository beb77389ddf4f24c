//! The audit log (an organization's, and the instance's own), and reports
//! of leaked tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_api_types::{AuditView, ErrorCode, LeakReport, List, Received};
use robots_core::duration::parse_duration;
use robots_service::{Authorized, ClientInfo, InstanceAdmin, ReadAudit};
use robots_store::AuditQuery;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::views;
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, MAX_PAGE_SIZE, RawBody};
use crate::state::AppState;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only this action, e.g. `token.created`.
    action: Option<String>,
    /// Only this actor: a username or a robot's name.
    actor: Option<String>,
    /// Only this target, e.g. `robot deployer`.
    target: Option<String>,
    /// RFC 3339, or a duration back from now (`24h`).
    since: Option<String>,
    /// RFC 3339, or a duration back from now.
    until: Option<String>,
    /// Events per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^([A-Za-z0-9_-]{21}[AQgw])?$")]
    cursor: Option<String>,
    /// `jsonl` for JSON lines: every matching event, for export.
    #[param(pattern = "^(json|jsonl)$")]
    format: Option<String>,
}

fn point_in_time(field: &str, text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    parse_duration(text).map(|ago| now - ago).map_err(|_| {
        ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("{field} must be an RFC 3339 time or a duration such as 24h"),
        )
        .with_field(field)
    })
}

/// Whose audit log: an organization's (for its admins) or the instance's
/// own (for instance administrators).
#[derive(Debug, Clone, Copy)]
enum AuditLog<'a> {
    Org(&'a Authorized<'a, ReadAudit>),
    Instance(&'a InstanceAdmin<'a>),
}

/// A page of an audit log, with the cursor of the next.
async fn audit_page(
    state: &AppState,
    log: AuditLog<'_>,
    params: &AuditParamsPublic,
) -> Result<(Vec<AuditView>, Option<String>), ApiError> {
    let query = AuditQuery {
        action: params.action.clone(),
        actor: params.actor.clone(),
        target: params.target.clone(),
        since: params.since,
        until: params.until,
        before: params.before,
    };
    let page = match log {
        AuditLog::Org(at) => state.service().audit_log(at, &query, params.limit).await?,
        AuditLog::Instance(admin) => state.service().instance_audit_log(admin, &query, params.limit).await?,
    };
    let next = if page.has_more {
        page.items.last().map(|e| URL_SAFE_NO_PAD.encode(e.id.as_bytes()))
    } else {
        None
    };
    Ok((page.items.into_iter().map(views::audit_event).collect(), next))
}

/// Parsed audit filters, for the API and the console.
#[derive(Debug, Clone, Default)]
struct AuditParamsPublic {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub before: Option<Uuid>,
    pub limit: u32,
}

fn parse_audit_params(params: &AuditParams, now: OffsetDateTime) -> Result<AuditParamsPublic, ApiError> {
    let nonempty = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("limit must be from 1 to {MAX_PAGE_SIZE}"),
        )
        .with_field("limit"));
    }
    let before = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| Uuid::from_slice(&bytes).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(ErrorCode::InvalidCursor, "cursor is not one this server handed out")
                        .with_field("cursor")
                })?,
        ),
    };
    Ok(AuditParamsPublic {
        action: nonempty(&params.action),
        actor: nonempty(&params.actor),
        target: nonempty(&params.target),
        since: nonempty(&params.since)
            .map(|t| point_in_time("since", &t, now))
            .transpose()?,
        until: nonempty(&params.until)
            .map(|t| point_in_time("until", &t, now))
            .transpose()?,
        before,
        limit,
    })
}

async fn respond_audit(state: &AppState, log: AuditLog<'_>, params: AuditParams) -> ApiResult<Response> {
    let mut parsed = parse_audit_params(&params, state.now())?;
    if params.format.as_deref() == Some("jsonl") {
        // Every matching event, newest first, one JSON object per line.
        parsed.limit = MAX_PAGE_SIZE;
        let mut lines = String::new();
        loop {
            let (events, next) = audit_page(state, log, &parsed).await?;
            for event in &events {
                lines.push_str(&serde_json::to_string(event).unwrap_or_default());
                lines.push('\n');
            }
            match next
                .and_then(|cursor| URL_SAFE_NO_PAD.decode(cursor).ok())
                .and_then(|b| Uuid::from_slice(&b).ok())
            {
                Some(before) => parsed.before = Some(before),
                None => break,
            }
        }
        let mut response = lines.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        return Ok(response);
    }
    if params.format.as_deref().is_some_and(|f| f != "json") {
        return Err(
            ApiError::bad_request(ErrorCode::InvalidQuery, "format must be json or jsonl").with_field("format"),
        );
    }
    let (items, next_cursor) = audit_page(state, log, &parsed).await?;
    Ok(Json(List { items, next_cursor }).into_response())
}

/// An organization's audit log: admins only.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/audit",
    tag = "audit",
    params(crate::openapi::shapes::OrgPath, AuditParams),
    responses((status = 200, description = "A page of events, newest first; with `format=jsonl`, every matching event as JSON lines", content((List<AuditView> = "application/json"), (String = "application/x-ndjson"))), crate::openapi::shapes::Failure)
)]
async fn org_audit(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Response> {
    let at = state.service().authorize::<ReadAudit>(&caller, &org).await?;
    respond_audit(&state, AuditLog::Org(&at), params).await
}

/// Events of no organization (logins, users, keys, deleted organizations):
/// instance administrators only.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "audit",
    params(AuditParams),
    responses((status = 200, description = "Events of no organization, for instance administrators", content((List<AuditView> = "application/json"), (String = "application/x-ndjson"))), crate::openapi::shapes::Failure)
)]
async fn instance_audit(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Response> {
    let admin = state
        .service()
        .instance_admin(&caller, "read the instance's audit log")?;
    respond_audit(&state, AuditLog::Instance(&admin), params).await
}

/// Anyone who finds a token may report it; a valid one is revoked at once.
/// The answer is the same whatever the token was, so this is no oracle.
#[utoipa::path(
    post,
    path = "/v1/tokens/revoke",
    tag = "audit",
    request_body(content((LeakReport = "application/json"), (LeakReport = "application/x-www-form-urlencoded"))),
    security(()),
    responses((status = 202, description = "Received: the same answer whatever the token was", body = Received), crate::openapi::shapes::Failure)
)]
async fn revoke_leaked(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let report: Option<LeakReport> = if json {
        serde_json::from_slice(&body).ok()
    } else {
        serde_urlencoded::from_bytes(&body).ok()
    };
    let Some(report) = report else {
        return ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "send {\"token\": \"rbt_…\"} as JSON, or token=… as a form",
        )
        .into_response();
    };
    if let Err(error) = state.service().revoke_leaked(&report.token, &client).await {
        return ApiError::from(error).into_response();
    }
    let received = Received {
        status: "received".into(),
    };
    (StatusCode::ACCEPTED, Json(received)).into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(org_audit))
        .routes(routes!(instance_audit))
        .routes(routes!(revoke_leaked))
}
