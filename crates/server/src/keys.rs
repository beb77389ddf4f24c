//! The keys that sign the server's JWTs (registry tokens, OAuth2 access
//! tokens): ECDSA P-256 (ES256), because Docker's registry refuses EdDSA.
//!
//! Keys live in the database, so every replica signs with the same key and
//! publishes the same set. In memory they are held parsed ([`KeyRing`]):
//! signing never parses a key. A key is *published* (JWKS, certificate
//! bundle) from creation until every token it signed has expired, and
//! *signs* from its `not_before` until the next key takes over. Rotation can
//! schedule the switch (`--after`), so registries can be given the new
//! certificate before any token depends on it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use robots_core::SecretHash;
use robots_store::{SigningKeyRecord, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// One key, parsed once.
pub struct LoadedKey {
    pub kid: String,
    pair: EcdsaKeyPair,
    /// The uncompressed public point (0x04 ‖ x ‖ y).
    public_point: Vec<u8>,
    pub certificate_der: Vec<u8>,
    pub not_before: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    /// The encoded JWT header, without and with the certificate (`x5c`):
    /// the same for every token this key signs, so encoded once.
    header_segment: String,
    header_segment_with_certificate: String,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("not_before", &self.not_before)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generation,
    #[error("JWT claims could not be encoded: {0}")]
    Claims(String),
    #[error("a stored signing key is unusable: {0}")]
    Unusable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoadedKey {
    fn from_record(record: &SigningKeyRecord) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &record.private_key,
            &SystemRandom::new(),
        )
        .map_err(|error| KeyError::Unusable(format!("{}: {error}", record.kid)))?;
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": record.kid});
        let header_with_certificate = json!({
            "alg": "ES256",
            "typ": "JWT",
            "kid": record.kid,
            "x5c": [STANDARD.encode(&record.certificate)],
        });
        Ok(Self {
            kid: record.kid.clone(),
            public_point: pair.public_key().as_ref().to_vec(),
            pair,
            header_segment: URL_SAFE_NO_PAD.encode(header.to_string()),
            header_segment_with_certificate: URL_SAFE_NO_PAD.encode(header_with_certificate.to_string()),
            certificate_der: record.certificate.clone(),
            not_before: record.not_before,
            retired_at: record.retired_at,
        })
    }

    fn coordinates(&self) -> (String, String) {
        let (x, y) = self.public_point[1..].split_at(32);
        (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": self.kid, "use": "sig", "alg": "ES256"})
    }

    /// Signs a JWT: header (with `kid`, and `x5c` for registries) and claims.
    pub fn sign_jwt(&self, claims: &impl Serialize, with_certificate: bool) -> Result<String, KeyError> {
        let header = if with_certificate {
            &self.header_segment_with_certificate
        } else {
            &self.header_segment
        };
        let claims = serde_json::to_vec(claims).map_err(|error| KeyError::Claims(error.to_string()))?;
        // header . claims . signature (64 bytes → 86 characters), in one buffer.
        let mut jwt = String::with_capacity(header.len() + claims.len() * 4 / 3 + 90);
        jwt.push_str(header);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut jwt);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), jwt.as_bytes())
            .map_err(|_| KeyError::Generation)?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jwt);
        Ok(jwt)
    }

    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public_point)
            .verify(signing_input, signature)
            .is_ok()
    }
}

/// RFC 7638 thumbprint of a P-256 public point: the key id.
fn thumbprint(public_point: &[u8]) -> String {
    let (x, y) = public_point[1..].split_at(32);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y)
    );
    URL_SAFE_NO_PAD.encode(SecretHash::of(canonical.as_bytes()).as_bytes())
}

/// A fresh JWT id (`jti`): random, from the process's CSPRNG rather than
/// a system call per token.
pub fn new_jwt_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(robots_core::secret::random_bytes()).into_uuid()
}

