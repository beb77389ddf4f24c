//! The keys that sign the server's JWTs (registry tokens, OAuth2 access
//! tokens). Every token is signed with ECDSA P-256 (ES256) unless a client
//! asks the token endpoint for RS256: Docker's registry refuses EdDSA, and
//! some relying parties (and OpenID Connect Discovery) insist on RS256. An
//! RSA key is made the first time one is asked for, so installations that
//! never use RS256 never pay for generating one.
//!
//! Keys live in the database, so every replica signs with the same key and
//! publishes the same set. In memory they are held parsed ([`KeyRing`]):
//! signing never parses a key. A key is *published* (JWKS, certificate
//! bundle) from creation until every token it signed has expired, and
//! *signs* from its `not_before` until the next key of its algorithm takes
//! over. Rotation can schedule the switch (`--after`), so registries can be
//! given the new certificate before any token depends on it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use robots_core::SecretHash;
pub use robots_store::SigningAlgorithm;
use robots_store::{SigningKeyRecord, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The private half of a key, parsed.
enum Signer {
    Ec {
        pair: EcdsaKeyPair,
        /// The uncompressed public point (0x04 ‖ x ‖ y).
        public_point: Vec<u8>,
    },
    Rsa(RsaKeyPair),
}

/// One key, parsed once.
pub struct LoadedKey {
    pub kid: String,
    signer: Signer,
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
            .field("algorithm", &self.algorithm())
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
        let unusable = |error: &dyn std::fmt::Display| KeyError::Unusable(format!("{}: {error}", record.kid));
        let signer = match record.algorithm {
            SigningAlgorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &record.private_key,
                    &SystemRandom::new(),
                )
                .map_err(|error| unusable(&error))?;
                Signer::Ec {
                    public_point: pair.public_key().as_ref().to_vec(),
                    pair,
                }
            }
            SigningAlgorithm::Rs256 => {
                Signer::Rsa(RsaKeyPair::from_pkcs8(&record.private_key).map_err(|error| unusable(&error))?)
            }
        };
        let alg = record.algorithm.as_str();
        let header = json!({"alg": alg, "typ": "JWT", "kid": record.kid});
        let header_with_certificate = json!({
            "alg": alg,
            "typ": "JWT",
            "kid": record.kid,
            "x5c": [STANDARD.encode(&record.certificate)],
        });
        Ok(Self {
            kid: record.kid.clone(),
            signer,
            header_segment: URL_SAFE_NO_PAD.encode(header.to_string()),
            header_segment_with_certificate: URL_SAFE_NO_PAD.encode(header_with_certificate.to_string()),
            certificate_der: record.certificate.clone(),
            not_before: record.not_before,
            retired_at: record.retired_at,
        })
    }

    /// The algorithm its signer is for.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self.signer {
            Signer::Ec { .. } => SigningAlgorithm::Es256,
            Signer::Rsa(_) => SigningAlgorithm::Rs256,
        }
    }

    /// The public key's members as RFC 7638 orders them (the thumbprint is
    /// their canonical JSON).
    fn public_members(&self) -> Value {
        match &self.signer {
            Signer::Ec { public_point, .. } => {
                let (x, y) = public_point[1..].split_at(32);
                json!({"crv": "P-256", "kty": "EC", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
            }
            Signer::Rsa(pair) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"e": URL_SAFE_NO_PAD.encode(&public.e), "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&public.n)})
            }
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.public_members();
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(self.algorithm().as_str());
        jwk
    }

    /// Signs a JWT: header (with `kid`, and `x5c` for registries) and claims.
    pub fn sign_jwt(&self, claims: &impl Serialize, with_certificate: bool) -> Result<String, KeyError> {
        let header = if with_certificate {
            &self.header_segment_with_certificate
        } else {
            &self.header_segment
        };
        let claims = serde_json::to_vec(claims).map_err(|error| KeyError::Claims(error.to_string()))?;
        // header . claims . signature (ES256: 64 bytes → 86 characters;
        // RS256: 384 bytes → 512), in one buffer.
        let mut jwt = String::with_capacity(header.len() + claims.len() * 4 / 3 + 520);
        jwt.push_str(header);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut jwt);
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Ec { pair, .. } => pair
                .sign(&rng, jwt.as_bytes())
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec(),
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, jwt.as_bytes(), &mut signature)
                    .map_err(|_| KeyError::Generation)?;
                signature
            }
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jwt);
        Ok(jwt)
    }

    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match &self.signer {
            Signer::Ec { public_point, .. } => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_point)
                .verify(signing_input, signature)
                .is_ok(),
            Signer::Rsa(pair) => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                .verify(signing_input, signature)
                .is_ok(),
        }
    }

    /// RFC 7638 thumbprint: the key id.
    fn thumbprint(&self) -> String {
        // `public_members` writes the members in lexicographic order, as
        // RFC 7638 requires, and serde_json keeps insertion order.
        let canonical = self.public_members().to_string();
        URL_SAFE_NO_PAD.encode(SecretHash::of(canonical.as_bytes()).as_bytes())
    }
}

