//! Federated credentials: the trust a robot places in an OIDC issuer's ID
//! tokens (issuer, audience, conditions on claims), and the short-lived
//! tokens minted by exchanges they allowed.

use std::collections::BTreeMap;

use robots_core::Name;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::name_conflict;
use crate::records::{name, optional_name, time};
use crate::trail::write_audit;
use crate::{Store, StoreError, in_write_tx, lock_row, on_pool};

/// A robot's trust in one issuer's ID tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    pub id: Uuid,
    pub robot_id: Uuid,
    pub name: Name,
    pub description: String,
    /// The issuer's URL, exactly as the `iss` claim says it.
    pub issuer: String,
    /// The `aud` the ID token must carry.
    pub audience: String,
    /// Pattern on `sub` (`*` matches any run of characters).
    pub subject: String,
    /// Claim name → pattern on its value.
    pub claims: BTreeMap<String, String>,
    pub created_at: OffsetDateTime,
    pub created_by: Option<Name>,
    pub updated_at: OffsetDateTime,
}

/// What a federated credential says, as created or replaced.
#[derive(Debug, Clone, Copy)]
pub struct FederatedCredentialSpec<'a> {
    pub name: &'a Name,
    pub description: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    pub claims: &'a BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    robot_id: Uuid,
    name: String,
    description: String,
    issuer: String,
    audience: String,
    subject: String,
    claims: String,
    created_at: i64,
    created_by: Option<String>,
    updated_at: i64,
}

impl TryFrom<Row> for FederatedCredential {
    type Error = StoreError;
    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            robot_id: row.robot_id,
            name: name(row.name)?,
            description: row.description,
            issuer: row.issuer,
            audience: row.audience,
            subject: row.subject,
            claims: serde_json::from_str(&row.claims).map_err(|error| StoreError::Corrupt(error.to_string()))?,
            created_at: time(row.created_at),
            created_by: optional_name(row.created_by)?,
            updated_at: time(row.updated_at),
        })
    }
}

macro_rules! credential_columns {
    () => {
        "f.id, f.robot_id, f.name, f.description, f.issuer, f.audience, f.subject, f.claims, f.created_at,
         cb.name AS created_by, f.updated_at
         FROM federated_credentials f LEFT JOIN accounts cb ON cb.id = f.created_by"
    };
}

fn claims_json(claims: &BTreeMap<String, String>) -> String {
    serde_json::to_string(claims).unwrap_or_else(|_| "{}".to_owned())
}

impl Store {
    /// Adds a federated credential to a robot, unless it has `limit` already.
    pub async fn create_federated_credential(
        &self,
        robot_id: Uuid,
        spec: &FederatedCredentialSpec<'_>,
        created_by: Uuid,
        now: OffsetDateTime,
        limit: u32,
        record: &AuditEvent,
    ) -> Result<FederatedCredential, StoreError> {
        let id = Uuid::now_v7();
        let inserted = in_write_tx!(self, tx => {
            lock_row!(self, tx, "robots", robot_id);
            let inserted = sqlx::query(
                "INSERT INTO federated_credentials
                     (id, robot_id, name, description, issuer, audience, subject, claims, created_at, created_by, updated_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9
                 WHERE (SELECT COUNT(*) FROM federated_credentials WHERE robot_id = $2) < $11")
                .bind(id)
                .bind(robot_id)
                .bind(spec.name.as_str())
                .bind(spec.description)
                .bind(spec.issuer)
                .bind(spec.audience)
                .bind(spec.subject)
                .bind(claims_json(spec.claims))
                .bind(to_millis(now))
                .bind(created_by)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await
                .map_err(name_conflict)?
                .rows_affected();
            if inserted > 0 {
                write_audit!(tx, record);
            }
            tx.commit().await?;
            inserted
        });
        if inserted == 0 {
            return Err(StoreError::LimitReached {
                what: "federated credentials of a robot",
                limit,
            });
        }
        self.get_federated_credential(robot_id, spec.name)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a federated credential vanished as it was created".to_owned()))
    }

    /// A robot's federated credentials, by name.
    pub async fn list_federated_credentials(&self, robot_id: Uuid) -> Result<Vec<FederatedCredential>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", credential_columns!(), " WHERE f.robot_id = $1 ORDER BY f.name"))
            .bind(robot_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn get_federated_credential(
        &self,
        robot_id: Uuid,
        name: &Name,
    ) -> Result<Option<FederatedCredential>, StoreError> {
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT ", credential_columns!(), " WHERE f.robot_id = $1 AND f.name = $2"))
            .bind(robot_id)
            .bind(name.as_str())
            .fetch_optional(pool)
            .await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Replaces what a credential says (its name included). Tokens it minted
    /// under the old conditions are revoked: they were granted on terms that
    /// no longer hold. The change, the revocation and `record` are one
    /// transaction.
    pub async fn update_federated_credential(
        &self,
        id: Uuid,
        spec: &FederatedCredentialSpec<'_>,
        now: OffsetDateTime,
        record: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let updated = in_write_tx!(self, tx => {
            let updated = sqlx::query(
            "UPDATE federated_credentials
             SET name = $2, description = $3, issuer = $4, audience = $5, subject = $6, claims = $7, updated_at = $8
             WHERE id = $1")
            .bind(id)
            .bind(spec.name.as_str())
            .bind(spec.description)
            .bind(spec.issuer)
            .bind(spec.audience)
            .bind(spec.subject)
            .bind(claims_json(spec.claims))
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await
            .map_err(name_conflict)?
            .rows_affected();
            if updated > 0 {
                sqlx::query("DELETE FROM robot_tokens WHERE federated_credential_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                write_audit!(tx, record);
            }
            tx.commit().await?;
            updated > 0
        });
        if updated {
            self.changed().await?;
        }
        Ok(updated)
    }

    /// Deletes a credential and, with it, every token it minted.
    pub async fn delete_federated_credential(&self, id: Uuid, record: &AuditEvent) -> Result<bool, StoreError> {
        self.delete_announced("DELETE FROM federated_credentials WHERE id = $1", id, record)
            .await
    }

    /// Deletes exchanged tokens that expired before `before`; returns how many.
    pub async fn purge_exchanged_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let purged = on_pool!(self, pool => sqlx::query(
            "DELETE FROM robot_tokens WHERE federated_credential_id IS NOT NULL AND expires_at < $1")
            .bind(to_millis(before))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(purged)
    }
}
