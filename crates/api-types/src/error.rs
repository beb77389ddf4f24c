//! The one error shape of the API:
//! `{"error": {"code": "<stable_snake_case>", "message": "<for humans>", "field": "<when one is at fault>"}}`.

use serde::{Deserialize, Serialize};

/// Every error of the REST API.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

/// An OAuth 2.0 error (RFC 6749 §5.2): the token and introspection
/// endpoints answer in OAuth's terms (`invalid_grant`, `invalid_client`,
/// `slow_down`…), not the API's.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_description: Option<String>,
}

/// Stable, snake_case: scripts branch on it. A code never changes meaning;
/// new ones may appear (read as [`ErrorCode::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// It does not exist, or the caller may not know that it does.
    NotFound,
    /// The caller may see it, but not do this.
    Forbidden,
    /// Robots authenticate to other systems; they manage nothing.
    RobotForbidden,
    /// The personal access token lacks the scope the request needs.
    InsufficientScope,
    /// Only a logged-in person may do this, not a personal access token.
    SessionRequired,
    /// No credentials, or none that are valid.
    Unauthenticated,
    /// A password login that failed.
    InvalidLogin,
    /// Too many failed attempts; see `Retry-After`.
    RateLimited,
    /// Only organizations have robots.
    PersonalAccount,
    /// A field breaks a rule; `field` names it.
    InvalidField,
    NameTaken,
    EmailTaken,
    /// An organization keeps at least one admin.
    LastAdmin,
    /// The installation keeps at least one instance administrator.
    LastInstanceAdmin,
    /// Only members of the organization join its teams.
    NotAnOrgMember,
    /// The operator's cap is reached.
    LimitReached,
    /// A token rotates once; rotate its successor.
    AlreadyRotated,
    SetupComplete,
    /// The body is not the JSON the route reads.
    InvalidJson,
    InvalidBody,
    InvalidQuery,
    InvalidCursor,
    InvalidRequest,
    InvalidForm,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    /// The request took too long.
    Timeout,
    /// The server cannot do this right now (busy, or its database is out
    /// of reach); try again after `Retry-After`.
    Unavailable,
    /// A registry token asked for a service this server does not issue for.
    UnknownService,
    /// Ours: logged, never explained.
    Internal,
    /// A code this client does not know yet.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::RobotForbidden => "robot_forbidden",
            Self::InsufficientScope => "insufficient_scope",
            Self::SessionRequired => "session_required",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidLogin => "invalid_login",
            Self::RateLimited => "rate_limited",
            Self::PersonalAccount => "personal_account",
            Self::InvalidField => "invalid_field",
            Self::NameTaken => "name_taken",
            Self::EmailTaken => "email_taken",
            Self::LastAdmin => "last_admin",
            Self::LastInstanceAdmin => "last_instance_admin",
            Self::NotAnOrgMember => "not_an_org_member",
            Self::LimitReached => "limit_reached",
            Self::AlreadyRotated => "already_rotated",
            Self::SetupComplete => "setup_complete",
            Self::InvalidJson => "invalid_json",
            Self::InvalidBody => "invalid_body",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidCursor => "invalid_cursor",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidForm => "invalid_form",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::UnknownService => "unknown_service",
            Self::Internal => "internal",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_as_their_names() {
        for code in [
            ErrorCode::NotFound,
            ErrorCode::AlreadyRotated,
            ErrorCode::NotAnOrgMember,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let unknown: ErrorCode = serde_json::from_value("something_new".into()).unwrap();
        assert_eq!(unknown, ErrorCode::Other);
    }
}
