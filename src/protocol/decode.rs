//! Request decoding: turns the bytes a client sends into argument vectors.
//!
//! Two request shapes exist, chosen by the first byte of each request, as in Redis 7.0:
//!
//! * **multibulk** (`*`): `*<count>\r\n` followed by `count` arguments `$<len>\r\n<len bytes>\r\n`;
//! * **inline** (anything else): one line up to `\n`, split into words with Redis's quoting rules
//!   (what people type into `telnet` or `nc`).
//!
//! Invariants the rest of the server relies on:
//!
//! * The decoder only ever consumes bytes from the front of the buffer, and only bytes it has fully
//!   understood; between calls the caller only appends. A request that arrives in many reads is
//!   therefore never re-parsed from the start: the [`Decoder`] remembers the arguments already
//!   split off, the bulk length it is waiting for, and how far it has already scanned for a line
//!   end.
//! * Every multibulk argument is a [`Bytes`] that shares the read buffer (`split_to().freeze()`),
//!   so argument bytes are never copied. Inline arguments share the buffer too unless quoting or
//!   escapes changed their bytes.
//! * No allocation is sized by a number the client sent without first checking it against the
//!   limits below, and even then a large declared bulk only reserves buffer space a capped step at
//!   a time, so a client cannot make the server allocate memory it has not actually sent.
//! * No input panics; malformed input yields a [`ProtocolError`] whose text is Redis's, so clients
//!   and test suites see the same `-ERR Protocol error: …` reply before the connection closes.
//!
//! Quirks kept on purpose because Redis has them: line ends are found by looking for `\r` only (the
//! byte after it is skipped, not checked), the two bytes after a bulk payload are skipped
//! unchecked, and a NUL byte hides any line end after it (Redis searches with `strchr`), so such a
//! request waits until the too-big limit trips.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// Largest bulk argument accepted (Redis's default `proto-max-bulk-len`, 512 MiB).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Largest argument count accepted in one multibulk request: `i32::MAX`, as Redis 7.0.15 accepts
/// (checked against the real server; older Redis capped it at 1 Mi). It is safe because argv
/// space is never reserved from the declared count beyond a small fixed amount: memory grows only
/// with the arguments that actually arrive.
pub const MAX_MULTIBULK_LEN: usize = i32::MAX as usize;
/// Most bytes buffered while still looking for the end of an inline request or of a `*`/`$`
/// header line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE_LEN: usize = 64 * 1024;
/// Largest argument count accepted from a client that has not authenticated yet.
pub const MAX_UNAUTH_MULTIBULK_LEN: usize = 10;
/// Largest bulk argument accepted from a client that has not authenticated yet.
pub const MAX_UNAUTH_BULK_LEN: usize = 16384;

/// Most argv slots allocated up front for a multibulk request: the declared count is only a
/// promise, so beyond this the vector grows as arguments actually arrive.
const ARGV_PREALLOC: usize = 64;

/// Most buffer space reserved in one step while waiting for a large bulk payload. Reserving ahead
/// lets the next read land in one go instead of in small slices, while the cap keeps a declared
/// but unsent 512 MiB bulk from costing more than this.
const BULK_RESERVE_STEP: usize = 256 * 1024;

/// A protocol error: the connection answers `-ERR <Display text>\r\n` and closes.
///
/// [`ProtocolError::error_line`] gives the same text as bytes, byte-exact with Redis even when the
/// offending byte is not ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// No `\r` after the `*` within [`MAX_INLINE_LEN`] buffered bytes.
    TooBigMultibulkCount,
    /// The `*` count is not an integer or exceeds [`MAX_MULTIBULK_LEN`].
    InvalidMultibulkLength,
    /// An unauthenticated client declared more than [`MAX_UNAUTH_MULTIBULK_LEN`] arguments.
    UnauthenticatedMultibulkLength,
    /// An argument header did not start with `$`; holds the byte found instead.
    ExpectedDollar(u8),
    /// No `\r` after the `$` within [`MAX_INLINE_LEN`] buffered bytes.
    TooBigBulkCount,
    /// The `$` length is not an integer, is negative, or exceeds [`MAX_BULK_LEN`].
    InvalidBulkLength,
    /// An unauthenticated client declared a bulk longer than [`MAX_UNAUTH_BULK_LEN`].
    UnauthenticatedBulkLength,
    /// No `\n` within [`MAX_INLINE_LEN`] buffered bytes of an inline request.
    TooBigInlineRequest,
    /// An inline request has an unterminated quote, or a closing quote not followed by a space.
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply's text without the leading `-` and trailing `\r\n`, e.g.
    /// `ERR Protocol error: invalid bulk length`, byte for byte what Redis sends. It differs from
    /// `format!("ERR {self}")` only for [`ProtocolError::ExpectedDollar`] with a non-ASCII byte,
    /// which Redis echoes raw and `Display` (being UTF-8 text) cannot.
    pub fn error_line(&self) -> Bytes {
        let mut line = Vec::with_capacity(64);
        line.extend_from_slice(b"ERR ");
        match self {
            ProtocolError::ExpectedDollar(got) => {
                line.extend_from_slice(b"Protocol error: expected '$', got '");
                line.push(sanitize(*got));
                line.push(b'\'');
            }
            other => line.extend_from_slice(other.to_string().as_bytes()),
        }
        Bytes::from(line)
    }
}

