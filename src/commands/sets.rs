//! Set commands: membership, random members, SMOVE, SSCAN, and the set algebra (SINTER, SUNION,
//! SDIFF, their STORE forms, SINTERCARD).
//!
//! Replies follow Redis 7.0 byte for byte: an `intset` answers in ascending order, which
//! [`crate::store::Set`] keeps; a table in its own order, which Redis leaves unspecified too. The
//! results of the algebra are built as Redis builds them (a new set that starts as an intset), so
//! their encoding and order match too. Arguments are checked in Redis's order.
//!
//! Invariants:
//! - No empty set is ever stored: a write that empties one deletes the key (with a `del` event),
//!   and a STORE of an empty result deletes the destination.
//! - Multi-key commands lock all their keys at once, so they are atomic; they check every key's
//!   type before computing anything, as Redis does.
//! - Reads look keys up with [`Locked::get`] once per key (a keyspace hit or miss; a sliding key
//!   slides when the row has `TOUCHES_VALUE`), writes with [`Locked::peek`].
//! - Every write that changes something reports it with [`Ctx::modified`] after the change, with
//!   Redis's event names, once the shard locks are released.

use bytes::Bytes;

use super::hashes::{parse_random_count, sample_indices, scan_reply, RANDOM_PREALLOC};
use super::keys::{parse_cursor, parse_scan_options};
use super::{flags::*, parse_i64, Args, Command, Ctx, KeySpec, ALL_KEYS, NO_KEYS, ONE_KEY};
use crate::error::CmdError;
use crate::protocol::Reply;
use crate::server::notify;
use crate::store::glob::glob_match;
use crate::store::{Entry, Locked, Member, Set, Value};

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "set";

const READ_FAST: &[&str] = &["read", "set", "fast"];
const READ_SLOW: &[&str] = &["read", "set", "slow"];
const WRITE_FAST: &[&str] = &["write", "set", "fast"];
const WRITE_SLOW: &[&str] = &["write", "set", "slow"];
const TWO_KEYS: KeySpec = KeySpec {
    first: 1,
    last: 2,
    step: 1,
};

/// The set commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Adds members to a set; returns how many were new.",
        sadd,
    ),
    Command::leaf(
        GROUP,
        "srem",
        -3,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Removes members from a set; returns how many were there.",
        srem,
    ),
    Command::leaf(
        GROUP,
        "smembers",
        2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "1.0.0",
        "Returns every member of a set.",
        smembers,
    ),
    Command::leaf(
        GROUP,
        "sismember",
        3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "1.0.0",
        "Tells whether a value is a member of a set.",
        sismember,
    ),
    Command::leaf(
        GROUP,
        "smismember",
        -3,
        READONLY | FAST | TOUCHES_VALUE,
        ONE_KEY,
        READ_FAST,
        "6.2.0",
        "Tells, for each of several values, whether it is a member of a set.",
        smismember,
    ),
    Command::leaf(
        GROUP,
        "scard",
        2,
        READONLY | FAST,
        ONE_KEY,
        READ_FAST,
        "1.0.0",
        "Returns the number of members of a set.",
        scard,
    ),
    Command::leaf(
        GROUP,
        "spop",
        -2,
        WRITE | FAST,
        ONE_KEY,
        WRITE_FAST,
        "1.0.0",
        "Removes and returns random members of a set.",
        spop,
    ),
    Command::leaf(
        GROUP,
        "srandmember",
        -2,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "1.0.0",
        "Returns random members of a set without removing them.",
        srandmember,
    ),
    Command::leaf(
        GROUP,
        "smove",
        4,
        WRITE | FAST,
        TWO_KEYS,
        WRITE_FAST,
        "1.0.0",
        "Moves a member from one set to another.",
        smove,
    ),
    Command::leaf(
        GROUP,
        "sscan",
        -3,
        READONLY | TOUCHES_VALUE,
        ONE_KEY,
        READ_SLOW,
        "2.8.0",
        "Iterates over the members of a set.",
        sscan,
    ),
    Command::leaf(
        GROUP,
        "sinter",
        -2,
        READONLY | TOUCHES_VALUE,
        ALL_KEYS,
        READ_SLOW,
        "1.0.0",
        "Returns the members common to every given set.",
        sinter,
    ),
    Command::leaf(
        GROUP,
        "sunion",
        -2,
        READONLY | TOUCHES_VALUE,
        ALL_KEYS,
        READ_SLOW,
        "1.0.0",
        "Returns the members of any of the given sets.",
        sunion,
    ),
    Command::leaf(
        GROUP,
        "sdiff",
        -2,
        READONLY | TOUCHES_VALUE,
        ALL_KEYS,
        READ_SLOW,
        "1.0.0",
        "Returns the members of the first set that are in none of the others.",
        sdiff,
    ),
    Command::leaf(
        GROUP,
        "sinterstore",
        -3,
        WRITE | DENYOOM | TOUCHES_VALUE,
        ALL_KEYS,
        WRITE_SLOW,
        "1.0.0",
        "Stores the intersection of sets in a key; returns its size.",
        sinterstore,
    ),
    Command::leaf(
        GROUP,
        "sunionstore",
        -3,
        WRITE | DENYOOM | TOUCHES_VALUE,
        ALL_KEYS,
        WRITE_SLOW,
        "1.0.0",
        "Stores the union of sets in a key; returns its size.",
        sunionstore,
    ),
    Command::leaf(
        GROUP,
        "sdiffstore",
        -3,
        WRITE | DENYOOM | TOUCHES_VALUE,
        ALL_KEYS,
        WRITE_SLOW,
        "1.0.0",
        "Stores the difference of sets in a key; returns its size.",
        sdiffstore,
    ),
    Command::leaf(
        GROUP,
        "sintercard",
        -3,
        READONLY | TOUCHES_VALUE,
        // The keys follow a count (Redis's "movablekeys"): no fixed range to describe.
        NO_KEYS,
        READ_SLOW,
        "7.0.0",
        "Returns the size of the intersection of sets, optionally stopping at a limit.",
        sintercard,
    ),
];

