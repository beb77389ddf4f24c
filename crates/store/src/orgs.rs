//! Organizations and their members.

use robots_core::clock::to_millis;
use robots_core::{AccountKind, Name, Role};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{name, role, time};
use crate::trail::write_audit;
use crate::{
    AccountLookup, Member, Org, OrgMembership, Page, Store, StoreError, TokenPolicy, fetch_limit, in_write_tx, on_pool,
    page,
};

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    display_name: String,
    created_at: i64,
    token_max_lifetime_seconds: Option<i64>,
    token_expiry_required: bool,
    personal_tokens_allowed: bool,
    disable_unused_after_seconds: Option<i64>,
}

fn seconds(value: Option<i64>) -> Option<std::time::Duration> {
    value.map(|seconds| std::time::Duration::from_secs(seconds.max(0).unsigned_abs()))
}

fn token_policy(
    max_lifetime_seconds: Option<i64>,
    expiry_required: bool,
    personal_tokens_allowed: bool,
    disable_unused_after_seconds: Option<i64>,
) -> TokenPolicy {
    TokenPolicy {
        max_lifetime: seconds(max_lifetime_seconds),
        expiry_required,
        personal_tokens_allowed,
        disable_unused_after: seconds(disable_unused_after_seconds),
    }
}

impl TryFrom<OrgRow> for Org {
    type Error = StoreError;
    fn try_from(row: OrgRow) -> Result<Self, StoreError> {
        Ok(Org {
            id: row.id,
            name: name(row.name)?,
            display_name: row.display_name,
            created_at: time(row.created_at),
            token_policy: token_policy(
                row.token_max_lifetime_seconds,
                row.token_expiry_required,
                row.personal_tokens_allowed,
                row.disable_unused_after_seconds,
            ),
        })
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    username: String,
    email: String,
    role: String,
    joined_at: i64,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;
    fn try_from(row: MemberRow) -> Result<Self, StoreError> {
        Ok(Member {
            user_id: row.user_id,
            username: name(row.username)?,
            email: row.email,
            role: role(&row.role)?,
            joined_at: time(row.joined_at),
        })
    }
}

/// Fails the transaction `$tx` with [`StoreError::LastAdmin`] when the
/// organization `$org_id` has no admin left.
macro_rules! ensure_an_admin_remains {
    ($tx:ident, $org_id:expr) => {{
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'admin'")
            .bind($org_id)
            .fetch_one(&mut *$tx)
            .await?;
        if admins == 0 {
            return Err(StoreError::LastAdmin);
        }
    }};
}

/// Takes the organization's row lock (PostgreSQL; SQLite's write
/// transactions are serial anyway), so that membership changes of one
/// organization happen one after another and the admin count stays true.
macro_rules! lock_org {
    ($tx:ident, $org_id:expr, $now:expr) => {
        sqlx::query("UPDATE orgs SET updated_at = $2 WHERE id = $1")
            .bind($org_id)
            .bind(to_millis($now))
            .execute(&mut *$tx)
            .await?
    };
}

impl Store {
    /// What `account` names, as seen by `viewer`: a personal account, an
    /// organization with the viewer's role in it, or nothing. Found accounts
    /// are remembered under the change generation: changing an
    /// organization, its members or their roles, or deleting it, bumps it.
    pub async fn lookup_account(&self, account: &str, viewer: Uuid) -> Result<Option<AccountLookup>, StoreError> {
        let spread = viewer.as_bytes()[15] ^ account.bytes().fold(0, u8::wrapping_add);
        let key = (account.to_owned(), viewer);
        self.remembered(&self.caches.accounts, spread, key, self.read_account(account, viewer))
            .await
    }