/// A new key and its self-signed certificate, ready to store.
pub fn generate(now: OffsetDateTime, not_before: OffsetDateTime) -> Result<SigningKeyRecord, KeyError> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| KeyError::Generation)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &SystemRandom::new())
        .map_err(|_| KeyError::Generation)?;
    let kid = thumbprint(pair.public_key().as_ref());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_ref().into(), &rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|_| KeyError::Generation)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| KeyError::Generation)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("robots token signer {}", &kid[..12]));
    params.not_before = now - Duration::from_secs(3600);
    params.not_after = now + Duration::from_secs(20 * 365 * 86_400);
    let certificate = params.self_signed(&key).map_err(|_| KeyError::Generation)?;
    Ok(SigningKeyRecord {
        kid,
        private_key: pkcs8.as_ref().to_vec(),
        certificate: certificate.der().to_vec(),
        created_at: now,
        not_before,
        retired_at: None,
    })
}

/// The keys of this installation, parsed, shared by every request.
#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<Arc<Vec<LoadedKey>>>,
    /// How long the longest-lived token we sign lives: a retired key stays
    /// published that long.
    max_token_ttl: Duration,
}

impl KeyRing {
    /// Loads the stored keys, creating the first one on a fresh installation.
    pub async fn load_or_create(store: &Store, now: OffsetDateTime, max_token_ttl: Duration) -> Result<Self, KeyError> {
        if store.list_signing_keys().await?.is_empty() {
            store.add_signing_key(&generate(now, now)?).await?;
            tracing::info!("created the first token signing key");
        }
        let ring = Self {
            keys: RwLock::new(Arc::new(Vec::new())),
            max_token_ttl,
        };
        ring.reload(store).await?;
        Ok(ring)
    }

