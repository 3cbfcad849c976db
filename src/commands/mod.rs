//! Commands: one static table, one dispatcher, one file per family.
//!
//! [`dispatch`] follows Redis's order: look the name up (case-insensitively; a container such as
//! CLIENT looks its subcommand up too) → unknown command or subcommand error → arity check
//! against the table → authentication → the handler. Handlers never count their arguments (the
//! table's arity already did) and never touch the socket: they take the parsed [`Args`] and a
//! [`Ctx`] and return a [`Reply`] or a [`CmdError`], which is a reply too.
//!
//! Arity follows Redis: positive = exactly that many arguments, negative = at least that many,
//! the command name included.

pub mod connection;
pub mod float80;
pub mod hashes;
pub mod keys;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;

use std::sync::OnceLock;

use bytes::Bytes;

use crate::error::CmdError;
use crate::protocol::{Protocol, Reply};
use crate::server::{ClientState, Shared};
use crate::store::{parse_canonical_i64, ExclusiveAccess, Locked, SharedAccess, Store};

/// A command handler.
pub type Handler = fn(&mut Ctx, &mut Args) -> Result<Reply, CmdError>;

/// Command flags, as COMMAND INFO reports them (plus sesame's own `TOUCHES_VALUE`).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const ALLOW_BUSY: u32 = 1 << 15;
    /// Reads the key's value: a sliding key's deadline moves on this command (sesame's own).
    pub const TOUCHES_VALUE: u32 = 1 << 16;
    /// Allowed on a RESP2 connection in subscribed mode (sesame's own; Redis lists them by hand).
    pub const SUBSCRIBED_OK: u32 = 1 << 17;
    /// Runs at once instead of being queued inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT,
    /// RESET; sesame's own).
    pub const NOT_QUEUED: u32 = 1 << 18;
    /// Runs alone against the whole keyspace (EXEC): the dispatcher does not enter the keyspace
    /// gate for it, the handler takes it exclusively (sesame's own).
    pub const EXCLUSIVE: u32 = 1 << 19;

    /// The names COMMAND INFO prints, in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are, as COMMAND INFO's first key, last key and step.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

/// No keys.
pub const NO_KEYS: KeySpec = KeySpec {
    first: 0,
    last: 0,
    step: 0,
};
/// One key, the first argument.
pub const ONE_KEY: KeySpec = KeySpec {
    first: 1,
    last: 1,
    step: 1,
};
/// Every argument is a key.
pub const ALL_KEYS: KeySpec = KeySpec {
    first: 1,
    last: -1,
    step: 1,
};

/// One row of the command table.
pub struct Command {
    /// Lower-case name (`get`, or the subcommand's own name such as `setname`).
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: KeySpec,
    /// ACL categories without the `@`, as COMMAND INFO lists them.
    pub acl: &'static [&'static str],
    /// Redis's command group (`string`, `generic`, `connection`, `server`, …).
    pub group: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// One line saying what it does (COMMAND DOCS).
    pub summary: &'static str,
    pub handler: Handler,
    /// Subcommands of a container command (CLIENT, CONFIG, …); empty otherwise.
    pub subcommands: &'static [Command],
}

impl Command {
    /// A row of the table for a command without subcommands, in Redis's command group `group`.
    // One argument per column of the table.
    #[allow(clippy::too_many_arguments)]
    pub const fn leaf(
        group: &'static str,
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: KeySpec,
        acl: &'static [&'static str],
        since: &'static str,
        summary: &'static str,
        handler: Handler,
    ) -> Command {
        Command {
            name,
            arity,
            flags,
            keys,
            acl,
            group,
            since,
            summary,
            handler,
            subcommands: &[],
        }
    }

    /// Does `argc` satisfy the arity?
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// True if the command has the flag.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Every top-level command, from every family.
pub fn table() -> impl Iterator<Item = &'static Command> {
    strings::COMMANDS
        .iter()
        .chain(keys::COMMANDS)
        .chain(hashes::COMMANDS)
        .chain(sets::COMMANDS)
        .chain(transactions::COMMANDS)
        .chain(pubsub::COMMANDS)
        .chain(connection::COMMANDS)
        .chain(server::COMMANDS)
        .chain(scripting::COMMANDS)
}

