//! Signing keys of the JWTs the server issues.

use robots_core::clock::to_millis;
use time::OffsetDateTime;

use crate::records::{optional_time, time};
use crate::{Store, StoreError, in_write_tx, on_pool};

/// The JWS algorithm a key signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256: what every token is signed with unless a
    /// client asks for RS256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 3072-bit keys.
    Rs256,
}

impl SigningAlgorithm {
    pub const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.as_str() == name)
    }
}

/// A stored signing key. Its `Debug` leaves the private key out.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// X.509 DER.
    pub certificate: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("not_before", &self.not_before)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    kid: String,
    algorithm: String,
    private_key: Vec<u8>,
    certificate: Vec<u8>,
    created_at: i64,
    not_before: i64,
    retired_at: Option<i64>,
}

impl Store {
    /// Every stored key, oldest first.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT kid, algorithm, private_key, certificate, created_at, not_before, retired_at
             FROM signing_keys ORDER BY not_before, created_at")
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                let algorithm = SigningAlgorithm::parse(&row.algorithm).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "signing key {} has unknown algorithm {:?}",
                        row.kid, row.algorithm
                    ))
                })?;
                Ok(SigningKeyRecord {
                    kid: row.kid,
                    algorithm,
                    private_key: row.private_key,
                    certificate: row.certificate,
                    created_at: time(row.created_at),
                    not_before: time(row.not_before),
                    retired_at: optional_time(row.retired_at),
                })
            })
            .collect()
    }

    /// Stores a new key, and retires every key of its algorithm not yet
    /// retired as of the new key's `not_before`, in one transaction.
    pub async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $1
                 WHERE retired_at IS NULL AND not_before < $1 AND algorithm = $2")
                .bind(to_millis(key.not_before))
                .bind(key.algorithm.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, private_key, certificate, created_at, not_before, retired_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&key.kid)
                .bind(key.algorithm.as_str())
                .bind(&key.private_key)
                .bind(&key.certificate)
                .bind(to_millis(key.created_at))
                .bind(to_millis(key.not_before))
                .bind(key.retired_at.map(to_millis))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets keys retired before `cutoff` (no token they signed is alive).
    pub async fn delete_signing_keys_retired_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        let deleted = on_pool!(self, pool => sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1")
            .bind(to_millis(cutoff))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(deleted)
    }
}
