//! Limits on failed authentication, and where a request really comes from.
//!
//! Failures are counted per client address and per credential (a robot's
//! Access ID, a username) in leaky buckets: each key may fail `burst` times
//! at once and regains `per_minute` attempts a minute. What happens when a
//! bucket runs dry differs on purpose:
//!
//! - An **address** that ran dry is turned away before anything is checked
//!   (429 with `Retry-After`), whatever it presents: it is the attacker.
//! - A **credential** that ran dry still works with the right secret. Its
//!   further failures answer 429 instead of 401, and stop being audited one
//!   by one; but a robot whose Access ID someone else is hammering keeps
//!   working from its own address, so a limit never becomes a way to lock
//!   a legitimate robot or user out.
//!
//! Robot tokens carry 256 bits of randomness: the limits are not what
//! stops guessing (arithmetic does). They bound the work and the audit
//! volume a flood can cause, and slow password guessing, where they matter.
//!
//! Which address a request comes from (behind trusted proxies) is the
//! server's to say; this counts what that address and the credential did.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use uuid::Uuid;

/// How many failures a key may have at once, and how fast it regains them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl RateLimit {
    pub const fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst, per_minute }
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// `BURST/PER_MINUTE`, e.g. `50/30`.
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || format!("{text:?} is not BURST/PER_MINUTE, e.g. 50/30");
        let (burst, per_minute) = text.split_once('/').ok_or_else(invalid)?;
        let burst: u32 = burst.trim().parse().map_err(|_| invalid())?;
        let per_minute: u32 = per_minute.trim().parse().map_err(|_| invalid())?;
        if burst == 0 || per_minute == 0 {
            return Err(format!("{text:?}: both numbers must be at least 1"));
        }
        Ok(Self { burst, per_minute })
    }
}

/// The limits a server applies; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Failed robot authentications per client address.
    pub robot_failures_per_address: RateLimit,
    /// Failed robot authentications per Access ID.
    pub robot_failures_per_access_id: RateLimit,
    /// Failed password logins per client address.
    pub login_failures_per_address: RateLimit,
    /// Failed password logins per username.
    pub login_failures_per_user: RateLimit,
    /// Leaked-token reports per client address (every report counts, so
    /// the bucket tells nothing about which tokens were real).
    pub leak_reports_per_address: RateLimit,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            robot_failures_per_address: RateLimit::new(100, 60),
            robot_failures_per_access_id: RateLimit::new(20, 10),
            login_failures_per_address: RateLimit::new(20, 10),
            login_failures_per_user: RateLimit::new(10, 5),
            leak_reports_per_address: RateLimit::new(60, 60),
        }
    }
}

/// What a failure did to its key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; the key may still fail.
    Counted,
    /// This failure emptied the bucket.
    NowLimited(Duration),
    /// The bucket was empty already.
    StillLimited(Duration),
}

impl Failure {
    pub fn retry_after(self) -> Option<Duration> {
        match self {
            Self::Counted => None,
            Self::NowLimited(wait) | Self::StillLimited(wait) => Some(wait),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures the key may still have; below 1, it is limited.
    allowance: f64,
    updated_ms: i64,
}

const SHARDS: usize = 16;

/// Failure buckets by key. Keys that have regained their whole allowance
/// are forgotten when a shard fills up, so memory stays bounded.
#[derive(Debug)]
pub struct FailureLimiter<K> {
    limit: RateLimit,
    shards: Vec<Shard<K>>,
    /// Picks a key's shard; one per limiter, so every thread agrees.
    hasher: std::hash::RandomState,
    keys_per_shard: usize,
}

impl<K: Hash + Eq> FailureLimiter<K> {
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, 100_000)
    }

    pub fn with_capacity(limit: RateLimit, keys: usize) -> Self {
        Self {
            limit,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: std::hash::RandomState::new(),
            keys_per_shard: (keys / SHARDS).max(1),
        }
    }

