//! Users, first-run setup codes.

use robots_core::clock::to_millis;
use robots_core::{AccountKind, Name, SecretHash};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{name, time};
use crate::trail::write_audit;
use crate::{NewUser, Store, StoreError, User, in_write_tx, on_pool};

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    name: String,
    email: String,
    instance_admin: bool,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: row.id,
            name: name(row.name)?,
            email: row.email,
            instance_admin: row.instance_admin,
            created_at: time(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

/// Whether any user exists, inside the transaction `$tx`.
macro_rules! has_users {
    ($tx:ident) => {{
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *$tx)
            .await?;
        count > 0
    }};
}

/// Inserts the account and user rows of `$user` inside the transaction `$tx`.
/// A macro rather than a function: its body is compiled once per backend.
macro_rules! insert_user {
    ($tx:ident, $user:expr, $instance_admin:expr, $now:expr) => {{
        let user: &NewUser = $user;
        let instance_admin: bool = $instance_admin;
        let id = Uuid::now_v7();
        let created_at = to_millis($now);
        sqlx::query("INSERT INTO accounts (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(user.name.as_str())
            .bind(AccountKind::User.as_str())
            .bind(created_at)
            .execute(&mut *$tx)
            .await
            .map_err(name_conflict)?;
        sqlx::query("INSERT INTO users (id, email, password_hash, instance_admin) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(user.email.as_str())
            .bind(user.password_hash.as_str())
            .bind(instance_admin)
            .execute(&mut *$tx)
            .await
            .map_err(name_conflict)?;
        User {
            id,
            name: user.name.clone(),
            email: user.email.clone(),
            instance_admin,
            created_at: time(created_at),
        }
    }};
}

impl Store {
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let count: i64 = on_pool!(self, pool =>
            sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(count)
    }

    /// Remembers a setup code printed by a server that found no users.
    pub async fn add_setup_code(&self, code: &SecretHash, now: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("INSERT INTO setup_codes (code_hash, created_at) VALUES ($1, $2)")
            .bind(code.as_bytes().as_slice())
            .bind(to_millis(now))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Whether `code` is one of the setup codes printed and not yet used.
    pub async fn is_setup_code(&self, code: &SecretHash) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT 1 FROM setup_codes WHERE code_hash = $1")
            .bind(code.as_bytes().as_slice())
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Creates the first user, an instance administrator, if `code` is one
    /// of the printed setup codes and no user exists yet. All codes die with
    /// it. Of two concurrent attempts exactly one succeeds: both delete every
    /// code, and the second finds its own already gone.
    pub async fn complete_setup(
        &self,
        code: &SecretHash,
        user: &NewUser,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        in_write_tx!(self, tx => {
            let deleted: Vec<Vec<u8>> = sqlx::query_scalar("DELETE FROM setup_codes RETURNING code_hash")
                .fetch_all(&mut *tx)
                .await?;
            if !deleted.iter().any(|hash| SecretHash::from_bytes(hash).as_ref() == Some(code)) {
                return Err(if deleted.is_empty() && has_users!(tx) {
                    StoreError::SetupComplete
                } else {
                    StoreError::InvalidSetupCode
                });
            }
            if has_users!(tx) {
                return Err(StoreError::SetupComplete);
            }
            let created = insert_user!(tx, user, true, now);
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Creates a user with a personal account of the same name.
    pub async fn create_user(&self, user: &NewUser, now: OffsetDateTime) -> Result<User, StoreError> {
        in_write_tx!(self, tx => {
            let created = insert_user!(tx, user, user.instance_admin, now);
            tx.commit().await?;
            Ok(created)
        })
    }

    /// The user and their password hash, for a login attempt.
    pub async fn find_user_for_login(&self, username: &Name) -> Result<Option<(User, String)>, StoreError> {
        let row: Option<LoginRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.name, u.email, u.instance_admin, a.created_at, u.password_hash
             FROM accounts a JOIN users u ON u.id = a.id WHERE a.name = $1")
            .bind(username.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(|row| Ok((User::try_from(row.user)?, row.password_hash)))
            .transpose()
    }

    pub async fn find_user(&self, username: &Name) -> Result<Option<User>, StoreError> {
        Ok(self.find_user_for_login(username).await?.map(|(user, _)| user))
    }

    /// Replaces a user's password hash and ends every session of theirs
    /// but `keep` (whoever else was logged in as them is no longer), with
    /// `record`; how many sessions ended.
    pub async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        keep: &SecretHash,
        record: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let ended = in_write_tx!(self, tx => {
            let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 0 {
                return Err(StoreError::UserNotFound);
            }
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep.as_bytes().as_slice())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            write_audit!(tx, record);
            tx.commit().await?;
            ended
        });
        // Sessions are remembered under the change generation.
        self.changed().await?;
        Ok(ended)
    }

    /// Deletes a user with their sessions, memberships and team places,
    /// and writes `record`; `false` if there is no such user. Refused while
    /// they are the only admin of an organization
    /// ([`StoreError::SoleAdminOf`], naming them) or the last instance
    /// administrator ([`StoreError::LastInstanceAdmin`]).
    pub async fn delete_user(
        &self,
        user_id: Uuid,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let deleted = in_write_tx!(self, tx => {
            // Whatever could make this user the last of something is
            // locked first (PostgreSQL), so two deletions cannot each leave
            // the other to be the last.
            let admin_of: Vec<Uuid> = sqlx::query_scalar(
                "SELECT org_id FROM org_members WHERE user_id = $1 AND role = 'admin' ORDER BY org_id")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            for org_id in &admin_of {
                sqlx::query("UPDATE orgs SET updated_at = $2 WHERE id = $1")
                    .bind(org_id)
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await?;
            }
            if self.backend() == crate::Backend::Postgres {
                sqlx::query("SELECT id FROM users WHERE instance_admin ORDER BY id FOR UPDATE")
                    .execute(&mut *tx)
                    .await?;
            }
            let sole_admin_of: Vec<String> = sqlx::query_scalar(
                "SELECT a.name FROM org_members m JOIN accounts a ON a.id = m.org_id
                 WHERE m.user_id = $1 AND m.role = 'admin'
                   AND NOT EXISTS (SELECT 1 FROM org_members other
                                   WHERE other.org_id = m.org_id AND other.role = 'admin' AND other.user_id <> $1)
                 ORDER BY a.name")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            if !sole_admin_of.is_empty() {
                return Err(StoreError::SoleAdminOf(sole_admin_of));
            }
            let (is_admin, other_admins): (bool, i64) = sqlx::query_as(
                "SELECT COALESCE((SELECT instance_admin FROM users WHERE id = $1), FALSE),
                        (SELECT COUNT(*) FROM users WHERE instance_admin AND id <> $1)")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if is_admin && other_admins == 0 {
                return Err(StoreError::LastInstanceAdmin);
            }
            let deleted = sqlx::query("DELETE FROM accounts WHERE id = $1 AND kind = 'user'")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if deleted {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            deleted
        });
        if deleted {
            self.changed().await?;
        }
        Ok(deleted)
    }
}
