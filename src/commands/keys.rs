//! Generic key commands: existence, deletion, expiry, renaming, copying, iteration.

use bytes::Bytes;

use super::flags::*;
use super::{keyword, parse_i64, Args, Command, Ctx, KeySpec, ALL_KEYS, NO_KEYS, ONE_KEY};
use crate::error::CmdError;
use crate::protocol::Reply;
use crate::server::notify::GENERIC;
use crate::store::glob::glob_match;

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "generic";

const TWO_KEYS: KeySpec = KeySpec {
    first: 1,
    last: 2,
    step: 1,
};
const READ_FAST: &[&str] = &["keyspace", "read", "fast"];
const WRITE_FAST: &[&str] = &["keyspace", "write", "fast"];
const WRITE_SLOW: &[&str] = &["keyspace", "write", "slow"];

/// The generic key commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "del",
        -2,
        WRITE,
        ALL_KEYS,
        WRITE_SLOW,
        "1.0.0",
        "Deletes keys.",
        del,
    ),
    Command::leaf(
        GROUP,
        "unlink",
        -2,
        WRITE | FAST,
        ALL_KEYS,
        WRITE_FAST,
        "4.0.0",
        "Deletes keys (the memory is freed at once; there is no background freeing to ask for).",
        del,
    ),
    Command::leaf(
        GROUP,
        "exists",
        -2,
        READONLY | FAST,
        ALL_KEYS,
        READ_FAST,
        "1.0.0",
        "Counts how many of the keys exist.",
        exists,
    ),
    Command::leaf(
        GROUP,
        "touch",
        -2,
        READONLY | FAST | TOUCHES_VALUE,
        ALL_KEYS,
        READ_FAST,
        "3.2.1",
        "Counts the keys that exist, marking them as used.",
        touch,
    ),
    Command::leaf(
        GROUP,
        "expire",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Sets a key's time to live in seconds.",
        expire,
    ),
    Command::leaf(
        GROUP,
        "pexpire",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.6.0",
        "Sets a key's time to live in milliseconds.",
        pexpire,
    ),
    Command::leaf(
        GROUP,
        "expireat",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.2.0",
        "Sets a key's expiry as a Unix time in seconds.",
        expireat,
    ),
    Command::leaf(
        GROUP,
        "pexpireat",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.6.0",
        "Sets a key's expiry as a Unix time in milliseconds.",
        pexpireat,
    ),
    Command::leaf(
        GROUP,
        "ttl",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "1.0.0",
        "Returns a key's time to live in seconds.",
        ttl,
    ),
    Command::leaf(
        GROUP,
        "pttl",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "2.6.0",
        "Returns a key's time to live in milliseconds.",
        pttl,
    ),
    Command::leaf(
        GROUP,
        "expiretime",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "7.0.0",
        "Returns a key's expiry as a Unix time in seconds.",
        expiretime,
    ),
    Command::leaf(
        GROUP,
        "pexpiretime",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "7.0.0",
        "Returns a key's expiry as a Unix time in milliseconds.",
        pexpiretime,
    ),
    Command::leaf(
        GROUP,
        "persist",
        2,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "2.2.0",
        "Removes a key's expiry.",
        persist,
    ),
    Command::leaf(
        GROUP,
        "type",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "1.0.0",
        "Returns the type of a key's value.",
        type_,
    ),
    Command::leaf(
        GROUP,
        "rename",
        3,
        WRITE,
        TWO_KEYS,
        WRITE_SLOW,
        "1.0.0",
        "Renames a key, replacing the destination.",
        rename,
    ),
    Command::leaf(
        GROUP,
        "renamenx",
        3,
        WRITE | FAST,
        TWO_KEYS,
        WRITE_FAST,
        "1.0.0",
        "Renames a key only if the new name is free.",
        renamenx,
    ),
    Command::leaf(
        GROUP,
        "copy",
        -3,
        WRITE | DENYOOM,
        TWO_KEYS,
        WRITE_SLOW,
        "6.2.0",
        "Copies a key's value, optionally to another database.",
        copy,
    ),
    Command::leaf(
        GROUP,
        "keys",
        2,
        READONLY,
        NO_KEYS,
        &["keyspace", "read", "slow", "dangerous"],
        "1.0.0",
        "Returns every key matching a pattern.",
        keys,
    ),
    Command::leaf(
        GROUP,
        "scan",
        -2,
        READONLY,
        NO_KEYS,
        &["keyspace", "read", "slow"],
        "2.8.0",
        "Iterates over the keys of the database.",
        scan,
    ),
    Command::leaf(
        GROUP,
        "randomkey",
        1,
        READONLY,
        NO_KEYS,
        &["keyspace", "read", "slow"],
        "1.0.0",
        "Returns a random key.",
        randomkey,
    ),
];