    fn shard(&self, key: &K) -> &Shard<K> {
        use std::hash::BuildHasher;
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// The allowance of a bucket brought up to `now_ms`.
    fn refilled(&self, bucket: Bucket, now_ms: i64) -> f64 {
        let elapsed = (now_ms - bucket.updated_ms).max(0) as f64;
        let regained = elapsed * f64::from(self.limit.per_minute) / 60_000.0;
        (bucket.allowance + regained).min(f64::from(self.limit.burst))
    }

    /// How long until a limited key may try again.
    fn wait(&self, allowance: f64) -> Duration {
        let missing = (1.0 - allowance).max(0.0);
        let seconds = (missing * 60.0 / f64::from(self.limit.per_minute)).ceil().max(1.0);
        Duration::from_secs(seconds as u64)
    }

    /// `Err(retry_after)` while the key is limited.
    pub fn check(&self, key: &K, now_ms: i64) -> Result<(), Duration> {
        let shard = self.shard(key);
        // Every verification asks, nearly always of an empty shard: one
        // load of a count that only failures write, rather than a lock
        // every worker would take in turn.
        if shard.is_empty() {
            return Ok(());
        }
        match shard.lock().get(key) {
            Some(bucket) => {
                let allowance = self.refilled(*bucket, now_ms);
                if allowance < 1.0 {
                    Err(self.wait(allowance))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Before a new key goes into a full shard: forgets the keys that have
    /// regained their whole allowance (or, if none has, all of them).
    fn make_room(&self, shard: &mut ShardGuard<'_, K>, key: &K, now_ms: i64) {
        if shard.len() >= self.keys_per_shard && !shard.contains_key(key) {
            let burst = f64::from(self.limit.burst);
            shard.retain(|_, bucket| self.refilled(*bucket, now_ms) < burst);
            if shard.len() >= self.keys_per_shard {
                // Every key is failing at once: forget them rather than grow.
                shard.clear();
            }
        }
    }

    /// Takes one failure from the key's bucket before an attempt is judged,
    /// for checks too slow to count afterwards (a password hash): concurrent
    /// attempts cannot all pass a check made before any of them failed, so
    /// at most `burst` of them are judged at once. `Err(retry_after)` when
    /// the bucket is empty; otherwise what a failure will have done. A
    /// success gives the reservation back ([`Self::refund`]).
    pub fn reserve(&self, key: K, now_ms: i64) -> Result<Failure, Duration> {
        let shard = self.shard(&key);
        let mut shard = shard.lock();
        let before = shard
            .get(&key)
            .map_or(f64::from(self.limit.burst), |bucket| self.refilled(*bucket, now_ms));
        if before < 1.0 {
            return Err(self.wait(before));
        }
        self.make_room(&mut shard, &key, now_ms);
        let allowance = before - 1.0;
        shard.insert(
            key,
            Bucket {
                allowance,
                updated_ms: now_ms,
            },
        );
        Ok(if allowance < 1.0 {
            Failure::NowLimited(self.wait(allowance))
        } else {
            Failure::Counted
        })
    }

    /// Gives back a reservation whose attempt succeeded.
    pub fn refund(&self, key: &K, now_ms: i64) {
        let shard = self.shard(key);
        let mut shard = shard.lock();
        let Some(bucket) = shard.get_mut(key) else { return };
        let allowance = self.refilled(*bucket, now_ms) + 1.0;
        if allowance >= f64::from(self.limit.burst) {
            // A full bucket is no bucket: the shard may become empty again.
            shard.remove(key);
        } else {
            *bucket = Bucket {
                allowance,
                updated_ms: now_ms,
            };
        }
    }

    /// Counts a failure.
    pub fn fail(&self, key: K, now_ms: i64) -> Failure {
        let shard = self.shard(&key);
        let mut shard = shard.lock();
        self.make_room(&mut shard, &key, now_ms);
        let before = shard
            .get(&key)
            .map_or(f64::from(self.limit.burst), |bucket| self.refilled(*bucket, now_ms));
        // A key that keeps failing while limited stays limited, but owes
        // at most one burst: its wait is bounded however long it went on.
        let allowance = (before - 1.0).max(-f64::from(self.limit.burst));
        shard.insert(
            key,
            Bucket {
                allowance,
                updated_ms: now_ms,
            },
        );
        if before < 1.0 {
            Failure::StillLimited(self.wait(allowance))
        } else if allowance < 1.0 {
            Failure::NowLimited(self.wait(allowance))
        } else {
            Failure::Counted
        }
    }
}

/// One shard of a limiter's buckets, with their count readable without the
/// lock.
#[derive(Debug)]
struct Shard<K> {
    buckets: Mutex<HashMap<K, Bucket>>,
    /// `buckets.len()`, stored under the lock whenever it changes.
    keys: AtomicUsize,
}

impl<K> Default for Shard<K> {
    fn default() -> Self {
        Self {
            buckets: Mutex::default(),
            keys: AtomicUsize::new(0),
        }
    }
}

impl<K> Shard<K> {
    fn is_empty(&self) -> bool {
        self.keys.load(Ordering::Acquire) == 0
    }

    fn lock(&self) -> ShardGuard<'_, K> {
        ShardGuard {
            buckets: self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            keys: &self.keys,
        }
    }
}

/// A locked shard; publishes the shard's count when released.
struct ShardGuard<'a, K> {
    buckets: MutexGuard<'a, HashMap<K, Bucket>>,
    keys: &'a AtomicUsize,
}

impl<K> std::ops::Deref for ShardGuard<'_, K> {
    type Target = HashMap<K, Bucket>;
    fn deref(&self) -> &Self::Target {
        &self.buckets
    }
}

impl<K> std::ops::DerefMut for ShardGuard<'_, K> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.buckets
    }
}

