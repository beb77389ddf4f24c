//! Keyless robots: checking a CI system's OIDC ID token against a robot's
//! federated credentials.
//!
//! This module owns the issuers' keys (discovery document and JWKS, fetched
//! on first use, cached as the issuer's `Cache-Control` allows, refetched
//! when a token names a key we have not seen) and the checks on an ID token:
//! algorithm (RS256 or ES256 only, with a key from the issuer's JWKS),
//! signature, `iss`, `aud`, `exp`, `nbf`, `iat` with a small leeway, and the
//! credential's conditions on `sub` and other claims. Every refusal carries
//! the reason, for the audit log; the client only ever hears "not accepted".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use robots_core::pattern;
use robots_service::exchange::{Accepted, IdTokenVerifier, Refusal};
use robots_service::federation::check_issuer_url;
use robots_service::outbound::Outbound;
use robots_store::FederatedCredential;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// Bounds on how long an issuer's keys are trusted without asking again.
const MIN_CACHE: Duration = Duration::from_secs(60);
const MAX_CACHE: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_CACHE: Duration = Duration::from_secs(3600);
/// An unknown `kid` triggers a refetch at most this often per issuer, so
/// tokens with made-up key ids cannot make us hammer the issuer.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Stale keys are still used while the issuer is unreachable, this long.
const STALE_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Largest ID token accepted.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// A public key from an issuer's JWKS.
#[derive(Debug, Clone)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
}

impl PublicKey {
    fn from_jwk(jwk: &Value) -> Option<(String, Self)> {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        let bytes = |name: &str| field(name).and_then(|text| URL_SAFE_NO_PAD.decode(text).ok());
        if field("use").is_some_and(|usage| usage != "sig") {
            return None;
        }
        let kid = field("kid")?.to_owned();
        let key = match field("kty")? {
            "RSA" => Self::Rsa {
                n: bytes("n")?,
                e: bytes("e")?,
            },
            "EC" if field("crv") == Some("P-256") => {
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::P256 { point }
            }
            _ => return None,
        };
        Some((kid, key))
    }

    fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (Self::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            (Self::P256 { point }, "ES256") => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
            _ => false,
        }
    }
}

#[derive(Debug)]
struct IssuerKeys {
    keys: HashMap<String, PublicKey>,
    fetched_at: OffsetDateTime,
    fresh_until: OffsetDateTime,
}

/// The issuers' keys, shared by all requests of this process.
#[derive(Debug)]
pub struct IssuerCache {
    client: reqwest::Client,
    allow_http: bool,
    outbound: Outbound,
    issuers: Mutex<HashMap<String, Arc<IssuerKeys>>>,
}

