//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! Subscriptions live in two places kept in step: the connection's own sets (for its counts and
//! for cleanup when it closes) and [`crate::server::pubsub::PubSub`] (for delivery). The
//! confirmations are pushes: arrays in RESP2, `>` frames in RESP3, one per channel.

use bytes::Bytes;

use super::flags::*;
use super::{Args, Command, Ctx, NO_KEYS};
use crate::error::CmdError;
use crate::protocol::Reply;

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "pubsub";

const SUBSCRIBING: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK;
const SLOW: &[&str] = &["pubsub", "slow"];

/// The pub/sub commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "subscribe",
        -2,
        SUBSCRIBING,
        NO_KEYS,
        SLOW,
        "2.0.0",
        "Listens for messages on channels.",
        subscribe,
    ),
    Command::leaf(
        GROUP,
        "unsubscribe",
        -1,
        SUBSCRIBING,
        NO_KEYS,
        SLOW,
        "2.0.0",
        "Stops listening on channels (all without arguments).",
        unsubscribe,
    ),
    Command::leaf(
        GROUP,
        "psubscribe",
        -2,
        SUBSCRIBING,
        NO_KEYS,
        SLOW,
        "2.0.0",
        "Listens for messages on channels matching glob patterns.",
        psubscribe,
    ),
    Command::leaf(
        GROUP,
        "punsubscribe",
        -1,
        SUBSCRIBING,
        NO_KEYS,
        SLOW,
        "2.0.0",
        "Stops listening on patterns (all without arguments).",
        punsubscribe,
    ),
    Command::leaf(
        GROUP,
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        NO_KEYS,
        &["pubsub", "fast"],
        "2.0.0",
        "Sends a message to a channel; returns how many received it.",
        publish,
    ),
    Command {
        name: "pubsub",
        arity: -2,
        flags: 0,
        keys: NO_KEYS,
        acl: &["slow"],
        group: "pubsub",
        since: "2.8.0",
        summary: "Inspects the pub/sub state.",
        handler: |_, _| Err(CmdError::WrongArity("pubsub".into())),
        subcommands: PUBSUB_SUBCOMMANDS,
    },
];

static PUBSUB_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "channels",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        SLOW,
        "2.8.0",
        "Lists the channels with subscribers, optionally matching a pattern.",
        pubsub_channels,
    ),
    Command::leaf(
        GROUP,
        "numsub",
        -2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        SLOW,
        "2.8.0",
        "Counts the subscribers of channels.",
        pubsub_numsub,
    ),
    Command::leaf(
        GROUP,
        "numpat",
        2,
        PUBSUB | LOADING | STALE,
        NO_KEYS,
        SLOW,
        "2.8.0",
        "Counts the patterns subscribed to.",
        pubsub_numpat,
    ),
    Command::leaf(
        GROUP,
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        SLOW,
        "6.2.0",
        "Lists the PUBSUB subcommands.",
        pubsub_help,
    ),
];

/// One subscription confirmation: `[kind, name or null, subscriptions left]`.
fn confirmation(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk_static(kind),
        Reply::bulk_or_null(name),
        Reply::Integer(count as i64),
    ])
}

fn subscribe_generic(ctx: &mut Ctx, args: &mut Args, pattern: bool) -> Reply {
    let mut replies = Vec::new();
    for name in args.rest() {
        let name = Bytes::copy_from_slice(&name);
        let set = if pattern {
            &mut ctx.client.patterns
        } else {
            &mut ctx.client.channels
        };
        if set.insert(name.clone()) {
            ctx.shared
                .events
                .pubsub
                .subscribe(&ctx.client.handle, &name, pattern);
        }
        let kind = if pattern { "psubscribe" } else { "subscribe" };
        replies.push(confirmation(kind, Some(name), ctx.client.subscriptions()));
    }
    Reply::Multiple(replies)
}

/// Removes subscriptions (all of one kind when `names` is empty) and returns the confirmations.
pub fn unsubscribe_names(ctx: &mut Ctx, names: Vec<Bytes>, pattern: bool) -> Reply {
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let names = if names.is_empty() {
        let set = if pattern {
            &ctx.client.patterns
        } else {
            &ctx.client.channels
        };
        if set.is_empty() {
            return confirmation(kind, None, ctx.client.subscriptions());
        }
        set.iter().cloned().collect()
    } else {
        names
    };
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        let set = if pattern {
            &mut ctx.client.patterns
        } else {
            &mut ctx.client.channels
        };
        if set.remove(&name) {
            ctx.shared
                .events
                .pubsub
                .unsubscribe(ctx.client.id, &name, pattern);
        }
        replies.push(confirmation(kind, Some(name), ctx.client.subscriptions()));
    }
    Reply::Multiple(replies)
}

/// Drops every subscription of the connection (RESET, and when it closes).
pub fn unsubscribe_all(ctx: &mut Ctx) {
    unsubscribe_names(ctx, Vec::new(), false);
    unsubscribe_names(ctx, Vec::new(), true);
}

fn subscribe(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(subscribe_generic(ctx, args, false))
}

fn psubscribe(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(subscribe_generic(ctx, args, true))
}

fn unsubscribe(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let names = args.rest();
    Ok(unsubscribe_names(ctx, names, false))
}

fn punsubscribe(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let names = args.rest();
    Ok(unsubscribe_names(ctx, names, true))
}

fn publish(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let channel = Bytes::copy_from_slice(&args.next()?);
    let message = Bytes::copy_from_slice(&args.next()?);
    Ok(Reply::Integer(
        ctx.shared.events.pubsub.publish(&channel, &message) as i64,
    ))
}

fn pubsub_channels(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let pattern = args.next_opt();
    if !args.is_empty() {
        return Err(CmdError::Owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args.argv()[1])
        )));
    }
    Ok(Reply::bulks(
        ctx.shared.events.pubsub.channels(pattern.as_deref()),
    ))
}

fn pubsub_numsub(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mut reply = Vec::new();
    for channel in args.rest() {
        let n = ctx.shared.events.pubsub.subscriber_count(&channel);
        reply.push(Reply::Bulk(channel));
        reply.push(Reply::Integer(n as i64));
    }
    Ok(Reply::Array(reply))
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Integer(
        ctx.shared.events.pubsub.pattern_count() as i64
    ))
}

fn pubsub_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    let lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the channels that have subscribers, optionally only those matching <pattern>.",
        "NUMPAT",
        "    Return the number of patterns subscribed to.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers of each channel.",
        "HELP",
        "    Print this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::simple(l)).collect(),
    ))
}
