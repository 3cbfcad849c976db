//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP.
//!
//! Scripts run in one embedded Lua 5.1 interpreter per server (the language Redis runs), created
//! on first use and replaced by SCRIPT FLUSH. [`engine`] owns the interpreter, the sandbox and
//! the script cache; [`convert`] translates replies and Lua values both ways with Redis's rules;
//! [`libs`] holds the functions Lua gets from Rust (`redis.*`, `bit`, `cjson`, SHA1) and
//! [`packing`] the `struct` and `cmsgpack` libraries.
//!
//! Atomicity: a script runs alone against the whole keyspace. EVAL* rows carry the `EXCLUSIVE`
//! flag, so the dispatcher takes the keyspace gate exclusively before the handler runs (as for
//! EXEC), and the script's `redis.call`s run through the same path as EXEC's queued commands.
//! Because everything is locked, a script may touch keys it did not declare: there is no
//! cross-slot restriction to enforce.
//!
//! Long scripts: [`Scripts`] records when the running script started. Other clients waiting for
//! the gate give up once the script has run longer than `busy-reply-threshold` (alias
//! `lua-time-limit`) and answer `BUSY` (commands flagged `ALLOW_BUSY`, SCRIPT KILL among them, run
//! without the gate instead). SCRIPT KILL sets a flag that a Lua count hook turns into an error;
//! a script that already wrote cannot be killed (`UNKILLABLE`), as in Redis. Shutdown stops any
//! script. A script keeps the worker thread it runs on: a long one wakes another worker so that
//! sockets are still read ([`RunState::tick`]); with a single worker it runs in
//! `block_in_place`.

pub mod convert;
pub mod engine;
pub mod libs;
pub mod packing;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

use super::flags::*;
use super::{Args, Command, Ctx, NO_KEYS};
use crate::error::CmdError;
use crate::protocol::Reply;

pub use engine::Engine;

/// Redis's default `busy-reply-threshold` (`lua-time-limit`), in milliseconds.
pub const DEFAULT_BUSY_THRESHOLD_MS: u64 = 5000;
/// How long a script runs before the other workers are woken to serve clients meanwhile (see
/// [`RunState::tick`]).
const WAKE_RUNTIME_AFTER_MS: u64 = 5;

/// No script is running.
const IDLE: u8 = 0;
/// A script is running and has not written yet: SCRIPT KILL may stop it.
const CLEAN: u8 = 1;
/// The running script has called a write command: it must finish.
const WROTE: u8 = 2;
/// SCRIPT KILL asked the running script to stop.
const KILLED: u8 = 3;

/// What the running script is doing, shared with the Lua hook and with other connections.
pub struct RunState {
    /// [`IDLE`], [`CLEAN`], [`WROTE`] or [`KILLED`].
    state: AtomicU8,
    /// Milliseconds after `epoch` when the running script started.
    since_ms: AtomicU64,
    /// The server is shutting down: stop any script, written or not.
    abort: AtomicBool,
    /// The running script asked for RESP3 replies (`redis.setresp(3)`).
    resp3: AtomicBool,
    epoch: Instant,
    /// drand48's state, for Redis's `math.random` (seeded only by `math.randomseed`).
    rng: Mutex<u64>,
    /// The runtime of the worker running the script, until it is woken (see [`RunState::tick`]).
    runtime: Mutex<Option<tokio::runtime::Handle>>,
}

