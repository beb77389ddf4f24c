//! The API's one error shape:
//! `{"error": {"code": "<stable_snake_case>", "message": "<for humans>", "field": "<when one is at fault>"}}`.
//!
//! Codes are part of the contract (the CLI and scripts branch on them) and
//! never change meaning. A 5xx never shows its cause: the cause is logged
//! with the request's context and the client gets a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::{ErrorBody, ErrorCode, ErrorDetail};
use robots_service::ServiceError;
use robots_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    field: Option<String>,
    /// Logged, never sent.
    cause: Option<String>,
    /// Sent as `Retry-After` (429s, and 401s of rate-limited clients).
    retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            cause: None,
            retry_after: None,
        }
    }

    /// 429: too many failed attempts from this client or for this credential.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!(
                "too many failed attempts; try again in {} s",
                retry_after.as_secs().max(1)
            ),
        )
        .with_retry_after(Some(retry_after))
    }

    pub fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// 400: the request is not even well-formed.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: a field's value breaks a rule; the message says which rule.
    pub fn invalid_field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidField,
            format!("{field}: {message}"),
        )
        .with_field(field)
    }

    /// 401, the same for every kind of bad credential so it is no oracle.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "missing or invalid credentials: log in, or send a robot's Access ID and Token",
        )
    }

    /// 403 for robots on anything but identity endpoints.
    pub fn robot_forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::RobotForbidden,
            "robot accounts cannot use the management API or create resources; \
             robot credentials are for authenticating to other systems",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "an internal error occurred; it has been logged",
        );
        error.cause = Some(cause.to_string());
        error
    }
}

impl From<ServiceError> for ApiError {
    /// The one mapping from what an operation answers to what a client
    /// sees, for the API and the console alike: a status for the kind of
    /// failure and a stable code for the rule.
    fn from(error: ServiceError) -> Self {
        use StatusCode as S;
        let (status, code) = match &error {
            ServiceError::NotFound(_) | ServiceError::UserNotFound => (S::NOT_FOUND, ErrorCode::NotFound),
            ServiceError::Forbidden { .. } | ServiceError::InvalidSetupCode => (S::FORBIDDEN, ErrorCode::Forbidden),
            ServiceError::RobotForbidden(_) => (S::FORBIDDEN, ErrorCode::RobotForbidden),
            ServiceError::InsufficientScope(_) => (S::FORBIDDEN, ErrorCode::InsufficientScope),
            ServiceError::SessionRequired(_) => (S::FORBIDDEN, ErrorCode::SessionRequired),
            ServiceError::Unauthenticated => return Self::unauthenticated(),
            ServiceError::WrongLogin => (S::UNAUTHORIZED, ErrorCode::InvalidLogin),
            ServiceError::RateLimited { retry_after } => return Self::rate_limited(*retry_after),
            ServiceError::PersonalAccount(_) => (S::UNPROCESSABLE_ENTITY, ErrorCode::PersonalAccount),
            ServiceError::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField),
            ServiceError::NotAnOrgMember => (S::UNPROCESSABLE_ENTITY, ErrorCode::NotAnOrgMember),
            ServiceError::NameTaken { .. } => (S::CONFLICT, ErrorCode::NameTaken),
            ServiceError::EmailTaken => (S::CONFLICT, ErrorCode::EmailTaken),
            ServiceError::LastAdmin | ServiceError::SoleAdminOf { .. } => (S::CONFLICT, ErrorCode::LastAdmin),
            ServiceError::LastInstanceAdmin => (S::CONFLICT, ErrorCode::LastInstanceAdmin),
            ServiceError::LimitReached { .. } => (S::CONFLICT, ErrorCode::LimitReached),
            ServiceError::AlreadyRotated { .. } => (S::CONFLICT, ErrorCode::AlreadyRotated),
            ServiceError::SetupComplete => (S::CONFLICT, ErrorCode::SetupComplete),
            ServiceError::Unavailable { retry_after, .. } => {
                return Self::new(S::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, error.to_string())
                    .with_retry_after(Some(*retry_after));
            }
            ServiceError::Internal(cause) => return Self::internal(cause),
        };
        debug_assert_eq!(
            code.as_str(),
            error.code(),
            "the service and the wire name a rule alike"
        );
        let mut api = Self::new(status, code, error.to_string());
        api.field = error.field().map(str::to_owned);
        api
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

impl ApiError {
    /// Logs the hidden cause of an internal error, if there is one.
    pub fn log_cause(&self) {
        if let Some(cause) = &self.cause {
            tracing::error!(code = self.code.as_str(), %cause, "request failed");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let headers = response.headers_mut();
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="robots""#),
            );
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="robots""#),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