    /// A ring of the given keys, without a store (benchmarks, tools).
    pub fn from_records(records: &[SigningKeyRecord], max_token_ttl: Duration) -> Result<Self, KeyError> {
        let loaded = records
            .iter()
            .map(LoadedKey::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            keys: RwLock::new(Arc::new(loaded)),
            max_token_ttl,
        })
    }

    /// Re-reads the keys (another replica may have rotated them).
    pub async fn reload(&self, store: &Store) -> Result<(), KeyError> {
        let loaded = store
            .list_signing_keys()
            .await?
            .iter()
            .map(LoadedKey::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Vec<LoadedKey>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Runs `use_key` with the key that signs at `now`: the newest whose
    /// `not_before` has come.
    pub fn with_signer<T>(&self, now: OffsetDateTime, use_key: impl FnOnce(&LoadedKey) -> T) -> Option<T> {
        let keys = self.snapshot();
        keys.iter()
            .filter(|key| key.not_before <= now)
            .max_by_key(|key| key.not_before)
            .map(use_key)
    }

    fn is_published(&self, key: &LoadedKey, now: OffsetDateTime) -> bool {
        key.retired_at.is_none_or(|retired| retired + self.max_token_ttl > now)
    }

    /// The JSON Web Key Set of every published key.
    pub fn jwks(&self, now: OffsetDateTime) -> Value {
        let keys = self.snapshot();
        json!({"keys": keys.iter().filter(|k| self.is_published(k, now)).map(LoadedKey::jwk).collect::<Vec<_>>()})
    }

    /// The certificates of every published key, PEM: a registry's `rootcertbundle`.
    pub fn certificates_pem(&self, now: OffsetDateTime) -> String {
        let keys = self.snapshot();
        keys.iter()
            .filter(|key| self.is_published(key, now))
            .map(|key| {
                let base64 = STANDARD.encode(&key.certificate_der);
                let lines: Vec<&str> = base64
                    .as_bytes()
                    .chunks(64)
                    .map(|c| std::str::from_utf8(c).unwrap_or(""))
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect()
    }

    /// Published keys as (kid, not_before, retired_at), for `robots keys list`.
    pub fn describe(&self, now: OffsetDateTime) -> Vec<(String, OffsetDateTime, Option<OffsetDateTime>, bool)> {
        let keys = self.snapshot();
        let signer = self.with_signer(now, |key| key.kid.clone());
        keys.iter()
            .filter(|key| self.is_published(key, now))
            .map(|key| {
                (
                    key.kid.clone(),
                    key.not_before,
                    key.retired_at,
                    signer.as_deref() == Some(key.kid.as_str()),
                )
            })
            .collect()
    }

    /// Creates a key that signs from `not_before` on; the current key signs
    /// until then and stays published while its tokens live.
    pub async fn rotate(
        &self,
        store: &Store,
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    ) -> Result<String, KeyError> {
        let record = generate(now, not_before)?;
        store.add_signing_key(&record).await?;
        store
            .delete_signing_keys_retired_before(now - self.max_token_ttl)
            .await?;
        self.reload(store).await?;
        tracing::info!(kid = %record.kid, not_before = %not_before, "signing key rotated");
        Ok(record.kid)
    }

    /// Checks an ES256 JWT we signed (any published key) and returns its
    /// claims; expiry is the caller's to judge.
    pub fn verify_jwt(&self, token: &str, now: OffsetDateTime) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header["alg"] != "ES256" {
            return None;
        }
        let kid = header["kid"].as_str()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signing_input = &token[..header_and_payload_len(token)?];
        let keys = self.snapshot();
        let key = keys.iter().find(|key| key.kid == kid && self.is_published(key, now))?;
        if !key.verifies(signing_input.as_bytes(), &signature) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

fn header_and_payload_len(token: &str) -> Option<usize> {
    let first = token.find('.')?;
    let second = token[first + 1..].find('.')?;
    Some(first + 1 + second)
}

impl robots_service::keys::SigningKeys for KeyRing {
    async fn rotate(&self, store: &Store, now: OffsetDateTime, not_before: OffsetDateTime) -> Result<String, String> {
        KeyRing::rotate(self, store, now, not_before)
            .await
            .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let now = OffsetDateTime::now_utc();
        let record = generate(now, now).unwrap();
        let key = LoadedKey::from_record(&record).unwrap();
        let ring = KeyRing {
            keys: RwLock::new(Arc::new(vec![key])),
            max_token_ttl: Duration::from_secs(60),
        };
        let token = ring
            .with_signer(now, |key| key.sign_jwt(&json!({"sub": "robot"}), true))
            .unwrap()
            .unwrap();
        assert_eq!(ring.verify_jwt(&token, now).unwrap()["sub"], "robot");

        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(json!({"sub": "admin"}).to_string());
        assert!(
            ring.verify_jwt(&format!("{}.{forged_claims}.{}", parts[0], parts[2]), now)
                .is_none()
        );
        let none_alg = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": record.kid}).to_string());
        assert!(ring.verify_jwt(&format!("{none_alg}.{}.", parts[1]), now).is_none());
        assert!(ring.verify_jwt("not.a.jwt", now).is_none());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(),
            64,
            "ES256 signatures are raw r‖s"
        );
    }

    #[test]
    fn the_key_id_is_the_rfc7638_thumbprint() {
        let now = OffsetDateTime::now_utc();
        let record = generate(now, now).unwrap();
        let key = LoadedKey::from_record(&record).unwrap();
        let jwk = key.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            record.kid,
            URL_SAFE_NO_PAD.encode(SecretHash::of(canonical.as_bytes()).as_bytes())
        );
    }

    #[test]
    fn a_scheduled_key_signs_only_from_its_start() {
        let now = OffsetDateTime::now_utc();
        let old = LoadedKey::from_record(&generate(now, now).unwrap()).unwrap();
        let later = now + Duration::from_secs(3600);
        let mut next_record = generate(now, later).unwrap();
        next_record.retired_at = None;
        let next = LoadedKey::from_record(&next_record).unwrap();
        let (old_kid, next_kid) = (old.kid.clone(), next.kid.clone());
        let ring = KeyRing {
            keys: RwLock::new(Arc::new(vec![old, next])),
            max_token_ttl: Duration::from_secs(60),
        };
        assert_eq!(ring.with_signer(now, |k| k.kid.clone()), Some(old_kid));
        assert_eq!(ring.with_signer(later, |k| k.kid.clone()), Some(next_kid));
        assert_eq!(
            ring.jwks(now)["keys"].as_array().unwrap().len(),
            2,
            "both are published already"
        );
    }
}
