//! The signing keys of the tokens we issue (registry tokens, OAuth2 access
//! tokens): who may see and rotate them, when a rotation takes effect, and
//! its record. Making and using keys is cryptography, the server's
//! (`KeyRing`); it answers to [`SigningKeys`].

use std::future::Future;

use robots_core::duration::parse_duration;
use robots_store::Store;
use serde_json::json;
use time::OffsetDateTime;

use crate::audit::Change;
use crate::events::rfc3339;
use crate::{InstanceAdmin, Service, ServiceError, ServiceResult};

/// Makes the next signing key; answers its key id.
pub trait SigningKeys {
    fn rotate(
        &self,
        store: &Store,
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

impl Service {
    /// Adds a signing key that signs from `after` from now (at once when
    /// `None`); the current key signs until then and stays published while
    /// its tokens live. Answers the new key's id and when it signs.
    pub async fn rotate_signing_key(
        &self,
        admin: &InstanceAdmin<'_>,
        after: Option<&str>,
        keys: &impl SigningKeys,
    ) -> ServiceResult<(String, OffsetDateTime)> {
        let delay = match after.map(str::trim) {
            None | Some("") => std::time::Duration::ZERO,
            Some(text) => parse_duration(text).map_err(|error| ServiceError::invalid("after", error))?,
        };
        let now = self.now();
        let not_before = now + delay;
        let kid = keys
            .rotate(&self.store, now, not_before)
            .await
            .map_err(ServiceError::Internal)?;
        tracing::info!(%kid, by = %admin.caller().user.name, "signing key rotated");
        self.audit(
            admin.actor(),
            Change::new(None, "key.rotated", format!("key {kid}")).detail(json!({"not_before": rfc3339(not_before)})),
        )
        .await;
        Ok((kid, not_before))
    }
}
