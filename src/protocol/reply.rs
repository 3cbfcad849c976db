//! Replies and their encoding.
//!
//! A [`Reply`] is what a command answers, independent of the protocol version; [`Reply::encode`]
//! writes it for RESP2 or RESP3. The RESP3-only types degrade in RESP2 exactly as Redis degrades
//! them: maps and sets become flat arrays, nulls become `$-1` or `*-1`, doubles become bulk
//! strings, booleans become integers, verbatim strings become bulk strings, pushes become arrays.

use bytes::{BufMut, Bytes, BytesMut};

use super::Protocol;

/// One reply to a command.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+text` — a simple string (never contains CR or LF).
    Simple(Bytes),
    /// `-text` — an error; the text starts with its code (`ERR`, `WRONGTYPE`, …).
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len` — a binary-safe bulk string.
    Bulk(Bytes),
    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*n` — an array.
    Array(Vec<Reply>),
    /// `%n` in RESP3; a flat array of 2n elements in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `~n` in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// `,x` in RESP3; a bulk string in RESP2 (both formatted like C's `%.17g`).
    Double(f64),
    /// `#t`/`#f` in RESP3; `:1`/`:0` in RESP2.
    Boolean(bool),
    /// `=len` with a three-letter format (`txt`) in RESP3; a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// `>n` in RESP3 (out-of-band data such as pub/sub messages); an array in RESP2.
    Push(Vec<Reply>),
    /// Several replies in a row, for the commands that answer more than once (SUBSCRIBE answers
    /// once per channel).
    Multiple(Vec<Reply>),
}

impl Reply {
    /// `+OK`
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    /// A simple string from a static text.
    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// A bulk string copied from `data`.
    pub fn bulk_from(data: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A bulk string from a static text.
    pub fn bulk_static(text: &'static str) -> Reply {
        Reply::Bulk(Bytes::from_static(text.as_bytes()))
    }

    /// An array of bulk strings.
    pub fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// `Bulk` for `Some`, `Null` for `None`.
    pub fn bulk_or_null(value: Option<Bytes>) -> Reply {
        value.map_or(Reply::Null, Reply::Bulk)
    }

    /// True for an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends this reply, encoded for `proto`, to `out`.
    pub fn encode(&self, out: &mut BytesMut, proto: Protocol) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Reply::Simple(s) => line(out, b'+', s),
            Reply::Error(e) => line(out, b'-', e),
            Reply::Integer(n) => header(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b'$', b),
            Reply::Null if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NullArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => aggregate(out, b'*', items, proto),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
            Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto),
            Reply::Multiple(replies) => {
                for reply in replies {
                    reply.encode(out, proto);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len() as i64);
                } else {
                    header(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(out, proto);
                    v.encode(out, proto);
                }
            }
            Reply::Double(x) => {
                let text = format_double(*x);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, b'$', text.as_bytes());
                }
            }
            Reply::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Boolean(b) => header(out, b':', *b as i64),
            Reply::Verbatim(format, text) => {
                if resp3 {
                    header(out, b'=', (text.len() + 4) as i64);
                    out.put_slice(format.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, b'$', text);
                }
            }
        }
    }
}

fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, kind: u8, data: &[u8]) {
    header(out, kind, data.len() as i64);
    out.reserve(data.len() + 2);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, kind: u8, items: &[Reply], proto: Protocol) {
    header(out, kind, items.len() as i64);
    for item in items {
        item.encode(out, proto);
    }
}

/// Writes `<kind><n>\r\n` without going through `fmt`, which is slow on the hot path.
fn header(out: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = [0u8; 24];
    let text = format_i64(n, &mut digits);
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// Formats `n` in decimal into the end of `buf` and returns the digits.
pub fn format_i64(n: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut pos = buf.len();
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Formats a double as C's `printf("%.17g")` does, which is what Redis uses for double replies;
/// infinities are `inf`/`-inf` and NaN is `nan`.
pub fn format_double(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const PRECISION: i32 = 17;
    // `{:e}` with 16 fractional digits gives the 17 significant digits %g rounds to.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exponent) = sci.split_once('e').expect("exponent");
    let exponent: i32 = exponent.parse().expect("exponent digits");
    if !(-4..PRECISION).contains(&exponent) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (PRECISION - 1 - exponent).max(0) as usize;
        trim_fraction(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, p: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        r.encode(&mut out, p);
        out.to_vec()
    }

    #[test]
    fn resp2_degrades_resp3_types() {
        let map = Reply::Map(vec![(Reply::bulk_static("a"), Reply::Integer(1))]);
        assert_eq!(enc(&map, Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Null, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(enc(&Reply::NullArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(enc(&Reply::Null, Protocol::Resp3), b"_\r\n");
        assert_eq!(enc(&Reply::Boolean(true), Protocol::Resp2), b":1\r\n");
        assert_eq!(enc(&Reply::Boolean(false), Protocol::Resp3), b"#f\r\n");
        let verb = Reply::Verbatim("txt", Bytes::from_static(b"hi"));
        assert_eq!(enc(&verb, Protocol::Resp3), b"=6\r\ntxt:hi\r\n");
        assert_eq!(enc(&verb, Protocol::Resp2), b"$2\r\nhi\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp3), b",1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Protocol::Resp2), b"$3\r\n1.5\r\n");
    }

    #[test]
    fn integers() {
        for n in [0, 1, -1, 10, i64::MAX, i64::MIN] {
            assert_eq!(
                enc(&Reply::Integer(n), Protocol::Resp2),
                format!(":{n}\r\n").as_bytes()
            );
        }
    }

    #[test]
    fn doubles_like_printf_17g() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-5), "1.5e-05");
        assert_eq!(format_double(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(123456789.0), "123456789");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(-2.5), "-2.5");
    }
}
