//! Robot tokens: their public half, their hash, and their use.

use std::fmt::Display;

use robots_core::clock::to_millis;
use robots_core::{Name, SecretHash};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::name_conflict;
use crate::records::{name, optional_name, optional_time, time};
use crate::trail::{Trail, script_trail, write_trail};
use crate::writer::WriteScript;
use crate::{
    NewToken, Page, Pool, Store, StoreError, TokenInfo, TokenOwner, TokenStanding, TokenUse, UnusedToken, fetch_limit,
    in_write_tx, on_pool, page,
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
    replaced_by: Option<Uuid>,
    rotated_from: Option<Uuid>,
    federated_by: Option<String>,
    disabled_at: Option<i64>,
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
            federated_by: optional_name(row.federated_by)?,
            expires_at: optional_time(row.expires_at),
            last_used_at: optional_time(row.last_used_at),
            last_used_ip: row.last_used_ip,
            last_used_user_agent: row.last_used_user_agent,
            replaced_by: row.replaced_by,
            rotated_from: row.rotated_from,
            disabled_at: optional_time(row.disabled_at),
        })
    }
}

macro_rules! token_columns {
    () => {
        "t.access_id, t.robot_id, t.name, t.created_at, cb.name AS created_by, t.expires_at,
         t.last_used_at, t.last_used_ip, t.last_used_user_agent, t.replaced_by, t.rotated_from,
         fc.name AS federated_by, t.disabled_at
         FROM robot_tokens t LEFT JOIN accounts cb ON cb.id = t.created_by
         LEFT JOIN federated_credentials fc ON fc.id = t.federated_credential_id"
    };
}

/// A new token, unless its robot has `$8` current tokens already (tokens
/// rotating out do not count, nor do those of a federated credential, `$9`);
/// returns a row if the token was stored.
const INSERT_TOKEN: &str = "INSERT INTO robot_tokens (access_id, robot_id, name, secret_hash, created_at, created_by,
                                                     expires_at, federated_credential_id)
     SELECT $1, $2, $3, $4, $5, $6, $7, $9
     WHERE $9 IS NOT NULL OR (SELECT COUNT(*) FROM robot_tokens
         WHERE robot_id = $2 AND replaced_by IS NULL AND federated_credential_id IS NULL) < $8
     RETURNING access_id";

impl Store {
    /// Stores a new token together with its [`Trail`], in one transaction,
    /// unless the robot has `limit` current tokens already
    /// ([`StoreError::LimitReached`]; tokens rotating out do not count).
    pub async fn create_token(
        &self,
        token: &NewToken<'_>,
        now: OffsetDateTime,
        trail: &Trail<'_>,
        limit: u32,
    ) -> Result<(), StoreError> {
        let created_at = to_millis(now);
        let written: Result<bool, sqlx::Error> = async {
            let webhooks = self.trail_webhooks(trail).await?;
            // INSERT_TOKEN's $1…$9, for either backend.
            macro_rules! bind_token {
                ($query:expr) => {
                    $query
                        .bind(token.access_id)
                        .bind(token.robot_id)
                        .bind(token.name.as_str())
                        .bind(token.secret_hash.as_bytes().as_slice())
                        .bind(created_at)
                        .bind(token.created_by)
                        .bind(token.expires_at.map(to_millis))
                        .bind(i64::from(limit))
                        .bind(token.federated_credential)
                };
            }
            match &self.pool {
                Pool::Sqlite(_, writer) => {
                    let mut script = bind_token!(WriteScript::new());
                    script.statement(INSERT_TOKEN);
                    let inserted = "EXISTS (SELECT 1 FROM robot_tokens WHERE access_id = $1)";
                    script_trail(&mut script, trail, &webhooks, inserted);
                    Ok(!writer.run(script).await?.is_empty())
                }
                // Statement by statement, the trail only if the token went in.
                Pool::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    // Concurrent creations for one robot count one after
                    // another (on SQLite its one writer does this).
                    if token.federated_credential.is_none() {
                        sqlx::query("SELECT 1 FROM robots WHERE id = $1 FOR UPDATE")
                            .bind(token.robot_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let inserted = bind_token!(sqlx::query(INSERT_TOKEN))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if inserted == 0 {
                        return Ok(false);
                    }
                    write_trail!(tx, trail, &webhooks);
                    tx.commit().await?;
                    Ok(true)
                }
            }
        }
        .await;
        match written.map_err(name_conflict)? {
            true => Ok(()),
            false => Err(StoreError::LimitReached {
                what: "tokens of a robot",
                limit,
            }),
        }
    }

    /// A robot's tokens, oldest first. `after` is the key of the last token
    /// of the previous page ([`TokenInfo::page_key`]); `expiring_before`
    /// keeps only tokens with an expiry before that time.
    pub async fn list_tokens(
        &self,
        robot_id: Uuid,
        expiring_before: Option<OffsetDateTime>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenInfo>, StoreError> {
        let (after_at, after_id) = parse_page_key(after);
        let rows: Vec<TokenRow> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", token_columns!(), " WHERE t.robot_id = $1
             AND (t.created_at > $2 OR (t.created_at = $2 AND t.access_id > $3))
             AND ($4 IS NULL OR (t.expires_at IS NOT NULL AND t.expires_at <= $4))
             ORDER BY t.created_at, t.access_id LIMIT $5"))
            .bind(robot_id)
            .bind(after_at)
            .bind(after_id)
            .bind(expiring_before.map(to_millis))
            .bind(fetch_limit(limit))
            .fetch_all(pool)
            .await)?;
        let items = rows
            .into_iter()
            .map(TokenInfo::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit))
    }

