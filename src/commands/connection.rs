//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT.
//!
//! These change only the calling connection's [`crate::server::ClientState`] (database,
//! protocol, authentication, name, reply mode), except CLIENT KILL, which asks other connections
//! to close through the client registry.

use bytes::Bytes;

use super::flags::*;
use super::{Args, Command, Ctx, NO_KEYS};
use crate::error::CmdError;
use crate::protocol::{Protocol, Reply};
use crate::server::ReplyMode;

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "connection";

const CONN_FAST: &[&str] = &["fast", "connection"];
const CONN_SLOW: &[&str] = &["slow", "connection"];
const CLIENT_FLAGS: u32 = NOSCRIPT | LOADING | STALE;
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous", "connection"];

/// The connection commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "ping",
        -1,
        FAST | SUBSCRIBED_OK,
        NO_KEYS,
        CONN_FAST,
        "1.0.0",
        "Returns PONG, or the message given.",
        ping,
    ),
    Command::leaf(
        GROUP,
        "echo",
        2,
        FAST,
        NO_KEYS,
        CONN_FAST,
        "1.0.0",
        "Returns the message given.",
        echo,
    ),
    Command::leaf(
        GROUP,
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        NO_KEYS,
        CONN_FAST,
        "6.0.0",
        "Chooses the protocol version, optionally authenticating and naming the connection.",
        hello,
    ),
    Command::leaf(
        GROUP,
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        NO_KEYS,
        CONN_FAST,
        "1.0.0",
        "Authenticates the connection.",
        auth,
    ),
    Command::leaf(
        GROUP,
        "select",
        2,
        LOADING | STALE | FAST,
        NO_KEYS,
        CONN_FAST,
        "1.0.0",
        "Changes the connection's database.",
        select,
    ),
    Command::leaf(
        GROUP,
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | NOT_QUEUED,
        NO_KEYS,
        CONN_FAST,
        "1.0.0",
        "Closes the connection after replying.",
        quit,
    ),
    Command::leaf(
        GROUP,
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | SUBSCRIBED_OK | NOT_QUEUED,
        NO_KEYS,
        CONN_FAST,
        "6.2.0",
        "Resets the connection to its initial state.",
        reset,
    ),
    Command {
        name: "client",
        arity: -2,
        flags: 0,
        keys: NO_KEYS,
        acl: &["slow"],
        group: "connection",
        since: "2.4.0",
        summary: "Inspects and controls client connections.",
        handler: client_container,
        subcommands: CLIENT_SUBCOMMANDS,
    },
];

static CLIENT_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "id",
        2,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "5.0.0",
        "Returns the connection's unique id.",
        client_id,
    ),
    Command::leaf(
        GROUP,
        "setname",
        3,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "2.6.9",
        "Names the connection.",
        client_setname,
    ),
    Command::leaf(
        GROUP,
        "getname",
        2,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "2.6.9",
        "Returns the connection's name.",
        client_getname,
    ),
    Command::leaf(
        GROUP,
        "setinfo",
        4,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "7.2.0",
        "Records the client library's name or version.",
        client_setinfo,
    ),
    Command::leaf(
        GROUP,
        "list",
        -2,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.4.0",
        "Describes every connection.",
        client_list,
    ),
    Command::leaf(
        GROUP,
        "info",
        2,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "6.2.0",
        "Describes this connection.",
        client_info,
    ),
    Command::leaf(
        GROUP,
        "kill",
        -3,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.4.0",
        "Closes connections.",
        client_kill,
    ),
    Command::leaf(
        GROUP,
        "no-evict",
        3,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "7.0.0",
        "Exempts the connection from eviction (accepted; sesame never evicts clients).",
        client_no_evict,
    ),
    Command::leaf(
        GROUP,
        "reply",
        3,
        CLIENT_FLAGS,
        NO_KEYS,
        CONN_SLOW,
        "3.2.0",
        "Turns replies to this connection on or off.",
        client_reply,
    ),
    Command::leaf(
        GROUP,
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        CONN_SLOW,
        "5.0.0",
        "Lists the CLIENT subcommands.",
        client_help,
    ),
];

fn ping(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let message = match args.rest_slice() {
        [] => None,
        [message] => Some(message.clone()),
        _ => return Err(CmdError::WrongArity("ping".into())),
    };
    if ctx.client.protocol == Protocol::Resp2 && ctx.client.subscriptions() > 0 {
        // A subscribed RESP2 connection can only receive pushes: PING answers in their shape.
        return Ok(Reply::Array(vec![
            Reply::bulk_static("pong"),
            Reply::Bulk(message.unwrap_or_default()),
        ]));
    }
    Ok(message.map_or_else(|| Reply::simple("PONG"), Reply::Bulk))
}

fn echo(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Bulk(args.next()?))
}