impl RunState {
    fn new() -> RunState {
        RunState {
            state: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(0),
            abort: AtomicBool::new(false),
            resp3: AtomicBool::new(false),
            runtime: Mutex::new(None),
            epoch: Instant::now(),
            rng: Mutex::new(libs::RAND48_INITIAL),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// True once the running script must stop (SCRIPT KILL, or shutdown).
    pub fn killed(&self) -> bool {
        self.state.load(Ordering::Acquire) == KILLED || self.abort.load(Ordering::Acquire)
    }

    /// Records that the script is about to run a write command; false if it was killed first,
    /// in which case the write must not run.
    pub fn note_write(&self) -> bool {
        match self
            .state
            .compare_exchange(CLEAN, WROTE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => !self.abort.load(Ordering::Acquire),
            Err(current) => current == WROTE && !self.abort.load(Ordering::Acquire),
        }
    }

    /// Called by the Lua hook every few thousand instructions; true if the script must stop.
    ///
    /// A script runs on a tokio worker thread and keeps it. If that worker was the one to poll
    /// the I/O driver, and the others are parked, nobody reads sockets until the script ends,
    /// so no client would even get BUSY. Once a script has run for [`WAKE_RUNTIME_AFTER_MS`],
    /// a task spawned from outside the runtime wakes a parked worker, which then takes over the
    /// driver. (With a single worker, the script runs in `block_in_place` instead; see
    /// `blocking`.)
    pub fn tick(&self) -> bool {
        let elapsed = self
            .now_ms()
            .saturating_sub(self.since_ms.load(Ordering::Acquire));
        if elapsed >= WAKE_RUNTIME_AFTER_MS {
            if let Some(runtime) = self.runtime.lock().take() {
                let _ = std::thread::Builder::new()
                    .name("sesame-wake".into())
                    .spawn(move || drop(runtime.spawn(async {})));
            }
        }
        self.killed()
    }

    /// `redis.setresp`: the protocol of the replies the running script gets.
    pub fn set_resp3(&self, resp3: bool) {
        self.resp3.store(resp3, Ordering::Relaxed);
    }

    /// True if the running script speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }

    /// The next value of Redis's `redisLrand48()`.
    pub fn lrand48(&self) -> i32 {
        libs::lrand48(&mut self.rng.lock())
    }

    /// Redis's `redisSrand48(seed)`.
    pub fn srand48(&self, seed: i32) {
        *self.rng.lock() = libs::srand48(seed);
    }
}

/// The scripting state of a server: the interpreter (created on first use), the running
/// script's state and the busy threshold.
pub struct Scripts {
    engine: Mutex<Option<Engine>>,
    run: Arc<RunState>,
    busy_threshold_ms: AtomicU64,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts {
            engine: Mutex::new(None),
            run: Arc::new(RunState::new()),
            busy_threshold_ms: AtomicU64::new(DEFAULT_BUSY_THRESHOLD_MS),
        }
    }
}

/// Why SCRIPT KILL could not stop a script.
enum KillRefused {
    NotBusy,
    Unkillable,
}

impl Scripts {
    /// `busy-reply-threshold` / `lua-time-limit` in milliseconds (0: never busy).
    pub fn busy_threshold_ms(&self) -> u64 {
        self.busy_threshold_ms.load(Ordering::Relaxed)
    }

    /// CONFIG SET `busy-reply-threshold` / `lua-time-limit`.
    pub fn set_busy_threshold_ms(&self, ms: u64) {
        self.busy_threshold_ms.store(ms, Ordering::Relaxed);
    }

    /// True while a script has been running longer than the busy threshold: other clients'
    /// commands are answered `BUSY` (Redis's "timed out" script).
    pub fn busy(&self) -> bool {
        let run = &self.run;
        if run.state.load(Ordering::Acquire) == IDLE {
            return false;
        }
        let threshold = self.busy_threshold_ms();
        threshold > 0
            && run
                .now_ms()
                .saturating_sub(run.since_ms.load(Ordering::Acquire))
                >= threshold
    }

    /// Stops any running script, written or not, and every later one (shutdown).
    pub fn abort_all(&self) {
        self.run.abort.store(true, Ordering::Release);
    }

    fn kill(&self) -> Result<(), KillRefused> {
        match self
            .run
            .state
            .compare_exchange(CLEAN, KILLED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(IDLE) => Err(KillRefused::NotBusy),
            Err(KILLED) => Ok(()),
            Err(_) => Err(KillRefused::Unkillable),
        }
    }

    /// The interpreter, created on first use.
    fn engine(&self) -> Result<MutexGuard<'_, Option<Engine>>, CmdError> {
        let mut engine = self.engine.lock();
        if engine.is_none() {
            let created = Engine::new(self.run.clone()).map_err(|e| {
                CmdError::Owned(format!("ERR cannot create the Lua interpreter: {e}"))
            })?;
            *engine = Some(created);
        }
        Ok(engine)
    }

    /// Marks the start of a script run (under the exclusive gate); the guard marks its end.
    fn begin(&self) -> Running<'_> {
        let run = &self.run;
        run.since_ms.store(run.now_ms(), Ordering::Release);
        run.resp3.store(false, Ordering::Relaxed);
        *run.runtime.lock() = tokio::runtime::Handle::try_current().ok();
        run.state.store(CLEAN, Ordering::Release);
        Running { run }
    }
}