fn del(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let keys = args.rest();
    let mut locked = ctx.lock(&keys);
    let mut removed = 0;
    for key in &keys {
        if locked.remove(key).is_some() {
            removed += 1;
            ctx.modified(GENERIC, "del", key);
        }
    }
    Ok(Reply::Integer(removed as i64))
}

fn exists(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let keys = args.rest();
    let mut locked = ctx.lock(&keys);
    Ok(Reply::Integer(
        keys.iter().filter(|k| locked.exists(k)).count() as i64,
    ))
}

fn touch(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let keys = args.rest();
    let mut locked = ctx.lock(&keys);
    // `get`, not `peek`: TOUCH is a read of the value, so sliding keys slide.
    let touched = keys.iter().filter(|k| locked.get(k).is_some()).count();
    Ok(Reply::Integer(touched as i64))
}

/// EXPIRE's conditions.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_condition(args: &mut Args) -> Result<ExpireCondition, CmdError> {
    let mut c = ExpireCondition::default();
    while let Some(word) = args.next_opt() {
        let mut buf = [0; 16];
        match keyword(&word, &mut buf) {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => {
                return Err(CmdError::Owned(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(&word)
                )))
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CmdError::Text(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CmdError::Text(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT. `seconds`: the argument is in seconds; `relative`: it
/// counts from now.
fn expire_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    seconds: bool,
    relative: bool,
    name: &'static str,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let amount = args.next()?;
    let cond = parse_expire_condition(args)?;
    let mut when = parse_i64(&amount)?;
    let invalid = CmdError::InvalidExpire(name);
    if seconds {
        when = when.checked_mul(1000).ok_or(invalid.clone())?;
    }
    let mut locked = ctx.lock([&key]);
    let now = locked.now() as i64;
    if relative {
        when = when.checked_add(now).ok_or(invalid)?;
    }
    let Some(entry) = locked.peek(&key) else {
        return Ok(Reply::Integer(0));
    };
    let current = entry.expires_at();
    let refused = (cond.nx && current != 0)
        || (cond.xx && current == 0)
        || (cond.gt && (current == 0 || when <= current as i64))
        || (cond.lt && current != 0 && when >= current as i64);
    if refused {
        return Ok(Reply::Integer(0));
    }
    if when <= now {
        locked.remove(&key);
        ctx.modified(GENERIC, "del", &key);
    } else {
        locked.set_expires_at(&key, when as u64);
        ctx.modified(GENERIC, "expire", &key);
    }
    Ok(Reply::Integer(1))
}

fn expire(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(ctx, args, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(ctx, args, false, true, "pexpire")
}

fn expireat(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(ctx, args, true, false, "expireat")
}

fn pexpireat(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without TTL; seconds are rounded
/// to the nearest, as Redis does.
fn ttl_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    millis: bool,
    absolute: bool,
) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let now = locked.now();
    let Some(entry) = locked.peek(&key) else {
        return Ok(Reply::Integer(-2));
    };
    if entry.expires_at() == 0 {
        return Ok(Reply::Integer(-1));
    }
    let ms = if absolute {
        entry.expires_at()
    } else {
        entry.expires_at().saturating_sub(now)
    } as i64;
    Ok(Reply::Integer(if millis { ms } else { (ms + 500) / 1000 }))
}

fn ttl(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    match locked.peek(&key) {
        Some(entry) if entry.expires_at() != 0 => {
            locked.set_expires_at(&key, 0);
            ctx.modified(GENERIC, "persist", &key);
            Ok(Reply::Integer(1))
        }
        _ => Ok(Reply::Integer(0)),
    }
}

fn type_(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let name = locked.peek(&key).map_or("none", |e| e.value().type_name());
    Ok(Reply::simple(name))
}

/// RENAME and RENAMENX: the value and its TTL move to the new name.
fn rename_generic(ctx: &mut Ctx, args: &mut Args, nx: bool) -> Result<Reply, CmdError> {
    let from = args.next()?;
    let to = args.next()?;
    let mut locked = ctx.lock([&from, &to]);
    if !locked.exists(&from) {
        return Err(CmdError::NoSuchKey);
    }
    if from == to {
        return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
    }
    if nx && locked.exists(&to) {
        return Ok(Reply::Integer(0));
    }
    let entry = locked.remove(&from).expect("checked above");
    ctx.modified(GENERIC, "rename_from", &from);
    locked.insert_entry(entry.renamed(&to));
    ctx.modified(GENERIC, "rename_to", &to);
    Ok(if nx { Reply::Integer(1) } else { Reply::ok() })
}

fn rename(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    rename_generic(ctx, args, true)
}

fn copy(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let from = args.next()?;
    let to = args.next()?;
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    while let Some(word) = args.next_opt() {
        if word.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if word.eq_ignore_ascii_case(b"db") && !args.is_empty() {
            let db = args.next_i64()?;
            if db < 0 || db >= ctx.store().databases() as i64 {
                return Err(CmdError::DbIndexOutOfRange);
            }
            dst_db = db as usize;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if src_db == dst_db && from == to {
        return Err(CmdError::Text(
            "ERR source and destination objects are the same",
        ));
    }
    let mut locked = ctx.store().lock(src_db, [&from, &to]);
    let Some(entry) = locked.peek(&from) else {
        return Ok(Reply::Integer(0));
    };
    let copied = entry.clone().renamed(&to);
    locked.db = dst_db;
    if locked.exists(&to) {
        if !replace {
            return Ok(Reply::Integer(0));
        }
        locked.remove(&to);
    }
    locked.insert_entry(copied);
    ctx.shared.key_modified(dst_db, GENERIC, "copy_to", &to);
    Ok(Reply::Integer(1))
}

fn keys(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let pattern = args.next()?;
    let all = pattern.as_ref() == b"*";
    let keys = ctx
        .store()
        .keys(ctx.db(), |k| all || glob_match(&pattern, k, false));
    Ok(Reply::bulks(keys))
}

/// Parses SCAN-family options: MATCH, COUNT (at least 1), TYPE.
pub struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_name: Option<Bytes>,
}

/// Parses a SCAN cursor as Redis does, with C's `strtoul`: optional leading `+` or `-` (a
/// negative number wraps around), decimal digits, nothing else; an empty string is cursor 0.
/// `ERR invalid cursor` otherwise, or when it overflows 64 bits.
pub fn parse_cursor(word: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::Text("ERR invalid cursor");
    let (negative, digits) = match word.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, word),
    };
    if digits.is_empty() {
        // strtoul parses nothing: fine for "", but a lone sign is left unparsed.
        return if word.is_empty() {
            Ok(0)
        } else {
            Err(invalid())
        };
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(invalid());
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Parses SCAN's options after the cursor; `allow_type`: whether TYPE is accepted.
pub fn parse_scan_options(args: &mut Args, allow_type: bool) -> Result<ScanOptions, CmdError> {
    let mut o = ScanOptions {
        pattern: None,
        count: 10,
        type_name: None,
    };
    while let Some(word) = args.next_opt() {
        let has_value = !args.is_empty();
        if word.eq_ignore_ascii_case(b"count") && has_value {
            let n = args.next_i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = n as usize;
        } else if word.eq_ignore_ascii_case(b"match") && has_value {
            let p = args.next()?;
            o.pattern = if p.as_ref() == b"*" { None } else { Some(p) };
        } else if allow_type && word.eq_ignore_ascii_case(b"type") && has_value {
            o.type_name = Some(args.next()?);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let cursor = parse_cursor(&args.next()?)?;
    let o = parse_scan_options(args, true)?;
    let (next, keys) = ctx.store().scan(ctx.db(), cursor, o.count, |entry| {
        o.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, entry.key(), false))
            && o.type_name
                .as_ref()
                .is_none_or(|t| t.eq_ignore_ascii_case(entry.value().type_name().as_bytes()))
    });
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(next.to_string())),
        Reply::bulks(keys),
    ]))
}

fn randomkey(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::bulk_or_null(ctx.store().random_key(ctx.db())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in ["18446744073709551616", "-", "+", "abc", " 1", "1 ", "1.5"] {
            assert!(parse_cursor(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
