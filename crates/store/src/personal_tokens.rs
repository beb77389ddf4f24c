//! Personal access tokens: users' credentials for the automation that acts
//! on their behalf, limited to scopes and optionally to organizations. Only
//! the hash of a token is stored.

use robots_core::clock::to_millis;
use robots_core::{Name, Scopes, SecretHash};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{name, optional_time, time};
use crate::trail::{recorded, write_audit};
use crate::users::UserRow;
use crate::{Store, StoreError, User, in_write_tx, on_pool};

/// An organization a token is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOrg {
    pub id: Uuid,
    pub name: Name,
}

/// A personal access token, without its secret.
#[derive(Debug, Clone)]
pub struct PersonalToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Name,
    pub scopes: Scopes,
    /// The organizations it may reach; `None`: every one its owner belongs to.
    pub orgs: Option<Vec<TokenOrg>>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
}

/// A token to store: its hash, never its text.
#[derive(Debug, Clone)]
pub struct NewPersonalToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: Name,
    pub hash: SecretHash,
    pub scopes: Scopes,
    /// Organization ids; `None`: not limited.
    pub orgs: Option<Vec<Uuid>>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Its columns are aliased (`token_columns!`), so that a row can also
/// carry its owner's `id`, `name` and `created_at`.
#[derive(sqlx::FromRow)]
struct TokenRow {
    #[sqlx(rename = "token_id")]
    id: Uuid,
    user_id: Uuid,
    #[sqlx(rename = "token_name")]
    name: String,
    scopes: String,
    limited_to_orgs: bool,
    #[sqlx(rename = "token_created_at")]
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    last_used_agent: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TokenOrgRow {
    token_id: Uuid,
    org_id: Uuid,
    org_name: String,
}

macro_rules! token_columns {
    () => {
        "t.id AS token_id, t.user_id, t.name AS token_name, t.scopes, t.limited_to_orgs,
         t.created_at AS token_created_at, t.expires_at, t.last_used_at, t.last_used_ip, t.last_used_agent"
    };
}

impl TokenRow {
    fn into_token(self, org_rows: &[TokenOrgRow]) -> Result<PersonalToken, StoreError> {
        let scopes = Scopes::parse(self.scopes.split_whitespace())
            .map_err(|unknown| StoreError::Corrupt(format!("personal token scope {unknown:?}")))?;
        let orgs = if self.limited_to_orgs {
            let orgs = org_rows
                .iter()
                .filter(|row| row.token_id == self.id)
                .map(|row| {
                    Ok(TokenOrg {
                        id: row.org_id,
                        name: name(row.org_name.clone())?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Some(orgs)
        } else {
            None
        };
        Ok(PersonalToken {
            id: self.id,
            user_id: self.user_id,
            name: name(self.name)?,
            scopes,
            orgs,
            created_at: time(self.created_at),
            expires_at: time(self.expires_at),
            last_used_at: optional_time(self.last_used_at),
            last_used_ip: self.last_used_ip,
            last_used_user_agent: self.last_used_agent,
        })
    }
}

impl Store {
    /// Stores a token with `record`, in one transaction
    /// ([`StoreError::NameTaken`] if its owner has one of that name).
    pub async fn create_personal_token(&self, token: &NewPersonalToken, record: &AuditEvent) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO personal_tokens (id, user_id, name, token_hash, scopes, limited_to_orgs, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(token.id)
                .bind(token.user_id)
                .bind(token.name.as_str())
                .bind(token.hash.as_bytes().as_slice())
                .bind(token.scopes.to_string())
                .bind(token.orgs.is_some())
                .bind(to_millis(token.created_at))
                .bind(to_millis(token.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(name_conflict)?;
            for org in token.orgs.iter().flatten() {
                sqlx::query("INSERT INTO personal_token_orgs (token_id, org_id) VALUES ($1, $2)")
                    .bind(token.id)
                    .bind(org)
                    .execute(&mut *tx)
                    .await?;
            }
            write_audit!(tx, record);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A user's tokens, the expired ones too, oldest first.
    pub async fn list_personal_tokens(&self, user_id: Uuid) -> Result<Vec<PersonalToken>, StoreError> {
        let (rows, org_rows): (Vec<TokenRow>, Vec<TokenOrgRow>) = on_pool!(self, pool => {
            let rows = sqlx::query_as(concat!("SELECT ", token_columns!(),
                " FROM personal_tokens t WHERE t.user_id = $1 ORDER BY t.created_at, t.name"))
                .bind(user_id)
                .fetch_all(pool)
                .await?;
            let org_rows = sqlx::query_as(
                "SELECT o.token_id, o.org_id, a.name AS org_name
                 FROM personal_token_orgs o JOIN personal_tokens t ON t.id = o.token_id
                 JOIN accounts a ON a.id = o.org_id
                 WHERE t.user_id = $1 ORDER BY a.name")
                .bind(user_id)
                .fetch_all(pool)
                .await?;
            (rows, org_rows)
        });
        rows.into_iter().map(|row| row.into_token(&org_rows)).collect()
    }

    /// The token with this hash and its owner, if it has not expired at `now`.
    pub async fn find_personal_token(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<(User, PersonalToken)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            #[sqlx(flatten)]
            token: TokenRow,
        }
        let found: Option<(Row, Vec<TokenOrgRow>)> = on_pool!(self, pool => {
            let row: Option<Row> = sqlx::query_as(concat!(
                "SELECT a.id, a.name, u.email, u.instance_admin, a.created_at, ",
                token_columns!(),
                " FROM personal_tokens t JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = u.id
                 WHERE t.token_hash = $1 AND t.expires_at > $2"))
                .bind(hash.as_bytes().as_slice())
                .bind(to_millis(now))
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) if row.token.limited_to_orgs => {
                    let orgs = sqlx::query_as(
                        "SELECT o.token_id, o.org_id, a.name AS org_name
                         FROM personal_token_orgs o JOIN accounts a ON a.id = o.org_id WHERE o.token_id = $1")
                        .bind(row.token.id)
                        .fetch_all(pool)
                        .await?;
                    Some((row, orgs))
                }
                Some(row) => Some((row, Vec::new())),
                None => None,
            }
        });
        let Some((row, orgs)) = found else { return Ok(None) };
        Ok(Some((User::try_from(row.user)?, row.token.into_token(&orgs)?)))
    }

    /// Deletes `user_id`'s token `id` with `record`; `false` if there was none.
    /// Announced, so that every replica forgets it at once.
    pub async fn delete_personal_token(
        &self,
        user_id: Uuid,
        id: Uuid,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let deleted = recorded!(self, record, tx => sqlx::query(
            "DELETE FROM personal_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected());
        if deleted > 0 {
            self.changed().await?;
        }
        Ok(deleted > 0)
    }

    /// Notes a use of a token: when, from where, by what.
    pub async fn note_personal_token_use(
        &self,
        id: Uuid,
        at: OffsetDateTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE personal_tokens SET last_used_at = $2, last_used_ip = $3, last_used_agent = $4 WHERE id = $1")
            .bind(id)
            .bind(to_millis(at))
            .bind(ip)
            .bind(user_agent)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
