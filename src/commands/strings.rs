//! String commands: GET, SET and its relatives, counters, ranges.
//!
//! Values are stored as owned byte strings; numbers are parsed from and written back to their
//! decimal text, as Redis's integer encoding is invisible except through OBJECT ENCODING (which
//! [`crate::store::Entry::encoding`] reproduces).

use bytes::Bytes;

use super::flags::*;
use super::float80::F80;
use super::{keyword, parse_i64, Args, Command, Ctx, KeySpec, ALL_KEYS, ONE_KEY};
use crate::error::CmdError;
use crate::protocol::Reply;
use crate::server::notify::{GENERIC, STRING};
use crate::store::{parse_canonical_i64, Entry, Locked};

/// Largest string a command may create (Redis's default `proto-max-bulk-len`).
pub const MAX_STRING_LEN: u64 = 512 * 1024 * 1024;

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "string";

const READ: &[&str] = &["read", "string", "fast"];
const WRITE_FAST: &[&str] = &["write", "string", "fast"];
const WRITE_SLOW: &[&str] = &["write", "string", "slow"];
const PAIRS: KeySpec = KeySpec {
    first: 1,
    last: -1,
    step: 2,
};

/// The string commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "get",
        2,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ,
        "1.0.0",
        "Returns the string value of a key.",
        get,
    ),
    Command::leaf(
        GROUP,
        "set",
        -3,
        WRITE | DENYOOM,
        ONE_KEY,
        WRITE_SLOW,
        "1.0.0",
        "Sets the string value of a key, with optional expiry and conditions.",
        set,
    ),
    Command::leaf(
        GROUP,
        "setex",
        4,
        WRITE | DENYOOM,
        ONE_KEY,
        WRITE_SLOW,
        "2.0.0",
        "Sets a value and its expiry in seconds.",
        setex,
    ),
    Command::leaf(
        GROUP,
        "psetex",
        4,
        WRITE | DENYOOM,
        ONE_KEY,
        WRITE_SLOW,
        "2.6.0",
        "Sets a value and its expiry in milliseconds.",
        psetex,
    ),
    Command::leaf(
        GROUP,
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Sets a value only if the key does not exist.",
        setnx,
    ),
    Command::leaf(
        GROUP,
        "getex",
        -2,
        WRITE | FAST | TOUCHES_VALUE,
        ONE_KEY,
        WRITE_FAST,
        "6.2.0",
        "Returns a value and optionally changes its expiry.",
        getex,
    ),
    Command::leaf(
        GROUP,
        "getdel",
        2,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "6.2.0",
        "Returns a value and deletes the key.",
        getdel,
    ),
    Command::leaf(
        GROUP,
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Sets a value and returns the previous one.",
        getset,
    ),
    Command::leaf(
        GROUP,
        "mget",
        -2,
        READONLY | FAST | TOUCHES_VALUE,
        ALL_KEYS,
        READ,
        "1.0.0",
        "Returns the values of several keys.",
        mget,
    ),
    Command::leaf(
        GROUP,
        "mset",
        -3,
        WRITE | DENYOOM,
        PAIRS,
        WRITE_SLOW,
        "1.0.1",
        "Sets several keys atomically.",
        mset,
    ),
    Command::leaf(
        GROUP,
        "msetnx",
        -3,
        WRITE | DENYOOM,
        PAIRS,
        WRITE_SLOW,
        "1.0.1",
        "Sets several keys atomically, only if none exists.",
        msetnx,
    ),
    Command::leaf(
        GROUP,
        "append",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Appends to a value; returns the new length.",
        append,
    ),
    Command::leaf(
        GROUP,
        "strlen",
        2,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ,
        "2.2.0",
        "Returns the length of a value.",
        strlen,
    ),
    Command::leaf(
        GROUP,
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Increments an integer value by one.",
        incr,
    ),
    Command::leaf(
        GROUP,
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Decrements an integer value by one.",
        decr,
    ),
    Command::leaf(
        GROUP,
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Increments an integer value.",
        incrby,
    ),
    Command::leaf(
        GROUP,
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Decrements an integer value.",
        decrby,
    ),
    Command::leaf(
        GROUP,
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.6.0",
        "Increments a floating-point value.",
        incrbyfloat,
    ),
    Command::leaf(
        GROUP,
        "getrange",
        4,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        &["read", "string", "slow"],
        "2.4.0",
        "Returns a substring of a value.",
        getrange,
    ),
    Command::leaf(
        GROUP,
        "substr",
        4,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        &["read", "string", "slow"],
        "1.0.0",
        "Returns a substring of a value (old name of GETRANGE).",
        getrange,
    ),
    Command::leaf(
        GROUP,
        "setrange",
        4,
        WRITE | DENYOOM,
        ONE_KEY,
        WRITE_SLOW,
        "2.2.0",
        "Overwrites part of a value at an offset.",
        setrange,
    ),
];