/// Commands by name (hashbrown's default hasher: the names are not attacker-chosen keys, and
/// SipHash showed in profiles of the dispatch path).
fn index() -> &'static hashbrown::HashMap<&'static str, &'static Command> {
    static INDEX: OnceLock<hashbrown::HashMap<&'static str, &'static Command>> = OnceLock::new();
    INDEX.get_or_init(|| table().map(|c| (c.name, c)).collect())
}

/// Finds a top-level command by name, case-insensitively, without allocating for the usual
/// short names.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    let lower = std::str::from_utf8(lowercase(name, &mut buf)?).ok()?;
    index().get(lower).copied()
}

/// Finds a subcommand of `container` by name, case-insensitively.
pub fn lookup_sub(container: &'static Command, name: &[u8]) -> Option<&'static Command> {
    container
        .subcommands
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The full name Redis uses in errors: `get`, or `client|setname` for a subcommand.
pub fn full_name(container: Option<&Command>, cmd: &Command) -> String {
    match container {
        Some(parent) => format!("{}|{}", parent.name, cmd.name),
        None => cmd.name.to_string(),
    }
}

/// The arguments of one command, read front to back.
pub struct Args {
    argv: Vec<Bytes>,
    pos: usize,
}

impl Args {
    /// Wraps a request's argv (name first) and positions after `skip` leading words.
    pub fn new(argv: Vec<Bytes>, skip: usize) -> Args {
        Args { argv, pos: skip }
    }

    /// Every word of the request, the command name included.
    pub fn argv(&self) -> &[Bytes] {
        &self.argv
    }

    /// Number of words not read yet.
    pub fn remaining(&self) -> usize {
        self.argv.len() - self.pos
    }

    /// True if every word was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next word, or None at the end.
    pub fn next_opt(&mut self) -> Option<Bytes> {
        let word = self.argv.get(self.pos).cloned();
        if word.is_some() {
            self.pos += 1;
        }
        word
    }

    /// The next word, which the arity check guarantees; a syntax error if it is missing.
    // Not `Iterator::next`: it fails with a reply instead of ending.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Bytes, CmdError> {
        self.next_opt().ok_or(CmdError::Syntax)
    }

    /// The next word without consuming it.
    pub fn peek(&self) -> Option<&Bytes> {
        self.argv.get(self.pos)
    }

    /// The next word as an integer (`ERR value is not an integer or out of range` otherwise).
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(&self.next()?)
    }

    /// Every word not read yet.
    pub fn rest(&mut self) -> Vec<Bytes> {
        let rest = self.argv[self.pos..].to_vec();
        self.pos = self.argv.len();
        rest
    }

    /// The words not read yet, without consuming them.
    pub fn rest_slice(&self) -> &[Bytes] {
        &self.argv[self.pos..]
    }

    /// Consumes the next word if it equals `word` case-insensitively.
    pub fn eat(&mut self, word: &str) -> bool {
        let hit = self
            .peek()
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()));
        if hit {
            self.pos += 1;
        }
        hit
    }
}

/// `word` in lower case, written into `buf` (no allocation); None if it does not fit.
fn lowercase<'b, const N: usize>(word: &[u8], buf: &'b mut [u8; N]) -> Option<&'b [u8]> {
    let lower = buf.get_mut(..word.len())?;
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    Some(lower)
}

/// An option keyword of a hot command (SET … EX, EXPIRE … NX) in lower case, in `buf`. A word
/// longer than `buf` comes back empty, which matches no keyword.
pub fn keyword<'b>(word: &[u8], buf: &'b mut [u8; 16]) -> &'b [u8] {
    lowercase(word, buf).unwrap_or(&[])
}

/// Parses an integer argument as Redis's `string2ll` does.
pub fn parse_i64(word: &[u8]) -> Result<i64, CmdError> {
    parse_canonical_i64(word).ok_or(CmdError::NotInteger)
}

/// Parses a float argument as Redis's `string2ld` does: no leading space, nothing trailing,
/// not NaN (infinities are accepted).
pub fn parse_f64(word: &[u8]) -> Result<f64, CmdError> {
    let text = std::str::from_utf8(word).map_err(|_| CmdError::NotFloat)?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(CmdError::NotFloat);
    }
    let lower = text.to_ascii_lowercase();
    let value: f64 = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => {
            if !lower
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
            {
                return Err(CmdError::NotFloat);
            }
            lower.parse().map_err(|_| CmdError::NotFloat)?
        }
    };
    if value.is_nan() {
        return Err(CmdError::NotFloat);
    }
    Ok(value)
}

