//! Answers remembered under the change generation (see `changes`): an
//! entry read in an older generation is ignored, so the first lookup after
//! a change reads the database again. Sharded, and bounded: a full shard is
//! emptied rather than grown, and the next lookups refill it.
//!
//! Callers trust an entry only while [`Store::changes_are_followed`]
//! (PostgreSQL replicas that lost their notifications must not).
//!
//! [`Store::changes_are_followed`]: crate::Store::changes_are_followed

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;

/// Only what was found is remembered, so keys are SHA-256 digests of valid
/// secrets, ids, names that exist and grants of verified robots; shards
/// are bounded and each hasher is seeded at random. A fast hash suffices there, and the standard one (built for
/// keys anyone may choose) cost more than the rest of a lookup: 43 ns a hit
/// with it, 23 ns without (`benches/primitives.rs` in robots-server).
type Shard<K, V> = HashMap<K, (u64, V), foldhash::fast::RandomState>;

#[derive(Debug)]
pub struct GenerationCache<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    per_shard: usize,
    /// Lookups through [`Store::remembered`](crate::Store::remembered)
    /// that were answered here, and that went to the database: for metrics.
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl<K: Hash + Eq, V: Clone> GenerationCache<K, V> {
    /// A cache of about `entries` entries.
    pub fn new(entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: (entries / SHARDS).max(1),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// (hits, misses) of the lookups so far.
    pub fn lookups(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    pub(crate) fn count_lookup(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `spread` picks the shard: a byte of the key that is already random.
    fn shard(&self, spread: u8) -> MutexGuard<'_, Shard<K, V>> {
        self.shards[usize::from(spread) % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value remembered for `key` in `generation`, if any.
    pub fn get(&self, spread: u8, key: &K, generation: u64) -> Option<V> {
        self.shard(spread)
            .get(key)
            .filter(|(at, _)| *at == generation)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value`, read in `generation` (taken before the read, so a
    /// change during it leaves an entry that is never used).
    pub fn put(&self, spread: u8, key: K, value: V, generation: u64) {
        let mut shard = self.shard(spread);
        if shard.len() >= self.per_shard {
            shard.clear();
        }
        shard.insert(key, (generation, value));
    }
}
