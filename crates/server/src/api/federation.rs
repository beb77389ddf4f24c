//! A robot's federated credentials: which CI jobs may trade their OIDC ID
//! token for a short-lived token of the robot (`POST /v1/oauth/token`,
//! token exchange). Admins change them; members read them.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use robots_core::policy::OrgAction;
use robots_core::{Name, pattern, text};
use robots_store::{FederatedCredential, FederatedCredentialSpec};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::views::List;
use super::{Scope, authorize_org, find_robot_ref};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/orgs/{org}/robots/{robot}/federated-credentials",
            get(list_credentials).post(create_credential),
        )
        .route(
            "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
            get(get_credential).patch(update_credential).delete(delete_credential),
        )
}

/// Claims an ID token always carries, checked by the exchange itself.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "sub", "exp", "nbf", "iat"];
const MAX_CONDITIONS: usize = 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FederatedCredentialView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The issuer's URL, exactly as its tokens' `iss` says it.
    pub issuer: String,
    /// The `aud` the ID token must carry.
    pub audience: String,
    /// Pattern on `sub`: `*` stands for any run of characters.
    pub subject: String,
    /// Claim name → pattern on its value, e.g. `{"ref": "refs/heads/main"}`.
    pub claims: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<FederatedCredential> for FederatedCredentialView {
    fn from(credential: FederatedCredential) -> Self {
        Self {
            id: credential.id,
            name: credential.name.into(),
            description: credential.description,
            issuer: credential.issuer,
            audience: credential.audience,
            subject: credential.subject,
            claims: credential.claims,
            created_at: credential.created_at,
            created_by: credential.created_by.map(Into::into),
            updated_at: credential.updated_at,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCredentialRequest {
    name: Name,
    #[serde(default)]
    #[schema(max_length = 512)]
    description: Option<String>,
    #[schema(example = "https://token.actions.githubusercontent.com")]
    issuer: String,
    #[schema(example = "https://robots.example.com")]
    audience: String,
    #[schema(example = "repo:acme/app:ref:refs/heads/main")]
    subject: String,
    #[serde(default)]
    claims: BTreeMap<String, String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCredentialRequest {
    #[serde(default)]
    name: Option<Name>,
    #[serde(default)]
    #[schema(max_length = 512)]
    description: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    /// Replaces every condition on other claims.
    #[serde(default)]
    claims: Option<BTreeMap<String, String>>,
}

/// A credential's terms, checked: what both the API and the console accept.
#[derive(Debug, Clone)]
pub(crate) struct CheckedSpec {
    pub name: Name,
    pub description: String,
    pub issuer: String,
    pub audience: String,
    pub subject: String,
    pub claims: BTreeMap<String, String>,
}

impl CheckedSpec {
    pub fn as_spec(&self) -> FederatedCredentialSpec<'_> {
        FederatedCredentialSpec {
            name: &self.name,
            description: &self.description,
            issuer: &self.issuer,
            audience: &self.audience,
            subject: &self.subject,
            claims: &self.claims,
        }
    }

    pub fn check(
        state: &AppState,
        name: Name,
        description: &str,
        issuer: &str,
        audience: &str,
        subject: &str,
        claims: BTreeMap<String, String>,
    ) -> Result<Self, ApiError> {
        let description = text::bounded_text(description, text::MAX_DESCRIPTION_CHARS)
            .map_err(|error| ApiError::invalid_field("description", error))?;
        let issuer = issuer.trim();
        state
            .issuers()
            .check_issuer_url(issuer)
            .map_err(|why| ApiError::invalid_field("issuer", why))?;
        let audience = audience.trim();
        if audience.is_empty() || audience.len() > pattern::MAX_PATTERN_LEN || audience.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "audience",
                "must be the audience the issuer puts in `aud` (1 to 512 printable characters)",
            ));
        }
        let subject = subject.trim();
        pattern::check_pattern(subject).map_err(|error| ApiError::invalid_field("subject", error))?;
        if claims.len() > MAX_CONDITIONS {
            return Err(ApiError::invalid_field(
                "claims",
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
        }
        for (claim, wanted) in &claims {
            let field = format!("claims.{claim}");
            let well_formed = !claim.is_empty()
                && claim.len() <= 64
                && claim
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
            if !well_formed {
                return Err(ApiError::invalid_field(
                    &field,
                    "claim names are 1 to 64 letters, digits, `_`, `-`, `.` or `:`",
                ));
            }
            if RESERVED_CLAIMS.contains(&claim.as_str()) {
                return Err(ApiError::invalid_field(
                    &field,
                    "iss, aud and sub have fields of their own; exp, nbf and iat are always checked",
                ));
            }
            pattern::check_pattern(wanted).map_err(|error| ApiError::invalid_field(&field, error))?;
        }
        Ok(Self {
            name,
            description,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            subject: subject.to_owned(),
            claims,
        })
    }
}

fn no_such_credential(robot: &Name, name: &str) -> ApiError {
    ApiError::not_found(format!("robot {robot} has no federated credential named {name:?}"))
}

pub(crate) async fn find_credential(
    state: &AppState,
    robot: &robots_store::RobotRef,
    name: &str,
) -> Result<FederatedCredential, ApiError> {
    let parsed = Name::parse(name).map_err(|_| no_such_credential(&robot.name, name))?;
    state
        .store()
        .get_federated_credential(robot.id, &parsed)
        .await?
        .ok_or_else(|| no_such_credential(&robot.name, name))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials",
    tag = "federation",
    params(crate::api::openapi::RobotPath),
    responses((status = 200, description = "The robot's federated credentials, by name", body = List<FederatedCredentialView>), crate::api::openapi::Failure)
)]
async fn list_credentials(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<List<FederatedCredentialView>>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credentials = state.store().list_federated_credentials(robot.id).await?;
    Ok(Json(List {
        items: credentials.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials",
    tag = "federation",
    params(crate::api::openapi::RobotPath),
    request_body = CreateCredentialRequest,
    responses((status = 201, description = "Created", body = FederatedCredentialView), crate::api::openapi::Failure)
)]
async fn create_credential(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<FederatedCredentialView>)> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let request: CreateCredentialRequest = body.parse()?;
    let spec = CheckedSpec::check(
        &state,
        request.name,
        request.description.as_deref().unwrap_or(""),
        &request.issuer,
        &request.audience,
        &request.subject,
        request.claims,
    )?;
    let created = state
        .create_federated_credential_as(&caller, &org, &robot, &spec.as_spec())
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::api::openapi::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    responses((status = 200, description = "OK", body = FederatedCredentialView), crate::api::openapi::Failure)
)]
async fn get_credential(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ApiResult<Json<FederatedCredentialView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::Read, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    Ok(Json(find_credential(&state, &robot, &name).await?.into()))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::api::openapi::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    request_body = UpdateCredentialRequest,
    responses((status = 200, description = "Changed; tokens it minted before are revoked", body = FederatedCredentialView), crate::api::openapi::Failure)
)]
async fn update_credential(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, name)): Path<(String, String, String)>,
    body: JsonBody,
) -> ApiResult<Json<FederatedCredentialView>> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credential = find_credential(&state, &robot, &name).await?;
    let request: UpdateCredentialRequest = body.parse()?;
    let spec = CheckedSpec::check(
        &state,
        request.name.unwrap_or_else(|| credential.name.clone()),
        request.description.as_deref().unwrap_or(&credential.description),
        request.issuer.as_deref().unwrap_or(&credential.issuer),
        request.audience.as_deref().unwrap_or(&credential.audience),
        request.subject.as_deref().unwrap_or(&credential.subject),
        request.claims.unwrap_or_else(|| credential.claims.clone()),
    )?;
    let updated = state
        .update_federated_credential_as(&caller, &org, &robot, &credential, &spec.as_spec())
        .await?
        .ok_or_else(|| no_such_credential(&robot.name, &name))?;
    Ok(Json(updated.into()))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::api::openapi::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    responses((status = 204, description = "Deleted, with the tokens it minted"), crate::api::openapi::Failure)
)]
async fn delete_credential(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (org, _) = authorize_org(&state, &caller, &org, OrgAction::ManageRobots, Scope::Robots).await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credential = find_credential(&state, &robot, &name).await?;
    if !state
        .delete_federated_credential_as(&caller, &org, &robot, &credential)
        .await?
    {
        return Err(no_such_credential(&robot.name, &name));
    }
    Ok(StatusCode::NO_CONTENT)
}