/// Everything a handler may use besides its arguments.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub client: &'a mut ClientState,
    /// The command being run reads values (its table row has `TOUCHES_VALUE`): its reads slide
    /// the deadlines of keys that match the sliding rules. Set by the dispatcher.
    pub touches_value: bool,
}

impl<'a> Ctx<'a> {
    /// A context for running commands on behalf of `client`.
    pub fn new(shared: &'a Shared, client: &'a mut ClientState) -> Ctx<'a> {
        Ctx {
            shared,
            client,
            touches_value: false,
        }
    }

    /// Records that the command modified `key` in the client's database: invalidates the WATCHes
    /// on it and publishes the keyspace event `event` of class `class` (see
    /// [`crate::server::notify`]), as Redis's `signalModifiedKey` + `notifyKeyspaceEvent` do.
    pub fn modified(&self, class: u32, event: &'static str, key: &[u8]) {
        self.shared.key_modified(self.client.db, class, event, key);
    }

    /// Locks the shards of `keys` in the client's database, for the command being run.
    pub fn lock<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Locked<'a> {
        self.shared
            .store
            .lock_with(self.client.db, keys, self.touches_value)
    }

    /// The keyspace.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The database this client has selected.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// The protocol this connection speaks.
    pub fn protocol(&self) -> Protocol {
        self.client.protocol
    }
}

/// Runs one request. `argv` is non-empty.
pub fn dispatch(ctx: &mut Ctx, argv: Vec<Bytes>) -> Reply {
    match run(ctx, argv) {
        Ok(reply) => reply,
        Err(e) => Reply::Error(e.to_bytes()),
    }
}

fn run(ctx: &mut Ctx, argv: Vec<Bytes>) -> Result<Reply, CmdError> {
    let (container, cmd) = match check(ctx, &argv) {
        Ok(found) => found,
        Err(e) => {
            // A command rejected while a transaction is being queued makes EXEC fail.
            if let Some(multi) = ctx.client.multi.as_mut() {
                multi.failed = true;
            }
            // A rejected EXEC itself ends the transaction, saying why (Redis's execCommandAbort).
            if argv[0].eq_ignore_ascii_case(b"exec") {
                transactions::discard_transaction(ctx);
                let text = e.to_string();
                let reason = text.strip_prefix("ERR ").unwrap_or(&text);
                return Err(CmdError::Owned(format!(
                    "EXECABORT Transaction discarded because of: {reason}"
                )));
            }
            return Err(e);
        }
    };
    if let Some(multi) = ctx
        .client
        .multi
        .as_mut()
        .filter(|_| !cmd.has(flags::NOT_QUEUED))
    {
        multi.queue.push(argv);
        return Ok(Reply::simple("QUEUED"));
    }
    let _gate = enter(ctx.shared, cmd)?;
    call(ctx, container, cmd, argv)
}

/// The keyspace gate as a command holds it while it runs: shared, exclusive, or not at all (a
/// command Redis allows while a script is busy runs without the gate; none of them touches the
/// keyspace).
struct Entered<'a> {
    _shared: Option<SharedAccess<'a>>,
    _exclusive: Option<ExclusiveAccess<'a>>,
}

/// Enters the keyspace gate for `cmd`: shared, or alone for `EXCLUSIVE` commands (EXEC, EVAL),
/// which then take it again without waiting inside their handler. While a script runs, the
/// wait ends once the script is past the busy threshold: `BUSY`, or no gate at all for the
/// commands Redis allows while busy (`ALLOW_BUSY`, SCRIPT KILL among them).
fn enter<'a>(shared: &'a Shared, cmd: &Command) -> Result<Entered<'a>, CmdError> {
    let busy = || shared.scripts.busy();
    let entered = if cmd.has(flags::EXCLUSIVE) {
        shared
            .store
            .exclusive_access_unless(busy)
            .map(|access| Entered {
                _shared: None,
                _exclusive: Some(access),
            })
    } else {
        shared
            .store
            .shared_access_unless(busy)
            .map(|access| Entered {
                _shared: Some(access),
                _exclusive: None,
            })
    };
    match entered {
        Some(entered) => Ok(entered),
        None if cmd.has(flags::ALLOW_BUSY) => Ok(Entered {
            _shared: None,
            _exclusive: None,
        }),
        None => Err(CmdError::Busy),
    }
}

