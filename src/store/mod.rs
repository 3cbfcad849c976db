//! The data: a lock-sharded keyspace shared by every worker thread.
//!
//! A key's shard is chosen from its 64-bit keyspace hash (a 32-bit hash of the key, with a
//! per-process random seed so clients cannot aim keys at one shard, spread over 64 bits; see
//! [`shard::keyspace_hash`]); the same hash then finds the key inside the shard's `hashbrown`
//! table, and its 32 bits are the token of its wheel timer. Every database has its part in every
//! shard, so a key lands in the same shard whatever the database, and SWAPDB swaps parts shard by
//! shard.
//!
//! Invariants:
//! - A shard is touched only under its mutex; an operation that needs several shards locks them
//!   in ascending index order ([`Store::lock`], [`Store::lock_all`]), so no two operations can
//!   deadlock and a multi-key write is seen whole or not at all.
//! - Keys and values stored are owned copies (never slices of a connection's read buffer, which
//!   would pin the buffer for the key's lifetime).
//! - An entry past its deadline is absent to every command; it is removed by the first access
//!   (lazy expiry) or by the sweeper, whichever comes first.

mod clock;
mod entry;
mod gate;
pub mod glob;
mod shard;
mod value;
pub mod wheel;

use std::hash::BuildHasher;

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

pub use clock::{unix_ms, unix_us, Clock};
pub use entry::{Entry, ValueRef};
pub use gate::{ExclusiveAccess, Gate, SharedAccess};
pub use shard::{Db, Replaced, Shard, SlideRules};
pub use value::{parse_canonical_i64, random_below, Hash, Member, Set, Value};

use wheel::Timer;

/// Timers handled per shard per lock hold by the sweeper: bounds how long one sweep step can keep
/// a shard from its clients (a few tens of microseconds).
pub const SWEEP_SLICE: usize = 256;

/// The most keys [`Store::prefetch`] takes at once (more are ignored).
pub const PREFETCH_MAX: usize = 32;

/// Told about keys that come and go by themselves, so that the server can publish their keyspace
/// events and invalidate WATCHes. Called with a shard lock held: it must never lock a shard.
pub trait KeyspaceListener: Send + Sync {
    /// A key was removed because it expired (by a lookup or by the sweeper).
    fn expired(&self, db: usize, key: &[u8]);
    /// A key that did not exist was stored (Redis's `new` event).
    fn created(&self, db: usize, key: &[u8]);
}

/// Counters kept per shard, under its lock (no shared cache line to bounce between threads).
#[derive(Default, Clone, Copy, Debug)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Reads that moved a sliding key's deadline.
    pub slid_keys: u64,
}

struct ShardSlot {
    shard: Shard,
    stats: ShardStats,
    /// This shard's copy of the sliding rules (replaced in every shard by [`Store::set_slide_rules`]).
    slide: Arc<SlideRules>,
}

/// The keyspace: every database, split into shards.
pub struct Store {
    shards: Box<[Mutex<ShardSlot>]>,
    shard_mask: usize,
    hasher: DefaultHashBuilder,
    databases: usize,
    clock: Clock,
    slide: Mutex<Arc<SlideRules>>,
    listener: std::sync::OnceLock<Arc<dyn KeyspaceListener>>,
    gate: Gate,
    /// The largest delay between a deadline and the key's removal in the last sweep that removed
    /// anything, in ms (INFO `expiry_lag_ms`).
    last_sweep_lag_ms: AtomicU64,
}

/// Bit layout of a SCAN cursor: shard index, then the shard's scan epoch, then the next bucket.
const CURSOR_SHARD_BITS: u32 = 12;
const CURSOR_EPOCH_BITS: u32 = 16;
/// The most shards a cursor can address.
pub const MAX_SHARDS: usize = 1 << CURSOR_SHARD_BITS;

impl Store {
    /// A store of `shards` shards (rounded up to a power of two, at most [`MAX_SHARDS`]) and
    /// `databases` databases.
    pub fn new(shards: usize, databases: usize, clock: Clock) -> Store {
        let n = shards.clamp(1, MAX_SHARDS).next_power_of_two();
        Store {
            shards: (0..n)
                .map(|_| {
                    Mutex::new(ShardSlot {
                        shard: Shard::new(databases),
                        stats: ShardStats::default(),
                        slide: Arc::default(),
                    })
                })
                .collect(),
            shard_mask: n - 1,
            hasher: DefaultHashBuilder::default(),
            databases,
            clock,
            slide: Mutex::default(),
            listener: std::sync::OnceLock::new(),
            gate: Gate::default(),
            last_sweep_lag_ms: AtomicU64::new(0),
        }
    }

