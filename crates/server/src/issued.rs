//! Signed tokens given out again, for a moment.
//!
//! An ES256 signature costs more than everything else a token request does
//! together (docs/PERFORMANCE.md), and clients ask for the same grant many
//! times in a burst: the jobs of a CI fleet pulling the same images as one
//! robot, clients that keep no tokens between commands. So a request for
//! exactly the grant an earlier one received (same robot token, same
//! audience, same access granted, same signing key) within the reuse window
//! is answered with that earlier JWT instead of a new signature, the way
//! cloud metadata services hand out one credential until it nears expiry.
//!
//! It grants nothing new. The caller's credential is verified and its access
//! recomputed on every request first, and only an identical grant is reused.
//! Remembered tokens are read with the store's generation like every other
//! verification answer, so a revoked token, a permission taken away or a
//! disabled robot makes them unusable at once (on replicas, as soon as the
//! change is announced). The window is short: `--token-reuse-window`
//! (10 s by default, at most a tenth of the token's lifetime); 0 turns
//! reuse off.

use std::time::Duration;

use axum::body::Bytes;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cache::Issued;
use crate::keys::{KeyError, LoadedKey, SigningAlgorithm};
use crate::state::AppState;

impl AppState {
    /// The answer for `grant` (what is granted, to whom: everything in the
    /// token but its times and id) by the Access ID `access_id`: given again
    /// if it was built within the reuse window, else built by `sign` with
    /// the active key of `algorithm`. `None` when no such key is active.
    pub(crate) fn signed_answer(
        &self,
        access_id: Uuid,
        grant: String,
        lifetime: Duration,
        algorithm: SigningAlgorithm,
        sign: impl FnOnce(&LoadedKey, OffsetDateTime) -> Result<Bytes, KeyError>,
    ) -> Option<Result<Issued, KeyError>> {
        let now = self.now();
        let window = self.config().token_reuse_window.min(lifetime / 10);
        let generation = self.store().generation();
        let grant = (access_id, grant);
        self.keys().with_signer(now, algorithm, |key| {
            if !window.is_zero()
                && let Some(issued) = self.verify_cache().issued(&grant, generation)
                && issued.kid == key.kid
                && issued.issued_at <= now
                && now - issued.issued_at < window
            {
                return Ok(Issued { reused: true, ..issued });
            }
            let issued = Issued {
                answer: sign(key, now)?,
                issued_at: now,
                reused: false,
                kid: key.kid.clone(),
            };
            if !window.is_zero() {
                self.verify_cache().remember_issued(grant, issued.clone(), generation);
            }
            Ok(issued)
        })
    }
}
