//! Hash commands: HSET and its relatives, field reads, counters, HSCAN, HRANDFIELD.
//!
//! Replies follow Redis 7.0 byte for byte: a small hash (`listpack`) answers in insertion order,
//! which [`crate::store::Hash`] keeps; a larger one in its table's order, which Redis leaves
//! unspecified too. Arguments are checked in Redis's order (numbers before the key's type, the
//! key's type before options where Redis looks at the key first).
//!
//! Invariants:
//! - No empty hash is ever stored: a write that would create one stores nothing, and a write
//!   that empties one deletes the key (with a `del` event).
//! - Reads look the key up with [`Locked::get`] (a keyspace hit or miss; a sliding key slides
//!   when the command's row has `TOUCHES_VALUE`), writes with [`Locked::peek`].
//! - Every write that changes something reports it with [`Ctx::modified`] after the change, with
//!   Redis's event name, once the shard locks are released.

use bytes::Bytes;

use super::float80::F80;
use super::keys::{parse_cursor, parse_scan_options};
use super::{flags::*, parse_i64, Args, Command, Ctx, ONE_KEY};
use crate::error::CmdError;
use crate::protocol::{Protocol, Reply};
use crate::server::notify;
use crate::store::glob::glob_match;
use crate::store::{parse_canonical_i64, random_below, Entry, Hash, Locked, Value};

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "hash";

const READ_FAST: &[&str] = &["read", "hash", "fast"];
const READ_SLOW: &[&str] = &["read", "hash", "slow"];
const WRITE_FAST: &[&str] = &["write", "hash", "fast"];

/// The hash commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Sets fields of a hash; returns how many were new.",
        hset,
    ),
    Command::leaf(
        GROUP,
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Sets a field of a hash only if it is not there yet.",
        hsetnx,
    ),
    Command::leaf(
        GROUP,
        "hget",
        3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "2.0.0",
        "Returns the value of a field of a hash.",
        hget,
    ),
    Command::leaf(
        GROUP,
        "hmget",
        -3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "2.0.0",
        "Returns the values of several fields of a hash.",
        hmget,
    ),
    Command::leaf(
        GROUP,
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Sets fields of a hash (the older form of HSET, answering OK).",
        hmset,
    ),
    Command::leaf(
        GROUP,
        "hgetall",
        2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "2.0.0",
        "Returns every field of a hash with its value.",
        hgetall,
    ),
    Command::leaf(
        GROUP,
        "hdel",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Removes fields from a hash; returns how many were there.",
        hdel,
    ),
    Command::leaf(
        GROUP,
        "hexists",
        3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "2.0.0",
        "Tells whether a hash has a field.",
        hexists,
    ),
    Command::leaf(
        GROUP,
        "hlen",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "2.0.0",
        "Returns the number of fields of a hash.",
        hlen,
    ),
    Command::leaf(
        GROUP,
        "hkeys",
        2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "2.0.0",
        "Returns every field name of a hash.",
        hkeys,
    ),
    Command::leaf(
        GROUP,
        "hvals",
        2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "2.0.0",
        "Returns every value of a hash.",
        hvals,
    ),
    Command::leaf(
        GROUP,
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.0.0",
        "Adds an integer to a field of a hash.",
        hincrby,
    ),
    Command::leaf(
        GROUP,
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.6.0",
        "Adds a floating-point number to a field of a hash.",
        hincrbyfloat,
    ),
    Command::leaf(
        GROUP,
        "hstrlen",
        3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "3.2.0",
        "Returns the length of the value of a field of a hash.",
        hstrlen,
    ),
    Command::leaf(
        GROUP,
        "hscan",
        -3,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "2.8.0",
        "Iterates over the fields and values of a hash.",
        hscan,
    ),
    Command::leaf(
        GROUP,
        "hrandfield",
        -2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "6.2.0",
        "Returns random fields of a hash, optionally with their values.",
        hrandfield,
    ),
];