/// A fresh JWT id (`jti`): random, from the process's CSPRNG rather than
/// a system call per token.
pub fn new_jwt_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(robots_core::secret::random_bytes()).into_uuid()
}

/// A new key and its self-signed certificate, ready to store.
pub fn generate(
    algorithm: SigningAlgorithm,
    now: OffsetDateTime,
    not_before: OffsetDateTime,
) -> Result<SigningKeyRecord, KeyError> {
    let (pkcs8, certificate_algorithm) = match algorithm {
        SigningAlgorithm::Es256 => (
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec(),
            &rcgen::PKCS_ECDSA_P256_SHA256,
        ),
        SigningAlgorithm::Rs256 => (generate_rsa_pkcs8()?, &rcgen::PKCS_RSA_SHA256),
    };
    let mut record = SigningKeyRecord {
        kid: String::new(),
        algorithm,
        private_key: pkcs8,
        certificate: Vec::new(),
        created_at: now,
        not_before,
        retired_at: None,
    };
    record.kid = LoadedKey::from_record(&record)
        .map_err(|_| KeyError::Generation)?
        .thumbprint();
    let key =
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&record.private_key.as_slice().into(), certificate_algorithm)
            .map_err(|_| KeyError::Generation)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| KeyError::Generation)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("robots token signer {}", &record.kid[..12]),
    );
    params.not_before = now - Duration::from_secs(3600);
    params.not_after = now + Duration::from_secs(20 * 365 * 86_400);
    record.certificate = params
        .self_signed(&key)
        .map_err(|_| KeyError::Generation)?
        .der()
        .to_vec();
    Ok(record)
}

/// A 3072-bit RSA key, PKCS#8 DER. ring signs with RSA keys but does not
/// make them; the rsa crate makes them (only that: every private-key
/// operation is ring's).
fn generate_rsa_pkcs8() -> Result<Vec<u8>, KeyError> {
    use rsa::Generate;
    use rsa::pkcs8::EncodePrivateKey;
    // A 3072-bit modulus (the size NIST asks of keys used past 2030),
    // exponent 65537, from the operating system's RNG.
    let key = rsa::PrivateKey::try_generate().map_err(|_| KeyError::Generation)?;
    let document = key.to_pkcs8_der().map_err(|_| KeyError::Generation)?;
    Ok(document.as_bytes().to_vec())
}

/// The keys of this installation, parsed, shared by every request.
#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<Arc<Vec<LoadedKey>>>,
    /// Held while this replica makes a key on demand, so a burst of first
    /// RS256 requests makes one.
    creating: tokio::sync::Mutex<()>,
    /// How long the longest-lived token we sign lives: a retired key stays
    /// published that long.
    max_token_ttl: Duration,
}

