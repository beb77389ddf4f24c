//! Robot tokens: their public half, their hash, and their use.

use robots_core::SecretHash;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::name_conflict;
use crate::records::{name, optional_name, optional_time, time};
use crate::{
    NewToken, Page, Store, StoreError, TokenInfo, TokenOwner, TokenUse, fetch_limit, in_write_tx, on_pool, page,
};

#[derive(sqlx::FromRow)]
struct TokenRow {
    access_id: Uuid,
    robot_id: Uuid,
    name: String,
    created_at: i64,
    created_by: Option<String>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    last_used_user_agent: Option<String>,
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = StoreError;
    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenInfo {
            access_id: row.access_id,
            robot_id: row.robot_id,
            name: name(row.name)?,
            created_at: time(row.created_at),
            created_by: optional_name(row.created_by)?,
            expires_at: optional_time(row.expires_at),
            last_used_at: optional_time(row.last_used_at),
            last_used_ip: row.last_used_ip,
            last_used_user_agent: row.last_used_user_agent,
        })
    }
}

macro_rules! token_columns {
    () => {
        "t.access_id, t.robot_id, t.name, t.created_at, cb.name AS created_by, t.expires_at,
         t.last_used_at, t.last_used_ip, t.last_used_user_agent
         FROM robot_tokens t LEFT JOIN accounts cb ON cb.id = t.created_by"
    };
}

impl Store {
    pub async fn create_token(&self, token: &NewToken<'_>, now: OffsetDateTime) -> Result<TokenInfo, StoreError> {
        let created_at = to_millis(now);
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO robot_tokens (access_id, robot_id, name, secret_hash, created_at, created_by, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(token.access_id)
            .bind(token.robot_id)
            .bind(token.name.as_str())
            .bind(token.secret_hash.as_bytes().as_slice())
            .bind(created_at)
            .bind(token.created_by)
            .bind(token.expires_at.map(to_millis))
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(name_conflict)?;
        self.get_token(token.robot_id, token.access_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("token vanished after insert".into()))
    }

    pub async fn list_tokens(
        &self,
        robot_id: Uuid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenInfo>, StoreError> {
        let rows: Vec<TokenRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", token_columns!(), " WHERE t.robot_id = $1 AND t.name > $2 ORDER BY t.name LIMIT $3"))
            .bind(robot_id)
            .bind(after.unwrap_or(""))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows
            .into_iter()
            .map(TokenInfo::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    pub async fn get_token(&self, robot_id: Uuid, access_id: Uuid) -> Result<Option<TokenInfo>, StoreError> {
        let row: Option<TokenRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", token_columns!(), " WHERE t.robot_id = $1 AND t.access_id = $2"))
            .bind(robot_id)
            .bind(access_id)
            .fetch_optional(pool)
            .await)?;
        row.map(TokenInfo::try_from).transpose()
    }

    /// Deletes one token of a robot; `false` if the robot has no such token.
    pub async fn delete_token(&self, robot_id: Uuid, access_id: Uuid) -> Result<bool, StoreError> {
        let deleted = on_pool!(self, pool => sqlx::query("DELETE FROM robot_tokens WHERE robot_id = $1 AND access_id = $2")
            .bind(robot_id)
            .bind(access_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(deleted > 0)
    }

    /// The owner of the token whose secret hashes to `hash`. Expiry is the
    /// caller's to judge (it holds the clock).
    pub async fn find_token_owner(&self, hash: &SecretHash) -> Result<Option<TokenOwner>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            access_id: Uuid,
            token_name: String,
            created_at: i64,
            secret_hash: Vec<u8>,
            expires_at: Option<i64>,
            robot_id: Uuid,
            robot_name: String,
            org_id: Uuid,
            org_name: String,
        }
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT t.access_id, t.name AS token_name, t.created_at, t.secret_hash, t.expires_at,
                    r.id AS robot_id, r.name AS robot_name, a.id AS org_id, a.name AS org_name
             FROM robot_tokens t JOIN robots r ON r.id = t.robot_id JOIN accounts a ON a.id = r.org_id
             WHERE t.secret_hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(pool)
            .await)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TokenOwner {
            access_id: row.access_id,
            token_name: name(row.token_name)?,
            created_at: time(row.created_at),
            secret_hash: SecretHash::from_bytes(&row.secret_hash)
                .ok_or_else(|| StoreError::Corrupt("secret hash length".into()))?,
            expires_at: optional_time(row.expires_at),
            robot_id: row.robot_id,
            robot_name: name(row.robot_name)?,
            org_id: row.org_id,
            org_name: name(row.org_name)?,
        }))
    }

    /// Records a batch of token uses in one transaction. A use never moves
    /// `last_used_at` backwards, so batches from several replicas can land
    /// in any order.
    pub async fn record_token_uses(&self, uses: &[TokenUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        in_write_tx!(self, tx => {
            for token_use in uses {
                sqlx::query(
                    "UPDATE robot_tokens SET last_used_at = $2, last_used_ip = $3, last_used_user_agent = $4
                     WHERE access_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)")
                    .bind(token_use.access_id)
                    .bind(to_millis(token_use.at))
                    .bind(token_use.ip.as_deref())
                    .bind(token_use.user_agent.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
