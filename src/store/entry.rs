//! One key's record: its value, its deadline and the bookkeeping expiry needs.
//!
//! Invariants:
//! - `expires_at == 0` means the key has no TTL; otherwise it is the absolute deadline in Unix ms,
//!   and it is the truth: a lookup at or after it treats the key as absent.
//! - `timer_at` is the deadline of the one wheel timer that currently stands for this entry
//!   (0 = none). A deadline that moves later leaves the timer alone (it re-schedules itself when it
//!   fires); one that moves earlier than `timer_at` gets a new timer, and the old one is recognised
//!   as stale when it fires because its deadline no longer equals `timer_at`.
//! - `idle_ms` is the TTL most recently set by a write (deadline minus now at that moment; 0 when
//!   the key has no TTL): the period a sliding read extends the key by. `created_ms` is when the
//!   key came into existence (an overwrite keeps it), the origin of the sliding lifetime cap.

use bytes::Bytes;

use super::value::Value;

/// A key and its value, as stored in a shard's table.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Bytes,
    pub value: Value,
    /// Absolute deadline in Unix ms; 0 = no TTL.
    pub expires_at: u64,
    /// Deadline of the wheel timer standing for this entry; 0 = none.
    pub(crate) timer_at: u64,
    /// The TTL last set by a write, in ms (0 = none): what a sliding read extends the key by.
    pub idle_ms: u64,
    /// When the key was created, in Unix ms (0 until stored).
    pub created_ms: u64,
    /// The string was modified in place (APPEND, SETRANGE): OBJECT ENCODING says `raw` from then on,
    /// as Redis's does.
    pub raw: bool,
}

impl Entry {
    /// A new entry without TTL.
    pub fn new(key: Bytes, value: Value) -> Entry {
        Entry {
            key,
            value,
            expires_at: 0,
            timer_at: 0,
            idle_ms: 0,
            created_ms: 0,
            raw: false,
        }
    }

    /// True if the entry's deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now
    }

    /// OBJECT ENCODING of the value, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        self.value.encoding(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        fn e(s: &str) -> Entry {
            Entry::new(
                Bytes::new(),
                Value::Str(Bytes::copy_from_slice(s.as_bytes())),
            )
        }
        assert_eq!(e("12").encoding(), "int");
        assert_eq!(e("hello").encoding(), "embstr");
        assert_eq!(e(&"x".repeat(44)).encoding(), "embstr");
        assert_eq!(e(&"x".repeat(45)).encoding(), "raw");
        let mut raw = e("12");
        raw.raw = true;
        assert_eq!(raw.encoding(), "raw");
    }
}
