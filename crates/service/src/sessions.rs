//! Who is acting: a person, logged in.

use robots_core::SecretHash;
use robots_store::User;
use time::OffsetDateTime;

use crate::{ClientInfo, Via};

/// A logged-in user and the session they used: the caller every operation
/// on a person's behalf takes.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user: User,
    pub session: SecretHash,
    pub expires_at: OffsetDateTime,
    /// Where the request came from, for the audit log.
    pub client: ClientInfo,
    pub via: Via,
}