impl<K> Drop for ShardGuard<'_, K> {
    fn drop(&mut self) {
        // Still under the lock: the count never lags a change another
        // locker could observe.
        self.keys.store(self.buckets.len(), Ordering::Release);
    }
}

/// The buckets of one server.
#[derive(Debug)]
pub struct AuthLimits {
    pub robot_address: FailureLimiter<IpAddr>,
    pub robot_access_id: FailureLimiter<Uuid>,
    pub login_address: FailureLimiter<IpAddr>,
    pub login_user: FailureLimiter<String>,
    pub leak_reports: FailureLimiter<IpAddr>,
    /// Addresses each user logged in from (in memory, bounded): a user
    /// whose bucket someone else emptied can still log in from them.
    known_addresses: Mutex<HashMap<String, Vec<IpAddr>>>,
}

/// Addresses remembered per user, and users remembered at all.
const KNOWN_ADDRESSES_PER_USER: usize = 8;
const USERS_WITH_KNOWN_ADDRESSES: usize = 100_000;

impl AuthLimits {
    pub fn new(config: &LimitConfig) -> Self {
        Self {
            robot_address: FailureLimiter::new(config.robot_failures_per_address),
            robot_access_id: FailureLimiter::new(config.robot_failures_per_access_id),
            login_address: FailureLimiter::new(config.login_failures_per_address),
            login_user: FailureLimiter::new(config.login_failures_per_user),
            leak_reports: FailureLimiter::new(config.leak_reports_per_address),
            known_addresses: Mutex::default(),
        }
    }

    /// The key a username is limited under.
    pub fn user_key(username: &str) -> String {
        username.trim().chars().take(64).flat_map(char::to_lowercase).collect()
    }

    pub fn remember_login(&self, user_key: &str, address: IpAddr) {
        let mut known = self
            .known_addresses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() >= USERS_WITH_KNOWN_ADDRESSES && !known.contains_key(user_key) {
            known.clear();
        }
        let addresses = known.entry(user_key.to_owned()).or_default();
        addresses.retain(|known| *known != address);
        addresses.push(address);
        if addresses.len() > KNOWN_ADDRESSES_PER_USER {
            addresses.remove(0);
        }
    }