/// The hash held by `entry`, or WRONGTYPE.
fn hash_in(entry: &mut Entry) -> Result<&mut Hash, CmdError> {
    entry.hash_mut().ok_or(CmdError::WrongType)
}

/// The hash at `key` for a command that reads it (None when the key is missing).
fn read<'l>(locked: &'l mut Locked<'_>, key: &[u8]) -> Result<Option<&'l Hash>, CmdError> {
    match locked.get(key) {
        Some(entry) => Ok(Some(hash_in(entry)?)),
        None => Ok(None),
    }
}

/// Runs `f` on the hash at `key` for a write. A missing key gets a new hash, stored only if `f`
/// leaves something in it; a hash that `f` empties is deleted. Returns `f`'s result and whether
/// the key was deleted.
fn update<R>(
    locked: &mut Locked<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> Result<R, CmdError>,
) -> Result<(R, bool), CmdError> {
    match locked.peek(key) {
        Some(entry) => {
            let hash = hash_in(entry)?;
            let result = f(hash)?;
            if hash.is_empty() {
                locked.remove(key);
                return Ok((result, true));
            }
            Ok((result, false))
        }
        None => {
            let mut hash = Hash::default();
            let result = f(&mut hash)?;
            if !hash.is_empty() {
                locked.insert(key, Value::Hash(hash), 0);
            }
            Ok((result, false))
        }
    }
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(bytes))
}

/// HSET and HMSET: sets every field and value pair; returns how many fields were new.
fn set_fields(ctx: &mut Ctx, args: &mut Args, name: &str) -> Result<i64, CmdError> {
    let key = args.next()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    let mut locked = ctx.lock([&key]);
    let (added, _) = update(&mut locked, &key, |h| {
        Ok(pairs
            .chunks_exact(2)
            .filter(|pair| h.insert(&pair[0], &pair[1]))
            .count())
    })?;
    drop(locked);
    ctx.modified(notify::HASH, "hset", &key);
    Ok(added as i64)
}

/// HSET key field value [field value ...]: the number of fields added.
fn hset(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    set_fields(ctx, args, "hset").map(Reply::Integer)
}

/// HMSET key field value [field value ...]: OK.
fn hmset(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    set_fields(ctx, args, "hmset").map(|_| Reply::ok())
}

/// HSETNX key field value: 1 if the field was set, 0 if it was already there (and nothing
/// changes, not even the encoding).
fn hsetnx(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let value = args.next()?;
    let mut locked = ctx.lock([&key]);
    let (set, _) = update(&mut locked, &key, |h| {
        Ok(!h.contains(&field) && h.insert(&field, &value))
    })?;
    drop(locked);
    if set {
        ctx.modified(notify::HASH, "hset", &key);
    }
    Ok(Reply::Integer(i64::from(set)))
}

/// HGET key field: the value, or null.
fn hget(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let mut locked = ctx.lock([&key]);
    Ok(match read(&mut locked, &key)?.and_then(|h| h.get(&field)) {
        Some(v) => bulk(v),
        None => Reply::Null,
    })
}

/// HMGET key field [field ...]: one value or null per field (all null for a missing key).
fn hmget(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let fields = args.rest();
    let mut locked = ctx.lock([&key]);
    let hash = read(&mut locked, &key)?;
    Ok(Reply::Array(
        fields
            .iter()
            .map(|f| hash.and_then(|h| h.get(f)).map_or(Reply::Null, bulk))
            .collect(),
    ))
}

/// HGETALL key: a map of fields to values (a flat array in RESP2).
fn hgetall(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let pairs = read(&mut locked, &key)?.map_or_else(Vec::new, |h| {
        h.iter().map(|(f, v)| (bulk(f), bulk(v))).collect()
    });
    Ok(Reply::Map(pairs))
}