/// Redis turns `\r` and `\n` inside an error message into spaces so the reply stays one line.
fn sanitize(byte: u8) -> u8 {
    match byte {
        b'\r' | b'\n' => b' ',
        other => other,
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::UnauthenticatedMultibulkLength => "unauthenticated multibulk length",
            ProtocolError::ExpectedDollar(got) => {
                // Latin-1 reading for non-ASCII bytes: the closest a `str` can get to the raw byte.
                return write!(
                    f,
                    "Protocol error: expected '$', got '{}'",
                    char::from(sanitize(*got))
                );
            }
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length",
            ProtocolError::TooBigInlineRequest => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
        };
        write!(f, "Protocol error: {text}")
    }
}

impl std::error::Error for ProtocolError {}

/// Incremental decoder; one per connection. Keeps its progress through a partially received
/// multibulk request so a request arriving in many reads is not re-parsed from the start.
#[derive(Default)]
pub struct Decoder {
    /// Arguments the multibulk request in progress still expects; 0 between requests.
    remaining: usize,
    /// Length of the bulk whose `$` header is already consumed but whose payload is incomplete.
    bulk_len: Option<usize>,
    /// Arguments of the multibulk request in progress, already split off the buffer.
    argv: Vec<Bytes>,
    /// How many of `argv` were copied out of the buffer by [`Decoder::release_buffer`].
    released: usize,
    /// Leading bytes of the buffer known to hold no line end, so a header or inline line arriving
    /// a few bytes at a time is scanned once, not once per read. Reset whenever bytes are consumed.
    scanned: usize,
}