/// The set held by `entry`, or WRONGTYPE.
fn set_in(entry: &mut Entry) -> Result<&mut Set, CmdError> {
    entry.set_mut().ok_or(CmdError::WrongType)
}

/// The set at `key` for a command that reads it (None when the key is missing).
fn read<'l>(locked: &'l mut Locked<'_>, key: &[u8]) -> Result<Option<&'l mut Set>, CmdError> {
    match locked.get(key) {
        Some(entry) => Ok(Some(set_in(entry)?)),
        None => Ok(None),
    }
}

/// The set at `key` for a write, or for a second look at a key already read (no hit counted).
fn peek<'l>(locked: &'l mut Locked<'_>, key: &[u8]) -> Result<Option<&'l mut Set>, CmdError> {
    match locked.peek(key) {
        Some(entry) => Ok(Some(set_in(entry)?)),
        None => Ok(None),
    }
}

fn member_reply(m: Member) -> Reply {
    Reply::Bulk(m.to_bytes())
}

/// SADD key member [member ...]: how many members were new.
fn sadd(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let members = args.rest();
    let mut locked = ctx.lock([&key]);
    let added = match peek(&mut locked, &key)? {
        Some(set) => members.iter().filter(|m| set.insert(m)).count(),
        None => {
            let mut set = Set::default();
            let added = members.iter().filter(|m| set.insert(m)).count();
            locked.insert(&key, Value::Set(set), 0);
            added
        }
    };
    drop(locked);
    if added > 0 {
        ctx.modified(notify::SET, "sadd", &key);
    }
    Ok(Reply::Integer(added as i64))
}

/// SREM key member [member ...]: how many members were removed. The key goes when its last
/// member does.
fn srem(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let members = args.rest();
    let mut locked = ctx.lock([&key]);
    let Some(set) = peek(&mut locked, &key)? else {
        return Ok(Reply::Integer(0));
    };
    let removed = members.iter().filter(|m| set.remove(m)).count();
    let emptied = set.is_empty();
    if emptied {
        locked.remove(&key);
    }
    drop(locked);
    if removed > 0 {
        ctx.modified(notify::SET, "srem", &key);
    }
    if emptied {
        ctx.modified(notify::GENERIC, "del", &key);
    }
    Ok(Reply::Integer(removed as i64))
}

