//! One shard: the keys whose hash falls in it, for every database, with their timers.
//!
//! A shard is only ever used under its store's mutex. Each database in it is a [`Db`]: a
//! `hashbrown` table of [`Entry`]s (the key lives in the entry, hashed once by the store) and a
//! timer wheel created on the first TTL. Every change to a table goes through the methods here, so
//! the scan epoch and the wheel stay consistent with the table.
//!
//! Scan positions: `hashbrown` never moves an element except when it resizes or rehashes in
//! place, and both happen only inside an insertion that finds no growth room left. [`Db`] bumps
//! `epoch` before any such insertion; a SCAN cursor records the epoch it was issued under, and a
//! cursor from an older epoch restarts the shard from bucket 0, so a key present for the whole
//! scan is returned at least once (perhaps twice), also while the table grows.

use bytes::Bytes;
use hashbrown::{hash_table, HashTable};

use super::entry::Entry;
#[cfg(test)]
use super::value::Value;
use super::wheel::{Timer, TimerWheel, Token};

/// One database's part of a shard.
#[derive(Default)]
pub struct Db {
    table: HashTable<Entry>,
    wheel: Option<Box<TimerWheel>>,
    /// Number of entries with a TTL.
    expires: usize,
    /// Sum of the deadlines of the entries with a TTL (for INFO's `avg_ttl`).
    deadline_sum: u128,
    /// Bumped whenever the table may move its elements (see the module doc).
    epoch: u32,
}

/// A shard: one [`Db`] per database.
pub struct Shard {
    pub(crate) dbs: Vec<Db>,
}

impl Shard {
    /// An empty shard with `databases` databases.
    pub fn new(databases: usize) -> Shard {
        Shard {
            dbs: (0..databases).map(|_| Db::default()).collect(),
        }
    }

    /// The database `db` of this shard.
    pub fn db(&mut self, db: usize) -> &mut Db {
        &mut self.dbs[db]
    }
}

/// What happened to a key that was found expired on access, so the caller can count it.
pub type Expired = Option<Entry>;

/// What a write found at its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replaced {
    /// A live entry (overwritten).
    Live,
    /// An entry past its deadline, not yet removed (it expired, then the write created the key).
    Expired,
    /// Nothing: the write created the key.
    Nothing,
}

/// Which keys slide, and how far (a copy lives in every shard, so reads check it under the lock
/// they already hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlideRules {
    /// Glob patterns (KEYS syntax); a key that matches one slides.
    pub patterns: Vec<Bytes>,
    /// Absolute lifetime cap from the key's creation, in ms; 0 = none.
    pub max_lifetime_ms: u64,
}

impl SlideRules {
    /// True if reads of `key` slide its deadline.
    pub fn matches(&self, key: &[u8]) -> bool {
        self.patterns
            .iter()
            .any(|p| super::glob::glob_match(p, key, false))
    }
}

