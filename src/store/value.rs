//! Values: what a key holds, and Redis's view of its type and encoding.

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

impl Value {
    /// OBJECT ENCODING, as Redis 7.0 reports it. `raw`: the string was modified in place
    /// (APPEND, SETRANGE), which Redis's strings remember.
    pub fn encoding(&self, raw: bool) -> &'static str {
        match self {
            Value::Str(s) => {
                if raw {
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
}
