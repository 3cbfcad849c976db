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
use hashbrown::HashTable;

use super::entry::Entry;
#[cfg(test)]
use super::entry::Value;
use super::wheel::{Timer, TimerWheel};

/// One database's part of a shard.
#[derive(Default)]
pub struct Db {
    table: HashTable<Entry>,
    wheel: Option<Box<TimerWheel>>,
    /// Number of entries with a TTL.
    expires: usize,
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

    /// The live entry for `key`, removing it first if its deadline has passed (lazy expiry).
    /// Returns the entry and, if one was removed as expired, that entry.
    pub fn get(&mut self, hash: u64, key: &[u8], now: u64) -> (Option<&mut Entry>, Expired) {
        let expired = match self.table.find(hash, |e| e.key == key) {
            Some(e) if e.is_expired(now) => self.remove(hash, key),
            _ => None,
        };
        (self.table.find_mut(hash, |e| e.key == key), expired)
    }

    /// The entry for `key` whether or not it is past its deadline (for the sweeper).
    pub fn peek(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.find(hash, |e| e.key == key)
    }

    /// Inserts `entry`, replacing any entry with the same key, and returns the old one.
    /// The new entry's TTL is taken from `entry.expires_at`.
    pub fn insert(
        &mut self,
        hash: u64,
        mut entry: Entry,
        now: u64,
        hasher: impl Fn(&Entry) -> u64,
    ) -> Option<Entry> {
        let old = self.remove(hash, &entry.key);
        let deadline = entry.expires_at;
        entry.timer_at = deadline;
        if self.table.len() == self.table.capacity() {
            // This insertion resizes or rehashes the table: scan positions move.
            self.epoch = self.epoch.wrapping_add(1);
        }
        self.table.insert_unique(hash, entry, hasher);
        if deadline != 0 {
            self.expires += 1;
            self.schedule(hash, deadline, now);
        }
        old
    }

    /// Removes `key` and returns its entry.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let found = self.table.find_entry(hash, |e| e.key == key).ok()?;
        let (entry, _) = found.remove();
        if entry.expires_at != 0 {
            self.expires -= 1;
        }
        Some(entry)
    }

    /// Sets the deadline of the entry for `key` (0 removes the TTL). The entry must exist.
    /// Scheduling costs nothing when the deadline moves later: the existing timer re-schedules
    /// itself when it fires.
    pub fn set_expires_at(&mut self, hash: u64, key: &[u8], deadline: u64, now: u64) {
        let Some(entry) = self.table.find_mut(hash, |e| e.key == key) else {
            return;
        };
        match (entry.expires_at != 0, deadline != 0) {
            (false, true) => self.expires += 1,
            (true, false) => self.expires -= 1,
            _ => {}
        }
        entry.expires_at = deadline;
        if deadline != 0 && (entry.timer_at == 0 || deadline < entry.timer_at) {
            entry.timer_at = deadline;
            self.schedule(hash, deadline, now);
        }
    }

    fn schedule(&mut self, hash: u64, deadline: u64, now: u64) {
        self.wheel
            .get_or_insert_with(|| Box::new(TimerWheel::new(now)))
            .schedule(deadline, hash);
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
    /// Returns true if the limit was reached (more may be due).
    pub fn expire_due(
        &mut self,
        now: u64,
        limit: usize,
        fired: &mut Vec<Timer>,
        mut on_expired: impl FnMut(Entry),
    ) -> bool {
        let Some(wheel) = self.wheel.as_mut() else {
            return false;
        };
        fired.clear();
        let more = wheel.advance(now, limit, fired);
        for timer in fired.iter() {
            let hash = timer.token;
            // Several keys may share a hash; each entry owns at most one live timer, recognised by
            // `timer_at == deadline`.
            while let Some(entry) = self
                .table
                .find_mut(hash, |e| e.timer_at == timer.deadline_ms)
            {
                if entry.is_expired(now) {
                    let key = entry.key.clone();
                    if let Some(removed) = self.remove(hash, &key) {
                        on_expired(removed);
                    }
                } else if entry.expires_at != 0 {
                    // The deadline moved later since this timer was set: follow it.
                    entry.timer_at = entry.expires_at;
                    let deadline = entry.expires_at;
                    self.wheel.as_mut().expect("wheel").schedule(deadline, hash);
                    break;
                } else {
                    entry.timer_at = 0;
                    break;
                }
            }
        }
        more
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

    /// Heap bytes held by the wheel, for INFO.
    pub fn wheel_bytes(&self) -> usize {
        self.wheel.as_ref().map_or(0, |w| w.heap_bytes())
    }

    /// The value for a key without expiry or deadline handling (tests).
    #[cfg(test)]
    pub fn value(&self, hash: u64, key: &[u8]) -> Option<&Value> {
        self.peek(hash, key).map(|e| &e.value)
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
            .map(|e| e.key.clone())
    }
}