    /// Sets the listener told about expired keys (once, at startup).
    pub fn set_expiry_listener(&self, listener: Arc<dyn KeyspaceListener>) {
        let _ = self.listener.set(listener);
    }

    fn report_expired(&self, db: usize, key: &[u8]) {
        if let Some(listener) = self.listener.get() {
            listener.expired(db, key);
        }
    }

    fn report_created(&self, db: usize, key: &[u8]) {
        if let Some(listener) = self.listener.get() {
            listener.created(db, key);
        }
    }

    /// Enters the keyspace for one command (see [`Gate`]).
    pub fn shared_access(&self) -> SharedAccess<'_> {
        self.gate.shared()
    }

    /// Waits for every command in progress and keeps others out until dropped (EXEC, scripts).
    /// Re-entrant on the thread that holds it.
    pub fn exclusive_access(&self) -> ExclusiveAccess<'_> {
        self.gate.exclusive()
    }

    /// [`Store::shared_access`], unless `give_up` (asked every few ms while waiting) says to stop
    /// waiting (a script is past `busy-reply-threshold`).
    pub fn shared_access_unless(&self, give_up: impl FnMut() -> bool) -> Option<SharedAccess<'_>> {
        self.gate.shared_unless(give_up)
    }

    /// [`Store::exclusive_access`], unless `give_up` says to stop waiting.
    pub fn exclusive_access_unless(
        &self,
        give_up: impl FnMut() -> bool,
    ) -> Option<ExclusiveAccess<'_>> {
        self.gate.exclusive_unless(give_up)
    }

    /// The sliding rules in force.
    pub fn slide_rules(&self) -> Arc<SlideRules> {
        self.slide.lock().clone()
    }

    /// Replaces the sliding rules; reads see them from their next lock of a shard.
    pub fn set_slide_rules(&self, rules: SlideRules) {
        let rules = Arc::new(rules);
        let mut current = self.slide.lock();
        for s in self.shards.iter() {
            s.lock().slide = rules.clone();
        }
        *current = rules;
    }

    /// The largest expiry lag of the last sweep that removed keys, in ms.
    pub fn last_sweep_lag_ms(&self) -> u64 {
        self.last_sweep_lag_ms.load(Ordering::Relaxed)
    }

    /// Number of databases (SELECT accepts 0..databases).
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Now, in Unix ms, from the store's clock.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The hash that places `key` in a shard and in the shard's table.
    pub fn hash(&self, key: &[u8]) -> u64 {
        shard::keyspace_hash(self.hasher.hash_one(key))
    }

    fn shard_index(&self, hash: u64) -> usize {
        // hashbrown uses the low bits for the bucket and the top 7 for its tag; taking the shard
        // from the middle keeps both independent of the shard choice.
        (hash >> 40) as usize & self.shard_mask
    }

    /// Locks the shards holding `keys` (ascending order) for database `db`.
    pub fn lock<'a, K: AsRef<[u8]>>(
        &'a self,
        db: usize,
        keys: impl IntoIterator<Item = K>,
    ) -> Locked<'a> {
        self.lock_with(db, keys, false)
    }

    /// Like [`Store::lock`]; with `slides`, [`Locked::get`] is a touch-on-read that slides the
    /// deadline of keys matching the sliding rules (for commands that read the value).
    pub fn lock_with<'a, K: AsRef<[u8]>>(
        &'a self,
        db: usize,
        keys: impl IntoIterator<Item = K>,
        slides: bool,
    ) -> Locked<'a> {
        // Inline for the usual one or two keys: no allocation per command.
        let mut wanted: SmallVec<[usize; 2]> = keys
            .into_iter()
            .map(|k| self.shard_index(self.hash(k.as_ref())))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let guards = wanted
            .into_iter()
            .map(|i| (i, self.shards[i].lock()))
            .collect();
        Locked {
            store: self,
            db,
            now: self.now(),
            guards,
            slides,
        }
    }

    /// Starts loading into the CPU cache what looking `keys` up in `db` will read — each key's
    /// table slot, then its entry's block — for all of them at once, so that the lookups of a
    /// pipeline wait for memory together instead of one after another (in a large keyspace each
    /// lookup otherwise waits for two or three cache misses in turn). A hint: it changes nothing,
    /// and it skips a shard another thread holds instead of waiting for it.
    pub fn prefetch(&self, db: usize, keys: &[&[u8]]) {
        let keys = &keys[..keys.len().min(PREFETCH_MAX)];
        let hashes: SmallVec<[u64; PREFETCH_MAX]> = keys.iter().map(|k| self.hash(k)).collect();
        let mut wanted: SmallVec<[usize; PREFETCH_MAX]> =
            hashes.iter().map(|&h| self.shard_index(h)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let guards: SmallVec<[_; PREFETCH_MAX]> = wanted
            .iter()
            .filter_map(|&i| Some((i, self.shards[i].try_lock()?)))
            .collect();
        let part = |hash: u64| {
            let i = self.shard_index(hash);
            let pos = guards.binary_search_by_key(&i, |(j, _)| *j).ok()?;
            Some(&guards[pos].1.shard.dbs[db])
        };
        // Two passes: the second reads the slots the first asked for.
        for &hash in &hashes {
            if let Some(part) = part(hash) {
                part.prefetch_slot(hash);
            }
        }
        for &hash in &hashes {
            if let Some(part) = part(hash) {
                part.prefetch_block(hash);
            }
        }
    }

    /// Locks every shard, in ascending order.
    pub fn lock_all(&self, db: usize) -> Locked<'_> {
        let guards = self
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.lock()))
            .collect();
        Locked {
            store: self,
            db,
            now: self.now(),
            guards,
            slides: false,
        }
    }

    /// True if `key` is in `db` but past its deadline (not yet removed). Does not remove it.
    pub fn is_expired(&self, db: usize, key: &[u8]) -> bool {
        let hash = self.hash(key);
        let slot = self.shards[self.shard_index(hash)].lock();
        slot.shard.dbs[db]
            .peek(hash, key)
            .is_some_and(|e| e.is_expired(self.now()))
    }

    /// True if `key` is live in `db`, without expiring or counting anything.
    pub fn contains(&self, db: usize, key: &[u8]) -> bool {
        let hash = self.hash(key);
        let slot = self.shards[self.shard_index(hash)].lock();
        slot.shard.dbs[db]
            .peek(hash, key)
            .is_some_and(|e| !e.is_expired(self.now()))
    }

    /// Number of keys in `db` (like Redis, keys past their deadline count until removed).
    pub fn dbsize(&self, db: usize) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().shard.dbs[db].len())
            .sum()
    }

    /// Keys, keys with a TTL, and their average remaining TTL in ms, in `db` (INFO keyspace).
    pub fn keyspace(&self, db: usize) -> (usize, usize, u64) {
        let (keys, expires, sum) = self.shards.iter().fold((0, 0, 0u128), |(k, e, d), s| {
            let s = s.lock();
            let part = &s.shard.dbs[db];
            (k + part.len(), e + part.expires(), d + part.deadline_sum())
        });
        let now = u128::from(self.now());
        let avg = if expires == 0 {
            0
        } else {
            (sum / expires as u128).saturating_sub(now) as u64
        };
        (keys, expires, avg)
    }

    /// The counters of every shard, summed.
    pub fn stats(&self) -> ShardStats {
        self.shards.iter().fold(ShardStats::default(), |acc, s| {
            let st = s.lock().stats;
            ShardStats {
                expired_keys: acc.expired_keys + st.expired_keys,
                keyspace_hits: acc.keyspace_hits + st.keyspace_hits,
                keyspace_misses: acc.keyspace_misses + st.keyspace_misses,
                slid_keys: acc.slid_keys + st.slid_keys,
            }
        })
    }

    /// Resets the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for s in self.shards.iter() {
            s.lock().stats = ShardStats::default();
        }
    }

    /// Removes every key of `db`, or of every database when `db` is None. Returns how many.
    pub fn flush(&self, db: Option<usize>) -> usize {
        let mut all = self.lock_all(0);
        let mut removed = 0;
        for (_, slot) in all.guards.iter_mut() {
            for (i, part) in slot.shard.dbs.iter_mut().enumerate() {
                if db.is_none_or(|d| d == i) {
                    removed += part.clear();
                }
            }
        }
        removed
    }

    /// Swaps two databases atomically (SWAPDB).
    pub fn swap_db(&self, a: usize, b: usize) {
        let mut all = self.lock_all(0);
        for (_, slot) in all.guards.iter_mut() {
            let taken_a = slot.shard.dbs[a].take();
            let taken_b = slot.shard.dbs[b].take();
            slot.shard.dbs[a] = taken_b;
            slot.shard.dbs[b] = taken_a;
        }
    }

    /// One SCAN step over `db` from `cursor`: examines about `count` keys and returns the next
    /// cursor (0 when the scan is complete) and the live keys examined that pass `keep`.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> (u64, Vec<Bytes>) {
        let (mut shard, epoch, mut pos) = decode_cursor(cursor);
        let now = self.now();
        let mut keys = Vec::new();
        let mut examined = 0;
        let mut epoch = Some(epoch);
        while shard < self.shards.len() {
            let slot = self.shards[shard].lock();
            let part = &slot.shard.dbs[db];
            if epoch
                .take()
                .is_some_and(|e| e != part.epoch() & epoch_mask())
            {
                // The table moved its elements since this cursor was issued: restart the shard.
                pos = 0;
            }
            let buckets = part.buckets();
            while pos < buckets && examined < count {
                if let Some(entry) = part.bucket(pos) {
                    examined += 1;
                    if !entry.is_expired(now) && keep(entry) {
                        keys.push(Bytes::copy_from_slice(entry.key()));
                    }
                }
                pos += 1;
            }
            if pos < buckets {
                return (encode_cursor(shard, part.epoch(), pos), keys);
            }
            drop(slot);
            shard += 1;
            pos = 0;
            if examined >= count && shard < self.shards.len() {
                let epoch = self.shards[shard].lock().shard.dbs[db].epoch();
                return (encode_cursor(shard, epoch, 0), keys);
            }
        }
        (0, keys)
    }

    /// Every live key of `db` that passes `keep` (KEYS).
    pub fn keys(&self, db: usize, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<Bytes> {
        let now = self.now();
        let mut keys = Vec::new();
        for s in self.shards.iter() {
            let slot = s.lock();
            keys.extend(
                slot.shard.dbs[db]
                    .iter()
                    .filter(|e| !e.is_expired(now) && keep(e.key()))
                    .map(|e| Bytes::copy_from_slice(e.key())),
            );
        }
        keys
    }

    /// A random live key of `db`, or None if it is empty (RANDOMKEY).
    pub fn random_key(&self, db: usize) -> Option<Bytes> {
        let n = self.shards.len();
        let mut seed = self.now() ^ (random_seed() << 16);
        for _ in 0..(4 * n + 100) {
            seed = xorshift(seed);
            let shard = (seed as usize) % n;
            let mut slot = self.shards[shard].lock();
            let now = self.now();
            let part = &mut slot.shard.dbs[db];
            if part.is_empty() {
                continue;
            }
            seed = xorshift(seed);
            let key = part.key_near(seed as usize)?;
            let hash = self.hash(&key);
            let (found, expired, _) = part.get(hash, &key, now, None);
            if found.is_some() {
                return Some(key);
            }
            if let Some(expired) = expired {
                slot.stats.expired_keys += 1;
                self.report_expired(db, expired.key());
            }
        }
        // Everything sampled was expiring: fall back to a full pass.
        self.keys(db, |_| true).into_iter().next()
    }

    /// One step of the sweep: advances the wheel of database `db` in shard `shard` to now and
    /// removes at most [`SWEEP_SLICE`] timers' worth of keys that are really due, under that
    /// shard's lock and inside the [`Gate`] (expiry never interleaves with an exclusive
    /// operation; while one holds the gate, nothing is swept). The expiry listener hears of each
    /// removed key after the lock is released.
    /// Returns how many keys were removed, whether more may be due, and the largest lag in ms
    /// between a removed key's deadline and its removal.
    pub fn sweep_slice(&self, shard: usize, db: usize) -> (usize, bool, u64) {
        let mut fired: Vec<Timer> = Vec::new();
        let mut removed: Vec<Entry> = Vec::new();
        let (more, lag) = {
            // The sweeper runs on a worker thread: it must not wait behind an exclusive
            // operation (a long script holds the gate for seconds). It skips, and the next tick
            // catches up.
            let Some(_gate) = self.gate.try_shared() else {
                return (0, false, 0);
            };
            let mut slot = self.shards[shard].lock();
            let now = self.now();
            let ShardSlot { shard, stats, .. } = &mut *slot;
            shard.dbs[db].expire_due(now, SWEEP_SLICE, &mut fired, |entry| {
                stats.expired_keys += 1;
                removed.push(entry);
            })
        };
        // Reported, and freed, after the lock is released.
        for entry in &removed {
            self.report_expired(db, entry.key());
        }
        (removed.len(), more, lag)
    }

    /// Records the worst lag of a sweep that removed keys (INFO `expiry_lag_ms`).
    pub fn record_sweep_lag(&self, lag_ms: u64) {
        self.last_sweep_lag_ms.store(lag_ms, Ordering::Relaxed);
    }

    /// Removes every key whose deadline has passed, in one go (tests and tools; the server's
    /// sweeper interleaves [`Store::sweep_slice`] with client work instead). Returns how many.
    pub fn sweep_all(&self) -> usize {
        let mut total = 0;
        for shard in 0..self.shards.len() {
            for db in 0..self.databases {
                loop {
                    let (removed, more, _) = self.sweep_slice(shard, db);
                    total += removed;
                    if !more {
                        break;
                    }
                }
            }
        }
        total
    }
}

