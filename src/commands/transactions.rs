//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC the dispatcher queues requests instead of running them (after the
//! checks Redis makes at queueing time; a rejected one makes EXEC answer EXECABORT). EXEC takes
//! the keyspace exclusively (see [`crate::store::Gate`]), so no other client sees the queued
//! commands half done, then runs them in order. WATCH registers the connection with
//! [`crate::server::notify::Events`]; any modification of a watched key by anyone (a write,
//! expiry, FLUSH*, SWAPDB) marks the connection dirty and EXEC answers a null array.

use super::flags::*;
use super::{call_queued, Args, Command, Ctx, ALL_KEYS, NO_KEYS};
use crate::error::CmdError;
use crate::protocol::Reply;

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "transactions";

const CONTROL: u32 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;
const FAST_TX: &[&str] = &["fast", "transaction"];

/// The transaction commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "multi",
        1,
        CONTROL | NOT_QUEUED,
        NO_KEYS,
        FAST_TX,
        "1.2.0",
        "Starts a transaction.",
        multi,
    ),
    Command::leaf(
        GROUP,
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | NOT_QUEUED | EXCLUSIVE,
        NO_KEYS,
        &["slow", "transaction"],
        "1.2.0",
        "Runs the queued commands of a transaction.",
        exec,
    ),
    Command::leaf(
        GROUP,
        "discard",
        1,
        CONTROL | NOT_QUEUED,
        NO_KEYS,
        FAST_TX,
        "2.0.0",
        "Drops the queued commands of a transaction.",
        discard,
    ),
    Command::leaf(
        GROUP,
        "watch",
        -2,
        CONTROL | NOT_QUEUED,
        ALL_KEYS,
        FAST_TX,
        "2.2.0",
        "Makes the next EXEC fail if any of these keys changes.",
        watch,
    ),
    Command::leaf(
        GROUP,
        "unwatch",
        1,
        CONTROL,
        NO_KEYS,
        FAST_TX,
        "2.2.0",
        "Forgets the keys watched.",
        unwatch,
    ),
];

fn multi(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Text("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Default::default());
    Ok(Reply::ok())
}

/// Forgets every key the connection watches, and whether one changed.
pub fn unwatch_all(ctx: &mut Ctx) {
    let watched = std::mem::take(&mut ctx.client.watched);
    ctx.shared.events.unwatch(&watched, ctx.client.id);
    ctx.client.handle.take_dirty();
}

/// Ends a transaction without running it (DISCARD, RESET, EXEC's failures).
pub fn discard_transaction(ctx: &mut Ctx) {
    ctx.client.multi = None;
    unwatch_all(ctx);
}

fn exec(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CmdError::Text("ERR EXEC without MULTI"));
    };
    let shared = ctx.shared;
    let _alone = shared.store.exclusive_access();
    // A watched key past its deadline but not yet removed counts as changed, as in Redis.
    let expired = ctx
        .client
        .watched
        .iter()
        .any(|(db, key)| shared.store.is_expired(*db, key));
    let dirty = ctx.client.handle.take_dirty() || expired;
    discard_transaction(ctx);
    if multi.failed {
        return Err(CmdError::Text(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if dirty {
        return Ok(Reply::NullArray);
    }
    let replies = multi
        .queue
        .into_iter()
        .map(|argv| call_queued(ctx, argv))
        .collect();
    Ok(Reply::Array(replies))
}

fn discard(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    if ctx.client.multi.is_none() {
        return Err(CmdError::Text("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx);
    Ok(Reply::ok())
}

fn watch(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Text("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for key in args.rest() {
        if !ctx
            .client
            .watched
            .iter()
            .any(|(d, k)| *d == db && *k == key)
        {
            let key = bytes::Bytes::copy_from_slice(&key);
            ctx.shared.events.watch(db, &key, &ctx.client.handle);
            ctx.client.watched.push((db, key));
        }
    }
    Ok(Reply::ok())
}

fn unwatch(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    unwatch_all(ctx);
    Ok(Reply::ok())
}