impl Decoder {
    /// Creates a decoder positioned at the start of a request.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes one complete request from the front of `buf`, consuming its bytes.
    ///
    /// * `Ok(Some(argv))` — a request. `argv` may be empty: `*0\r\n`, `*-1\r\n` and blank inline
    ///   lines are consumed and yield an empty argv, which the caller skips, as Redis does.
    /// * `Ok(None)` — more bytes are needed. Nothing is lost: append them to `buf` and call again.
    /// * `Err(e)` — a protocol error; the caller replies with it and closes the connection.
    ///
    /// `authenticated == false` applies Redis's stricter limits for clients that still owe an
    /// `AUTH` ([`MAX_UNAUTH_MULTIBULK_LEN`], [`MAX_UNAUTH_BULK_LEN`]).
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.decode_inner(buf, authenticated);
        if result.is_err() {
            // The connection is about to close; leave the decoder clean rather than half-way.
            *self = Decoder::default();
        }
        result
    }

    fn decode_inner(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        // Bytes at the front of `buf` already understood but not yet consumed: consuming is
        // deferred so that a header and the CRLF before it go in one `advance`.
        let mut pos = 0;
        if self.remaining == 0 {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {
                    let Some((count, header)) = self.read_count(buf, authenticated)? else {
                        return Ok(None);
                    };
                    if count == 0 {
                        self.consume(buf, header);
                        return Ok(Some(Vec::new()));
                    }
                    self.remaining = count;
                    self.bulk_len = None;
                    self.argv = Vec::with_capacity(count.min(ARGV_PREALLOC));
                    self.released = 0;
                    self.scanned = 0;
                    pos = header;
                }
                Some(_) => return self.read_inline(buf),
            }
        }
        self.read_bulks(buf, pos, authenticated)
    }

    /// Reads the `*<count>\r\n` line at the front of `buf`, returning the count and the line's
    /// length. A count of 0 stands for every count <= 0, which Redis treats as an empty request.
    fn read_count(
        &mut self,
        buf: &[u8],
        authenticated: bool,
    ) -> Result<Option<(usize, usize)>, ProtocolError> {
        let Some(cr) = self.header_end(buf) else {
            if buf.len() > MAX_INLINE_LEN {
                return Err(ProtocolError::TooBigMultibulkCount);
            }
            return Ok(None);
        };
        // buf[0] is the `*`; the count runs up to the `\r`.
        let count = parse_i64(&buf[1..cr])
            .filter(|&n| n <= MAX_MULTIBULK_LEN as i64)
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        if !authenticated && count > MAX_UNAUTH_MULTIBULK_LEN as i64 {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        // Non-positive counts (`*0`, `*-1`, …) are a valid, empty request.
        Ok(Some((usize::try_from(count).unwrap_or(0), cr + 2)))
    }

    /// Reads `$<len>\r\n<payload>\r\n` arguments, starting `pos` bytes into `buf`, until the
    /// request is complete or the buffer runs dry.
    fn read_bulks(
        &mut self,
        buf: &mut BytesMut,
        mut pos: usize,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => match self.read_bulk_len(&buf[pos..], authenticated)? {
                    Some((len, header)) => {
                        pos += header;
                        self.scanned = 0;
                        self.bulk_len = Some(len);
                        len
                    }
                    None => {
                        // `scanned` is relative to `pos`, which is about to become the front.
                        if pos > 0 {
                            buf.advance(pos);
                        }
                        return Ok(None);
                    }
                },
            };
            // `len` is at most MAX_BULK_LEN, so this cannot overflow.
            let needed = pos + len + 2;
            if buf.len() < needed {
                let missing = needed - buf.len();
                self.consume(buf, pos);
                if buf.capacity() - buf.len() < missing {
                    self.release_buffer();
                    buf.reserve(missing.min(BULK_RESERVE_STEP));
                }
                return Ok(None);
            }
            if pos > 0 {
                buf.advance(pos);
            }
            self.argv.push(buf.split_to(len).freeze());
            // Redis skips the two bytes after the payload without checking they are `\r\n`.
            pos = 2;
            self.scanned = 0;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        self.consume(buf, pos);
        self.released = 0;
        Ok(Some(std::mem::take(&mut self.argv)))
    }

    /// Copies the arguments of the request in progress out of the read buffer (each at most
    /// once), so that nothing the decoder holds shares the buffer any more. Call it before making
    /// room in the buffer: a buffer that nothing else shares is reused in place by
    /// `BytesMut::reserve`, while a shared one is reallocated (and copied) on every read that
    /// ends inside a request, as most reads of a pipelined load do.
    pub fn release_buffer(&mut self) {
        for arg in &mut self.argv[self.released..] {
            *arg = Bytes::copy_from_slice(arg);
        }
        self.released = self.argv.len();
    }

    /// Reads the `$<len>\r\n` header at the front of `line`, returning the length and the
    /// header's own length; `None` if it is not complete yet.
    fn read_bulk_len(
        &mut self,
        line: &[u8],
        authenticated: bool,
    ) -> Result<Option<(usize, usize)>, ProtocolError> {
        let Some(cr) = self.header_end(line) else {
            if line.len() > MAX_INLINE_LEN {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(None);
        };
        // Like Redis, the `$` is only checked once the whole header line is there.
        match line.first() {
            Some(b'$') => {}
            Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
            None => return Ok(None),
        }
        let len = parse_i64(&line[1..cr])
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MAX_BULK_LEN)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if !authenticated && len > MAX_UNAUTH_BULK_LEN {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        Ok(Some((len, cr + 2)))
    }

    /// Index of the `\r` ending the header line at the front of `buf`, once the byte after it
    /// (taken to be the `\n`, unchecked, as Redis does) has arrived too.
    fn header_end(&mut self, buf: &[u8]) -> Option<usize> {
        let cr = self.find(buf, b'\r')?;
        if cr + 2 > buf.len() {
            // Keep `scanned` at the `\r` so the next call finds it immediately.
            self.scanned = cr;
            return None;
        }
        Some(cr)
    }

    /// Reads one inline request: a line up to `\n`, minus a `\r` just before it.
    fn read_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(nl) = self.find(buf, b'\n') else {
            if buf.len() > MAX_INLINE_LEN {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if buf[..end].iter().all(|&b| is_space(b)) {
            // Blank lines are common (telnet users pressing enter); skip them without splitting.
            self.consume(buf, nl + 1);
            return Ok(Some(Vec::new()));
        }
        let line = buf.split_to(end).freeze();
        self.consume(buf, nl + 1 - end);
        split_args(&line).map(Some)
    }

    /// Position of the first `target` byte in `buf`, resuming where the last unsuccessful search
    /// stopped. A NUL byte ends the search unsuccessfully, because Redis looks for line ends with
    /// `strchr`, which stops there; the request then waits until the too-big limit trips.
    fn find(&mut self, buf: &[u8], target: u8) -> Option<usize> {
        // `min` keeps a caller that shrank the buffer behind our back from causing a panic.
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&b| b == target || b == 0) {
            Some(i) if buf[from + i] == target => Some(from + i),
            Some(i) => {
                self.scanned = from + i;
                None
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Drops `n` understood bytes from the front of `buf`.
    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        if n > 0 {
            buf.advance(n);
        }
        self.scanned = 0;
    }
}

/// Parses a decimal integer exactly as Redis's `string2ll` does: optional `-`, then digits with no
/// leading zero (except the lone `"0"`), no `+`, no spaces, at most 20 bytes, fitting an `i64`.
fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        // -(2^63) is representable even though 2^63 is not.
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// C's `isspace` in the "C" locale, which Redis uses to skip blanks between inline arguments.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One inline argument being assembled. While its bytes are a contiguous run of the line it is
/// just a range (so the result can share the line); the first escape or quote that breaks the
/// run turns it into an owned copy.
struct Token {
    start: usize,
    end: usize,
    owned: Option<Vec<u8>>,
}

impl Token {
    fn new() -> Token {
        Token {
            start: 0,
            end: 0,
            owned: None,
        }
    }

    /// Appends the line's byte at `i`.
    fn push_at(&mut self, line: &[u8], i: usize) {
        match &mut self.owned {
            Some(bytes) => bytes.push(line[i]),
            None if self.start == self.end => {
                self.start = i;
                self.end = i + 1;
            }
            None if self.end == i => self.end += 1,
            None => self.push_byte(line, line[i]),
        }
    }

    /// Appends a byte that is not (at this position) in the line, e.g. an unescaped one.
    fn push_byte(&mut self, line: &[u8], byte: u8) {
        self.owned
            .get_or_insert_with(|| line[self.start..self.end].to_vec())
            .push(byte);
    }

    fn finish(self, line: &Bytes) -> Bytes {
        match self.owned {
            Some(bytes) => Bytes::from(bytes),
            None => line.slice(self.start..self.end),
        }
    }
}

/// Splits an inline request line into arguments with the rules of Redis's `sdssplitargs`:
/// arguments are separated by blanks; `"…"` understands `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and
/// `\<any>` for that character; `'…'` understands only `\'`; a quote may open mid-argument, but a
/// closing quote must be followed by a blank or the end of the line.
pub fn split_args(line: &Bytes) -> Result<Vec<Bytes>, ProtocolError> {
    // Reading past the end yields 0, mirroring the C string terminator the rules are written
    // against (a NUL cannot occur inside the line: the line-end search stops at one).
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut argv = Vec::new();
    let mut i = 0;
    loop {
        while at(i) != 0 && is_space(at(i)) {
            i += 1;
        }
        if at(i) == 0 {
            return Ok(argv);
        }
        let mut token = Token::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(i);
            let mut done = false;
            if in_double {
                // `\xHH` needs exactly two hex digits; otherwise `\x` is just an escaped `x`.
                let hex_escape = if c == b'\\' && at(i + 1) == b'x' {
                    hex_value(at(i + 2))
                        .zip(hex_value(at(i + 3)))
                        .map(|(high, low)| high * 16 + low)
                } else {
                    None
                };
                if let Some(byte) = hex_escape {
                    token.push_byte(line, byte);
                    i += 3;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    let byte = match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    };
                    token.push_byte(line, byte);
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    token.push_at(line, i);
                }
            } else if in_single {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    token.push_byte(line, b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    token.push_at(line, i);
                }
            } else {
                // Only these end an unquoted argument; other blanks (`\v`, `\f`) are kept in it.
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => token.push_at(line, i),
                }
            }
            if at(i) != 0 {
                i += 1;
            }
            if done {
                break;
            }
        }
        argv.push(token.finish(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes everything in `input` at once, collecting requests until more bytes are needed or
    /// an error occurs.
    fn decode_all(input: &[u8], auth: bool) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, usize) {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match dec.decode(&mut buf, auth) {
                Ok(Some(argv)) => out.push(argv.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return (out, None, buf.len()),
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }

    /// Same as `decode_all`, but the bytes arrive one at a time with a decode pass after each.
    fn decode_bytewise(input: &[u8], auth: bool) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            loop {
                match dec.decode(&mut buf, auth) {
                    Ok(Some(argv)) => out.push(argv.iter().map(|a| a.to_vec()).collect()),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    /// Feeds `input` split at `at` into two reads.
    fn decode_split(
        input: &[u8],
        at: usize,
        auth: bool,
    ) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for part in [&input[..at], &input[at..]] {
            buf.extend_from_slice(part);
            loop {
                match dec.decode(&mut buf, auth) {
                    Ok(Some(argv)) => out.push(argv.iter().map(|a| a.to_vec()).collect()),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    fn args(list: &[&[u8]]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.to_vec()).collect()
    }

    fn one(input: &[u8]) -> Vec<Vec<u8>> {
        let (reqs, err, rest) = decode_all(input, true);
        assert_eq!(err, None, "input {input:?}");
        assert_eq!(rest, 0, "input {input:?}");
        assert_eq!(reqs.len(), 1, "input {input:?}");
        reqs.into_iter().next().unwrap()
    }

    fn err(input: &[u8], auth: bool) -> ProtocolError {
        let (_, err, _) = decode_all(input, auth);
        err.unwrap_or_else(|| panic!("no error for {input:?}"))
    }

    fn encode(argv: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn complete_multibulk() {
        assert_eq!(
            one(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
            args(&[b"SET", b"key", b"value"])
        );
        assert_eq!(one(b"*1\r\n$0\r\n\r\n"), args(&[b""]));
        assert_eq!(one(b"*1\r\n$4\r\na\r\nb\r\n"), args(&[b"a\r\nb"]));
        assert_eq!(one(b"*1\r\n$3\r\n\0\xff*\r\n"), args(&[b"\0\xff*"]));
    }

    #[test]
    fn arguments_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let argv = Decoder::default().decode(&mut buf, true).unwrap().unwrap();
        assert_eq!(argv[0].as_ptr() as usize, base + 8);
        assert_eq!(argv[1].as_ptr() as usize, base + 17);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_released_buffer_is_reused_in_place() {
        let mut d = Decoder::new();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva");
        assert_eq!(d.decode(&mut buf, true).unwrap(), None);
        // SET and key were split off and share the buffer; once released, the buffer is ours
        // again, and making room keeps its allocation.
        d.release_buffer();
        d.release_buffer();
        let base = buf.as_ptr() as usize - (64 - buf.capacity());
        buf.reserve(60);
        assert_eq!(buf.as_ptr() as usize, base, "the allocation is reused");
        buf.extend_from_slice(b"lue\r\n");
        let argv = d.decode(&mut buf, true).unwrap().unwrap();
        assert_eq!(argv, vec![&b"SET"[..], b"key", b"value"]);
    }

    #[test]
    fn empty_requests() {
        for input in [
            &b"*0\r\n"[..],
            b"*-1\r\n",
            b"*-5\r\n",
            b"\r\n",
            b"\n",
            b"   \t \r\n",
        ] {
            assert_eq!(one(input), Vec::<Vec<u8>>::new(), "input {input:?}");
        }
    }

    #[test]
    fn incomplete_requests_wait() {
        for input in [
            &b""[..],
            b"*",
            b"*3",
            b"*3\r",
            b"*3\r\n",
            b"*3\r\n$3",
            b"*3\r\n$3\r",
            b"*3\r\n$3\r\nSET",
            b"*3\r\n$3\r\nSET\r",
            b"*1\r\n$3\r\nSET\r",
            b"PING",
            b"PING\r",
            b"\"unterminated",
        ] {
            let (reqs, err, _) = decode_all(input, true);
            assert!(reqs.is_empty() && err.is_none(), "input {input:?}");
        }
    }

    #[test]
    fn pipelined_requests() {
        let input = b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\r\n*0\r\nECHO x\n*1\r\n$2\r\nhi";
        let (reqs, err, rest) = decode_all(input, true);
        assert_eq!(err, None);
        assert_eq!(
            reqs,
            vec![
                args(&[b"PING"]),
                args(&[b"PING"]),
                args(&[b"GET", b"k"]),
                vec![],
                vec![],
                args(&[b"ECHO", b"x"]),
            ]
        );
        assert_eq!(rest, 2, "the partial `hi` payload stays buffered");
    }

    #[test]
    fn every_split_position_gives_the_same_result() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nset \"a b\" 'c\\'d' \"\\x41\\n\"\r\n*-1\r\n\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";
        let (whole, whole_err, _) = decode_all(input, true);
        assert_eq!(whole_err, None);
        assert_eq!(whole.len(), 5);
        assert_eq!(decode_bytewise(input, true), (whole.clone(), None));
        for at in 0..=input.len() {
            assert_eq!(
                decode_split(input, at, true),
                (whole.clone(), None),
                "split at {at}"
            );
        }
    }

    #[test]
    fn byte_after_cr_and_after_payload_is_not_checked() {
        // Redis takes whatever follows `\r` as the `\n`, and skips two bytes after a payload.
        assert_eq!(one(b"*1\rX$4\rXPING\r\n"), args(&[b"PING"]));
        assert_eq!(one(b"*1\r\n$4\r\nPINGxx"), args(&[b"PING"]));
    }

    #[test]
    fn multibulk_count_errors() {
        use ProtocolError::*;
        for input in [
            &b"*x\r\n"[..],
            b"*\r\n",
            b"*+3\r\n",
            b"*03\r\n",
            b"*-0\r\n",
            b"*-\r\n",
            b"* 3\r\n",
            b"*3 \r\n",
            b"*1\n\r\n",
            b"*2147483648\r\n",
            b"*9223372036854775808\r\n",
            b"*123456789012345678901\r\n",
        ] {
            assert_eq!(err(input, true), InvalidMultibulkLength, "input {input:?}");
        }
        let (reqs, e, _) = decode_all(b"*2147483647\r\n", true);
        assert!(reqs.is_empty() && e.is_none());
        assert_eq!(one(b"*-9223372036854775808\r\n"), Vec::<Vec<u8>>::new());

        let mut long = b"*".to_vec();
        long.resize(MAX_INLINE_LEN, b'1');
        assert_eq!(
            decode_all(&long, true).1,
            None,
            "64 KiB exactly still waits"
        );
        long.push(b'1');
        assert_eq!(err(&long, true), TooBigMultibulkCount);
        // A `\r` beyond the limit still counts: the line is found, and then is not a number.
        long.extend_from_slice(b"\r\n");
        assert_eq!(err(&long, true), InvalidMultibulkLength);
    }

    #[test]
    fn bulk_errors() {
        use ProtocolError::*;
        assert_eq!(err(b"*1\r\nX\r\n", true), ExpectedDollar(b'X'));
        assert_eq!(err(b"*2\r\n$1\r\na\r\n:1\r\n", true), ExpectedDollar(b':'));
        assert_eq!(err(b"*1\r\n\r\n", true), ExpectedDollar(b'\r'));
        for input in [
            &b"*1\r\n$x\r\n"[..],
            b"*1\r\n$\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$+1\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999\r\n",
        ] {
            assert_eq!(err(input, true), InvalidBulkLength, "input {input:?}");
        }
        // 512 MiB exactly is allowed, and must not be allocated up front.
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\n"[..]);
        let mut dec = Decoder::default();
        assert_eq!(dec.decode(&mut buf, true), Ok(None));
        assert!(buf.capacity() <= 2 * BULK_RESERVE_STEP);

        let mut long = b"*1\r\n$".to_vec();
        long.resize(4 + MAX_INLINE_LEN, b'1');
        assert_eq!(decode_all(&long, true).1, None);
        long.push(b'1');
        assert_eq!(err(&long, true), TooBigBulkCount);
    }

    #[test]
    fn nul_hides_line_ends_like_strchr() {
        use ProtocolError::*;
        let mut input = b"*1\0\r\n".to_vec();
        assert_eq!(decode_all(&input, true).1, None);
        input.resize(MAX_INLINE_LEN + 1, b'a');
        assert_eq!(err(&input, true), TooBigMultibulkCount);

        let mut input = b"*1\r\n$\0\r\n".to_vec();
        assert_eq!(decode_all(&input, true).1, None);
        input.resize(4 + MAX_INLINE_LEN + 1, b'a');
        assert_eq!(err(&input, true), TooBigBulkCount);

        let mut input = b"PING\0\n".to_vec();
        assert_eq!(decode_all(&input, true).1, None);
        input.resize(MAX_INLINE_LEN + 1, b'a');
        assert_eq!(err(&input, true), TooBigInlineRequest);
    }

    #[test]
    fn unauthenticated_limits() {
        use ProtocolError::*;
        assert_eq!(err(b"*11\r\n", false), UnauthenticatedMultibulkLength);
        assert_eq!(err(b"*1\r\n$16385\r\n", false), UnauthenticatedBulkLength);
        // Malformed numbers are reported as such first.
        assert_eq!(err(b"*11x\r\n", false), InvalidMultibulkLength);
        assert_eq!(err(b"*1\r\n$16385x\r\n", false), InvalidBulkLength);
        assert_eq!(err(b"*2147483648\r\n", false), InvalidMultibulkLength);
        assert_eq!(err(b"*1048577\r\n", false), UnauthenticatedMultibulkLength);

        let (reqs, e, _) = decode_all(b"*10\r\n", false);
        assert!(reqs.is_empty() && e.is_none());
        let (reqs, e, _) = decode_all(b"*1\r\n$16384\r\n", false);
        assert!(reqs.is_empty() && e.is_none());
        let (reqs, e, _) = decode_all(b"*-100\r\n", false);
        assert_eq!((reqs.len(), e), (1, None));
        // Inline requests have no unauthenticated limit in Redis.
        let many = b"a b c d e f g h i j k l\r\n";
        assert_eq!(decode_all(many, false).0[0].len(), 12);
    }

    #[test]
    fn inline_requests() {
        assert_eq!(one(b"PING\r\n"), args(&[b"PING"]));
        assert_eq!(one(b"PING\n"), args(&[b"PING"]));
        assert_eq!(one(b"  set  k\tv  \r\n"), args(&[b"set", b"k", b"v"]));
        assert_eq!(
            one(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n"),
            args(&[b"set", b"a b", b"c'd", b"A\n"])
        );
        assert_eq!(one(b"echo ab\"cd\"\r\n"), args(&[b"echo", b"abcd"]));
        assert_eq!(one(b"echo \"a\"\x0bx\r\n"), args(&[b"echo", b"a", b"x"]));
        assert_eq!(one(b"echo a\x0bb\r\n"), args(&[b"echo", b"a\x0bb"]));
        assert_eq!(one(b"\x0b\x0cecho   x\r\n"), args(&[b"echo", b"x"]));
        assert_eq!(one(b"echo \"\\x4\"\r\n"), args(&[b"echo", b"x4"]));
        assert_eq!(one(b"echo \"\\z\\\\\\\"\"\r\n"), args(&[b"echo", b"z\\\""]));
        assert_eq!(
            one(b"echo \"\\t\\r\\b\\a\"\r\n"),
            args(&[b"echo", b"\t\r\x08\x07"])
        );
        assert_eq!(one(b"echo 'a\\b'\r\n"), args(&[b"echo", b"a\\b"]));
        assert_eq!(one(b"echo a\rb\r\n"), args(&[b"echo", b"a", b"b"]));
        assert_eq!(one(b"echo \"a\rb\"\r\n"), args(&[b"echo", b"a\rb"]));
        assert_eq!(
            one(b"echo \"\\xZZ\\xaB\"\r\n"),
            args(&[b"echo", b"xZZ\xab"])
        );
        assert_eq!(one(b"echo \"\" ''\r\n"), args(&[b"echo", b"", b""]));
        assert_eq!(one(b"echo a\r\r\n"), args(&[b"echo", b"a"]));
        assert_eq!(one(b"\xff\xfe x\n"), args(&[b"\xff\xfe", b"x"]));
    }

    #[test]
    fn inline_arguments_share_the_line_when_unchanged() {
        let mut buf = BytesMut::from(&b"SET \"a b\" c\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let argv = Decoder::default().decode(&mut buf, true).unwrap().unwrap();
        assert_eq!(argv[1].as_ptr() as usize, base + 5);
        assert_eq!(argv[2].as_ptr() as usize, base + 10);
    }

    #[test]
    fn inline_errors() {
        use ProtocolError::*;
        for input in [
            &b"echo \"abc\r\n"[..],
            b"echo 'abc\r\n",
            b"echo \"a\"b\r\n",
            b"echo 'a'b\r\n",
            b"echo ''x\r\n",
            b"echo \"abc\\\"\r\n",
            b"echo \"abc\\\r\n",
        ] {
            assert_eq!(err(input, true), UnbalancedQuotes, "input {input:?}");
        }
        let mut long = vec![b'a'; MAX_INLINE_LEN];
        assert_eq!(decode_all(&long, true).1, None);
        long.push(b'a');
        assert_eq!(err(&long, true), TooBigInlineRequest);
        // Found line ends are honoured however long the buffered data already is.
        long.push(b'\n');
        assert_eq!(one(&long).len(), 1);
    }

    #[test]
    fn error_texts() {
        use ProtocolError::*;
        let cases: [(ProtocolError, &str); 11] = [
            (
                TooBigMultibulkCount,
                "Protocol error: too big mbulk count string",
            ),
            (
                InvalidMultibulkLength,
                "Protocol error: invalid multibulk length",
            ),
            (
                UnauthenticatedMultibulkLength,
                "Protocol error: unauthenticated multibulk length",
            ),
            (
                ExpectedDollar(b'X'),
                "Protocol error: expected '$', got 'X'",
            ),
            (
                ExpectedDollar(b'\r'),
                "Protocol error: expected '$', got ' '",
            ),
            (TooBigBulkCount, "Protocol error: too big bulk count string"),
            (InvalidBulkLength, "Protocol error: invalid bulk length"),
            (
                UnauthenticatedBulkLength,
                "Protocol error: unauthenticated bulk length",
            ),
            (
                TooBigInlineRequest,
                "Protocol error: too big inline request",
            ),
            (
                UnbalancedQuotes,
                "Protocol error: unbalanced quotes in request",
            ),
            (
                ExpectedDollar(b'\n'),
                "Protocol error: expected '$', got ' '",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.error_line(), format!("ERR {text}").as_bytes());
        }
        assert_eq!(
            ExpectedDollar(0xe9).error_line(),
            &b"ERR Protocol error: expected '$', got '\xe9'"[..]
        );
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decoder_recovers_after_error() {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(&b"*2\r\n$1\r\na\r\n!"[..]);
        assert_eq!(dec.decode(&mut buf, true), Ok(None));
        buf.extend_from_slice(b"\r\n");
        assert_eq!(
            dec.decode(&mut buf, true),
            Err(ProtocolError::ExpectedDollar(b'!'))
        );
        let mut buf = BytesMut::from(&b"*1\r\n$1\r\nz\r\n"[..]);
        assert_eq!(
            dec.decode(&mut buf, true),
            Ok(Some(vec![Bytes::from_static(b"z")]))
        );
    }

    #[test]
    fn caller_shrinking_the_buffer_does_not_panic() {
        let mut dec = Decoder::default();
        let mut buf = BytesMut::from(&b"*1\r\n$5"[..]);
        assert_eq!(dec.decode(&mut buf, true), Ok(None));
        buf.clear();
        assert_eq!(dec.decode(&mut buf, true), Ok(None));
        buf.extend_from_slice(b"$1\r\nx\r\n");
        assert_eq!(
            dec.decode(&mut buf, true),
            Ok(Some(vec![Bytes::from_static(b"x")]))
        );
    }

    #[test]
    fn large_bulk_arrives_in_pieces() {
        let value = vec![7u8; 3 * BULK_RESERVE_STEP + 11];
        let input = encode(&[b"SET".to_vec(), b"k".to_vec(), value.clone()]);
        let mut dec = Decoder::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in input.chunks(4093) {
            buf.extend_from_slice(chunk);
            if let Some(argv) = dec.decode(&mut buf, true).unwrap() {
                got = Some(argv);
            }
        }
        let argv = got.expect("request completes");
        assert_eq!(argv[2], value);
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512), auth: bool) {
            let (whole, whole_err, _) = decode_all(&input, auth);
            // Below the 64 KiB limits, how the bytes are split into reads cannot matter.
            let (bytewise, bytewise_err) = decode_bytewise(&input, auth);
            prop_assert_eq!(&whole, &bytewise);
            prop_assert_eq!(whole_err, bytewise_err);
        }

        #[test]
        fn protocolish_bytes_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"*"[..]), Just(&b"$"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]),
                    Just(&b"\n"[..]), Just(&b"1"[..]), Just(&b"2"[..]), Just(&b"-"[..]),
                    Just(&b"0"[..]), Just(&b"\""[..]), Just(&b"'"[..]), Just(&b"\\"[..]),
                    Just(&b"x"[..]), Just(&b" "[..]), Just(&b"\0"[..]), Just(&b"a"[..]),
                ],
                0..64,
            ),
            split in any::<prop::sample::Index>(),
            auth: bool,
        ) {
            let input: Vec<u8> = parts.concat();
            let (whole, whole_err, _) = decode_all(&input, auth);
            let (bytewise, bytewise_err) = decode_bytewise(&input, auth);
            prop_assert_eq!(&whole, &bytewise);
            prop_assert_eq!(&whole_err, &bytewise_err);
            let at = split.index(input.len() + 1);
            prop_assert_eq!(decode_split(&input, at, auth), (whole, whole_err));
        }

        #[test]
        fn multibulk_round_trips(
            reqs in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..8),
                1..4,
            ),
            split in any::<prop::sample::Index>(),
        ) {
            let input: Vec<u8> = reqs.iter().flat_map(|r| encode(r)).collect();
            let (got, err, rest) = decode_all(&input, false);
            prop_assert_eq!(&got, &reqs);
            prop_assert_eq!(err, None);
            prop_assert_eq!(rest, 0);
            prop_assert_eq!(decode_bytewise(&input, false), (reqs.clone(), None));
            let at = split.index(input.len() + 1);
            prop_assert_eq!(decode_split(&input, at, false), (reqs, None));
        }
    }
}
