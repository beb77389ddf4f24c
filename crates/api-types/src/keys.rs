//! The signing keys of the tokens the server issues.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    /// The RFC 7638 thumbprint: JWTs' `kid`.
    pub kid: String,
    /// The JWS algorithm it signs with: `ES256`, or `RS256` for tokens a
    /// client asked to have signed so.
    #[schema(example = "ES256")]
    pub algorithm: String,
    /// When it starts (or started) signing.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// When it stopped signing; still published while its tokens live.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    /// Whether it signs its algorithm's tokens now.
    pub signing: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotateRequest {
    /// How long until the new key starts signing, e.g. `24h` (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(([0-9]+[smhdw])+)?$", example = "24h")]
    pub after: Option<String>,
}

/// The next signing key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RotatedKeyView {
    pub kid: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
}