    /// Tokens of every robot of an organization that expire before
    /// `expiring_before`, soonest first, with their robot's name. Tokens from
    /// token exchanges, which live minutes by design, are left out.
    pub async fn list_expiring_tokens(
        &self,
        org_id: Uuid,
        expiring_before: OffsetDateTime,
    ) -> Result<Vec<(Name, TokenInfo)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            robot_name: String,
            #[sqlx(flatten)]
            token: TokenRow,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT r.name AS robot_name, ", token_columns!(), " JOIN robots r ON r.id = t.robot_id
             WHERE r.org_id = $1 AND t.expires_at IS NOT NULL AND t.expires_at <= $2
               AND t.federated_credential_id IS NULL
             ORDER BY t.expires_at, t.access_id LIMIT 1000"))
            .bind(org_id)
            .bind(to_millis(expiring_before))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| Ok((name(row.robot_name)?, TokenInfo::try_from(row.token)?)))
            .collect()
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

    /// Deletes one token of a robot, with its [`Trail`] in the same
    /// transaction; `false` (and no trail) if the robot has no such token.
    pub async fn delete_token(&self, robot_id: Uuid, access_id: Uuid, trail: &Trail<'_>) -> Result<bool, StoreError> {
        let webhooks = self.trail_webhooks(trail).await?;
        let deleted = in_write_tx!(self, tx => {
            let deleted = sqlx::query("DELETE FROM robot_tokens WHERE robot_id = $1 AND access_id = $2")
                .bind(robot_id)
                .bind(access_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted > 0 {
                write_trail!(tx, trail, &webhooks);
            }
            tx.commit().await?;
            deleted > 0
        });
        if deleted {
            self.changed().await?;
        }
        Ok(deleted)
    }

    /// Disables (`Some(at)`) or enables (`None`) a token, with its trail;
    /// `false` (and nothing written) when it already was, or, with
    /// `unused_before`, when it was used since: so that of several replicas
    /// disabling unused tokens at once, each token's trail is written once.
    pub async fn set_token_disabled(
        &self,
        robot_id: Uuid,
        access_id: Uuid,
        disabled_at: Option<OffsetDateTime>,
        unused_before: Option<OffsetDateTime>,
        trail: &Trail<'_>,
    ) -> Result<bool, StoreError> {
        let webhooks = self.trail_webhooks(trail).await?;
        let changed = in_write_tx!(self, tx => {
            let changed = match disabled_at {
                Some(at) => sqlx::query(
                    "UPDATE robot_tokens SET disabled_at = $3 WHERE robot_id = $1 AND access_id = $2
                     AND disabled_at IS NULL AND ($4 IS NULL OR COALESCE(last_used_at, created_at) < $4)")
                    .bind(robot_id)
                    .bind(access_id)
                    .bind(to_millis(at))
                    .bind(unused_before.map(to_millis))
                    .execute(&mut *tx)
                    .await?,
                None => sqlx::query(
                    "UPDATE robot_tokens SET disabled_at = NULL
                     WHERE robot_id = $1 AND access_id = $2 AND disabled_at IS NOT NULL")
                    .bind(robot_id)
                    .bind(access_id)
                    .execute(&mut *tx)
                    .await?,
            }
            .rows_affected()
                > 0;
            if changed {
                write_trail!(tx, trail, &webhooks);
                if let (Some(at), Some(_)) = (disabled_at, unused_before) {
                    // Disabled by the policy, not by a person: its admins are told.
                    sqlx::query(
                        "INSERT INTO token_notices (id, org_id, access_id, reason, created_at)
                         SELECT $1, org_id, $3, 'disabled', $4 FROM robots WHERE id = $2")
                        .bind(Uuid::now_v7())
                        .bind(robot_id)
                        .bind(access_id)
                        .bind(to_millis(at))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            changed
        });
        if changed {
            self.changed().await?;
        }
        Ok(changed)
    }

    /// Tokens of organizations that disable unused tokens, unused (or never
    /// used since creation) for longer than that at `now`; at most `limit`.
    /// Tokens rotating out or minted by an exchange end on their own.
    pub async fn unused_tokens(&self, now: OffsetDateTime, limit: i64) -> Result<Vec<UnusedToken>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            org_name: String,
            robot_id: Uuid,
            robot_name: String,
            access_id: Uuid,
            token_name: String,
            unused_since: i64,
            after_seconds: i64,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.name AS org_name, r.id AS robot_id, r.name AS robot_name, t.access_id, t.name AS token_name,
                    COALESCE(t.last_used_at, t.created_at) AS unused_since,
                    o.disable_unused_after_seconds AS after_seconds
             FROM robot_tokens t JOIN robots r ON r.id = t.robot_id JOIN orgs o ON o.id = r.org_id
             JOIN accounts a ON a.id = o.id
             WHERE o.disable_unused_after_seconds IS NOT NULL AND t.disabled_at IS NULL
               AND t.replaced_by IS NULL AND t.federated_credential_id IS NULL
               AND COALESCE(t.last_used_at, t.created_at) < $1 - o.disable_unused_after_seconds * 1000
             ORDER BY unused_since LIMIT $2")
            .bind(to_millis(now))
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                Ok(UnusedToken {
                    org_name: name(row.org_name)?,
                    robot_id: row.robot_id,
                    robot_name: name(row.robot_name)?,
                    access_id: row.access_id,
                    token_name: name(row.token_name)?,
                    unused_since: time(row.unused_since),
                    after: std::time::Duration::from_secs(row.after_seconds.max(0).unsigned_abs()),
                })
            })
            .collect()
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
            disabled_at: Option<i64>,
            token_disabled_at: Option<i64>,
            org_id: Uuid,
            org_name: String,
        }
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT t.access_id, t.name AS token_name, t.created_at, t.secret_hash, t.expires_at,
                    r.id AS robot_id, r.name AS robot_name, r.disabled_at, t.disabled_at AS token_disabled_at,
                    a.id AS org_id, a.name AS org_name
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
            robot_disabled: row.disabled_at.is_some(),
            token_disabled: row.token_disabled_at.is_some(),
            org_id: row.org_id,
            org_name: name(row.org_name)?,
        }))
    }

    /// Rotates a token: `successor` takes over its name, and the old token
    /// stops at `old_expires_at` (or earlier, if it already expired
    /// sooner); the [`Trail`] is written in the same transaction. Returns
    /// both, old first; `TokenAlreadyRotated` if it was rotated before,
    /// `None` if there is no such token.
    pub async fn rotate_token(
        &self,
        robot_id: Uuid,
        old_access_id: Uuid,
        successor: &NewToken<'_>,
        old_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        trail: &Trail<'_>,
    ) -> Result<Option<(TokenInfo, TokenInfo)>, StoreError> {
        let webhooks = self.trail_webhooks(trail).await?;
        in_write_tx!(self, tx => {
            let current: Option<(Option<Uuid>, Option<i64>)> = sqlx::query_as(
                "SELECT replaced_by, expires_at FROM robot_tokens WHERE robot_id = $1 AND access_id = $2")
                .bind(robot_id)
                .bind(old_access_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((replaced_by, expires_at)) = current else { return Ok(None) };
            if replaced_by.is_some() {
                return Err(StoreError::TokenAlreadyRotated);
            }
            let stops = expires_at.map_or(to_millis(old_expires_at), |at| at.min(to_millis(old_expires_at)));
            // Mark the old one first: names are unique among current tokens only.
            sqlx::query("UPDATE robot_tokens SET replaced_by = $3, expires_at = $4 WHERE robot_id = $1 AND access_id = $2")
                .bind(robot_id)
                .bind(old_access_id)
                .bind(successor.access_id)
                .bind(stops)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO robot_tokens (access_id, robot_id, name, secret_hash, created_at, created_by, expires_at, rotated_from)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(successor.access_id)
                .bind(robot_id)
                .bind(successor.name.as_str())
                .bind(successor.secret_hash.as_bytes().as_slice())
                .bind(to_millis(now))
                .bind(successor.created_by)
                .bind(successor.expires_at.map(to_millis))
                .bind(old_access_id)
                .execute(&mut *tx)
                .await?;
            write_trail!(tx, trail, &webhooks);
            tx.commit().await?;
        });
        self.changed().await?;
        let old = self.get_token(robot_id, old_access_id).await?;
        let new = self.get_token(robot_id, successor.access_id).await?;
        Ok(old.zip(new))
    }

    /// Inserts many tokens of one robot in one transaction (for benchmarks
    /// and imports): `(access_id, name, secret hash)`.
    pub async fn bulk_create_tokens(
        &self,
        robot_id: Uuid,
        created_by: Uuid,
        tokens: &[(Uuid, Name, SecretHash)],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            for (access_id, token_name, hash) in tokens {
                sqlx::query(
                    "INSERT INTO robot_tokens (access_id, robot_id, name, secret_hash, created_at, created_by)
                     VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(access_id)
                    .bind(robot_id)
                    .bind(token_name.as_str())
                    .bind(hash.as_bytes().as_slice())
                    .bind(to_millis(now))
                    .bind(created_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::error::name_conflict)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Whether a token (by Access ID) still stands, for what was issued on
    /// its strength (JWTs): its robot, its expiry, whether the robot is
    /// disabled. Remembered under the change generation: deleting or
    /// rotating the token, or disabling or deleting its robot, bumps it.
    pub async fn token_standing(&self, access_id: Uuid) -> Result<Option<TokenStanding>, StoreError> {
        let read = async {
            #[derive(sqlx::FromRow)]
            struct Row {
                robot_id: Uuid,
                expires_at: Option<i64>,
                robot_disabled_at: Option<i64>,
                token_disabled_at: Option<i64>,
            }
            let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
                "SELECT t.robot_id, t.expires_at, r.disabled_at AS robot_disabled_at,
                        t.disabled_at AS token_disabled_at
                 FROM robot_tokens t JOIN robots r ON r.id = t.robot_id WHERE t.access_id = $1")
                .bind(access_id)
                .fetch_optional(pool)
                .await)?;
            Ok::<_, StoreError>(row.map(|row| TokenStanding {
                robot_id: row.robot_id,
                expires_at: optional_time(row.expires_at),
                robot_disabled: row.robot_disabled_at.is_some(),
                token_disabled: row.token_disabled_at.is_some(),
            }))
        };
        self.remembered(&self.caches.token_standing, access_id.as_bytes()[15], access_id, read)
            .await
    }

    /// The organization a token (by Access ID) belongs to, if it exists.
    pub async fn token_org(&self, access_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let org: Option<Uuid> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT r.org_id FROM robot_tokens t JOIN robots r ON r.id = t.robot_id WHERE t.access_id = $1")
            .bind(access_id)
            .fetch_optional(pool)
            .await)?;
        Ok(org)
    }

    /// Records a batch of token uses in one transaction. A use never moves
    /// `last_used_at` backwards, so batches from several replicas can land
    /// in any order.
    pub async fn record_token_uses(&self, uses: &[TokenUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        match &self.pool {
            Pool::Sqlite(_, writer) => {
                // A script per chunk of uses: one hand-off to SQLite's thread
                // instead of one per use, while creations wait for the writer.
                // Chunks are powers of two, so a few statement texts (which
                // sqlx prepares once each) cover any batch.
                let mut rest = uses;
                while !rest.is_empty() {
                    let (chunk, tail) = rest.split_at(1 << rest.len().min(USES_PER_SCRIPT).ilog2());
                    let mut script = WriteScript::new();
                    for token_use in chunk {
                        let access_id = script.value(token_use.access_id);
                        let at = script.value(to_millis(token_use.at));
                        let ip = script.value(token_use.ip.as_deref());
                        let user_agent = script.value(token_use.user_agent.as_deref());
                        script.statement(&record_use(access_id, at, ip, user_agent));
                    }
                    writer.run(script).await?;
                    rest = tail;
                }
            }
            Pool::Postgres(pool) => {
                let statement = record_use("$1", "$2", "$3", "$4");
                let mut tx = pool.begin().await?;
                for token_use in uses {
                    sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
                        .bind(token_use.access_id)
                        .bind(to_millis(token_use.at))
                        .bind(token_use.ip.as_deref())
                        .bind(token_use.user_agent.as_deref())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

/// The most uses one SQLite script records.
const USES_PER_SCRIPT: usize = 64;

/// Records one use, never moving `last_used_at` backwards.
fn record_use(access_id: impl Display, at: impl Display, ip: impl Display, user_agent: impl Display) -> String {
    format!(
        "UPDATE robot_tokens SET last_used_at = {at}, last_used_ip = {ip}, last_used_user_agent = {user_agent}
         WHERE access_id = {access_id} AND (last_used_at IS NULL OR last_used_at < {at})"
    )
}

impl TokenInfo {
    /// The key [`Store::list_tokens`] pages by: creation time, then Access ID.
    pub fn page_key(&self) -> String {
        format!("{}:{}", robots_core::clock::to_millis(self.created_at), self.access_id)
    }
}

/// Splits a token page key; no key starts before everything.
fn parse_page_key(key: Option<&str>) -> (i64, Uuid) {
    key.and_then(|key| key.split_once(':'))
        .and_then(|(at, id)| Some((at.parse().ok()?, Uuid::try_parse(id).ok()?)))
        .unwrap_or((i64::MIN, Uuid::nil()))
}