    pub fn is_known_login(&self, user_key: &str, address: IpAddr) -> bool {
        let known = self
            .known_addresses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known
            .get(user_key)
            .is_some_and(|addresses| addresses.contains(&address))
    }
}

/// The key an address is limited under: IPv6 clients by their /64 (one
/// subscriber's network, where addresses are free to rotate), IPv4 by the
/// address itself.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills() {
        let limiter = FailureLimiter::new(RateLimit::new(3, 60));
        let key = "k".to_owned();
        assert_eq!(limiter.fail(key.clone(), 0), Failure::Counted);
        assert_eq!(limiter.fail(key.clone(), 0), Failure::Counted);
        assert_eq!(
            limiter.fail(key.clone(), 0),
            Failure::NowLimited(Duration::from_secs(1))
        );
        assert_eq!(limiter.check(&key, 0), Err(Duration::from_secs(1)));
        assert!(matches!(limiter.fail(key.clone(), 0), Failure::StillLimited(_)));
        assert!(limiter.check(&key, 999).is_err());
        // One attempt a second comes back (and the failure made while
        // limited is owed first).
        assert!(limiter.check(&key, 1_000).is_err());
        assert_eq!(limiter.check(&key, 2_000), Ok(()));
        assert_eq!(limiter.check(&"other".to_owned(), 0), Ok(()));
    }

    #[test]
    fn reservations_admit_at_most_a_burst_and_successes_give_theirs_back() {
        let limiter = FailureLimiter::new(RateLimit::new(3, 60));
        let key = "k".to_owned();
        assert_eq!(limiter.reserve(key.clone(), 0), Ok(Failure::Counted));
        assert_eq!(limiter.reserve(key.clone(), 0), Ok(Failure::Counted));
        assert_eq!(
            limiter.reserve(key.clone(), 0),
            Ok(Failure::NowLimited(Duration::from_secs(1)))
        );
        // Three attempts are being judged: a fourth is not.
        assert_eq!(limiter.reserve(key.clone(), 0), Err(Duration::from_secs(1)));
        // Two of them succeed and give their places back.
        limiter.refund(&key, 0);
        limiter.refund(&key, 0);
        assert_eq!(limiter.check(&key, 0), Ok(()));
        assert!(limiter.reserve(key.clone(), 0).is_ok());
        limiter.refund(&key, 0);
        limiter.refund(&key, 0);
        // A full bucket is forgotten, as if it never failed.
        limiter.refund(&key, 0);
        assert!(limiter.shard(&key).is_empty());
    }

    #[test]
    fn limited_keys_owe_at_most_one_burst() {
        let limiter = FailureLimiter::new(RateLimit::new(5, 60));
        for _ in 0..10_000 {
            limiter.fail(1u8, 0);
        }
        assert!(limiter.check(&1, 5_999).is_err());
        assert_eq!(limiter.check(&1, 6_000), Ok(()));
    }

    #[test]
    fn every_thread_sees_the_same_bucket() {
        let limiter = std::sync::Arc::new(FailureLimiter::new(RateLimit::new(4, 60)));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || limiter.fail("key", 0))
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert!(limiter.check(&"key", 0).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = FailureLimiter::with_capacity(RateLimit::new(1, 60), 160);
        for key in 0..100_000u32 {
            limiter.fail(key, 0);
        }
        let kept: usize = limiter.shards.iter().map(|shard| shard.lock().len()).sum();
        assert!(kept <= 160, "{kept} keys kept");
        // The counts `check` reads without the lock follow every change,
        // the clearing of full shards included.
        for shard in &limiter.shards {
            assert_eq!(shard.keys.load(Ordering::Relaxed), shard.lock().len());
        }
        let limited = (0..100_000u32).filter(|key| limiter.check(key, 0).is_err()).count();
        assert_eq!(limited, kept);
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!("50/30".parse::<RateLimit>(), Ok(RateLimit::new(50, 30)));
        assert!("50".parse::<RateLimit>().is_err());
        assert!("0/30".parse::<RateLimit>().is_err());
        assert!("a/b".parse::<RateLimit>().is_err());
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
