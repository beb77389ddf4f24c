//! Robot accounts, and what each may do.

use robots_core::Name;
use robots_core::access::{Permission, RepoAction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RobotView {
    pub id: Uuid,
    pub org: String,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub token_count: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// A disabled robot's tokens are refused until it is enabled again.
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// It may rotate the token it authenticates with
    /// (`POST /v1/robot/tokens/current/rotate`), and nothing else.
    pub self_rotate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRobotRequest {
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 512,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    pub description: Option<String>,
}

/// `PATCH`: what is absent stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRobotRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 512,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    pub description: Option<String>,
    /// Allow (or forbid) the robot to rotate the token it authenticates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_rotate: Option<bool>,
}

/// What a robot may do, and through which teams.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PermissionsView {
    pub robot: String,
    pub org: String,
    /// The teams it belongs to.
    pub teams: Vec<String>,
    /// One entry per repository it can reach.
    pub items: Vec<EffectiveView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EffectiveView {
    pub repository: String,
    pub full_name: String,
    pub permission: Permission,
    pub actions: Vec<RepoAction>,
    pub via: Vec<ViaView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ViaView {
    pub team: String,
    pub permission: Permission,
}
