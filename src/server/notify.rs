//! Keyspace notifications: the `notify-keyspace-events` classes and the events commands emit.
//!
//! A command that modifies a key calls [`crate::commands::Ctx::modified`] with the event's class
//! and name (Redis's names: `set`, `del`, `expire`, `hset`, …); expiry reports `expired` itself.
//! When the class is enabled, the event is published on `__keyspace@<db>__:<key>` (message: the
//! event name) and/or `__keyevent@<db>__:<event>` (message: the key), as Redis does.
//!
//! [`Events`] is also where WATCH lives: a modification of a watched key marks the watching
//! connections dirty, so their EXEC fails.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::clients::ClientHandle;
use super::pubsub::PubSub;
use crate::store::KeyspaceListener;

/// `g`: generic commands (DEL, EXPIRE, RENAME, …).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: keys removed because they expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: keys evicted (sesame never evicts).
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: key misses.
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events.
pub const MODULE: u32 = 1 << 12;
/// `n`: new keys.
pub const NEW: u32 = 1 << 13;
/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `A`: every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a `notify-keyspace-events` value; None for a character Redis does not know.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Renders flags as CONFIG GET shows them: `A` for all classes, else the class letters in
/// Redis's order, then `K`, `E` and `m` (Redis drops `n` when `A` is shown, and so does this).
pub fn flags_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// A (database, key) pair.
type WatchedKey = (usize, Bytes);

/// Where key modifications go: WATCH invalidation and keyspace notifications.
#[derive(Default)]
pub struct Events {
    /// Every pub/sub subscription (keyspace events are published through it).
    pub pubsub: PubSub,
    /// The enabled `notify-keyspace-events` classes.
    flags: AtomicU32,
    /// Watchers of each (database, key).
    watches: Mutex<HashMap<WatchedKey, Vec<Arc<ClientHandle>>>>,
    /// Number of (database, key) entries in `watches`, so modifications skip the map when
    /// nobody watches anything.
    watched_keys: AtomicUsize,
}

impl Events {
    /// The enabled classes.
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Sets the enabled classes (CONFIG SET notify-keyspace-events).
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// `key` in `db` was modified: mark its watchers dirty and publish the event if its class is
    /// enabled.
    pub fn modified(&self, db: usize, class: u32, event: &str, key: &[u8]) {
        self.touch_watched(db, key);
        self.notify(db, class, event, key);
    }

    /// Publishes a keyspace event without touching WATCHes (for events that do not modify the
    /// key, such as key misses).
    pub fn notify(&self, db: usize, class: u32, event: &str, key: &[u8]) {
        let flags = self.flags();
        if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
            return;
        }
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.pubsub.publish(
                &Bytes::from(channel),
                &Bytes::copy_from_slice(event.as_bytes()),
            );
        }
        if flags & KEYEVENT != 0 {
            let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
            self.pubsub.publish(&channel, &Bytes::copy_from_slice(key));
        }
    }

    /// Marks the watchers of `key` in `db` dirty.
    pub fn touch_watched(&self, db: usize, key: &[u8]) {
        if self.watched_keys.load(Ordering::Relaxed) == 0 {
            return;
        }
        let watches = self.watches.lock();
        if let Some(watchers) = watches.get(&(db, Bytes::copy_from_slice(key))) {
            for w in watchers {
                w.set_dirty();
            }
        }
    }

    /// Marks dirty every watcher of a key of `db` that `exists` says is there (FLUSHDB,
    /// FLUSHALL and SWAPDB change every key of a database at once). `db` None: every database.
    /// `exists` may lock shards: it is called without the watch map locked (a writer holding a
    /// shard lock may be waiting for the map).
    pub fn touch_all_watched(&self, db: Option<usize>, exists: impl Fn(usize, &[u8]) -> bool) {
        if self.watched_keys.load(Ordering::Relaxed) == 0 {
            return;
        }
        let watched: Vec<_> = self
            .watches
            .lock()
            .iter()
            .filter(|((d, _), _)| db.is_none_or(|db| db == *d))
            .map(|(key, watchers)| (key.clone(), watchers.clone()))
            .collect();
        for ((d, key), watchers) in watched {
            if exists(d, &key) {
                for w in watchers {
                    w.set_dirty();
                }
            }
        }
    }

    /// `client` watches `key` in `db`.
    pub fn watch(&self, db: usize, key: &Bytes, client: &Arc<ClientHandle>) {
        let mut watches = self.watches.lock();
        let watchers = watches.entry((db, key.clone())).or_default();
        if watchers.is_empty() {
            self.watched_keys.fetch_add(1, Ordering::Relaxed);
        }
        if !watchers.iter().any(|w| w.id == client.id) {
            watchers.push(client.clone());
        }
    }

    /// `client` stops watching the keys it listed.
    pub fn unwatch(&self, keys: &[(usize, Bytes)], client: u64) {
        let mut watches = self.watches.lock();
        for key in keys {
            if let Some(watchers) = watches.get_mut(key) {
                watchers.retain(|w| w.id != client);
                if watchers.is_empty() {
                    watches.remove(key);
                    self.watched_keys.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl KeyspaceListener for Events {
    fn expired(&self, db: usize, key: &[u8]) {
        self.modified(db, EXPIRED, "expired", key);
    }

    fn created(&self, db: usize, key: &[u8]) {
        self.notify(db, NEW, "new", key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(flags_to_string(parse_flags("KEA").unwrap()), "AKE");
        assert_eq!(flags_to_string(parse_flags("Ex").unwrap()), "xE");
        assert_eq!(flags_to_string(parse_flags("").unwrap()), "");
        assert_eq!(flags_to_string(parse_flags("g$K").unwrap()), "g$K");
        assert!(parse_flags("Q").is_none());
    }
}