/// The odd multiplier that spreads a key's 32-bit hash over the 64 bits of the keyspace hash.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The inverse of `SPREAD`'s low 32 bits modulo 2^32 (Newton's iteration; each step doubles the
/// correct low bits, starting from 3 for an odd number).
const SPREAD_INVERSE: u32 = {
    let a = SPREAD as u32;
    let mut x = a;
    let mut i = 0;
    while i < 4 {
        x = x.wrapping_mul(2u32.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
};

/// The keyspace hash of a key from a 64-bit hash of its bytes: 32 bits of it, spread over 64 by
/// an odd multiplier. Wheel timers then carry 32 bits ([`token_of`]) instead of 64 and give the
/// hash back ([`hash_of_token`]), which halves their size; the table and the shard choice still
/// get well-mixed bits (hashbrown takes the low ones and the top seven, the store the middle).
pub fn keyspace_hash(full: u64) -> u64 {
    hash_of_token((full ^ (full >> 32)) as u32)
}

/// The 32 bits a wheel timer carries for a keyspace hash.
fn token_of(hash: u64) -> Token {
    (hash as u32).wrapping_mul(SPREAD_INVERSE)
}

/// The keyspace hash a wheel timer's token stands for.
fn hash_of_token(token: Token) -> u64 {
    u64::from(token).wrapping_mul(SPREAD)
}

/// The idle period a write that sets `deadline` (0 = none) at `now` gives a key: the TTL it set.
fn idle_for(deadline: u64, now: u64) -> u64 {
    if deadline == 0 {
        0
    } else {
        deadline.saturating_sub(now)
    }
}

impl Db {
    /// Number of keys, including ones past their deadline not yet removed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True if the database part holds no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn expires(&self) -> usize {
        self.expires
    }

    /// Sum of the deadlines of the keys with a TTL.
    pub fn deadline_sum(&self) -> u128 {
        self.deadline_sum
    }

    /// The live entry for `key`, removing it first if its deadline has passed (lazy expiry).
    /// With `slide`, a key that has an idle period and matches the rules gets its deadline moved
    /// to `min(now + idle, created + max lifetime)` (a touch-on-read). Returns the entry, the
    /// entry removed as expired if any, and whether the read slid the deadline.
    pub fn get(
        &mut self,
        hash: u64,
        key: &[u8],
        now: u64,
        slide: Option<&SlideRules>,
    ) -> (Option<&mut Entry>, Expired, bool) {
        let Some(index) = self.table.find_bucket_index(hash, |e| e.key() == key) else {
            return (None, None, false);
        };
        let entry = self.table.get_bucket(index).expect("bucket just found");
        if entry.is_expired(now) {
            return (None, self.remove(hash, key), false);
        }
        let mut slid = false;
        if let Some(rules) = slide {
            let idle = entry.idle_ms();
            if entry.expires_at() != 0 && idle != 0 && rules.matches(key) {
                let mut deadline = now.saturating_add(idle);
                if rules.max_lifetime_ms != 0 {
                    deadline =
                        deadline.min(entry.created_ms().saturating_add(rules.max_lifetime_ms));
                }
                if deadline != entry.expires_at() {
                    self.retime(index, hash, deadline, now);
                    slid = true;
                }
            }
        }
        (self.table.get_bucket_mut(index), None, slid)
    }

    /// The bucket where the probe for `hash` starts: hashbrown looks for a key first in the group
    /// of buckets at its hash's low bits, and usually finds it right there. (An implementation
    /// detail of hashbrown, relied on only by the prefetch hints below: if it changed, they would
    /// load the wrong lines, and nothing else would change.)
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.table.num_buckets().wrapping_sub(1)
    }

    /// Prefetch, first step: starts loading the table slot where `hash`'s entry probably is (the
    /// control byte it reads to get there is loaded too).
    pub fn prefetch_slot(&self, hash: u64) {
        if let Some(entry) = self.table.get_bucket(self.home(hash)) {
            super::entry::prefetch((entry as *const Entry).cast());
        }
    }

    /// Prefetch, second step: starts loading the block of the entry in that slot.
    pub fn prefetch_block(&self, hash: u64) {
        if let Some(entry) = self.table.get_bucket(self.home(hash)) {
            entry.prefetch();
        }
    }

    /// The entry for `key` whether or not it is past its deadline (for the sweeper).
    pub fn peek(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.find(hash, |e| e.key() == key)
    }

    /// Inserts `entry`, replacing any entry with the same key, and returns the old one. The new
    /// entry's TTL is `entry.expires_at()`; when its creation time is 0 it is the old live entry's
    /// (an overwrite is not a new key) or now, and when its idle period is 0 it is the TTL being
    /// set. The old entry's standing timer stands for the new one too when it can (a session
    /// rewritten with the same TTL adds no timer). Returns the old entry and the stored one.
    pub fn insert(
        &mut self,
        hash: u64,
        mut entry: Entry,
        now: u64,
        hasher: impl Fn(&Entry) -> u64,
    ) -> (Option<Entry>, &mut Entry) {
        let deadline = entry.expires_at();
        if entry.idle_ms() == 0 {
            entry.set_idle_ms(idle_for(deadline, now));
        }
        self.count_deadline(0, deadline);
        self.note_possible_resize();
        // One probe for both cases.
        let (old, stored, schedule) =
            match self.table.entry(hash, |e| e.key() == entry.key(), hasher) {
                hash_table::Entry::Occupied(mut found) => {
                    let slot = found.get_mut();
                    if entry.created_ms() == 0 {
                        entry.set_created_ms(if slot.is_expired(now) {
                            now
                        } else {
                            slot.created_ms()
                        });
                    }
                    let schedule = entry.adopt_timer(slot.timer_at());
                    let old = std::mem::replace(slot, entry);
                    (Some(old), found.into_mut(), schedule)
                }
                hash_table::Entry::Vacant(vacant) => {
                    if entry.created_ms() == 0 {
                        entry.set_created_ms(now);
                    }
                    let schedule = entry.adopt_timer(0);
                    (None, vacant.insert(entry).into_mut(), schedule)
                }
            };
        if let Some(old) = &old {
            let old_deadline = old.expires_at();
            Self::count_deadline_in(&mut self.expires, &mut self.deadline_sum, old_deadline, 0);
        }
        if schedule {
            Self::schedule_in(&mut self.wheel, hash, deadline, now);
        }
        (old, stored)
    }

    /// Stores the string `value` at `key` with `deadline` (0 = none) as SET does, in one probe:
    /// a live entry is overwritten in its own block when the size allows (no allocation), keeps
    /// its creation time and takes the TTL as its idle period; otherwise a new entry is
    /// inserted. Says what the key held before.
    pub fn set_string(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        deadline: u64,
        now: u64,
        hasher: impl Fn(&Entry) -> u64,
    ) -> Replaced {
        let found = self.table.find_bucket_index(hash, |e| e.key() == key);
        let expired =
            found.is_some_and(|i| self.table.get_bucket(i).is_some_and(|e| e.is_expired(now)));
        match found {
            Some(index) if !expired => {
                self.retime(index, hash, deadline, now);
                let entry = self.table.get_bucket_mut(index).expect("bucket just found");
                entry.set_string(value, false);
                entry.set_idle_ms(idle_for(deadline, now));
                Replaced::Live
            }
            _ => {
                let entry = Entry::string(key, value).with_deadline(deadline);
                self.insert(hash, entry, now, hasher);
                if expired {
                    Replaced::Expired
                } else {
                    Replaced::Nothing
                }
            }
        }
    }

    /// Bumps the scan epoch if the next insertion may resize or rehash the table.
    fn note_possible_resize(&mut self) {
        if self.table.len() == self.table.capacity() {
            self.epoch = self.epoch.wrapping_add(1);
        }
    }

    /// Updates the TTL count and deadline sum for a deadline going from `old` to `new` (0 = none).
    fn count_deadline(&mut self, old: u64, new: u64) {
        Self::count_deadline_in(&mut self.expires, &mut self.deadline_sum, old, new);
    }

    fn count_deadline_in(expires: &mut usize, sum: &mut u128, old: u64, new: u64) {
        if old != 0 {
            *expires -= 1;
            *sum -= u128::from(old);
        }
        if new != 0 {
            *expires += 1;
            *sum += u128::from(new);
        }
    }

    /// Removes `key` and returns its entry.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let found = self.table.find_entry(hash, |e| e.key() == key).ok()?;
        let (entry, _) = found.remove();
        self.count_deadline(entry.expires_at(), 0);
        Some(entry)
    }

    /// Sets the deadline of the entry for `key` by a write (0 removes the TTL): the idle period
    /// becomes the new TTL. The entry must exist.
    pub fn set_expires_at(&mut self, hash: u64, key: &[u8], deadline: u64, now: u64) {
        let Some(index) = self.table.find_bucket_index(hash, |e| e.key() == key) else {
            return;
        };
        self.retime(index, hash, deadline, now);
        let entry = self.table.get_bucket_mut(index).expect("bucket just found");
        entry.set_idle_ms(idle_for(deadline, now));
    }

    /// Moves the deadline of the entry in bucket `index`, keeping the counts and the wheel
    /// consistent. Moving it later costs nothing: the existing timer re-schedules itself when it
    /// fires; moving it earlier than its timer adds one (see [`Entry::move_deadline`]).
    fn retime(&mut self, index: usize, hash: u64, deadline: u64, now: u64) {
        let entry = self
            .table
            .get_bucket_mut(index)
            .expect("bucket of a live entry");
        let old = entry.expires_at();
        let schedule = entry.move_deadline(deadline);
        self.count_deadline(old, deadline);
        if schedule {
            Self::schedule_in(&mut self.wheel, hash, deadline, now);
        }
    }

    /// Schedules a timer (a function of the field, so it can run while the table is borrowed).
    fn schedule_in(wheel: &mut Option<Box<TimerWheel>>, hash: u64, deadline: u64, now: u64) {
        wheel
            .get_or_insert_with(|| Box::new(TimerWheel::new(now)))
            .schedule(deadline, token_of(hash));
    }

    /// Removes every key; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.table.len();
        *self = Db {
            epoch: self.epoch.wrapping_add(1),
            ..Db::default()
        };
        n
    }

    /// Advances this database's wheel to `now` and removes the keys that are really due, at most
    /// `limit` timers per call. Each removed entry is passed to `on_expired`. Timers whose entry
    /// moved its deadline later are re-scheduled at the real deadline; stale ones are dropped.
    /// Returns whether the limit was reached (more may be due) and the largest lag, in ms,
    /// between a removed key's deadline and its removal.
    pub fn expire_due(
        &mut self,
        now: u64,
        limit: usize,
        fired: &mut Vec<Timer>,
        mut on_expired: impl FnMut(Entry),
    ) -> (bool, u64) {
        let Some(wheel) = self.wheel.as_mut() else {
            return (false, 0);
        };
        fired.clear();
        let more = wheel.advance(now, limit, fired);
        let mut lag = 0;
        for timer in fired.iter() {
            let hash = hash_of_token(timer.token);
            // Several keys may share a hash; each entry owns at most one live timer, recognised by
            // `timer_at == deadline`.
            while let Some(index) = self
                .table
                .find_bucket_index(hash, |e| e.timer_at() == timer.deadline_ms)
            {
                let entry = self.table.get_bucket_mut(index).expect("bucket just found");
                if entry.is_expired(now) {
                    let Ok(found) = self.table.get_bucket_entry(index) else {
                        unreachable!("bucket just found")
                    };
                    let (removed, _) = found.remove();
                    self.count_deadline(removed.expires_at(), 0);
                    lag = lag.max(now - removed.expires_at());
                    on_expired(removed);
                } else {
                    // The deadline moved later since this timer was set: follow it. (An entry
                    // with a standing timer has a deadline.)
                    entry.timer_at_deadline();
                    let deadline = entry.expires_at();
                    let wheel = self.wheel.as_mut().expect("wheel");
                    wheel.schedule(deadline, timer.token);
                    break;
                }
            }
        }
        (more, lag)
    }

    /// The entry in bucket `index` of the table, if that bucket is full (for SCAN and RANDOMKEY).
    pub fn bucket(&self, index: usize) -> Option<&Entry> {
        self.table.get_bucket(index)
    }

    /// Number of buckets of the table.
    pub fn buckets(&self) -> usize {
        self.table.num_buckets()
    }

    /// The current scan epoch (see the module doc).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Every entry, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }

    /// Moves every entry of `self` out, leaving it empty (for SWAPDB).
    pub fn take(&mut self) -> Db {
        let epoch = self.epoch.wrapping_add(1);
        let mut taken = std::mem::take(self);
        self.epoch = epoch;
        taken.epoch = taken.epoch.wrapping_add(1);
        taken
    }

    /// Timers in the wheel, stale ones included.
    #[cfg(test)]
    pub fn timers(&self) -> usize {
        self.wheel.as_ref().map_or(0, |w| w.len())
    }

    /// Heap bytes held by the wheel, for INFO.
    pub fn wheel_bytes(&self) -> usize {
        self.wheel.as_ref().map_or(0, |w| w.heap_bytes())
    }

    /// The value for a key without expiry or deadline handling (tests).
    #[cfg(test)]
    pub fn value(&self, hash: u64, key: &[u8]) -> Option<Value> {
        self.peek(hash, key).map(|e| e.value().to_owned())
    }

    /// A key present in this database part (for RANDOMKEY): the first full bucket at or after
    /// `start`, wrapping around.
    pub fn key_near(&self, start: usize) -> Option<Bytes> {
        let n = self.table.num_buckets();
        if self.table.is_empty() || n == 0 {
            return None;
        }
        (0..n)
            .map(|i| (start + i) % n)
            .find_map(|i| self.table.get_bucket(i))
            .map(|e| Bytes::copy_from_slice(e.key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_token_gives_the_keyspace_hash_back() {
        assert_eq!((SPREAD as u32).wrapping_mul(SPREAD_INVERSE), 1);
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..10_000 {
            x = x.rotate_left(13).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5555;
            let hash = keyspace_hash(x);
            assert_eq!(hash_of_token(token_of(hash)), hash);
        }
    }
}
