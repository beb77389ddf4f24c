//! Organizations: created by a person (who becomes their admin), renamed
//! for display, given a token policy, deleted with everything in them.

use robots_core::duration::format_duration;
use robots_core::{Role, Scope, text};
use robots_store::{AccountLookup, Org, OrgMembership, Page, TokenPolicy};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::error::named;
use crate::lifetime;
use crate::robots::parse_name;
use crate::{Authorized, DeleteOrg, ManageMembers, Service, ServiceError, ServiceResult, UserSession};

/// A change to an organization's settings; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrgUpdate<'a> {
    pub display_name: Option<&'a str>,
    pub token_policy: Option<PolicyInput<'a>>,
}

/// A token policy as asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyInput<'a> {
    /// `90d`; `None` or empty for no maximum.
    pub max_lifetime: Option<&'a str>,
    pub expiry_required: bool,
    /// Refuse members' personal access tokens here.
    pub forbid_personal_tokens: bool,
    /// Disable robot tokens unused this long (`90d`); `None`: never.
    pub disable_unused_after: Option<&'a str>,
}

const MAX_LIFETIME: &str = "token_policy.max_lifetime";

fn display_name(text: &str) -> ServiceResult<String> {
    text::bounded_text(text, text::MAX_DISPLAY_NAME_CHARS).map_err(|error| ServiceError::invalid("display_name", error))
}

fn token_policy(input: PolicyInput<'_>) -> ServiceResult<TokenPolicy> {
    let max_lifetime = lifetime::parse_maximum(MAX_LIFETIME, input.max_lifetime)?;
    Ok(TokenPolicy {
        max_lifetime,
        expiry_required: input.expiry_required,
        personal_tokens_allowed: !input.forbid_personal_tokens,
        disable_unused_after: lifetime::parse_maximum("token_policy.disable_unused_after", input.disable_unused_after)?,
    })
}

impl Service {
    /// The organizations `caller` belongs to, with their role in each.
    pub async fn list_orgs(
        &self,
        caller: &UserSession,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Page<OrgMembership>> {
        caller.require_scope(Scope::OrgsRead)?;
        let mut page = self.store.list_orgs_of_user(caller.user.id, after, limit).await?;
        // A personal access token limited to some organizations lists those.
        if let Some(token) = &caller.personal_token {
            page.items.retain(|membership| token.reaches(membership.org.id));
        }
        Ok(page)
    }

    /// Creates an organization; its creator is its first admin.
    pub async fn create_org(&self, caller: &UserSession, name: &str, display: &str) -> ServiceResult<Org> {
        caller.require_scope(Scope::OrgsWrite)?;
        if caller.personal_token.as_ref().is_some_and(|token| token.orgs.is_some()) {
            return Err(ServiceError::forbidden(
                "this personal access token is limited to some organizations: it cannot create others",
            ));
        }
        let name = parse_name("name", name)?;
        let display = display_name(display)?;
        let id = Uuid::now_v7();
        let record = self.record(
            Actor::User(caller),
            Change::new(Some(id), "org.created", format!("org {name}")).detail(json!({"display_name": display})),
        );
        let org = self
            .store
            .create_org(id, &name, &display, caller.user.id, self.now(), &record)
            .await
            .map_err(named(|| {
                format!("the name {name} is already taken by a user or an organization")
            }))?;
        tracing::info!(org = %org.name, by = %caller.user.name, "organization created");
        Ok(org)
    }

    /// Changes the display name and/or the token policy: both are checked
    /// before either is written. Answers the organization as it is now.
    pub async fn update_org(
        &self,
        at: &Authorized<'_, ManageMembers>,
        update: OrgUpdate<'_>,
    ) -> ServiceResult<(Org, Role)> {
        let org = at.org();
        let display = update.display_name.map(display_name).transpose()?;
        let policy = update.token_policy.map(token_policy).transpose()?;
        if let (Some(own), Some(floor)) = (
            policy.and_then(|policy| policy.max_lifetime),
            at.instance().max_lifetime,
        ) && own > floor
        {
            return Err(ServiceError::invalid(
                MAX_LIFETIME,
                format!(
                    "this installation allows tokens to live at most {}: an organization's maximum may only be shorter",
                    format_duration(floor)
                ),
            ));
        }
        let mut records = Vec::new();
        if let Some(display) = &display {
            records.push(
                self.record(
                    at.actor(),
                    Change::new(Some(org.id), "org.updated", format!("org {}", org.name))
                        .detail(json!({"display_name": display})),
                ),
            );
        }
        if let Some(policy) = policy {
            let detail = json!({"token_policy": {
                "max_lifetime": policy.max_lifetime.map(format_duration),
                "expiry_required": policy.expiry_required,
                "personal_tokens_allowed": policy.personal_tokens_allowed,
                "disable_unused_after": policy.disable_unused_after.map(format_duration),
            }});
            records.push(self.record(
                at.actor(),
                Change::new(Some(org.id), "org.updated", format!("org {}", org.name)).detail(detail),
            ));
        }
        if !records.is_empty()
            && !self
                .store
                .update_org(org.id, display.as_deref(), policy, &records)
                .await?
        {
            return Err(ServiceError::NotFound(format!(
                "no organization named {:?}",
                org.name.as_str()
            )));
        }
        // Read back as it is now, without authorizing again: a personal
        // access token that just forbade personal access tokens here may
        // still hear the answer to its own change.
        match self
            .store
            .lookup_account(org.name.as_str(), at.caller().user.id)
            .await?
        {
            Some(AccountLookup::Org { org, role: Some(role) }) => Ok((org, role)),
            _ => Err(ServiceError::NotFound(format!(
                "no organization named {:?}",
                org.name.as_str()
            ))),
        }
    }

    /// Deletes an organization with its robots, tokens, teams and log; the
    /// instance's log keeps the deletion.
    pub async fn delete_org(&self, at: &Authorized<'_, DeleteOrg>) -> ServiceResult<()> {
        let org = at.org();
        let record = self.record(
            at.actor(),
            Change::new(None, "org.deleted", format!("org {}", org.name)),
        );
        if !self.store.delete_org(org.id, &record).await? {
            return Err(ServiceError::NotFound(format!(
                "no organization named {:?}",
                org.name.as_str()
            )));
        }
        tracing::info!(org = %org.name, by = %at.caller().user.name, "organization deleted");
        Ok(())
    }
}