/// HKEYS key, HVALS key: the fields, or the values, as an array.
fn hkeys_or_vals(ctx: &mut Ctx, args: &mut Args, values: bool) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let items = read(&mut locked, &key)?.map_or_else(Vec::new, |h| {
        h.iter()
            .map(|(f, v)| bulk(if values { v } else { f }))
            .collect()
    });
    Ok(Reply::Array(items))
}

fn hkeys(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    hkeys_or_vals(ctx, args, false)
}

fn hvals(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    hkeys_or_vals(ctx, args, true)
}

/// HDEL key field [field ...]: how many of the fields were removed. The key goes when its last
/// field does.
fn hdel(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let fields = args.rest();
    let mut locked = ctx.lock([&key]);
    let (removed, deleted) = update(&mut locked, &key, |h| {
        Ok(fields.iter().filter(|f| h.remove(f)).count())
    })?;
    drop(locked);
    if removed > 0 {
        ctx.modified(notify::HASH, "hdel", &key);
    }
    if deleted {
        ctx.modified(notify::GENERIC, "del", &key);
    }
    Ok(Reply::Integer(removed as i64))
}

/// HEXISTS key field: 1 or 0.
fn hexists(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let mut locked = ctx.lock([&key]);
    let found = read(&mut locked, &key)?.is_some_and(|h| h.contains(&field));
    Ok(Reply::Integer(i64::from(found)))
}

/// HLEN key: the number of fields (0 for a missing key).
fn hlen(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let len = read(&mut locked, &key)?.map_or(0, Hash::len);
    Ok(Reply::Integer(len as i64))
}

/// HSTRLEN key field: the length of the field's value (0 when there is none).
fn hstrlen(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let mut locked = ctx.lock([&key]);
    let len = read(&mut locked, &key)?
        .and_then(|h| h.get(&field))
        .map_or(0, <[u8]>::len);
    Ok(Reply::Integer(len as i64))
}

