//! One key's record: its value, its deadline and the bookkeeping expiry needs.
//!
//! Invariants:
//! - `expires_at == 0` means the key has no TTL; otherwise it is the absolute deadline in Unix ms,
//!   and it is the truth: a lookup at or after it treats the key as absent.
//! - `timer_at` is the deadline of the one wheel timer that currently stands for this entry
//!   (0 = none). A deadline that moves later leaves the timer alone (it re-schedules itself when it
//!   fires); one that moves earlier than `timer_at` gets a new timer, and the old one is recognised
//!   as stale when it fires because its deadline no longer equals `timer_at`.

use bytes::Bytes;

/// The value a key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    Str(Bytes),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }
}

/// A key and its value, as stored in a shard's table.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Bytes,
    pub value: Value,
    /// Absolute deadline in Unix ms; 0 = no TTL.
    pub expires_at: u64,
    /// Deadline of the wheel timer standing for this entry; 0 = none.
    pub(crate) timer_at: u64,
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
            raw: false,
        }
    }

    /// True if the entry's deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now
    }

    /// OBJECT ENCODING of the value, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        match &self.value {
            Value::Str(s) => {
                if self.raw {
                    "raw"
                } else if s.len() <= 20 && parse_canonical_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }
}

/// Parses `s` as Redis's `string2ll` does: optional `-`, decimal digits, no leading zeros (except
/// "0" itself), no `+`, no spaces, within i64.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, s),
        None => return None,
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        for (s, v) in [("0", Some(0)), ("-1", Some(-1)), ("123", Some(123))] {
            assert_eq!(parse_canonical_i64(s.as_bytes()), v);
        }
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1a",
            "-01",
        ] {
            assert_eq!(parse_canonical_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

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