/// SMEMBERS key: every member (a set in RESP3).
fn smembers(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let members =
        read(&mut locked, &key)?.map_or_else(Vec::new, |s| s.iter().map(member_reply).collect());
    Ok(Reply::Set(members))
}

/// SISMEMBER key member: 1 or 0.
fn sismember(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let member = args.next()?;
    let mut locked = ctx.lock([&key]);
    let found = read(&mut locked, &key)?.is_some_and(|s| s.contains(&member));
    Ok(Reply::Integer(i64::from(found)))
}

/// SMISMEMBER key member [member ...]: 1 or 0 for each.
fn smismember(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let members = args.rest();
    let mut locked = ctx.lock([&key]);
    let set = read(&mut locked, &key)?;
    Ok(Reply::Array(
        members
            .iter()
            .map(|m| Reply::Integer(i64::from(set.as_ref().is_some_and(|s| s.contains(m)))))
            .collect(),
    ))
}

/// SCARD key: the number of members (0 for a missing key).
fn scard(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.lock([&key]);
    let len = read(&mut locked, &key)?.map_or(0, |s| s.len());
    Ok(Reply::Integer(len as i64))
}

/// SPOP key [count]: removes and returns one random member (null for a missing key), or up to
/// `count` of them (a set in RESP3). Like Redis: popping the whole set answers the members in
/// the order a fresh copy of the set has; popping most of it keeps a few random members in a
/// new set (which may be an intset again) and answers the rest in the old set's order;
/// popping a few answers them in the order drawn.
fn spop(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let count = match args.remaining() {
        0 => None,
        1 => match parse_i64(&args.next()?) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => {
                return Err(CmdError::Text(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
        _ => return Err(CmdError::Syntax),
    };
    let mut locked = ctx.lock([&key]);
    let Some(set) = peek(&mut locked, &key)? else {
        return Ok(match count {
            None => Reply::Null,
            Some(_) => Reply::Set(Vec::new()),
        });
    };
    let reply = match count {
        None => Reply::Bulk(set.pop_random()),
        Some(0) => return Ok(Reply::Set(Vec::new())),
        Some(count) => {
            let size = set.len() as u64;
            if count >= size {
                let copy = copy_of(set);
                let members = copy.iter().map(member_reply).collect();
                *set = Set::default();
                Reply::Set(members)
            } else if (size - count) * 5 > count {
                Reply::Set((0..count).map(|_| Reply::Bulk(set.pop_random())).collect())
            } else {
                let mut kept = Set::default();
                for _ in 0..size - count {
                    kept.insert(&set.pop_random());
                }
                let members = set.iter().map(member_reply).collect();
                *set = kept;
                Reply::Set(members)
            }
        }
    };
    let emptied = set.is_empty();
    if emptied {
        locked.remove(&key);
    }
    drop(locked);
    ctx.modified(notify::SET, "spop", &key);
    if emptied {
        ctx.modified(notify::GENERIC, "del", &key);
    }
    Ok(reply)
}

/// A new set with the members of `set`, built as Redis builds a result: it starts as an
/// intset, so a table of few integers comes back as an intset.
fn copy_of(set: &Set) -> Set {
    let mut copy = Set::default();
    for m in set.iter() {
        copy.insert_member(m);
    }
    copy
}

/// SRANDMEMBER key [count]: one random member (null for a missing key); with a count, that many
/// distinct members (a positive count, at most the whole set, which then comes in order) or
/// that many picks with repetition (a negative count).
fn srandmember(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let count = match args.remaining() {
        0 => None,
        1 => Some(parse_random_count(&args.next()?)?),
        _ => return Err(CmdError::Syntax),
    };
    let mut locked = ctx.lock([&key]);
    let set = read(&mut locked, &key)?;
    let Some(count) = count else {
        return Ok(set.map_or(Reply::Null, |s| member_reply(s.random())));
    };
    let Some(set) = set else {
        return Ok(Reply::Array(Vec::new()));
    };
    let wanted = count.unsigned_abs();
    let size = set.len();
    let mut out = Vec::with_capacity(wanted.min(size.max(RANDOM_PREALLOC) as u64) as usize);
    if count < 0 || count == 1 {
        for _ in 0..wanted {
            out.push(member_reply(set.random()));
        }
    } else if wanted >= size as u64 {
        out.extend(set.iter().map(member_reply));
    } else {
        let picks = sample_indices(size, wanted as usize);
        let mut picks = picks.into_iter().peekable();
        for (i, m) in set.iter().enumerate() {
            if picks.peek() == Some(&i) {
                picks.next();
                out.push(member_reply(m));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// SMOVE source destination member: 1 if the member was moved (or, when source and destination
/// are the same set, is there), 0 otherwise. A missing source answers 0 before any type check.
fn smove(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let src = args.next()?;
    let dst = args.next()?;
    let member = args.next()?;
    let mut locked = ctx.lock([&src, &dst]);
    if !locked.exists(&src) {
        return Ok(Reply::Integer(0));
    }
    peek(&mut locked, &src)?;
    let dst_exists = peek(&mut locked, &dst)?.is_some();
    if src == dst {
        let found = peek(&mut locked, &src)?.is_some_and(|s| s.contains(&member));
        return Ok(Reply::Integer(i64::from(found)));
    }
    let set = peek(&mut locked, &src)?.expect("checked above");
    if !set.remove(&member) {
        return Ok(Reply::Integer(0));
    }
    let emptied = set.is_empty();
    if emptied {
        locked.remove(&src);
    }
    let added = match peek(&mut locked, &dst)? {
        Some(set) => set.insert(&member),
        None => {
            debug_assert!(!dst_exists);
            let mut set = Set::default();
            set.insert(&member);
            locked.insert(&dst, Value::Set(set), 0);
            true
        }
    };
    drop(locked);
    ctx.modified(notify::SET, "srem", &src);
    if emptied {
        ctx.modified(notify::GENERIC, "del", &src);
    }
    if added {
        ctx.modified(notify::SET, "sadd", &dst);
    }
    Ok(Reply::Integer(1))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: members. An intset comes whole with cursor
/// 0. Checks in Redis's order: the cursor, the key (missing: an empty scan), its type, the
/// options.
fn sscan(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    let cursor = parse_cursor(&args.next()?)?;
    let mut locked = ctx.lock([&key]);
    let Some(set) = read(&mut locked, &key)? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let o = parse_scan_options(args, false)?;
    let mut items = Vec::new();
    let next = set.scan(cursor, o.count, |m| {
        let bytes = m.to_bytes();
        if o.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, &bytes, false))
        {
            items.push(Reply::Bulk(bytes));
        }
    });
    Ok(scan_reply(next, items))
}

/// Looks every source key up once (a read of each value): their sizes, None for a missing key,
/// or WRONGTYPE if any holds another type.
fn source_sizes(locked: &mut Locked<'_>, keys: &[Bytes]) -> Result<Vec<Option<usize>>, CmdError> {
    keys.iter()
        .map(|k| Ok(read(locked, k)?.map(|s| s.len())))
        .collect()
}

/// The intersection of the sets at `keys`, in the order of the smallest set (ties: the first
/// named), as Redis walks it; empty if any key is missing.
fn intersection(locked: &mut Locked<'_>, keys: &[Bytes]) -> Result<Set, CmdError> {
    let sizes = source_sizes(locked, keys)?;
    let mut result = Set::default();
    if sizes.iter().any(Option::is_none) {
        return Ok(result);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut members: Vec<Bytes> = peek(locked, &keys[order[0]])?
        .map_or_else(Vec::new, |s| s.iter().map(Member::to_bytes).collect());
    for &i in &order[1..] {
        if members.is_empty() {
            break;
        }
        if let Some(set) = peek(locked, &keys[i])? {
            members.retain(|m| set.contains(m));
        }
    }
    for m in &members {
        result.insert(m);
    }
    Ok(result)
}

/// The union of the sets at `keys` (missing keys are empty sets).
fn union(locked: &mut Locked<'_>, keys: &[Bytes]) -> Result<Set, CmdError> {
    source_sizes(locked, keys)?;
    let mut result = Set::default();
    for k in keys {
        if let Some(set) = peek(locked, k)? {
            for m in set.iter() {
                result.insert_member(m);
            }
        }
    }
    Ok(result)
}

/// The members of the first set at `keys` in none of the others. Redis picks one of two
/// algorithms by their estimated cost, and the choice shows in the result's encoding: the first
/// adds only the surviving members to a new set, the second adds all of the first set's and
/// then removes the others'. Both are reproduced.
fn difference(locked: &mut Locked<'_>, keys: &[Bytes]) -> Result<Set, CmdError> {
    let sizes = source_sizes(locked, keys)?;
    let mut result = Set::default();
    let Some(first_size) = sizes[0] else {
        return Ok(result);
    };
    let present = sizes.iter().flatten().count();
    let algo_one_work = present * first_size / 2;
    let algo_two_work: usize = sizes.iter().flatten().sum();
    let first: Vec<Bytes> =
        peek(locked, &keys[0])?.map_or_else(Vec::new, |s| s.iter().map(Member::to_bytes).collect());
    if algo_one_work <= algo_two_work {
        let mut survivors = first;
        for k in &keys[1..] {
            if k == &keys[0] {
                survivors.clear();
            }
            if let Some(set) = peek(locked, k)? {
                survivors.retain(|m| !set.contains(m));
            }
        }
        for m in &survivors {
            result.insert(m);
        }
    } else {
        for m in &first {
            result.insert(m);
        }
        for k in &keys[1..] {
            if result.is_empty() {
                break;
            }
            if let Some(set) = peek(locked, k)? {
                for m in set.iter() {
                    result.remove(&m.to_bytes());
                }
            }
        }
    }
    Ok(result)
}

type SetOp = fn(&mut Locked<'_>, &[Bytes]) -> Result<Set, CmdError>;

/// SINTER, SUNION, SDIFF: the result as a set reply.
fn combine(ctx: &mut Ctx, args: &mut Args, op: SetOp) -> Result<Reply, CmdError> {
    let keys = args.rest();
    let mut locked = ctx.lock(&keys);
    let result = op(&mut locked, &keys)?;
    Ok(Reply::Set(result.iter().map(member_reply).collect()))
}

fn sinter(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine(ctx, args, intersection)
}

fn sunion(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine(ctx, args, union)
}

fn sdiff(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine(ctx, args, difference)
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE destination key [key ...]: stores the result (replacing
/// whatever the destination held, TTL included) and answers its size; an empty result deletes
/// the destination instead.
fn combine_store(
    ctx: &mut Ctx,
    args: &mut Args,
    op: SetOp,
    event: &'static str,
) -> Result<Reply, CmdError> {
    let dst = args.next()?;
    let keys = args.rest();
    let mut locked = ctx.lock(keys.iter().chain([&dst]));
    let result = op(&mut locked, &keys)?;
    let size = result.len();
    let (class, event) = if size > 0 {
        locked.insert(&dst, Value::Set(result), 0);
        (notify::SET, Some(event))
    } else if locked.remove(&dst).is_some() {
        (notify::GENERIC, Some("del"))
    } else {
        (0, None)
    };
    drop(locked);
    if let Some(event) = event {
        ctx.modified(class, event, &dst);
    }
    Ok(Reply::Integer(size as i64))
}

fn sinterstore(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine_store(ctx, args, intersection, "sinterstore")
}

fn sunionstore(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine_store(ctx, args, union, "sunionstore")
}

fn sdiffstore(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    combine_store(ctx, args, difference, "sdiffstore")
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection, at most
/// `limit` when it is not 0.
fn sintercard(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let numkeys = match parse_i64(&args.next()?) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(CmdError::Text("ERR numkeys should be greater than 0")),
    };
    if numkeys > args.remaining() as u64 {
        return Err(CmdError::Text(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys: Vec<Bytes> = (0..numkeys)
        .map(|_| args.next())
        .collect::<Result<_, _>>()?;
    let mut limit = 0;
    while let Some(word) = args.next_opt() {
        if word.eq_ignore_ascii_case(b"limit") && !args.is_empty() {
            limit = match parse_i64(&args.next()?) {
                Ok(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::Text("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut locked = ctx.lock(&keys);
    let size = intersection(&mut locked, &keys)?.len();
    let size = if limit > 0 { size.min(limit) } else { size };
    Ok(Reply::Integer(size as i64))
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use crate::commands::{dispatch, Ctx};
    use crate::protocol::Protocol;
    use crate::server::{ClientState, Config, Shared};
    use crate::store::Clock;

    fn shared(shards: usize) -> Shared {
        let config = Config {
            databases: 16,
            shards,
            slide: vec!["sess:*".into()],
            ..Config::default()
        };
        Shared::new(config, 6379, Clock::manual(1_700_000_000_000))
    }

    fn run2(shared: &Shared, words: &[&str]) -> String {
        let addr = "127.0.0.1:5000".parse().unwrap();
        let registration = shared.clients.register(addr, addr, 100).unwrap();
        let mut client = ClientState::new(registration.handle.clone(), true);
        let argv = words
            .iter()
            .map(|w| bytes::Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let reply = dispatch(&mut Ctx::new(shared, &mut client), argv);
        let mut out = BytesMut::new();
        reply.encode(&mut out, Protocol::Resp2);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn membership_reads_slide_and_counting_does_not() {
        let s = shared(4);
        run2(&s, &["sadd", "sess:idx", "a", "b"]);
        run2(&s, &["pexpire", "sess:idx", "1000"]);
        s.store.clock().advance(600);
        run2(&s, &["scard", "sess:idx"]);
        assert_eq!(run2(&s, &["pttl", "sess:idx"]), ":400\r\n");
        assert_eq!(run2(&s, &["sismember", "sess:idx", "a"]), ":1\r\n");
        assert_eq!(run2(&s, &["pttl", "sess:idx"]), ":1000\r\n");
    }

    #[test]
    fn algebra_works_across_shards_and_replaces_the_destination() {
        for shards in [1, 16] {
            let s = shared(shards);
            let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
            for (i, k) in keys.iter().enumerate() {
                let members: Vec<String> = (i..i + 4).map(|m| m.to_string()).collect();
                let mut words = vec!["sadd", k.as_str()];
                words.extend(members.iter().map(String::as_str));
                run2(&s, &words);
            }
            run2(&s, &["set", "dst", "x", "ex", "100"]);
            let mut words = vec!["sunionstore", "dst"];
            words.extend(keys.iter().map(String::as_str));
            assert_eq!(run2(&s, &words), ":11\r\n");
            assert_eq!(run2(&s, &["ttl", "dst"]), ":-1\r\n");
            assert_eq!(run2(&s, &["object", "encoding", "dst"]), "$6\r\nintset\r\n");
            assert_eq!(
                run2(&s, &["sinter", "k0", "k1", "k2", "k3"]),
                "*1\r\n$1\r\n3\r\n"
            );
            assert_eq!(run2(&s, &["sintercard", "2", "k0", "k2"]), ":2\r\n");
            assert_eq!(
                run2(&s, &["sdiffstore", "dst", "k0", "k0"]),
                ":0\r\n",
                "an empty result deletes the destination"
            );
            assert_eq!(run2(&s, &["exists", "dst"]), ":0\r\n");
            assert_eq!(run2(&s, &["smove", "k0", "k7", "0"]), ":1\r\n");
            assert_eq!(run2(&s, &["sismember", "k7", "0"]), ":1\r\n");
        }
    }

    #[test]
    fn popping_everything_deletes_the_key() {
        let s = shared(2);
        run2(&s, &["sadd", "s", "3", "1", "2"]);
        assert_eq!(
            run2(&s, &["spop", "s", "3"]),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        assert_eq!(run2(&s, &["exists", "s"]), ":0\r\n");
        run2(&s, &["sadd", "s", "x"]);
        assert_eq!(run2(&s, &["spop", "s"]), "$1\r\nx\r\n");
        assert_eq!(run2(&s, &["exists", "s"]), ":0\r\n");
    }
}