/// HINCRBY key field increment: the new value. The increment is checked first, then the key's
/// type, then the field's value.
fn hincrby(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let delta = parse_i64(&args.next()?)?;
    let mut locked = ctx.lock([&key]);
    let (next, _) = update(&mut locked, &key, |h| {
        let current = match h.get(&field) {
            Some(v) => {
                parse_canonical_i64(v).ok_or(CmdError::Text("ERR hash value is not an integer"))?
            }
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(CmdError::Overflow)?;
        h.insert(&field, next.to_string().as_bytes());
        Ok(next)
    })?;
    drop(locked);
    ctx.modified(notify::HASH, "hincrby", &key);
    Ok(Reply::Integer(next))
}

/// HINCRBYFLOAT key field increment: the new value, computed in C's `long double` as Redis does
/// (see [`F80`]). A result too long for the packed form converts the hash, as any long value
/// does.
fn hincrbyfloat(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let field = args.next()?;
    let delta = F80::parse(&args.next()?).ok_or(CmdError::NotFloat)?;
    if !delta.is_finite() {
        return Err(CmdError::Text("ERR value is NaN or Infinity"));
    }
    let mut locked = ctx.lock([&key]);
    let (text, _) = update(&mut locked, &key, |h| {
        let current = match h.get(&field) {
            Some(v) => F80::parse(v).ok_or(CmdError::Text("ERR hash value is not a float"))?,
            None => F80::ZERO,
        };
        let next = current.add(delta);
        if !next.is_finite() {
            return Err(CmdError::NanOrInfinity);
        }
        let text = Bytes::from(next.to_human_string());
        h.insert(&field, &text);
        Ok(text)
    })?;
    drop(locked);
    ctx.modified(notify::HASH, "hincrbyfloat", &key);
    Ok(Reply::Bulk(text))
}

/// The reply of a SCAN-family step: the next cursor and the items.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: a flat array of fields and values. A packed
/// hash comes whole with cursor 0. As in Redis, the cursor is checked first, a missing key
/// answers an empty scan before the options are read, and MATCH filters after COUNT has
/// bounded the step.
fn hscan(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let cursor = parse_cursor(&args.next()?)?;
    let mut locked = ctx.lock([&key]);
    let Some(hash) = read(&mut locked, &key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let o = parse_scan_options(args, false)?;
    let mut items = Vec::new();
    let next = hash.scan(cursor, o.count, |f, v| {
        if o.pattern.as_ref().is_none_or(|p| glob_match(p, f, false)) {
            items.push(bulk(f));
            items.push(bulk(v));
        }
    });
    Ok(scan_reply(next, items))
}

/// Parses the count of HRANDFIELD and SRANDMEMBER: an integer other than i64::MIN.
pub fn parse_random_count(word: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(word)? {
        i64::MIN => Err(CmdError::Text(
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        )),
        n => Ok(n),
    }
}

/// `k` distinct indices out of `0..n` (k < n), ascending, uniformly chosen (selection sampling).
pub fn sample_indices(n: usize, k: usize) -> Vec<usize> {
    let mut picked = Vec::with_capacity(k);
    for i in 0..n {
        let needed = k - picked.len();
        if needed == 0 {
            break;
        }
        if random_below(n - i) < needed {
            picked.push(i);
        }
    }
    picked
}

/// The most items a random-count reply reserves room for up front (a huge negative count is
/// legal, and the reply grows as it is built, as Redis's does).
pub const RANDOM_PREALLOC: usize = 1024;

/// HRANDFIELD key [count [WITHVALUES]]: one random field (null for a missing key); with a
/// count, that many distinct fields (a positive count, at most the whole hash, which then comes
/// in order) or that many picks with repetition (a negative count). WITHVALUES pairs each field
/// with its value: flat in RESP2, as two-element arrays in RESP3.
fn hrandfield(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let Some(count_word) = args.next_opt() else {
        let mut locked = ctx.lock([&key]);
        return Ok(match read(&mut locked, &key)? {
            Some(h) => bulk(h.random().0),
            None => Reply::Null,
        });
    };
    let count = parse_random_count(&count_word)?;
    let with_values = match args.remaining() {
        0 => false,
        1 if args.eat("withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::Text("ERR value is out of range"));
    }
    let nested = with_values && ctx.protocol() == Protocol::Resp3;
    let mut locked = ctx.lock([&key]);
    let Some(hash) = read(&mut locked, &key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let item = |out: &mut Vec<Reply>, f: &[u8], v: &[u8]| {
        if nested {
            out.push(Reply::Array(vec![bulk(f), bulk(v)]));
        } else {
            out.push(bulk(f));
            if with_values {
                out.push(bulk(v));
            }
        }
    };
    let wanted = count.unsigned_abs();
    let size = hash.len();
    let mut out = Vec::with_capacity(wanted.min(size.max(RANDOM_PREALLOC) as u64) as usize);
    if count < 0 || count == 1 {
        for _ in 0..wanted {
            let (f, v) = hash.random();
            item(&mut out, f, v);
        }
    } else if wanted >= size as u64 {
        for (f, v) in hash.iter() {
            item(&mut out, f, v);
        }
    } else {
        // A subset, in the hash's own order (Redis's listpack sampling order; a table's order is
        // unspecified anyway).
        let picks = sample_indices(size, wanted as usize);
        let mut picks = picks.into_iter().peekable();
        for (i, (f, v)) in hash.iter().enumerate() {
            if picks.peek() == Some(&i) {
                picks.next();
                item(&mut out, f, v);
            }
        }
    }
    Ok(Reply::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_ascending_and_complete() {
        for (n, k) in [(10, 0), (10, 3), (10, 9), (1, 0), (100, 50)] {
            let s = sample_indices(n, k);
            assert_eq!(s.len(), k);
            assert!(s.windows(2).all(|w| w[0] < w[1]));
            assert!(s.iter().all(|&i| i < n));
        }
    }

    #[test]
    fn random_counts_refuse_only_the_most_negative_integer() {
        assert_eq!(parse_random_count(b"-5"), Ok(-5));
        assert_eq!(parse_random_count(b"9223372036854775807"), Ok(i64::MAX));
        assert!(matches!(
            parse_random_count(b"-9223372036854775808"),
            Err(CmdError::Text(_))
        ));
        assert_eq!(parse_random_count(b"x"), Err(CmdError::NotInteger));
    }
}

#[cfg(test)]
mod server_tests {
    use crate::protocol::Protocol;
    use crate::server::{Config, Shared};
    use crate::store::Clock;

    fn shared() -> Shared {
        let config = Config {
            databases: 16,
            shards: 8,
            slide: vec!["sess:*".into()],
            ..Config::default()
        };
        Shared::new(config, 6379, Clock::manual(1_700_000_000_000))
    }

    fn run(shared: &Shared, proto: Protocol, words: &[&str]) -> String {
        String::from_utf8_lossy(&crate::commands::run_as_new_client(shared, proto, words))
            .into_owned()
    }

    fn run2(shared: &Shared, words: &[&str]) -> String {
        run(shared, Protocol::Resp2, words)
    }

    #[test]
    fn value_reads_slide_a_session_hash_and_metadata_reads_do_not() {
        let s = shared();
        assert_eq!(run2(&s, &["hset", "sess:a", "user", "42"]), ":1\r\n");
        assert_eq!(run2(&s, &["expire", "sess:a", "100"]), ":1\r\n");
        s.store.clock().advance(60_000);
        for metadata in [&["hlen", "sess:a"][..], &["type", "sess:a"]] {
            run2(&s, metadata);
        }
        assert_eq!(run2(&s, &["pttl", "sess:a"]), ":40000\r\n");
        assert_eq!(run2(&s, &["hget", "sess:a", "user"]), "$2\r\n42\r\n");
        assert_eq!(run2(&s, &["pttl", "sess:a"]), ":100000\r\n");
        s.store.clock().advance(30_000);
        assert_eq!(
            run2(&s, &["hgetall", "sess:a"]),
            "*2\r\n$4\r\nuser\r\n$2\r\n42\r\n"
        );
        assert_eq!(run2(&s, &["pttl", "sess:a"]), ":100000\r\n");
        // A write keeps the deadline where it is.
        s.store.clock().advance(10_000);
        run2(&s, &["hset", "sess:a", "seen", "1"]);
        assert_eq!(run2(&s, &["pttl", "sess:a"]), ":90000\r\n");
    }

    #[test]
    fn an_emptied_hash_is_deleted_and_a_failed_write_creates_nothing() {
        let s = shared();
        run2(&s, &["hset", "h", "a", "1", "b", "2"]);
        assert_eq!(run2(&s, &["hdel", "h", "a", "b"]), ":2\r\n");
        assert_eq!(run2(&s, &["exists", "h"]), ":0\r\n");
        assert!(run2(&s, &["hincrbyfloat", "h", "f", "inf"]).starts_with("-ERR"));
        assert!(run2(&s, &["hincrby", "h", "f", "x"]).starts_with("-ERR"));
        assert_eq!(run2(&s, &["hdel", "h", "f"]), ":0\r\n");
        assert_eq!(run2(&s, &["exists", "h"]), ":0\r\n");
    }

    #[test]
    fn hrandfield_with_values_nests_pairs_in_resp3_only() {
        let s = shared();
        run2(&s, &["hset", "h", "a", "1"]);
        let words = ["hrandfield", "h", "5", "withvalues"];
        assert_eq!(
            run(&s, Protocol::Resp2, &words),
            "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&s, Protocol::Resp3, &words),
            "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&s, Protocol::Resp3, &["hgetall", "h"]),
            "%1\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
    }
}
