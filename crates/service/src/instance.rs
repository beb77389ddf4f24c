//! The instance's token policy: the floor instance administrators set under
//! every organization's. An organization's policy may only be stricter;
//! where it is not, the floor holds ([`robots_store::InstancePolicy::floor`],
//! applied in [`crate::Authorized::policy`]).

use robots_core::duration::format_duration;
use robots_store::InstancePolicy;
use serde_json::json;

use crate::audit::Change;
use crate::lifetime::{self, PERSONAL_TOKEN_MAX};
use crate::{InstanceAdmin, Service, ServiceError, ServiceResult};

/// The instance's policy as asked for; the whole policy is set at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstancePolicyInput<'a> {
    /// `90d`; `None` or blank for no maximum.
    pub max_lifetime: Option<&'a str>,
    pub expiry_required: bool,
    /// The longest a personal access token may live (at most 366d).
    pub personal_token_max_lifetime: Option<&'a str>,
}

impl Service {
    /// The instance's floor: anyone may read it, so that an organization's
    /// admins can see why a policy is refused.
    pub async fn instance_policy(&self) -> ServiceResult<InstancePolicy> {
        Ok(self.store.instance_policy().await?)
    }

    /// Sets the instance's floor; it holds for tokens created from now on,
    /// and at once for personal access tokens in use.
    pub async fn set_instance_policy(
        &self,
        admin: &InstanceAdmin<'_>,
        input: InstancePolicyInput<'_>,
    ) -> ServiceResult<InstancePolicy> {
        let policy = InstancePolicy {
            max_lifetime: lifetime::parse_maximum("max_lifetime", input.max_lifetime)?,
            expiry_required: input.expiry_required,
            personal_token_max_lifetime: lifetime::parse_maximum(
                "personal_token_max_lifetime",
                input.personal_token_max_lifetime,
            )?,
        };
        if policy
            .personal_token_max_lifetime
            .is_some_and(|max| max > PERSONAL_TOKEN_MAX)
        {
            return Err(ServiceError::invalid(
                "personal_token_max_lifetime",
                format!(
                    "personal access tokens live at most {} anyway",
                    format_duration(PERSONAL_TOKEN_MAX)
                ),
            ));
        }
        let record = self.record(
            admin.actor(),
            Change::new(None, "instance.policy_updated", "instance").detail(json!({
                "max_lifetime": policy.max_lifetime.map(format_duration),
                "expiry_required": policy.expiry_required,
                "personal_token_max_lifetime": policy.personal_token_max_lifetime.map(format_duration),
            })),
        );
        self.store.set_instance_policy(policy, self.now(), &record).await?;
        Ok(policy)
    }
}