/// The string held by `entry`, or WRONGTYPE.
pub fn string_of(entry: &Entry) -> Result<&[u8], CmdError> {
    entry.str().ok_or(CmdError::WrongType)
}

/// A reply carrying a copy of `entry`'s string (the entry's block stays in the store).
fn bulk_of(entry: &Entry) -> Result<Reply, CmdError> {
    Ok(Reply::Bulk(Bytes::copy_from_slice(string_of(entry)?)))
}

fn get(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    match locked.get(&key) {
        Some(entry) => bulk_of(entry),
        None => Ok(Reply::Null),
    }
}

/// How an expiry argument is expressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpiryUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: Unix seconds.
    UnixSeconds,
    /// PXAT: Unix milliseconds.
    UnixMillis,
}

/// Converts a SET-family expiry argument (EX/PX/EXAT/PXAT, SETEX, PSETEX, GETEX) to an absolute
/// deadline. Like Redis: not an integer → NotInteger; zero, negative, or overflowing →
/// `invalid expire time in '<command>' command`.
pub fn set_deadline(
    word: &[u8],
    unit: ExpiryUnit,
    now: u64,
    command: &'static str,
) -> Result<u64, CmdError> {
    let n = parse_i64(word)?;
    let invalid = CmdError::InvalidExpire(command);
    if n <= 0 {
        return Err(invalid);
    }
    let ms = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::UnixSeconds => {
            n.checked_mul(1000).ok_or(invalid.clone())?
        }
        _ => n,
    };
    let at = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::Millis => ms.checked_add(now as i64).ok_or(invalid)?,
        _ => ms,
    };
    Ok(at as u64)
}

/// Options of SET and GETEX, parsed as Redis does: keywords in any order and case; a conflicting
/// or unknown one is a syntax error.
#[derive(Default, Debug)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expiry: Option<(ExpiryUnit, Bytes)>,
}

