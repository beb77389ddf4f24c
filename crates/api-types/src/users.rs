//! People: setup, users, logging in, and who one is.

use robots_core::{Name, SecretToken};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub instance_admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /v1/setup`: the first administrator, with the setup code.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The one-time code the server printed on its first start.
    #[schema(
        pattern = "^[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}$",
        example = "1QHH-JEGC-GVCV-SQWY"
    )]
    pub code: String,
    #[schema(value_type = Name)]
    pub username: String,
    #[schema(
        pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+$",
        max_length = 254,
        example = "ada@example.com"
    )]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

/// `POST /v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Checked after who may create users, so an outsider learns nothing
    /// from it.
    #[schema(value_type = Name)]
    pub username: String,
    #[schema(
        pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+$",
        max_length = 254,
        example = "ada@example.com"
    )]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[serde(default)]
    pub instance_admin: bool,
}

/// `POST /v1/sessions`.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A new session: its token, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    #[serde(with = "crate::secret")]
    #[schema(value_type = String)]
    pub token: SecretToken,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub user: UserView,
}

/// `GET /v1/whoami`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhoAmI {
    User {
        #[serde(flatten)]
        user: UserView,
        /// When the session, or the personal access token, expires.
        #[serde(with = "time::serde::rfc3339")]
        session_expires_at: OffsetDateTime,
        /// The personal access token the request came with, if not a session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        personal_token: Option<WhoAmIToken>,
    },
    Robot {
        id: Uuid,
        name: String,
        org: String,
        access_id: Uuid,
        token_name: String,
        #[serde(with = "time::serde::rfc3339::option")]
        token_expires_at: Option<OffsetDateTime>,
    },
}

/// The personal access token a request came with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmIToken {
    pub name: String,
    pub scopes: Vec<String>,
    /// The organizations it may reach; null: every one its owner belongs to.
    pub orgs: Option<Vec<String>>,
}

/// `PUT /v1/me/password`.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// Leaves both passwords out.
impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest").finish_non_exhaustive()
    }
}