impl KeyRing {
    /// Loads the stored keys, creating the first one on a fresh installation.
    pub async fn load_or_create(store: &Store, now: OffsetDateTime, max_token_ttl: Duration) -> Result<Self, KeyError> {
        let stored = store.list_signing_keys().await?;
        if !stored.iter().any(|key| key.algorithm == SigningAlgorithm::Es256) {
            store
                .add_signing_key(&generate(SigningAlgorithm::Es256, now, now)?)
                .await?;
            tracing::info!("created the first token signing key");
        }
        let ring = Self {
            keys: RwLock::new(Arc::new(Vec::new())),
            creating: tokio::sync::Mutex::new(()),
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
            creating: tokio::sync::Mutex::new(()),
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

    /// Runs `use_key` with the key of `algorithm` that signs at `now`: the
    /// newest whose `not_before` has come.
    pub fn with_signer<T>(
        &self,
        now: OffsetDateTime,
        algorithm: SigningAlgorithm,
        use_key: impl FnOnce(&LoadedKey) -> T,
    ) -> Option<T> {
        let keys = self.snapshot();
        keys.iter()
            .filter(|key| key.algorithm() == algorithm && key.not_before <= now)
            .max_by_key(|key| key.not_before)
            .map(use_key)
    }

    /// Makes sure a key of `algorithm` signs at `now`, making one (RS256's
    /// first use) when none does. Another replica may have made it already:
    /// the stored keys are read again before making one.
    pub async fn ensure_signer(
        &self,
        store: &Store,
        now: OffsetDateTime,
        algorithm: SigningAlgorithm,
    ) -> Result<(), KeyError> {
        if self.with_signer(now, algorithm, |_| ()).is_some() {
            return Ok(());
        }
        let _creating = self.creating.lock().await;
        self.reload(store).await?;
        if self.with_signer(now, algorithm, |_| ()).is_some() {
            return Ok(());
        }
        // RSA key generation takes tens of milliseconds of CPU: off the
        // request threads.
        let record = tokio::task::spawn_blocking(move || generate(algorithm, now, now))
            .await
            .map_err(|_| KeyError::Generation)??;
        store.add_signing_key(&record).await?;
        self.reload(store).await?;
        tracing::info!(kid = %record.kid, algorithm = algorithm.as_str(), "created a token signing key on first use");
        Ok(())
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

    /// The published keys, for `robots keys list`.
    pub fn describe(&self, now: OffsetDateTime) -> Vec<KeyDescription> {
        let keys = self.snapshot();
        let signers: Vec<String> = SigningAlgorithm::ALL
            .into_iter()
            .filter_map(|algorithm| self.with_signer(now, algorithm, |key| key.kid.clone()))
            .collect();
        keys.iter()
            .filter(|key| self.is_published(key, now))
            .map(|key| KeyDescription {
                kid: key.kid.clone(),
                algorithm: key.algorithm(),
                not_before: key.not_before,
                retired_at: key.retired_at,
                signing: signers.contains(&key.kid),
            })
            .collect()
    }

    fn publishes(&self, algorithm: SigningAlgorithm, now: OffsetDateTime) -> bool {
        self.snapshot()
            .iter()
            .any(|key| key.algorithm() == algorithm && self.is_published(key, now))
    }

    /// Creates an ES256 key that signs from `not_before` on (and an RS256
    /// one, when RS256 is in use); the current keys sign until then and
    /// stay published while their tokens live. Answers the ES256 key's id.
    pub async fn rotate(
        &self,
        store: &Store,
        now: OffsetDateTime,
        not_before: OffsetDateTime,
    ) -> Result<String, KeyError> {
        if self.publishes(SigningAlgorithm::Rs256, now) {
            let record = tokio::task::spawn_blocking(move || generate(SigningAlgorithm::Rs256, now, not_before))
                .await
                .map_err(|_| KeyError::Generation)??;
            store.add_signing_key(&record).await?;
            tracing::info!(kid = %record.kid, not_before = %not_before, "RS256 signing key rotated");
        }
        let record = generate(SigningAlgorithm::Es256, now, not_before)?;
        store.add_signing_key(&record).await?;
        store
            .delete_signing_keys_retired_before(now - self.max_token_ttl)
            .await?;
        self.reload(store).await?;
        tracing::info!(kid = %record.kid, not_before = %not_before, "signing key rotated");
        Ok(record.kid)
    }

    /// Checks a JWT we signed (any published key, with that key's
    /// algorithm) and returns its claims; expiry is the caller's to judge.
    pub fn verify_jwt(&self, token: &str, now: OffsetDateTime) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let kid = header["kid"].as_str()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signing_input = &token[..header_and_payload_len(token)?];
        let keys = self.snapshot();
        let key = keys.iter().find(|key| key.kid == kid && self.is_published(key, now))?;
        if header["alg"] != key.algorithm().as_str() {
            return None;
        }
        if !key.verifies(signing_input.as_bytes(), &signature) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// What `robots keys list` shows of a published key.
#[derive(Debug)]
pub struct KeyDescription {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub not_before: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    /// It signs its algorithm's tokens now.
    pub signing: bool,
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
        let record = generate(SigningAlgorithm::Es256, now, now).unwrap();
        let key = LoadedKey::from_record(&record).unwrap();
        let ring = KeyRing {
            keys: RwLock::new(Arc::new(vec![key])),
            creating: tokio::sync::Mutex::new(()),
            max_token_ttl: Duration::from_secs(60),
        };
        let token = ring
            .with_signer(now, SigningAlgorithm::Es256, |key| {
                key.sign_jwt(&json!({"sub": "robot"}), true)
            })
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
        let record = generate(SigningAlgorithm::Es256, now, now).unwrap();
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
        let old = LoadedKey::from_record(&generate(SigningAlgorithm::Es256, now, now).unwrap()).unwrap();
        let later = now + Duration::from_secs(3600);
        let mut next_record = generate(SigningAlgorithm::Es256, now, later).unwrap();
        next_record.retired_at = None;
        let next = LoadedKey::from_record(&next_record).unwrap();
        let (old_kid, next_kid) = (old.kid.clone(), next.kid.clone());
        let ring = KeyRing {
            keys: RwLock::new(Arc::new(vec![old, next])),
            creating: tokio::sync::Mutex::new(()),
            max_token_ttl: Duration::from_secs(60),
        };
        assert_eq!(
            ring.with_signer(now, SigningAlgorithm::Es256, |k| k.kid.clone()),
            Some(old_kid)
        );
        assert_eq!(
            ring.with_signer(later, SigningAlgorithm::Es256, |k| k.kid.clone()),
            Some(next_kid)
        );
        assert_eq!(
            ring.jwks(now)["keys"].as_array().unwrap().len(),
            2,
            "both are published already"
        );
    }

    #[test]
    fn rs256_keys_sign_verify_and_publish_beside_es256() {
        let now = OffsetDateTime::now_utc();
        let ec = generate(SigningAlgorithm::Es256, now, now).unwrap();
        let rsa = generate(SigningAlgorithm::Rs256, now, now).unwrap();
        let ring = KeyRing::from_records(&[ec.clone(), rsa.clone()], Duration::from_secs(60)).unwrap();
        let signed = |algorithm| {
            ring.with_signer(now, algorithm, |key| key.sign_jwt(&json!({"sub": "robot"}), false))
                .unwrap()
                .unwrap()
        };
        let (es256, rs256) = (signed(SigningAlgorithm::Es256), signed(SigningAlgorithm::Rs256));
        let header = |token: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
        };
        assert_eq!(header(&es256), json!({"alg": "ES256", "typ": "JWT", "kid": ec.kid}));
        assert_eq!(header(&rs256), json!({"alg": "RS256", "typ": "JWT", "kid": rsa.kid}));
        assert_eq!(ring.verify_jwt(&rs256, now).unwrap()["sub"], "robot");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(rs256.rsplit('.').next().unwrap()).unwrap().len(),
            384,
            "3072-bit RSA"
        );

        // The RSA key's alg is bound to it: its kid under an ES256 header is refused.
        let parts: Vec<&str> = rs256.split('.').collect();
        let relabelled = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "kid": rsa.kid}).to_string());
        assert!(
            ring.verify_jwt(&format!("{relabelled}.{}.{}", parts[1], parts[2]), now)
                .is_none()
        );

        let jwks = ring.jwks(now);
        let rsa_jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "RSA")
            .unwrap();
        assert_eq!(rsa_jwk["alg"], "RS256");
        assert_eq!(rsa_jwk["e"], "AQAB");
        let canonical = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{}"}}"#, rsa_jwk["n"].as_str().unwrap());
        assert_eq!(
            rsa.kid,
            URL_SAFE_NO_PAD.encode(SecretHash::of(canonical.as_bytes()).as_bytes()),
            "the kid is the RFC 7638 thumbprint"
        );
        assert_eq!(ring.certificates_pem(now).matches("BEGIN CERTIFICATE").count(), 2);
    }
}
