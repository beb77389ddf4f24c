//! How many webhook deliveries this process is sending, per organization:
//! the bound that keeps one organization's dead endpoint from holding up
//! another's deliveries (see `webhooks`).

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

/// Deliveries of one organization in flight from this process at once.
pub const PER_ORG: usize = 4;

/// The deliveries this process is sending, per organization.
#[derive(Debug, Default)]
pub struct InFlight {
    per_org: Mutex<HashMap<Uuid, usize>>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.per_org.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn total(&self) -> usize {
        self.lock().values().sum()
    }

    /// A place for one more of `org`'s deliveries, if it has one.
    pub(crate) fn take(&self, org: Uuid) -> bool {
        let mut per_org = self.lock();
        let count = per_org.entry(org).or_default();
        if *count >= PER_ORG {
            return false;
        }
        *count += 1;
        true
    }

    pub(crate) fn give_back(&self, org: Uuid) {
        let mut per_org = self.lock();
        if let Some(count) = per_org.get_mut(&org) {
            *count -= 1;
            if *count == 0 {
                per_org.remove(&org);
            }
        }
    }
}