/// True if the password `given` for `user` is right (a missing requirepass means every password
/// is right for `default`, as Redis's nopass default user).
fn credentials_ok(ctx: &Ctx, user: &[u8], given: &[u8]) -> bool {
    if !user.eq_ignore_ascii_case(b"default") {
        return false;
    }
    match &ctx.shared.runtime.read().requirepass {
        None => true,
        Some(pass) => pass.as_bytes() == given,
    }
}

/// Redis's rule for client names and library attributes: printable ASCII, no spaces.
fn valid_client_attr(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(ctx: &mut Ctx, name: Bytes) -> Result<(), CmdError> {
    if !valid_client_attr(&name) {
        return Err(CmdError::Text(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.client.handle.info.lock().name = Some(name).filter(|n| !n.is_empty());
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mut version = None;
    if let Some(word) = args.next_opt() {
        let v = super::parse_i64(&word).map_err(|_| {
            CmdError::Text("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::NoProto);
        }
        version = Some(v);
    }
    let mut credentials = None;
    let mut name = None;
    while let Some(opt) = args.next_opt() {
        if opt.eq_ignore_ascii_case(b"auth") && args.remaining() >= 2 {
            credentials = Some((args.next()?, args.next()?));
        } else if opt.eq_ignore_ascii_case(b"setname") && !args.is_empty() {
            let n = args.next()?;
            if !valid_client_attr(&n) {
                return Err(CmdError::Text(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            name = Some(n);
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&opt)
            )));
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(ctx, &user, &pass) {
            return Err(CmdError::WrongPass);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Text(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    match version {
        Some(3) => ctx.client.protocol = Protocol::Resp3,
        Some(_) => ctx.client.protocol = Protocol::Resp2,
        None => {}
    }
    let proto = if ctx.client.protocol == Protocol::Resp3 {
        3
    } else {
        2
    };
    Ok(Reply::Map(vec![
        (Reply::bulk_static("server"), Reply::bulk_static("redis")),
        (
            Reply::bulk_static("version"),
            Reply::bulk_static(crate::REDIS_VERSION),
        ),
        (Reply::bulk_static("proto"), Reply::Integer(proto)),
        (
            Reply::bulk_static("id"),
            Reply::Integer(ctx.client.id as i64),
        ),
        (Reply::bulk_static("mode"), Reply::bulk_static("standalone")),
        (Reply::bulk_static("role"), Reply::bulk_static("master")),
        (Reply::bulk_static("modules"), Reply::Array(vec![])),
    ]))
}

fn auth(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let words = args.rest();
    let (user, pass) = match words.as_slice() {
        [pass] => {
            if ctx.shared.runtime.read().requirepass.is_none() {
                return Err(CmdError::AuthNotConfigured);
            }
            (Bytes::from_static(b"default"), pass.clone())
        }
        [user, pass] => (user.clone(), pass.clone()),
        _ => return Err(CmdError::Syntax),
    };
    if credentials_ok(ctx, &user, &pass) {
        ctx.client.authenticated = true;
        Ok(Reply::ok())
    } else {
        Err(CmdError::WrongPass)
    }
}

fn select(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let index = args.next_i64()?;
    if i32::try_from(index).is_err() {
        return Err(CmdError::NotInteger);
    }
    if index < 0 || index >= ctx.store().databases() as i64 {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.db = index as usize;
    Ok(Reply::ok())
}

fn quit(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    ctx.client.close_after_reply = true;
    Ok(Reply::ok())
}

fn reset(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    super::transactions::discard_transaction(ctx);
    super::pubsub::unsubscribe_all(ctx);
    ctx.client.db = 0;
    ctx.client.protocol = Protocol::Resp2;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.authenticated = ctx.shared.runtime.read().requirepass.is_none();
    ctx.client.handle.info.lock().name = None;
    Ok(Reply::simple("RESET"))
}

/// `CLIENT` alone: the arity check rejects it before this runs.
fn client_container(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Err(CmdError::WrongArity("client".into()))
}

fn client_id(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Integer(ctx.client.id as i64))
}

fn client_setname(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    set_name(ctx, args.next()?)?;
    Ok(Reply::ok())
}

fn client_getname(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::bulk_or_null(
        ctx.client.handle.info.lock().name.clone(),
    ))
}

fn client_setinfo(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let attr = args.next()?;
    let value = args.next()?;
    let lib_name = if attr.eq_ignore_ascii_case(b"lib-name") {
        true
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        false
    } else {
        return Err(CmdError::Owned(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&attr)
        )));
    };
    if !valid_client_attr(&value) {
        return Err(CmdError::Owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&attr)
        )));
    }
    let mut info = ctx.client.handle.info.lock();
    let slot = if lib_name {
        &mut info.lib_name
    } else {
        &mut info.lib_ver
    };
    *slot = Some(value).filter(|v| !v.is_empty());
    Ok(Reply::ok())
}

fn client_list(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    ctx.client.publish_info();
    let mut ids: Option<Vec<u64>> = None;
    let mut normal_only = true;
    while let Some(word) = args.next_opt() {
        if word.eq_ignore_ascii_case(b"type") && !args.is_empty() {
            let t = args.next()?;
            normal_only = match t.to_ascii_lowercase().as_slice() {
                b"normal" => true,
                b"master" | b"replica" | b"slave" | b"pubsub" => false,
                _ => {
                    return Err(CmdError::Owned(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(&t)
                    )))
                }
            };
        } else if word.eq_ignore_ascii_case(b"id") && !args.is_empty() {
            let mut list = Vec::new();
            for w in args.rest() {
                // Any integer is accepted (ids are positive, so others match nobody).
                match super::parse_i64(&w) {
                    Ok(id) => list.extend(u64::try_from(id).ok()),
                    Err(_) => return Err(CmdError::Text("ERR Invalid client ID")),
                }
            }
            ids = Some(list);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut text = String::new();
    if normal_only {
        for handle in ctx.shared.clients.all() {
            if ids.as_ref().is_none_or(|ids| ids.contains(&handle.id)) {
                text.push_str(&handle.describe());
                text.push('\n');
            }
        }
    }
    Ok(Reply::Verbatim("txt", Bytes::from(text)))
}

fn client_info(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    ctx.client.publish_info();
    Ok(Reply::Verbatim(
        "txt",
        Bytes::from(format!("{}\n", ctx.client.handle.describe())),
    ))
}

fn client_kill(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let words = args.rest();
    if let [addr] = words.as_slice() {
        // The old form: one address, and an error if nobody has it.
        let target = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|h| h.addr.to_string().as_bytes() == addr.as_ref());
        return match target {
            Some(handle) => {
                kill(ctx, &handle);
                Ok(Reply::ok())
            }
            None => Err(CmdError::Text("ERR No such client")),
        };
    }
    if !words.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    let mut normal = true;
    for pair in words.chunks_exact(2) {
        let (name, value) = (&pair[0], &pair[1]);
        match name.to_ascii_lowercase().as_slice() {
            b"id" => match super::parse_i64(value) {
                Ok(n) if n > 0 => id = Some(n as u64),
                _ => return Err(CmdError::Text("ERR client-id should be greater than 0")),
            },
            b"addr" => addr = Some(value.clone()),
            b"laddr" => laddr = Some(value.clone()),
            // `default` is the only user there is; every connection is logged in as it.
            b"user" if value.as_ref() == b"default" => {}
            b"user" => {
                return Err(CmdError::Owned(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(value)
                )))
            }
            b"type" => {
                normal = match value.to_ascii_lowercase().as_slice() {
                    b"normal" => true,
                    b"master" | b"replica" | b"slave" | b"pubsub" => false,
                    _ => {
                        return Err(CmdError::Owned(format!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(value)
                        )))
                    }
                }
            }
            b"skipme" => {
                skipme = match value.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(CmdError::Syntax),
                }
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let mut killed = 0;
    for handle in ctx.shared.clients.all() {
        let matches = normal
            && id.is_none_or(|id| id == handle.id)
            && addr
                .as_ref()
                .is_none_or(|a| handle.addr.to_string().as_bytes() == a.as_ref())
            && laddr
                .as_ref()
                .is_none_or(|a| handle.local_addr.to_string().as_bytes() == a.as_ref())
            && !(skipme && handle.id == ctx.client.id);
        if matches {
            kill(ctx, &handle);
            killed += 1;
        }
    }
    Ok(Reply::Integer(killed))
}

/// Closes a connection: another one is told through its handle; this one closes after its reply.
fn kill(ctx: &mut Ctx, handle: &crate::server::ClientHandle) {
    if handle.id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        handle.kill();
    }
}

fn client_no_evict(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mode = args.next()?;
    if mode.eq_ignore_ascii_case(b"on") || mode.eq_ignore_ascii_case(b"off") {
        Ok(Reply::ok())
    } else {
        Err(CmdError::Syntax)
    }
}

fn client_reply(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mode = args.next()?;
    ctx.client.reply_mode = match mode.to_ascii_lowercase().as_slice() {
        b"on" => ReplyMode::On,
        b"off" => ReplyMode::Off,
        b"skip" => {
            if ctx.client.reply_mode == ReplyMode::Off {
                ReplyMode::Off
            } else {
                ReplyMode::SkipNext
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    Ok(Reply::ok())
}

fn client_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
        "    TYPE normal|pubsub, USER <username>, SKIPME yes|no.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE normal|pubsub, ID <id> ...",
        "NO-EVICT (ON|OFF)",
        "    Accepted; sesame never evicts clients.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Record the client library's name or version.",
        "HELP",
        "    Print this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::simple(l)).collect(),
    ))
}
