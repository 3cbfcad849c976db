//! The Lua interpreter of a server: its sandbox, its script cache, and how one script runs.
//!
//! The state loads Lua's base, table, string, math and debug libraries (no io, os, package:
//! nothing reaches files, processes or C modules), then runs `sandbox.lua`, which builds the
//! read-only globals scripts see (the debug library stays in its private locals, for the error
//! handler) and returns the globals proxy and the `run` function. Scripts are compiled with the
//! chunk name `@user_script` and that proxy as their environment, so their error messages and
//! positions read as Redis's.
//!
//! A run: the command runner (a scoped Rust function that runs commands on the caller's context,
//! through the same path as EXEC's queued commands) is put in the registry, where `redis.call`
//! and `redis.pcall` find it; KEYS and ARGV are set; the script runs under `xpcall` with Redis's
//! error handler; its first return value is converted to a reply.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::convert::{self, sanitize};
use super::libs;
use super::RunState;
use crate::commands::{self, flags, Ctx};
use crate::error::CmdError;
use crate::protocol::Reply;

const SANDBOX: &str = include_str!("sandbox.lua");
/// The error a killed script ends with (Redis's text).
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// Base-library functions that reach files or environments: the sandbox never hands them to
/// scripts, and they are removed from the real globals once it is built, so that nothing can.
const REMOVED_GLOBALS: &[&str] = &[
    "dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", "module", "require", "debug",
];
/// How often (in Lua VM instructions) the hook checks whether the script was killed (and wakes
/// the runtime for a long script, see `RunState::tick`).
const HOOK_EVERY: u32 = 100_000;

/// The flags a script declares on its `#!lua` line.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScriptFlags {
    /// No shebang: Redis's compatibility mode (writes allowed, flags from the command).
    pub compat: bool,
    /// `no-writes`: the script may not call write commands.
    pub no_writes: bool,
}

/// A compiled, cached script.
#[derive(Clone)]
pub struct Script {
    function: Function,
    pub flags: ScriptFlags,
}

/// The interpreter and its cache (see the module doc).
pub struct Engine {
    lua: Lua,
    globals: Table,
    run: Function,
    scripts: HashMap<String, Script>,
    state: Arc<RunState>,
}

impl Engine {
    /// A fresh interpreter with Redis's sandbox.
    pub fn new(state: Arc<RunState>) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: `unsafe_new_with` only differs from `new_with` in allowing the debug library
        // (and C modules, which need the package library, not loaded here). The debug library is
        // captured as a local of the sandbox chunk for the error handler, and the globals that
        // scripts see never include it (tests/scripting.rs `sandbox_hides_unsafe_globals`).
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        let natives = libs::natives(&lua, &state)?;
        let private = lua.create_table()?;
        let (globals, run): (Table, Function) = lua
            .load(SANDBOX)
            .set_name("=sesame")
            .set_mode(ChunkMode::Text)
            .set_environment(private)
            .call((lua.globals(), natives))?;
        let real_globals = lua.globals();
        for name in REMOVED_GLOBALS {
            real_globals.raw_set(*name, Value::Nil)?;
        }
        let hook_state = state.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if hook_state.tick() {
                    Err(libs::raise_table(KILLED))
                } else {
                    Ok(mlua::VmState::Continue)
                }
            },
        )?;
        Ok(Engine {
            lua,
            globals,
            run,
            scripts: HashMap::new(),
            state,
        })
    }

    /// The cached script with this (lower-case) SHA1.
    pub fn get(&self, sha: &str) -> Option<Script> {
        self.scripts.get(sha).cloned()
    }

    /// Compiles and caches `body` (or finds it cached); answers its SHA1 and the script.
    /// Errors are Redis's: a bad `#!` line, or `Error compiling script (new function): …`.
    pub fn load(&mut self, body: &[u8]) -> Result<(String, Script), CmdError> {
        let sha = libs::sha1_hex(body);
        if let Some(script) = self.scripts.get(&sha) {
            return Ok((sha, script.clone()));
        }
        let (flags, skip) = shebang(body)?;
        let function = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .set_environment(self.globals.clone())
            .into_function()
            .map_err(|e| {
                let message = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                CmdError::Owned(sanitize(&format!(
                    "ERR Error compiling script (new function): {message}"
                )))
            })?;
        let script = Script { function, flags };
        self.scripts.insert(sha.clone(), script.clone());
        Ok((sha, script))
    }

    /// Runs `script` for the client of `ctx` and answers its reply (errors included: a script
    /// error is a reply).
    pub fn run(
        &mut self,
        ctx: &mut Ctx,
        sha: &str,
        script: &Script,
        keys: &[Bytes],
        argv: &[Bytes],
        read_only: bool,
    ) -> Reply {
        let lua = &self.lua;
        let state = &*self.state;
        let result = lua.scope(|scope| {
            let runner = scope.create_function_mut(|lua, args: MultiValue| {
                script_command(lua, ctx, state, read_only, args)
            })?;
            lua.set_named_registry_value(libs::RUNNER, runner)?;
            let keys = strings(lua, keys)?;
            let argv = strings(lua, argv)?;
            let outcome = self
                .run
                .call::<(bool, Value)>((script.function.clone(), keys, argv));
            lua.set_named_registry_value(libs::RUNNER, Value::Nil)?;
            let (ok, value) = outcome?;
            Ok(if ok {
                convert::lua_to_reply(&value, state.resp3())
            } else {
                convert::script_error(&value, sha)
            })
        });
        result.unwrap_or_else(|e| {
            Reply::Error(Bytes::from(sanitize(&format!(
                "ERR Error running script {sha}, {e}"
            ))))
        })
    }
}

/// A Lua array of strings (KEYS, ARGV).
fn strings(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(table)
}

/// Parses the `#!lua [flags=…]` line. Answers the flags and how many bytes to skip: the line
/// without its newline, so that line numbers stay the user's.
fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), CmdError> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                no_writes: false,
            },
            0,
        ));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err(CmdError::Text("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err(CmdError::Text("ERR Invalid engine in script shebang"));
    };
    if engine != "#!lua" {
        return Err(CmdError::Owned(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::Owned(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(CmdError::Owned(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    Ok((flags, end))
}

/// `redis.call`/`redis.pcall` (the Lua side raises or not): answers `(failed, value)`, value
/// being the reply converted to Lua, or an error table.
fn script_command(
    lua: &Lua,
    ctx: &mut Ctx,
    state: &RunState,
    read_only: bool,
    args: MultiValue,
) -> mlua::Result<(bool, Value)> {
    let resp3 = state.resp3();
    let argv = match convert::command_args(args.into_iter()) {
        Ok(argv) => argv,
        Err(message) => return Ok((true, convert::error_table(lua, message, false)?)),
    };
    let fail = |message: &str| -> mlua::Result<(bool, Value)> {
        Ok((true, convert::error_table(lua, message, false)?))
    };
    let cmd = match commands::resolve(&argv) {
        Ok((_, cmd)) => cmd,
        Err(_) => return fail("ERR Unknown Redis command called from script"),
    };
    if !cmd.arity_ok(argv.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    if cmd.has(flags::NOSCRIPT) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if read_only && cmd.has(flags::WRITE | flags::MAY_REPLICATE) {
        return fail("ERR Write commands are not allowed from read-only scripts.");
    }
    if cmd.has(flags::WRITE) && !state.note_write() {
        return fail(KILLED);
    }
    let reply = commands::call_queued(ctx, argv);
    let failed = reply.is_error();
    Ok((failed, convert::reply_to_lua(lua, reply, resp3)?))
}