    async fn read_account(&self, account: &str, viewer: Uuid) -> Result<Option<AccountLookup>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Uuid,
            name: String,
            kind: String,
            created_at: i64,
            display_name: Option<String>,
            role: Option<String>,
            token_max_lifetime_seconds: Option<i64>,
            token_expiry_required: Option<bool>,
            personal_tokens_allowed: Option<bool>,
            disable_unused_after_seconds: Option<i64>,
        }
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.name, a.kind, a.created_at, o.display_name, m.role,
                    o.token_max_lifetime_seconds, o.token_expiry_required, o.personal_tokens_allowed,
                    o.disable_unused_after_seconds
             FROM accounts a
             LEFT JOIN orgs o ON o.id = a.id
             LEFT JOIN org_members m ON m.org_id = a.id AND m.user_id = $2
             WHERE a.name = $1")
            .bind(account)
            .bind(viewer)
            .fetch_optional(pool)
            .await)?;
        let Some(row) = row else { return Ok(None) };
        match AccountKind::parse(&row.kind) {
            Some(AccountKind::User) => Ok(Some(AccountLookup::User)),
            Some(AccountKind::Org) => Ok(Some(AccountLookup::Org {
                org: Org {
                    id: row.id,
                    name: name(row.name)?,
                    display_name: row.display_name.unwrap_or_default(),
                    created_at: time(row.created_at),
                    token_policy: token_policy(
                        row.token_max_lifetime_seconds,
                        row.token_expiry_required.unwrap_or(false),
                        row.personal_tokens_allowed.unwrap_or(true),
                        row.disable_unused_after_seconds,
                    ),
                },
                role: row.role.as_deref().map(role).transpose()?,
            })),
            None => Err(StoreError::Corrupt(format!("account kind {:?}", row.kind))),
        }
    }

    /// Creates organization `id` with `creator` as its first admin, and
    /// `record` with it. The caller picks the ID, so its record can name it.
    pub async fn create_org(
        &self,
        id: Uuid,
        org_name: &Name,
        display_name: &str,
        creator: Uuid,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<Org, StoreError> {
        let created_at = to_millis(now);
        in_write_tx!(self, tx => {
            sqlx::query("INSERT INTO accounts (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(org_name.as_str())
                .bind(AccountKind::Org.as_str())
                .bind(created_at)
                .execute(&mut *tx)
                .await
                .map_err(name_conflict)?;
            sqlx::query("INSERT INTO orgs (id, display_name, created_by, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(display_name)
                .bind(creator)
                .bind(created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, 'admin', $3)")
                .bind(id)
                .bind(creator)
                .bind(created_at)
                .execute(&mut *tx)
                .await?;
            write_audit!(tx, record);
            tx.commit().await?;
        });
        Ok(Org {
            id,
            name: org_name.clone(),
            display_name: display_name.to_owned(),
            created_at: time(created_at),
            token_policy: TokenPolicy::default(),
        })
    }

    /// The organizations `user_id` belongs to, by name.
    pub async fn list_orgs_of_user(
        &self,
        user_id: Uuid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OrgMembership>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            org: OrgRow,
            role: String,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.name, o.display_name, a.created_at, m.role,
                    o.token_max_lifetime_seconds, o.token_expiry_required, o.personal_tokens_allowed,
                    o.disable_unused_after_seconds
             FROM org_members m JOIN orgs o ON o.id = m.org_id JOIN accounts a ON a.id = o.id
             WHERE m.user_id = $1 AND a.name > $2
             ORDER BY a.name LIMIT $3")
            .bind(user_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows
            .into_iter()
            .map(|row| {
                Ok(OrgMembership {
                    org: Org::try_from(row.org)?,
                    role: role(&row.role)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page(items, limit))
    }

    /// Sets the organization's display name and/or token policy (`None`
    /// leaves one as it is), with `records`, in one transaction; `false`
    /// (and nothing written) if the organization is gone.
    pub async fn update_org(
        &self,
        org_id: Uuid,
        display_name: Option<&str>,
        policy: Option<TokenPolicy>,
        records: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let keep_policy = policy.is_none();
        let policy = policy.unwrap_or_default();
        let seconds = policy
            .max_lifetime
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let updated = in_write_tx!(self, tx => {
            let updated = sqlx::query(
                "UPDATE orgs SET display_name = COALESCE($2, display_name),
                 token_max_lifetime_seconds = CASE WHEN $3 THEN token_max_lifetime_seconds ELSE $4 END,
                 token_expiry_required = CASE WHEN $3 THEN token_expiry_required ELSE $5 END,
                 personal_tokens_allowed = CASE WHEN $3 THEN personal_tokens_allowed ELSE $6 END,
                 disable_unused_after_seconds = CASE WHEN $3 THEN disable_unused_after_seconds ELSE $7 END
                 WHERE id = $1")
                .bind(org_id)
                .bind(display_name)
                .bind(keep_policy)
                .bind(seconds)
                .bind(policy.expiry_required)
                .bind(policy.personal_tokens_allowed)
                .bind(policy.disable_unused_after.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if updated {
                for record in records {
                    write_audit!(tx, record);
                }
            }
            tx.commit().await?;
            updated
        });
        if updated {
            self.changed().await?;
        }
        Ok(updated)
    }

    /// Deletes an organization with its members, robots and tokens, and
    /// writes `record` (an event of no organization, which outlives it).
    pub async fn delete_org(&self, org_id: Uuid, record: &AuditEvent) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM accounts WHERE id = $1 AND kind = 'org'", org_id, record)
            .await
    }

    /// How many members an organization has.
    pub async fn count_members(&self, org_id: Uuid) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM org_members WHERE org_id = $1", org_id)
            .await
    }

    pub async fn list_members(
        &self,
        org_id: Uuid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Member>, StoreError> {
        let rows: Vec<MemberRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT m.user_id, a.name AS username, u.email, m.role, m.created_at AS joined_at
             FROM org_members m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = u.id
             WHERE m.org_id = $1 AND a.name > $2
             ORDER BY a.name LIMIT $3")
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows.into_iter().map(Member::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    /// Adds `username` to the organization with `role`, or changes their
    /// role. Returns the membership and whether it is new. Refuses to leave
    /// the organization without an admin. `record` makes the change's audit
    /// event from its outcome, written in the same transaction.
    pub async fn set_member(
        &self,
        org_id: Uuid,
        username: &Name,
        new_role: Role,
        now: OffsetDateTime,
        record: impl FnOnce(&Member, bool) -> AuditEvent,
    ) -> Result<(Member, bool), StoreError> {
        let set: Result<_, StoreError> = in_write_tx!(self, tx => {
            lock_org!(tx, org_id, now);
            let user_id: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM accounts WHERE name = $1 AND kind = 'user'")
                .bind(username.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let user_id = user_id.ok_or(StoreError::UserNotFound)?;
            let existed: Option<String> = sqlx::query_scalar(
                "SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role")
                .bind(org_id)
                .bind(user_id)
                .bind(new_role.as_str())
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?;
            ensure_an_admin_remains!(tx, org_id);
            let member: MemberRow = sqlx::query_as(
                "SELECT m.user_id, a.name AS username, u.email, m.role, m.created_at AS joined_at
                 FROM org_members m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = u.id
                 WHERE m.org_id = $1 AND m.user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            let (member, added) = (Member::try_from(member)?, existed.is_none());
            write_audit!(tx, &record(&member, added));
            tx.commit().await?;
            Ok((member, added))
        });
        let set = set?;
        // A role is read from the accounts cache on every request.
        self.changed().await?;
        Ok(set)
    }

    /// Removes `username` from the organization; `false` if they were not a
    /// member. Refuses to remove the last admin.
    pub async fn remove_member(
        &self,
        org_id: Uuid,
        username: &Name,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let removed: Result<bool, StoreError> = in_write_tx!(self, tx => {
            lock_org!(tx, org_id, now);
            let removed = sqlx::query(
                "DELETE FROM org_members WHERE org_id = $1
                 AND user_id = (SELECT id FROM accounts WHERE name = $2 AND kind = 'user')")
                .bind(org_id)
                .bind(username.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            ensure_an_admin_remains!(tx, org_id);
            if removed > 0 {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            Ok(removed > 0)
        });
        let removed = removed?;
        if removed {
            self.changed().await?;
        }
        Ok(removed)
    }
}