/// A script is running until this is dropped.
struct Running<'a> {
    run: &'a RunState,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.run.runtime.lock().take();
        self.run.state.store(IDLE, Ordering::Release);
    }
}

/// The command group of this family, as COMMAND DOCS reports it.
const GROUP: &str = "scripting";

const SCRIPTING: &[&str] = &["slow", "scripting"];
/// EVAL's flags: never from a script, runs alone against the whole keyspace.
const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | EXCLUSIVE;

/// The scripting commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "eval",
        -3,
        EVAL_FLAGS,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Runs a Lua script on the server.",
        eval,
    ),
    Command::leaf(
        GROUP,
        "evalsha",
        -3,
        EVAL_FLAGS,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Runs a cached Lua script by its SHA1.",
        evalsha,
    ),
    Command::leaf(
        GROUP,
        "eval_ro",
        -3,
        READONLY | EVAL_FLAGS,
        NO_KEYS,
        SCRIPTING,
        "7.0.0",
        "Runs a read-only Lua script.",
        eval_ro,
    ),
    Command::leaf(
        GROUP,
        "evalsha_ro",
        -3,
        READONLY | EVAL_FLAGS,
        NO_KEYS,
        SCRIPTING,
        "7.0.0",
        "Runs a cached read-only Lua script by its SHA1.",
        evalsha_ro,
    ),
    Command {
        name: "script",
        arity: -2,
        flags: 0,
        keys: NO_KEYS,
        acl: &["slow"],
        group: "scripting",
        since: "2.6.0",
        summary: "A container for Lua scripts management commands.",
        handler: container_only,
        subcommands: SCRIPT_SUBCOMMANDS,
    },
];

static SCRIPT_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        GROUP,
        "debug",
        3,
        NOSCRIPT,
        NO_KEYS,
        SCRIPTING,
        "3.2.0",
        "Sets the debug mode of scripts (sesame has no script debugger).",
        script_debug,
    ),
    Command::leaf(
        GROUP,
        "exists",
        -3,
        NOSCRIPT,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Tells which SHA1s are in the script cache.",
        script_exists,
    ),
    Command::leaf(
        GROUP,
        "flush",
        -2,
        NOSCRIPT,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Empties the script cache and resets the interpreter.",
        script_flush,
    ),
    Command::leaf(
        GROUP,
        "help",
        2,
        LOADING | STALE,
        NO_KEYS,
        SCRIPTING,
        "5.0.0",
        "Shows helpful text about the SCRIPT subcommands.",
        script_help,
    ),
    Command::leaf(
        GROUP,
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Stops the running script, if it has not written.",
        script_kill,
    ),
    Command::leaf(
        GROUP,
        "load",
        3,
        NOSCRIPT | STALE,
        NO_KEYS,
        SCRIPTING,
        "2.6.0",
        "Compiles a script into the cache without running it; answers its SHA1.",
        script_load,
    ),
];

/// Never runs: SCRIPT with a subcommand word dispatches to the subcommand, and SCRIPT alone
/// fails the arity check first.
fn container_only(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Err(CmdError::Syntax)
}

/// EVAL script numkeys [key …] [arg …]: runs the script (compiling and caching it first if
/// needed) and answers what it returns, converted by Redis's rules.
fn eval(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    eval_generic(ctx, args, false, false)
}

/// EVALSHA sha1 numkeys [key …] [arg …]: runs a cached script; `NOSCRIPT` if it is not cached.
fn evalsha(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    eval_generic(ctx, args, true, false)
}

/// EVAL_RO: as EVAL, but a write command from the script is an error.
fn eval_ro(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    eval_generic(ctx, args, false, true)
}

/// EVALSHA_RO: as EVALSHA, but a write command from the script is an error.
fn evalsha_ro(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    eval_generic(ctx, args, true, true)
}