fn parse_set_options(args: &mut Args, for_set: bool) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions::default();
    while let Some(word) = args.next_opt() {
        let has_next = !args.is_empty();
        let mut buf = [0; 16];
        let w = keyword(&word, &mut buf);
        let timed = o.expiry.as_ref().map(|(u, _)| *u);
        let unit = match w {
            b"ex" => Some(ExpiryUnit::Seconds),
            b"px" => Some(ExpiryUnit::Millis),
            b"exat" => Some(ExpiryUnit::UnixSeconds),
            b"pxat" => Some(ExpiryUnit::UnixMillis),
            _ => None,
        };
        match w {
            b"nx" if for_set && !o.xx => o.nx = true,
            b"xx" if for_set && !o.nx => o.xx = true,
            b"get" if for_set => o.get = true,
            b"keepttl" if for_set && !o.persist && timed.is_none() => o.keepttl = true,
            b"persist" if !for_set && !o.keepttl && timed.is_none() => o.persist = true,
            // The same unit may repeat (the last one wins); two different units conflict.
            _ if unit.is_some()
                && !o.keepttl
                && !o.persist
                && timed.is_none_or(|t| Some(t) == unit)
                && has_next =>
            {
                o.expiry = Some((unit.expect("checked"), args.next()?));
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    Ok(o)
}

fn set(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next()?;
    let o = parse_set_options(args, true)?;
    let mut locked = ctx.lock([&key]);
    let deadline = match &o.expiry {
        Some((unit, word)) => Some(set_deadline(word, *unit, locked.now(), "set")?),
        None => None,
    };
    // The common SET (no NX/XX/GET/KEEPTTL) needs no look at the old entry: one probe.
    let reply = if o.nx || o.xx || o.get || o.keepttl {
        let (found, old_value) = match locked.peek(&key) {
            Some(entry) if o.get => (true, Some(Bytes::copy_from_slice(string_of(entry)?))),
            Some(_) => (true, None),
            None => (false, None),
        };
        if (o.nx && found) || (o.xx && !found) {
            return Ok(if o.get {
                Reply::bulk_or_null(old_value)
            } else {
                Reply::Null
            });
        }
        match locked.peek(&key) {
            // KEEPTTL keeps the deadline and, for sliding, the idle period and creation time.
            Some(entry) if o.keepttl => entry.set_string(&value, false),
            _ => locked.set_string(&key, &value, deadline.unwrap_or(0)),
        }
        if o.get {
            Reply::bulk_or_null(old_value)
        } else {
            Reply::ok()
        }
    } else {
        locked.set_string(&key, &value, deadline.unwrap_or(0));
        Reply::ok()
    };
    ctx.modified(STRING, "set", &key);
    if deadline.is_some() {
        ctx.modified(GENERIC, "expire", &key);
    }
    Ok(reply)
}

fn setex_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    unit: ExpiryUnit,
    name: &'static str,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let ttl = args.next()?;
    let value = args.next()?;
    let mut locked = ctx.lock([&key]);
    let at = set_deadline(&ttl, unit, locked.now(), name)?;
    locked.set_string(&key, &value, at);
    ctx.modified(STRING, "set", &key);
    ctx.modified(GENERIC, "expire", &key);
    Ok(Reply::ok())
}

fn setex(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    setex_generic(ctx, args, ExpiryUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    setex_generic(ctx, args, ExpiryUnit::Millis, "psetex")
}

fn setnx(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next()?;
    let mut locked = ctx.lock([&key]);
    if locked.exists(&key) {
        return Ok(Reply::Integer(0));
    }
    locked.set_string(&key, &value, 0);
    ctx.modified(STRING, "set", &key);
    Ok(Reply::Integer(1))
}

fn getex(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let o = parse_set_options(args, false)?;
    let mut locked = ctx.lock([&key]);
    let now = locked.now();
    let Some(entry) = locked.get(&key) else {
        return Ok(Reply::Null);
    };
    let value = bulk_of(entry)?;
    let had_ttl = entry.expires_at() != 0;
    match &o.expiry {
        Some((unit, word)) => {
            let at = set_deadline(word, *unit, now, "getex")?;
            if at <= now {
                locked.remove(&key);
                ctx.modified(GENERIC, "del", &key);
            } else {
                locked.set_expires_at(&key, at);
                ctx.modified(GENERIC, "expire", &key);
            }
        }
        None if o.persist && had_ttl => {
            locked.set_expires_at(&key, 0);
            ctx.modified(GENERIC, "persist", &key);
        }
        None => {}
    }
    Ok(value)
}

fn getdel(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let Some(entry) = locked.get(&key) else {
        return Ok(Reply::Null);
    };
    let value = bulk_of(entry)?;
    locked.remove(&key);
    ctx.modified(GENERIC, "del", &key);
    Ok(value)
}

fn getset(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let value = args.next()?;
    let mut locked = ctx.lock([&key]);
    let old = match locked.get(&key) {
        Some(entry) => bulk_of(entry)?,
        None => Reply::Null,
    };
    locked.set_string(&key, &value, 0);
    ctx.modified(STRING, "set", &key);
    Ok(old)
}

fn mget(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let keys = args.rest();
    let mut locked = ctx.lock(&keys);
    let values = keys
        .iter()
        .map(|key| match locked.get(key).and_then(|e| e.str()) {
            Some(s) => Reply::Bulk(Bytes::copy_from_slice(s)),
            // MGET answers nil for a key of another type, as Redis does.
            None => Reply::Null,
        })
        .collect();
    Ok(Reply::Array(values))
}

/// Checks MSET/MSETNX's pairs and locks their keys.
fn mset_pairs<'a>(
    ctx: &'a Ctx,
    args: &mut Args,
    name: &str,
) -> Result<(Vec<Bytes>, Locked<'a>), CmdError> {
    let words = args.rest();
    if !words.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    let locked = ctx.lock(words.iter().step_by(2));
    Ok((words, locked))
}

fn mset(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let (words, mut locked) = mset_pairs(ctx, args, "mset")?;
    for pair in words.chunks_exact(2) {
        locked.set_string(&pair[0], &pair[1], 0);
        ctx.modified(STRING, "set", &pair[0]);
    }
    Ok(Reply::ok())
}

fn msetnx(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let (words, mut locked) = mset_pairs(ctx, args, "msetnx")?;
    if words.iter().step_by(2).any(|k| locked.exists(k)) {
        return Ok(Reply::Integer(0));
    }
    for pair in words.chunks_exact(2) {
        locked.set_string(&pair[0], &pair[1], 0);
        ctx.modified(STRING, "set", &pair[0]);
    }
    Ok(Reply::Integer(1))
}

/// Fails like Redis's `checkStringLength` if a string of `len` bytes would be too long.
fn check_length(len: u64) -> Result<(), CmdError> {
    if len > MAX_STRING_LEN {
        Err(CmdError::StringTooLong)
    } else {
        Ok(())
    }
}

fn append(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let tail = args.next()?;
    let mut locked = ctx.lock([&key]);
    let len = match locked.peek(&key) {
        None => {
            locked.set_string(&key, &tail, 0);
            tail.len()
        }
        Some(entry) => {
            let current = string_of(entry)?;
            check_length(current.len() as u64 + tail.len() as u64)?;
            entry.append(&tail)
        }
    };
    ctx.modified(STRING, "append", &key);
    Ok(Reply::Integer(len as i64))
}

fn strlen(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    match locked.get(&key) {
        Some(entry) => Ok(Reply::Integer(string_of(entry)?.len() as i64)),
        None => Ok(Reply::Integer(0)),
    }
}

/// Adds `delta` to the integer at `key` (created as 0), keeping its TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) -> Result<Reply, CmdError> {
    let mut locked = ctx.lock([key]);
    let current = match locked.peek(key) {
        Some(entry) => parse_canonical_i64(string_of(entry)?).ok_or(CmdError::NotInteger)?,
        None => 0,
    };
    let next = current.checked_add(delta).ok_or(CmdError::Overflow)?;
    store_string(&mut locked, key, next.to_string().as_bytes());
    ctx.modified(STRING, "incrby", key);
    Ok(Reply::Integer(next))
}