impl IssuerCache {
    /// `allow_http`: accept `http://` issuers (development and tests only);
    /// `client` resolves names within `outbound`.
    pub fn new(allow_http: bool, outbound: Outbound, client: reqwest::Client) -> Self {
        Self {
            client,
            allow_http,
            outbound,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `issuer` (or its `jwks_uri`) may be trusted and fetched, as
    /// this cache is configured.
    pub fn check_issuer_url(&self, issuer: &str) -> Result<(), String> {
        check_issuer_url(issuer, self.allow_http)?;
        let url = reqwest::Url::parse(issuer).map_err(|_| "is not a URL".to_owned())?;
        self.outbound.check_url(&url)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<IssuerKeys>> {
        self.issuers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(issuer)
            .cloned()
    }

    /// The key `kid` of `issuer`, fetching the issuer's keys when they are
    /// missing, stale, or lack that key (at most every [`MIN_REFETCH`]).
    async fn key(&self, issuer: &str, kid: &str, now: OffsetDateTime) -> Result<PublicKey, Refusal> {
        let cached = self.cached(issuer);
        if let Some(keys) = &cached {
            let has_key = keys.keys.contains_key(kid);
            let fresh = now < keys.fresh_until;
            let may_refetch = now - keys.fetched_at >= MIN_REFETCH;
            if has_key && fresh || !has_key && !may_refetch {
                return keys
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| Refusal::UnknownKey(kid.to_owned()));
            }
        }
        match self.fetch(issuer, now).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                self.issuers
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(issuer.to_owned(), keys.clone());
                keys.keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| Refusal::UnknownKey(kid.to_owned()))
            }
            Err(why) => {
                tracing::warn!(%issuer, error = %why, "could not fetch an OIDC issuer's keys");
                // An issuer's outage should not stop jobs whose keys we know.
                match cached.and_then(|keys| {
                    (now - keys.fetched_at < STALE_GRACE)
                        .then(|| keys.keys.get(kid).cloned())
                        .flatten()
                }) {
                    Some(key) => Ok(key),
                    None => Err(Refusal::IssuerUnreachable(why)),
                }
            }
        }
    }

    async fn fetch(&self, issuer: &str, now: OffsetDateTime) -> Result<IssuerKeys, String> {
        self.check_issuer_url(issuer)?;
        let discovery_url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let (discovery, _) = self.get_json(&discovery_url).await?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err("the discovery document names another issuer".to_owned());
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("the discovery document has no jwks_uri")?;
        self.check_issuer_url(jwks_uri)
            .map_err(|why| format!("jwks_uri {why}"))?;
        let (jwks, max_age) = self.get_json(jwks_uri).await?;
        let keys: HashMap<String, PublicKey> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no keys")?
            .iter()
            .filter_map(PublicKey::from_jwk)
            .collect();
        tracing::info!(%issuer, keys = keys.len(), "fetched an OIDC issuer's keys");
        Ok(IssuerKeys {
            keys,
            fetched_at: now,
            fresh_until: now + max_age.unwrap_or(DEFAULT_CACHE).clamp(MIN_CACHE, MAX_CACHE),
        })
    }

    /// GETs a JSON document of bounded size; with its `Cache-Control` max-age.
    async fn get_json(&self, url: &str) -> Result<(Value, Option<Duration>), String> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("{url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| format!("{url}: {error}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let value = serde_json::from_slice(&body).map_err(|_| format!("{url} is not JSON"))?;
        Ok((value, max_age))
    }

    /// Checks `id_token` against `credentials` (a robot's, any issuers):
    /// the first credential whose issuer, audience and conditions hold wins.
    pub async fn verify(
        &self,
        id_token: &str,
        credentials: &[FederatedCredential],
        now: OffsetDateTime,
    ) -> Result<Accepted, Refusal> {
        if id_token.len() > MAX_ID_TOKEN_BYTES {
            return Err(Refusal::Malformed("too long"));
        }
        let mut parts = id_token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refusal::Malformed("not three dot-separated parts"));
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(Refusal::Malformed("the header is not base64url JSON"))?;
        if header.alg != "RS256" && header.alg != "ES256" {
            return Err(Refusal::Algorithm(header.alg));
        }
        let claims: Map<String, Value> = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(Refusal::Malformed("the payload is not base64url JSON"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::Malformed("the signature is not base64url"))?;
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(Refusal::Malformed("no iss"))?;
        let trusting: Vec<&FederatedCredential> = credentials.iter().filter(|c| c.issuer == issuer).collect();
        if trusting.is_empty() {
            return Err(Refusal::UntrustedIssuer(issuer.to_owned()));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(Refusal::Malformed("no kid in the header"))?;
        let key = self.key(issuer, kid, now).await?;
        let signed = id_token.rsplit_once('.').map_or("", |(signed, _)| signed);
        if !key.verify(&header.alg, signed.as_bytes(), &signature) {
            return Err(Refusal::BadSignature);
        }
        let at = now.unix_timestamp();
        let leeway = LEEWAY.as_secs() as i64;
        let time_claim = |name: &str| claims.get(name).and_then(Value::as_i64);
        let expires_at = time_claim("exp").ok_or(Refusal::Malformed("no exp"))?;
        if expires_at + leeway <= at {
            return Err(Refusal::Expired);
        }
        if time_claim("nbf").is_some_and(|nbf| nbf - leeway > at) {
            return Err(Refusal::NotYetValid);
        }
        if time_claim("iat").is_some_and(|iat| iat - leeway > at) {
            return Err(Refusal::IssuedInTheFuture);
        }
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let mut failures = Vec::new();
        for credential in trusting {
            match conditions_hold(credential, &claims) {
                Ok(()) => {
                    return Ok(Accepted {
                        credential: credential.clone(),
                        subject: subject.to_owned(),
                        jti: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
                        expires_at,
                    });
                }
                Err(failure) => failures.push(format!("{}: {failure}", credential.name)),
            }
        }
        Err(Refusal::Conditions(failures))
    }
}

impl IdTokenVerifier for IssuerCache {
    fn verify(
        &self,
        id_token: &str,
        credentials: &[FederatedCredential],
        now: OffsetDateTime,
    ) -> impl std::future::Future<Output = Result<Accepted, Refusal>> + Send {
        IssuerCache::verify(self, id_token, credentials, now)
    }
}

/// `max-age=N` of a `Cache-Control` value; `no-store`/`no-cache` as zero.
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        directive
            .strip_prefix("max-age=")
            .and_then(|seconds| seconds.parse().ok())
            .map(Duration::from_secs)
    })
}

/// A claim's values as text: a string, a number or a boolean, or each of
/// an array's.
fn claim_values(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Number(number) => vec![number.to_string()],
        Value::Bool(flag) => vec![flag.to_string()],
        Value::Array(items) => items.iter().flat_map(claim_values).collect(),
        _ => Vec::new(),
    }
}

/// The credential's audience and conditions against the token's claims;
/// the first that fails, said plainly.
fn conditions_hold(credential: &FederatedCredential, claims: &Map<String, Value>) -> Result<(), String> {
    let audiences = claims.get("aud").map(claim_values).unwrap_or_default();
    if !audiences.contains(&credential.audience) {
        return Err(format!("aud is {audiences:?}, not {:?}", credential.audience));
    }
    let check = |name: &str, wanted: &str| -> Result<(), String> {
        let values = claims.get(name).map(claim_values).unwrap_or_default();
        if values.is_empty() {
            return Err(format!("claim {name:?} is missing"));
        }
        if values.iter().any(|value| pattern::matches(wanted, value)) {
            Ok(())
        } else {
            let shown = if values.len() == 1 {
                format!("{:?}", values[0])
            } else {
                format!("{values:?}")
            };
            Err(format!("claim {name:?} is {shown}, which does not match {wanted:?}"))
        }
    };
    check("sub", &credential.subject)?;
    for (name, wanted) in &credential.claims {
        check(name, wanted)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
    }

    #[test]
    fn claim_values_read_strings_numbers_and_arrays() {
        let value: Value = serde_json::json!(["a", 1, true, null]);
        assert_eq!(claim_values(&value), ["a", "1", "true"]);
    }
}