fn eval_generic(
    ctx: &mut Ctx,
    args: &mut Args,
    by_sha: bool,
    read_only: bool,
) -> Result<Reply, CmdError> {
    let script = args.next()?;
    // Redis rejects a SHA1 of the wrong length before it reads numkeys.
    if by_sha && script.len() != 40 {
        return Err(CmdError::NoScript);
    }
    let numkeys = args.next_i64()?;
    let rest = args.rest();
    if numkeys > rest.len() as i64 {
        return Err(CmdError::Text(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::Text("ERR Number of keys can't be negative"));
    }
    let (keys, argv) = rest.split_at(numkeys as usize);

    let shared = ctx.shared;
    // The dispatcher already holds the keyspace alone (EXCLUSIVE); this is a no-op then, and
    // takes it inside EXEC's or another caller's exclusive section just the same.
    let _alone = shared.store.exclusive_access();
    let mut guard = shared.scripts.engine()?;
    let engine = guard.as_mut().expect("created by Scripts::engine");
    let (sha, script) = if by_sha {
        let sha = String::from_utf8_lossy(&script).to_ascii_lowercase();
        let script = engine.get(&sha).ok_or(CmdError::NoScript)?;
        (sha, script)
    } else {
        engine.load(&script)?
    };
    if read_only && !script.flags.compat && !script.flags.no_writes {
        return Err(CmdError::Text(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let read_only = read_only || (!script.flags.compat && script.flags.no_writes);

    // The script's SELECT and its commands' bookkeeping must not leak into the caller.
    let db = ctx.client.db;
    let last_command = ctx.client.last_command;
    let running = shared.scripts.begin();
    let reply = blocking(|| engine.run(ctx, &sha, &script, keys, argv, read_only));
    drop(running);
    ctx.client.db = db;
    ctx.client.last_command = last_command;
    Ok(reply)
}

/// Runs `f`, which may take long (a script). With a single worker thread, the script would hold
/// the only thread that other clients (SCRIPT KILL among them) need, so the worker's other work
/// moves to another thread meanwhile (`block_in_place`). With more workers, a long script wakes
/// another one (see [`RunState::tick`]), and moving threads for every script would cost more
/// than a short script (it cuts EVAL throughput about threefold).
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let single_worker = tokio::runtime::Handle::try_current().is_ok_and(|h| {
        h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            && h.metrics().num_workers() == 1
    });
    if single_worker {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// SCRIPT LOAD script: compiles and caches it; answers its SHA1 (40 lower-case hex digits).
fn script_load(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let script = args.next()?;
    let mut guard = ctx.shared.scripts.engine()?;
    let engine = guard.as_mut().expect("created by Scripts::engine");
    let (sha, _) = engine.load(&script)?;
    Ok(Reply::Bulk(Bytes::from(sha)))
}

/// SCRIPT EXISTS sha1 [sha1 …]: an array of 1/0, one per SHA1 (any case).
fn script_exists(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let shas = args.rest();
    let guard = ctx.shared.scripts.engine.lock();
    let found = |sha: &Bytes| {
        guard.as_ref().is_some_and(|engine| {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            engine.get(&sha).is_some()
        })
    };
    Ok(Reply::Array(
        shas.iter()
            .map(|sha| Reply::Integer(found(sha) as i64))
            .collect(),
    ))
}

/// SCRIPT FLUSH [ASYNC|SYNC]: forgets every cached script and resets the interpreter; `+OK`.
fn script_flush(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mode_ok = match args.remaining() {
        0 => true,
        1 => args.eat("sync") || args.eat("async"),
        _ => false,
    };
    if !mode_ok {
        return Err(CmdError::Text(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    let old = ctx.shared.scripts.engine.lock().take();
    drop(old);
    Ok(Reply::ok())
}

/// SCRIPT KILL: stops the running script if it has not written (`+OK`); `NOTBUSY` when none
/// runs, `UNKILLABLE` when it already wrote.
fn script_kill(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    match ctx.shared.scripts.kill() {
        Ok(()) => Ok(Reply::ok()),
        Err(KillRefused::NotBusy) => {
            Err(CmdError::Text("NOTBUSY No scripts in execution right now."))
        }
        Err(KillRefused::Unkillable) => Err(CmdError::Text(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. \
             You can either wait the script termination or kill the server in a hard way using \
             the SHUTDOWN NOSAVE command.",
        )),
    }
}

/// SCRIPT DEBUG YES|SYNC|NO: sesame has no script debugger; NO is accepted.
fn script_debug(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    if args.eat("no") {
        Ok(Reply::ok())
    } else if args.eat("yes") || args.eat("sync") {
        Err(CmdError::Text(
            "ERR sesame has no Lua debugger; SCRIPT DEBUG YES and SYNC are not supported",
        ))
    } else {
        Err(CmdError::Text("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
    }
}

/// SCRIPT HELP: Redis's text.
fn script_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::simple(l)).collect(),
    ))
}
