//! An organization's members: people, with the role `admin` or `member`.

use robots_core::{Name, Role};
use robots_store::{Member, Page};
use serde_json::json;

use crate::audit::Change;
use crate::{Authorized, Leave, ManageMembers, Service, ServiceError, ServiceResult};

/// What setting a member did.
#[derive(Debug, Clone)]
pub struct MemberChange {
    pub member: Member,
    /// `true` if they were not a member before.
    pub added: bool,
}

impl Service {
    pub async fn list_members<R>(
        &self,
        at: &Authorized<'_, R>,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Page<Member>> {
        Ok(self.store.list_members(at.org().id, after, limit).await?)
    }

    pub async fn count_members<R>(&self, at: &Authorized<'_, R>) -> ServiceResult<i64> {
        Ok(self.store.count_members(at.org().id).await?)
    }

    /// Adds `username` with `role`, or changes their role. The last admin
    /// cannot step down.
    pub async fn set_member(
        &self,
        at: &Authorized<'_, ManageMembers>,
        username: &str,
        role: Role,
    ) -> ServiceResult<MemberChange> {
        let org = at.org();
        let username = Name::parse(username.trim()).map_err(|_| ServiceError::UserNotFound)?;
        let record = |member: &Member, added: bool| {
            self.record(
                at.actor(),
                Change::new(Some(org.id), "member.set", format!("user {}", member.username))
                    .detail(json!({"role": member.role, "added": added})),
            )
        };
        let (member, added) = self
            .store
            .set_member(org.id, &username, role, self.now(), record)
            .await?;
        Ok(MemberChange { member, added })
    }

    /// Removes a member. Anyone may leave; removing someone else takes an
    /// admin; the last admin cannot go.
    pub async fn remove_member(&self, at: &Authorized<'_, Leave>, username: &str) -> ServiceResult<()> {
        let org = at.org();
        if username != at.caller().user.name.as_str() {
            at.with::<ManageMembers>()?;
        }
        let not_member = || ServiceError::NotFound(format!("{username} is not a member of {}", org.name));
        let name = Name::parse(username).map_err(|_| not_member())?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "member.removed", format!("user {name}")),
        );
        if !self.store.remove_member(org.id, &name, self.now(), &record).await? {
            return Err(not_member());
        }
        Ok(())
    }
}