/// The checks Redis makes before running or queueing a command, in its order: lookup, arity,
/// authentication, the subscribed-mode restriction of RESP2, a script past the busy threshold.
fn check(
    ctx: &Ctx,
    argv: &[Bytes],
) -> Result<(Option<&'static Command>, &'static Command), CmdError> {
    let (container, cmd) = resolve(argv)?;
    if !cmd.arity_ok(argv.len()) {
        return Err(CmdError::WrongArity(full_name(container, cmd)));
    }
    if !ctx.client.authenticated && !cmd.has(flags::NO_AUTH) {
        return Err(CmdError::NoAuth);
    }
    if ctx.client.protocol == Protocol::Resp2
        && ctx.client.subscriptions() > 0
        && !cmd.has(flags::SUBSCRIBED_OK)
    {
        return Err(CmdError::Owned(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are \
             allowed in this context",
            full_name(container, cmd)
        )));
    }
    // A script past busy-reply-threshold: only what Redis allows then (SCRIPT KILL, …).
    if !cmd.has(flags::ALLOW_BUSY) && ctx.shared.scripts.busy() {
        return Err(CmdError::Busy);
    }
    Ok((container, cmd))
}

/// Runs a command that passed the checks (directly, or from EXEC's queue).
fn call(
    ctx: &mut Ctx,
    container: Option<&'static Command>,
    cmd: &'static Command,
    argv: Vec<Bytes>,
) -> Result<Reply, CmdError> {
    ctx.client.last_command = (container.map(|c| c.name), cmd.name);
    ctx.touches_value = cmd.has(flags::TOUCHES_VALUE);
    let skip = if container.is_some() { 2 } else { 1 };
    let mut args = Args::new(argv, skip);
    (cmd.handler)(ctx, &mut args)
}

/// Runs a request queued by MULTI, inside EXEC (which holds the keyspace exclusively). Its
/// checks passed when it was queued; its reply, error or not, takes its place in EXEC's reply.
pub fn call_queued(ctx: &mut Ctx, argv: Vec<Bytes>) -> Reply {
    let result = match resolve(&argv) {
        Ok((container, cmd)) => call(ctx, container, cmd, argv),
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| Reply::Error(e.to_bytes()))
}

/// Finds the table row for a request: the command, or for a container with a subcommand word,
/// the subcommand (and its container).
pub fn resolve(argv: &[Bytes]) -> Result<(Option<&'static Command>, &'static Command), CmdError> {
    let Some(cmd) = lookup(&argv[0]) else {
        return Err(CmdError::UnknownCommand {
            name: argv[0].clone(),
            args: argv[1..].to_vec(),
        });
    };
    if cmd.subcommands.is_empty() || argv.len() < 2 {
        return Ok((None, cmd));
    }
    match lookup_sub(cmd, &argv[1]) {
        Some(sub) => Ok((Some(cmd), sub)),
        None => Err(CmdError::UnknownSubcommand {
            command: cmd.name.to_string(),
            sub: argv[1].clone(),
        }),
    }
}

/// Runs one command as a fresh client speaking `proto` and returns the encoded reply (for the
/// families' unit tests).
#[cfg(test)]
pub(crate) fn run_as_new_client(shared: &Shared, proto: Protocol, words: &[&str]) -> Vec<u8> {
    let addr = "127.0.0.1:5000".parse().expect("address");
    let registration = shared
        .clients
        .register(addr, addr, 100)
        .expect("room for a client");
    let mut client = ClientState::new(registration.handle.clone(), true);
    client.protocol = proto;
    let argv = words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    let reply = dispatch(&mut Ctx::new(shared, &mut client), argv);
    let mut out = bytes::BytesMut::new();
    reply.encode(&mut out, proto);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique_lowercase_and_found_in_any_case() {
        let mut seen = std::collections::HashSet::new();
        for c in table() {
            assert_eq!(c.name, c.name.to_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(std::ptr::eq(
                lookup(c.name.to_uppercase().as_bytes()).unwrap(),
                c
            ));
            for s in c.subcommands {
                assert!(
                    s.arity.unsigned_abs() >= 2,
                    "{}|{} arity counts the container",
                    c.name,
                    s.name
                );
            }
        }
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn floats_like_strtold() {
        assert_eq!(parse_f64(b"1.5").unwrap(), 1.5);
        assert_eq!(parse_f64(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64(b"1e3").unwrap(), 1000.0);
        assert_eq!(parse_f64(b".5").unwrap(), 0.5);
        for bad in ["", " 1", "1 ", "nan", "abc", "1.5x"] {
            assert!(parse_f64(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