/// Replaces the value at `key` with `value`, keeping its TTL (or creating it without one).
fn store_string(locked: &mut Locked, key: &[u8], value: &[u8]) {
    match locked.peek(key) {
        Some(entry) => entry.set_string(value, false),
        None => {
            locked.set_string(key, value, 0);
        }
    }
}

fn incr(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    incr_by(ctx, &key, 1)
}

fn decr(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    incr_by(ctx, &key, -1)
}

fn incrby(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let delta = args.next_i64()?;
    incr_by(ctx, &key, delta)
}

fn decrby(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let delta = args.next_i64()?;
    if delta == i64::MIN {
        return Err(CmdError::Text("ERR decrement would overflow"));
    }
    incr_by(ctx, &key, -delta)
}

fn incrbyfloat(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let delta = args.next()?;
    let mut locked = ctx.lock([&key]);
    // Redis computes in C's long double; F80 reproduces its parsing, rounding and printing.
    let current = match locked.peek(&key) {
        Some(entry) => F80::parse(string_of(entry)?).ok_or(CmdError::NotFloat)?,
        None => F80::ZERO,
    };
    let delta = F80::parse(&delta).ok_or(CmdError::NotFloat)?;
    let next = current.add(delta);
    if !next.is_finite() {
        return Err(CmdError::NanOrInfinity);
    }
    let text = Bytes::from(next.to_human_string());
    store_string(&mut locked, &key, &text);
    ctx.modified(STRING, "incrbyfloat", &key);
    Ok(Reply::Bulk(text))
}

fn getrange(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    let mut locked = ctx.lock([&key]);
    let Some(entry) = locked.get(&key) else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    let s = string_of(entry)?;
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end };
    let end = end.min(len - 1);
    if start > end || len == 0 {
        return Ok(Reply::Bulk(Bytes::new()));
    }
    Ok(Reply::Bulk(Bytes::copy_from_slice(
        &s[start as usize..=end as usize],
    )))
}

fn setrange(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let offset = args.next_i64()?;
    let patch = args.next()?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let offset = offset as u64;
    let mut locked = ctx.lock([&key]);
    let current = match locked.peek(&key) {
        Some(entry) => Some(string_of(entry)?.to_vec()),
        None => None,
    };
    if patch.is_empty() {
        return Ok(Reply::Integer(current.map_or(0, |c| c.len() as i64)));
    }
    check_length(offset + patch.len() as u64)?;
    let mut data = current.unwrap_or_default();
    let offset = offset as usize;
    if data.len() < offset + patch.len() {
        data.resize(offset + patch.len(), 0);
    }
    data[offset..offset + patch.len()].copy_from_slice(&patch);
    let len = data.len();
    match locked.peek(&key) {
        Some(entry) => entry.set_string(&data, true),
        None => {
            locked.insert_entry(Entry::string(&key, &data).with_raw());
        }
    }
    ctx.modified(STRING, "setrange", &key);
    Ok(Reply::Integer(len as i64))
}