fn epoch_mask() -> u32 {
    (1 << CURSOR_EPOCH_BITS) - 1
}

fn encode_cursor(shard: usize, epoch: u32, pos: usize) -> u64 {
    (shard as u64)
        | (u64::from(epoch & epoch_mask()) << CURSOR_SHARD_BITS)
        | ((pos as u64) << (CURSOR_SHARD_BITS + CURSOR_EPOCH_BITS))
}

fn decode_cursor(cursor: u64) -> (usize, u32, usize) {
    let shard = (cursor & ((1 << CURSOR_SHARD_BITS) - 1)) as usize;
    let epoch = ((cursor >> CURSOR_SHARD_BITS) as u32) & epoch_mask();
    let pos = (cursor >> (CURSOR_SHARD_BITS + CURSOR_EPOCH_BITS)) as usize;
    (shard, epoch, pos)
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn random_seed() -> u64 {
    DefaultHashBuilder::default().hash_one(unix_us()) | 1
}

/// Shards locked for one operation, and the database it works in.
///
/// The accessors hash the key again; that is cheaper than carrying hashes around and keeps
/// handlers simple.
pub struct Locked<'a> {
    store: &'a Store,
    /// The database the accessors work in; a handler may switch it (COPY … DB, MOVE).
    pub db: usize,
    now: u64,
    guards: SmallVec<[(usize, MutexGuard<'a, ShardSlot>); 2]>,
    /// [`Locked::get`] slides deadlines (the command reads values).
    slides: bool,
}

impl<'a> Locked<'a> {
    /// The time this operation works at (read once when the locks were taken, as Redis reads the
    /// clock once per command).
    pub fn now(&self) -> u64 {
        self.now
    }

    fn slot(&mut self, hash: u64) -> &mut ShardSlot {
        let index = self.store.shard_index(hash);
        let pos = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .expect("key's shard was not locked for this operation");
        &mut self.guards[pos].1
    }

    /// The live entry for `key`, expiring it first if its deadline has passed. Counts a keyspace
    /// hit or miss. When the lock was taken for a command that reads values, this is the
    /// touch-on-read: a key matching the sliding rules has its deadline slid.
    pub fn get(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let store = self.store;
        let hash = self.store.hash(key);
        let (db, now, slides) = (self.db, self.now, self.slides);
        let ShardSlot {
            shard,
            stats,
            slide,
        } = self.slot(hash);
        let rules = (slides && !slide.patterns.is_empty()).then_some(&**slide);
        let (found, expired, slid) = shard.dbs[db].get(hash, key, now, rules);
        if expired.is_some() {
            stats.expired_keys += 1;
            store.report_expired(db, key);
        }
        if slid {
            stats.slid_keys += 1;
        }
        if found.is_some() {
            stats.keyspace_hits += 1;
        } else {
            stats.keyspace_misses += 1;
        }
        found
    }

    /// Like [`Locked::get`] but without counting a hit or miss (for metadata and writes).
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let store = self.store;
        let hash = self.store.hash(key);
        let (db, now) = (self.db, self.now);
        let ShardSlot { shard, stats, .. } = self.slot(hash);
        let (found, expired, _) = shard.dbs[db].get(hash, key, now, None);
        if expired.is_some() {
            stats.expired_keys += 1;
            store.report_expired(db, key);
        }
        found
    }

    /// True if `key` exists (and is live).
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// Stores `value` under `key` with deadline `expires_at` (0 = none), replacing any old entry,
    /// which is returned. The key and a string value are copied into the entry's block.
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at: u64) -> Option<Entry> {
        self.insert_entry(Entry::new(key, value).with_deadline(expires_at))
    }

    /// Stores the string `value` under `key` with deadline `expires_at` (0 = none), as SET does:
    /// in one probe, and in the old entry's block when the size allows (see
    /// [`Db::set_string`]). An entry found past its deadline expires first, as a lookup would
    /// have expired it.
    pub fn set_string(&mut self, key: &[u8], value: &[u8], expires_at: u64) {
        let hash = self.store.hash(key);
        let store = self.store;
        let (db, now) = (self.db, self.now);
        let ShardSlot { shard, stats, .. } = self.slot(hash);
        let replaced =
            shard.dbs[db].set_string(hash, key, value, expires_at, now, |e| store.hash(e.key()));
        if replaced == Replaced::Expired {
            stats.expired_keys += 1;
            store.report_expired(db, key);
        }
        if replaced != Replaced::Live {
            store.report_created(db, key);
        }
    }

    /// Stores a whole entry (its key, value, deadline and flags), replacing any old one.
    /// Returns the old entry if it was live.
    pub fn insert_entry(&mut self, entry: Entry) -> Option<Entry> {
        let hash = self.store.hash(entry.key());
        let store = self.store;
        let (db, now) = (self.db, self.now);
        let slot = self.slot(hash);
        let (old, stored) = slot.shard.dbs[db].insert(hash, entry, now, |e| store.hash(e.key()));
        let old = old.filter(|o| !o.is_expired(now));
        if old.is_none() {
            store.report_created(db, stored.key());
        }
        old
    }

    /// Removes `key`; returns its entry if it was live.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let store = self.store;
        let hash = self.store.hash(key);
        let (db, now) = (self.db, self.now);
        let ShardSlot { shard, stats, .. } = self.slot(hash);
        let removed = shard.dbs[db].remove(hash, key)?;
        if removed.is_expired(now) {
            stats.expired_keys += 1;
            store.report_expired(db, key);
            return None;
        }
        Some(removed)
    }

    /// Sets the deadline of the existing live `key` (0 removes its TTL).
    pub fn set_expires_at(&mut self, key: &[u8], deadline: u64) {
        let hash = self.store.hash(key);
        let (db, now) = (self.db, self.now);
        self.slot(hash).shard.dbs[db].set_expires_at(hash, key, deadline, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(usize, Vec<u8>)>>);

    impl KeyspaceListener for Recorder {
        fn expired(&self, db: usize, key: &[u8]) {
            self.0.lock().push((db, key.to_vec()));
        }

        fn created(&self, _db: usize, _key: &[u8]) {}
    }

    fn store(shards: usize) -> Store {
        Store::new(shards, 16, Clock::manual(1_000_000))
    }

    fn s(v: &str) -> Value {
        Value::Str(Bytes::copy_from_slice(v.as_bytes()))
    }

    #[test]
    fn insert_get_remove() {
        let st = store(4);
        let mut l = st.lock(0, [b"a"]);
        assert!(l.get(b"a").is_none());
        assert!(l.insert(b"a", s("1"), 0).is_none());
        assert_eq!(l.get(b"a").unwrap().value().to_owned(), s("1"));
        assert!(l.insert(b"a", s("2"), 0).is_some());
        assert_eq!(l.remove(b"a").unwrap().value().to_owned(), s("2"));
        assert!(l.get(b"a").is_none());
    }

    #[test]
    fn lazy_expiry_and_sweep() {
        let st = store(2);
        {
            let mut l = st.lock(0, [b"a", b"b"]);
            l.insert(b"a", s("1"), st.now() + 10);
            l.insert(b"b", s("1"), st.now() + 20);
        }
        assert_eq!(st.dbsize(0), 2);
        st.clock().advance(10);
        assert!(st.lock(0, [b"a"]).get(b"a").is_none());
        assert_eq!(st.dbsize(0), 1);
        st.clock().advance(10);
        let listener = Arc::new(Recorder::default());
        st.set_expiry_listener(listener.clone());
        assert_eq!(st.sweep_all(), 1);
        assert_eq!(*listener.0.lock(), vec![(0, b"b".to_vec())]);
        assert_eq!(st.dbsize(0), 0);
        assert_eq!(st.stats().expired_keys, 2);
    }

    #[test]
    fn deadline_moved_later_is_followed_and_earlier_is_honoured() {
        let st = store(1);
        let t0 = st.now();
        {
            let mut l = st.lock(0, [b"a", b"b"]);
            l.insert(b"a", s("1"), t0 + 10);
            l.set_expires_at(b"a", t0 + 30);
            l.insert(b"b", s("1"), t0 + 50);
            l.set_expires_at(b"b", t0 + 5);
        }
        st.clock().set(t0 + 5);
        assert_eq!(st.sweep_all(), 1, "b moved earlier");
        st.clock().set(t0 + 10);
        assert_eq!(st.sweep_all(), 0, "a moved later");
        assert_eq!(st.dbsize(0), 1);
        st.clock().set(t0 + 30);
        assert_eq!(st.sweep_all(), 1);
        st.clock().set(t0 + 60);
        assert_eq!(st.sweep_all(), 0, "stale timers drop");
    }

    #[test]
    fn set_string_overwrites_in_one_probe_and_keeps_one_timer() {
        let st = store(1);
        let t0 = st.now();
        let listener = Arc::new(Recorder::default());
        st.set_expiry_listener(listener.clone());
        // A session rewritten with a sliding-like later deadline every ms: its first timer
        // stands for all the rewrites.
        for i in 0..1_000 {
            st.lock(0, [b"sess"])
                .set_string(b"sess", b"data", t0 + i + 100);
            st.clock().advance(1);
        }
        assert_eq!(st.shards[0].lock().shard.dbs[0].timers(), 1);
        // A rewrite to an earlier deadline is honoured, a plain SET removes the TTL.
        st.lock(0, [b"sess"])
            .set_string(b"sess", b"other", st.now() + 5);
        st.lock(0, [b"keep"])
            .set_string(b"keep", b"x", st.now() + 5);
        st.lock(0, [b"keep"]).set_string(b"keep", b"x", 0);
        st.clock().advance(5);
        assert_eq!(st.sweep_all(), 1);
        assert_eq!(*listener.0.lock(), vec![(0, b"sess".to_vec())]);
        assert_eq!(st.keyspace(0), (1, 0, 0));
        // Overwriting a key past its deadline expires it first (the event fires), and the new
        // key is created now.
        st.lock(0, [b"short"])
            .set_string(b"short", b"1", st.now() + 1);
        st.clock().advance(1);
        st.lock(0, [b"short"]).set_string(b"short", b"2", 0);
        assert_eq!(listener.0.lock().last(), Some(&(0, b"short".to_vec())));
        let now = st.now();
        let mut l = st.lock(0, [b"short"]);
        let e = l.peek(b"short").unwrap();
        assert_eq!(
            (e.str(), e.created_ms(), e.expires_at()),
            (Some(&b"2"[..]), now, 0)
        );
    }

    #[test]
    fn prefetch_is_only_a_hint() {
        let st = store(4);
        for i in 0..100 {
            let k = format!("k{i}");
            st.lock(0, [&k]).insert(k.as_bytes(), s("v"), 0);
        }
        let keys: Vec<String> = (0..50).map(|i| format!("k{}", i * 3)).collect();
        let mut refs: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        refs.push(b"missing");
        refs.push(b"");
        // A shard held elsewhere is skipped, not waited for.
        let held = st.lock(0, [b"k0"]);
        st.prefetch(0, &refs);
        drop(held);
        st.prefetch(0, &refs);
        st.prefetch(1, &refs);
        st.prefetch(0, &[]);
        assert_eq!(st.dbsize(0), 100);
        assert_eq!(st.stats().keyspace_hits + st.stats().keyspace_misses, 0);
        assert!(st.lock(0, [b"k3"]).get(b"k3").is_some());
    }

    #[test]
    fn scan_returns_every_key_while_the_table_grows() {
        for shards in [1, 8] {
            let st = store(shards);
            let names: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
            for n in &names {
                st.lock(0, [n]).insert(n.as_bytes(), s("v"), 0);
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            let mut added = 0;
            loop {
                let (next, keys) = st.scan(0, cursor, 10, |_| true);
                seen.extend(keys);
                // Grow the table between steps (more slowly than the scan advances, or it never
                // ends).
                for _ in 0..3 {
                    let k = format!("new{added}");
                    added += 1;
                    st.lock(0, [&k]).insert(k.as_bytes(), s("v"), 0);
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            for n in &names {
                assert!(
                    seen.contains(n.as_bytes()),
                    "{n} missed with {shards} shards"
                );
            }
        }
    }

    fn sliding_store() -> Store {
        let st = store(2);
        st.set_slide_rules(SlideRules {
            patterns: vec![Bytes::from_static(b"sess:*")],
            max_lifetime_ms: 0,
        });
        st
    }

    #[test]
    fn reads_slide_matching_keys_by_their_idle_period() {
        let st = sliding_store();
        let t0 = st.now();
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("v"), t0 + 100);
        st.lock(0, [b"other"]).insert(b"other", s("v"), t0 + 100);
        st.clock().set(t0 + 60);
        assert!(st.lock_with(0, [b"sess:a"], true).get(b"sess:a").is_some());
        assert!(st.lock_with(0, [b"other"], true).get(b"other").is_some());
        assert_eq!(
            st.lock(0, [b"sess:a"])
                .peek(b"sess:a")
                .unwrap()
                .expires_at(),
            t0 + 160
        );
        assert_eq!(
            st.lock(0, [b"other"]).peek(b"other").unwrap().expires_at(),
            t0 + 100,
            "no pattern match"
        );
        // The timer set for t0+100 fires, sees the later deadline and follows it.
        st.clock().set(t0 + 100);
        assert_eq!(
            st.sweep_all(),
            1,
            "only the non-sliding key dies at its TTL"
        );
        st.clock().set(t0 + 159);
        assert_eq!(st.sweep_all(), 0);
        st.clock().set(t0 + 160);
        assert_eq!(st.sweep_all(), 1);
        assert_eq!(st.stats().slid_keys, 1);
    }

    #[test]
    fn metadata_reads_and_keys_without_ttl_do_not_slide() {
        let st = sliding_store();
        let t0 = st.now();
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("v"), t0 + 100);
        st.lock(0, [b"sess:b"]).insert(b"sess:b", s("v"), 0);
        st.clock().set(t0 + 50);
        assert!(st.lock_with(0, [b"sess:a"], false).get(b"sess:a").is_some());
        assert!(st.lock(0, [b"sess:a"]).peek(b"sess:a").is_some());
        assert_eq!(
            st.lock(0, [b"sess:a"])
                .peek(b"sess:a")
                .unwrap()
                .expires_at(),
            t0 + 100
        );
        assert!(st.lock_with(0, [b"sess:b"], true).get(b"sess:b").is_some());
        assert_eq!(
            st.lock(0, [b"sess:b"])
                .peek(b"sess:b")
                .unwrap()
                .expires_at(),
            0
        );
    }

    #[test]
    fn a_new_ttl_sets_a_new_idle_period_and_persist_clears_it() {
        let st = sliding_store();
        let t0 = st.now();
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("v"), t0 + 100);
        st.clock().set(t0 + 10);
        st.lock(0, [b"sess:a"]).set_expires_at(b"sess:a", t0 + 1010);
        assert_eq!(
            st.lock(0, [b"sess:a"]).peek(b"sess:a").unwrap().idle_ms(),
            1000
        );
        st.clock().set(t0 + 20);
        st.lock_with(0, [b"sess:a"], true).get(b"sess:a");
        assert_eq!(
            st.lock(0, [b"sess:a"])
                .peek(b"sess:a")
                .unwrap()
                .expires_at(),
            t0 + 1020
        );
        st.lock(0, [b"sess:a"]).set_expires_at(b"sess:a", 0);
        st.lock_with(0, [b"sess:a"], true).get(b"sess:a");
        let e = st.lock(0, [b"sess:a"]).peek(b"sess:a").unwrap().clone();
        assert_eq!((e.expires_at(), e.idle_ms()), (0, 0));
    }

    #[test]
    fn the_lifetime_cap_ends_a_key_read_continuously() {
        let st = sliding_store();
        st.set_slide_rules(SlideRules {
            max_lifetime_ms: 250,
            ..(*st.slide_rules()).clone()
        });
        let t0 = st.now();
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("v"), t0 + 100);
        let mut t = t0;
        while st.lock_with(0, [b"sess:a"], true).get(b"sess:a").is_some() {
            t += 50;
            st.clock().set(t);
            st.sweep_all();
            assert!(t <= t0 + 250, "outlived its cap");
        }
        assert_eq!(t, t0 + 250);
    }

    #[test]
    fn an_overwrite_keeps_the_creation_time() {
        let st = sliding_store();
        let t0 = st.now();
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("v"), t0 + 100);
        st.clock().set(t0 + 50);
        st.lock(0, [b"sess:a"]).insert(b"sess:a", s("w"), t0 + 150);
        let e = st.lock(0, [b"sess:a"]).peek(b"sess:a").unwrap().clone();
        assert_eq!((e.created_ms(), e.idle_ms()), (t0, 100));
    }

    #[test]
    fn keyspace_reports_the_mean_remaining_ttl() {
        let st = store(4);
        let t0 = st.now();
        st.lock(0, [b"a"]).insert(b"a", s("v"), t0 + 1000);
        st.lock(0, [b"b"]).insert(b"b", s("v"), t0 + 3000);
        st.lock(0, [b"c"]).insert(b"c", s("v"), 0);
        assert_eq!(st.keyspace(0), (3, 2, 2000));
        st.lock(0, [b"b"]).set_expires_at(b"b", 0);
        assert_eq!(st.keyspace(0), (3, 1, 1000));
    }

    #[test]
    fn swap_and_flush() {
        let st = store(4);
        st.lock(0, [b"a"]).insert(b"a", s("1"), 0);
        st.swap_db(0, 1);
        assert!(st.lock(0, [b"a"]).get(b"a").is_none());
        assert!(st.lock(1, [b"a"]).get(b"a").is_some());
        assert_eq!(st.flush(Some(0)), 0);
        assert_eq!(st.flush(None), 1);
        assert_eq!(st.dbsize(1), 0);
    }
}
