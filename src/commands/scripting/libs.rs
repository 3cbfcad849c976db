//! What Redis's Lua gets from C, written in Rust: `redis.call`/`pcall`/`setresp`/`sha1hex`,
//! SHA1 (script names), drand48 (`math.random`), `redis.log`, and the `bit` and `cjson`
//! libraries (`struct` and `cmsgpack` are in [`super::packing`]).
//!
//! These are C functions to Lua, as in Redis, so a script calling them in tail position keeps
//! its frame for error positions. They fail by raising a [`Raise`]: mlua carries it as a
//! userdata, which `sandbox.lua` turns back into Redis's error table or message wherever it
//! catches errors (`unwrap`). Messages are the C libraries' own (LuaBitOp 1.0.2's and
//! lua-cjson 2.1.0's, as Redis 7.0 bundles them), prefixed with the caller's position as
//! `luaL_error` does.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::convert;
use super::RunState;

/// The registry slot holding the running script's command runner (see engine.rs).
pub const RUNNER: &str = "sesame.runner";

/// An error a Rust function raises into Lua.
#[derive(Debug)]
pub enum Raise {
    /// Raised as Redis raises `luaPushError`'s table: `{err = text}`.
    Table(String),
    /// Raised as `luaL_error` raises a string (already prefixed with the position).
    Message(String),
}

impl std::fmt::Display for Raise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raise::Table(text) | Raise::Message(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Raise {}

/// Raises `{err = text}`.
pub fn raise_table(text: impl Into<String>) -> mlua::Error {
    mlua::Error::external(Raise::Table(text.into()))
}

/// Raises `message` as `luaL_error` would: prefixed with the calling Lua function's
/// `source:line:` (nothing when the caller is C).
pub(super) fn raise_here(lua: &Lua, message: impl std::fmt::Display) -> mlua::Error {
    let place = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.to_string();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::external(Raise::Message(format!("{place}{message}")))
}

/// The [`Raise`] inside an error that crossed Lua, if it is one.
fn find_raise(e: &mlua::Error) -> Option<&Raise> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<Raise>(),
        mlua::Error::CallbackError { cause, .. } => find_raise(cause),
        mlua::Error::WithContext { cause, .. } => find_raise(cause),
        _ => None,
    }
}

/// `unwrap(e)`: a raised Rust error back as what Redis would have raised; other values as they
/// are.
fn unwrap_error(lua: &Lua, value: Value) -> mlua::Result<Value> {
    let Value::Error(e) = value else {
        return Ok(value);
    };
    Ok(match find_raise(&e) {
        Some(Raise::Table(text)) => convert::error_table(lua, text, false)?,
        Some(Raise::Message(text)) => Value::String(lua.create_string(text)?),
        None => Value::String(lua.create_string(e.to_string())?),
    })
}

// ---------------------------------------------------------------------------------------------
// SHA1

/// The SHA1 of `data` as 40 lower-case hex digits (Redis names scripts by it).
pub fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *slot = slot.wrapping_add(v);
        }
    }
    let mut out = String::with_capacity(40);
    for word in h {
        let _ = write!(out, "{word:08x}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// drand48, as Redis's rand.c

/// drand48's initial state (`x = {0x330E, 0xABCD, 0x1234}`).
pub const RAND48_INITIAL: u64 = 0x1234_ABCD_330E;
const RAND48_MASK: u64 = (1 << 48) - 1;

/// Advances the state and answers `lrand48()`: the top 31 of its 48 bits.
pub fn lrand48(state: &mut u64) -> i32 {
    *state = (state.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & RAND48_MASK;
    (*state >> 17) as i32
}

/// The state `srand48(seed)` sets.
pub fn srand48(seed: i32) -> u64 {
    ((seed as u32 as u64) << 16) | 0x330E
}

// ---------------------------------------------------------------------------------------------
// Number formatting

/// C's `printf("%.<precision>g", x)` for finite `x` (`inf`, `-inf`, `nan` otherwise).
pub fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exponent) = sci.split_once('e').expect("exponent");
    let exponent: i32 = exponent.parse().expect("exponent digits");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exponent < -4 || exponent >= p as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (p as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{x:.decimals$}"))
    }
}

// ---------------------------------------------------------------------------------------------
// The native table handed to sandbox.lua

/// Lua's name for a value's type, as `luaL_typename` prints it.
pub(super) fn typename(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// A library function raising its failures as `luaL_error` does.
pub(super) fn lib_fn<R: mlua::IntoLuaMulti>(
    lua: &Lua,
    f: impl Fn(&Lua, Vec<Value>) -> Result<R, String> + Send + 'static,
) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, args: MultiValue| {
        f(lua, args.into_iter().collect()).map_err(|message| raise_here(lua, message))
    })
}

/// `redis.call` (`raise`) and `redis.pcall`: run a command through the running script's runner.
fn redis_command(lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
    let runner: Option<mlua::Function> = lua.named_registry_value(RUNNER)?;
    let Some(runner) = runner else {
        let text = "ERR redis.call/pcall can only be called inside a script invocation";
        return Err(raise_table(text));
    };
    let (failed, value): (bool, Value) = runner.call(args)?;
    if failed && raise {
        let text = match &value {
            Value::Table(t) => t.get::<Option<String>>("err")?.unwrap_or_default(),
            _ => String::new(),
        };
        return Err(raise_table(text));
    }
    Ok(value)
}

/// `luaL_checkint`: the number truncated toward zero, or Lua's type error.
fn check_int(lua: &Lua, args: &[Value], i: usize, fname: &str) -> Result<i64, String> {
    let n = args
        .get(i)
        .and_then(|v| lua.coerce_number(v.clone()).ok().flatten());
    match n {
        Some(n) => Ok(n as i64),
        None => Err(format!(
            "bad argument #{} to '{fname}' (number expected, got {})",
            i + 1,
            typename(args.get(i))
        )),
    }
}

/// The functions `sandbox.lua` receives.
pub fn natives(lua: &Lua, state: &Arc<RunState>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let s = state.clone();
    t.set("killed", lua.create_function(move |_, ()| Ok(s.killed()))?)?;
    t.set("unwrap", lua.create_function(unwrap_error)?)?;
    t.set(
        "call",
        lua.create_function(|lua, args| redis_command(lua, args, true))?,
    )?;
    t.set(
        "pcall",
        lua.create_function(|lua, args| redis_command(lua, args, false))?,
    )?;
    let s = state.clone();
    t.set(
        "setresp",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.setresp() requires one argument."));
            }
            let n = args
                .into_iter()
                .next()
                .and_then(|v| lua.coerce_number(v).ok().flatten())
                .unwrap_or(0.0) as i64;
            if n != 2 && n != 3 {
                return Err(raise_table("ERR RESP version must be 2 or 3."));
            }
            s.set_resp3(n == 3);
            Ok(())
        })?,
    )?;
    t.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR wrong number of arguments"));
            }
            // lua_tolstring: strings and numbers; anything else hashes as empty.
            let text = match args.into_iter().next() {
                Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
                    lua.coerce_string(v)?.map(|s| s.as_bytes().to_vec())
                }
                _ => None,
            };
            Ok(sha1_hex(&text.unwrap_or_default()))
        })?,
    )?;
    let s = state.clone();
    t.set(
        "random",
        lib_fn(lua, move |lua, args| {
            let r = (s.lrand48() % i32::MAX) as f64 / i32::MAX as f64;
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(lua, &args, 0, "random")?;
                    if u < 1 {
                        return Err("bad argument #1 to 'random' (interval is empty)".into());
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_int(lua, &args, 0, "random")?;
                    let u = check_int(lua, &args, 1, "random")?;
                    if l > u {
                        return Err("bad argument #2 to 'random' (interval is empty)".into());
                    }
                    Ok((r * (u - l + 1) as f64).floor() + l as f64)
                }
                _ => Err("wrong number of arguments".into()),
            }
        })?,
    )?;
    let s = state.clone();
    t.set(
        "randomseed",
        lib_fn(lua, move |lua, args| {
            s.srand48(check_int(lua, &args, 0, "randomseed")? as i32);
            Ok(())
        })?,
    )?;
    t.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            if args.len() < 2 {
                return Err(raise_table(
                    "ERR redis.log() requires two arguments or more.",
                ));
            }
            let Some(level) = lua.coerce_number(args[0].clone())? else {
                return Err(raise_table(
                    "ERR First argument must be a number (log level).",
                ));
            };
            let level = level as i64;
            if !(0..=3).contains(&level) {
                return Err(raise_table("ERR Invalid debug level."));
            }
            // sesame logs at Redis's default verbosity, notice: debug and verbose are dropped.
            if level >= 2 {
                let mut parts = Vec::new();
                for v in &args[1..] {
                    if matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_)) {
                        if let Some(s) = lua.coerce_string(v.clone())? {
                            parts.push(s.to_string_lossy().to_string());
                        }
                    }
                }
                let mark = if level >= 3 { '#' } else { '*' };
                eprintln!("{mark} {}", parts.join(" "));
            }
            Ok(())
        })?,
    )?;
    t.set(
        "set_repl",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.set_repl() requires two arguments."));
            }
            let flags = args
                .into_iter()
                .next()
                .and_then(|v| lua.coerce_number(v).ok().flatten())
                .unwrap_or(0.0) as i64;
            if flags & !3 != 0 {
                return Err(raise_table(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or \
                     REPL_NONE.",
                ));
            }
            // sesame neither replicates nor writes an AOF: nothing to switch.
            Ok(())
        })?,
    )?;
    t.set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let argv = convert::command_args(args.into_iter()).map_err(raise_table)?;
            if crate::commands::resolve(&argv).is_err() {
                return Err(raise_table(
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                ));
            }
            // sesame's only user (the requirepass one) may run every command.
            Ok(true)
        })?,
    )?;
    t.set("REDIS_VERSION", crate::REDIS_VERSION)?;
    t.set("REDIS_VERSION_NUM", redis_version_num())?;
    t.set("bit", bit_library(lua)?)?;
    t.set("cjson", cjson_library(lua)?)?;
    t.set("struct", super::packing::struct_library(lua)?)?;
    t.set("cmsgpack", super::packing::cmsgpack_library(lua)?)?;
    Ok(t)
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (major << 16) | (minor << 8) | patch
}

// ---------------------------------------------------------------------------------------------
// bit (LuaBitOp)

/// LuaBitOp's `barg`: the number's low 32 bits after rounding to an integer (ties to even), or a
/// type error for anything that is not a number.
fn bit_arg(lua: &Lua, args: &[Value], i: usize, fname: &str) -> Result<u32, String> {
    let n = args
        .get(i)
        .and_then(|v| lua.coerce_number(v.clone()).ok().flatten())
        .unwrap_or(0.0);
    let bits = ((n + 6_755_399_441_055_744.0).to_bits() & 0xFFFF_FFFF) as u32;
    let is_number = args
        .get(i)
        .is_some_and(|v| lua.coerce_number(v.clone()).ok().flatten().is_some());
    if bits == 0 && !is_number {
        return Err(format!(
            "bad argument #{} to '{fname}' (number expected, got {})",
            i + 1,
            typename(args.get(i))
        ));
    }
    Ok(bits)
}

fn bit_result(b: u32) -> Result<f64, String> {
    Ok(b as i32 as f64)
}

fn bit_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Unary = fn(u32) -> u32;
    let unary: [(&str, Unary); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", |b| b.swap_bytes()),
    ];
    for (name, op) in unary {
        t.set(
            name,
            lib_fn(lua, move |lua, args| {
                bit_result(op(bit_arg(lua, &args, 0, name)?))
            })?,
        )?;
    }
    type Fold = fn(u32, u32) -> u32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.set(
            name,
            lib_fn(lua, move |lua, args| {
                let mut acc = bit_arg(lua, &args, 0, name)?;
                for i in 1..args.len() {
                    acc = op(acc, bit_arg(lua, &args, i, name)?);
                }
                bit_result(acc)
            })?,
        )?;
    }
    type Shift = fn(u32, u32) -> u32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            lib_fn(lua, move |lua, args| {
                let b = bit_arg(lua, &args, 0, name)?;
                let n = bit_arg(lua, &args, 1, name)? & 31;
                bit_result(op(b, n))
            })?,
        )?;
    }
    t.set(
        "tohex",
        lib_fn(lua, |lua, args| {
            let mut b = bit_arg(lua, &args, 0, "tohex")?;
            let mut n = if args.len() < 2 {
                8
            } else {
                bit_arg(lua, &args, 1, "tohex")? as i32
            };
            let digits: &[u8; 16] = if n < 0 {
                n = -n;
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let n = n.min(8) as usize;
            let mut buf = vec![b'0'; n];
            for slot in buf.iter_mut().rev() {
                *slot = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf).map_err(|e| e.to_string())
        })?,
    )?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// cjson (lua-cjson 2.1.0 with Redis's defaults)

const CJSON_MAX_DEPTH: usize = 1000;

fn cjson_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lib_fn(lua, |lua, args| {
            if args.len() != 1 {
                return Err("bad argument #1 to 'encode' (expected 1 argument)".into());
            }
            let mut out = Vec::new();
            json_encode(&args[0], 0, &mut out)?;
            lua.create_string(&out).map_err(|e| e.to_string())
        })?,
    )?;
    t.set(
        "decode",
        lib_fn(lua, |lua, args| {
            if args.len() != 1 {
                return Err("bad argument #1 to 'decode' (expected 1 argument)".into());
            }
            let text: Bytes = match &args[0] {
                Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
                Value::Integer(i) => Bytes::from(i.to_string()),
                Value::Number(n) => Bytes::from(format_g(*n, 14)),
                other => {
                    return Err(format!(
                        "bad argument #1 to 'decode' (string expected, got {})",
                        typename(Some(other))
                    ))
                }
            };
            let mut parser = JsonParser {
                lua,
                text: &text,
                pos: 0,
                depth: 0,
            };
            parser.document()
        })?,
    )?;
    t.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                let _ = write!(ByteWriter(out), "\\u{c:04x}");
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn json_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

/// lua-cjson's `lua_array_length`: the array length if every key is an integer ≥ 1 and the
/// array is not excessively sparse (ratio 2, safe 10), else None (an object).
fn json_array_length(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0f64;
    let mut items = 0f64;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k.floor() == k && k >= 1.0 {
            max = max.max(k);
            items += 1.0;
        } else {
            return Ok(None);
        }
    }
    if max > items * 2.0 && max > 10.0 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max as usize))
}

fn json_encode(v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => json_number(*i as f64, out)?,
        Value::Number(n) => json_number(*n, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > CJSON_MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match json_array_length(t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item = t.raw_get::<Value>(i).map_err(|e| e.to_string())?;
                        json_encode(&item, depth, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::Integer(i) => {
                                out.push(b'"');
                                json_number(*i as f64, out)?;
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                json_number(*n, out)?;
                                out.push(b'"');
                            }
                            Value::String(s) => json_string(&s.as_bytes(), out),
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    typename(Some(other))
                                ))
                            }
                        }
                        out.push(b':');
                        json_encode(&item, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                typename(Some(other))
            ))
        }
    }
    Ok(())
}

/// A token of lua-cjson's lexer, by the name its errors print.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    /// A lexing error, with its text.
    Error(&'static str),
}

impl Token {
    fn name(self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String => "T_STRING",
            Token::Number => "T_NUMBER",
            Token::Boolean => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(text) => text,
        }
    }
}

struct JsonParser<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

/// A token with its value and where it starts.
struct Lexed {
    token: Token,
    at: usize,
    value: Value,
}

impl JsonParser<'_> {
    fn document(&mut self) -> Result<Value, String> {
        let first = self.next_token()?;
        let value = self.value(first)?;
        let last = self.next_token()?;
        if last.token != Token::End {
            return Err(self.expected("the end", &last));
        }
        Ok(value)
    }

    fn expected(&self, what: &str, found: &Lexed) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            found.token.name(),
            found.at + 1
        )
    }

    fn value(&mut self, lexed: Lexed) -> Result<Value, String> {
        match lexed.token {
            Token::String | Token::Number | Token::Boolean | Token::Null => Ok(lexed.value),
            Token::ObjBegin => self.object(lexed.at),
            Token::ArrBegin => self.array(lexed.at),
            _ => Err(self.expected("value", &lexed)),
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), String> {
        self.depth += 1;
        if self.depth > CJSON_MAX_DEPTH {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            ));
        }
        Ok(())
    }

    fn object(&mut self, at: usize) -> Result<Value, String> {
        self.enter(at)?;
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        let mut lexed = self.next_token()?;
        if lexed.token == Token::ObjEnd {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            if lexed.token != Token::String {
                return Err(self.expected("object key string", &lexed));
            }
            let key = lexed.value;
            let colon = self.next_token()?;
            if colon.token != Token::Colon {
                return Err(self.expected("colon", &colon));
            }
            let next = self.next_token()?;
            let value = self.value(next)?;
            table.raw_set(key, value).map_err(|e| e.to_string())?;
            let sep = self.next_token()?;
            match sep.token {
                Token::ObjEnd => break,
                Token::Comma => lexed = self.next_token()?,
                _ => return Err(self.expected("comma or object end", &sep)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn array(&mut self, at: usize) -> Result<Value, String> {
        self.enter(at)?;
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        let mut lexed = self.next_token()?;
        if lexed.token == Token::ArrEnd {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        let mut i = 1;
        loop {
            let value = self.value(lexed)?;
            table.raw_set(i, value).map_err(|e| e.to_string())?;
            i += 1;
            let sep = self.next_token()?;
            match sep.token {
                Token::ArrEnd => break,
                Token::Comma => lexed = self.next_token()?,
                _ => return Err(self.expected("comma or array end", &sep)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn lexed(&self, token: Token, at: usize, value: Value) -> Result<Lexed, String> {
        Ok(Lexed { token, at, value })
    }

    fn next_token(&mut self) -> Result<Lexed, String> {
        while self
            .text
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.text.get(at) else {
            return self.lexed(Token::End, at, Value::Nil);
        };
        let simple = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = simple {
            self.pos += 1;
            return self.lexed(token, at, Value::Nil);
        }
        if c == b'"' {
            return match self.string() {
                Ok(s) => {
                    let s = self.lua.create_string(&s).map_err(|e| e.to_string())?;
                    self.lexed(Token::String, at, Value::String(s))
                }
                Err(text) => self.lexed(Token::Error(text), at, Value::Nil),
            };
        }
        let rest = &self.text[at..];
        if c == b'-' || c.is_ascii_digit() {
            return match strtod_prefix(rest) {
                Some((n, len)) => {
                    self.pos += len;
                    self.lexed(Token::Number, at, Value::Number(n))
                }
                None => self.lexed(Token::Error("invalid number"), at, Value::Nil),
            };
        }
        for (word, token, value) in [
            (&b"true"[..], Token::Boolean, Value::Boolean(true)),
            (b"false", Token::Boolean, Value::Boolean(false)),
            (
                b"null",
                Token::Null,
                Value::LightUserData(LightUserData(std::ptr::null_mut())),
            ),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return self.lexed(token, at, value);
            }
        }
        self.lexed(Token::Error("invalid token"), at, Value::Nil)
    }

    /// A string token, escapes decoded (`\uXXXX` to UTF-8, surrogate pairs joined).
    fn string(&mut self) -> Result<Vec<u8>, &'static str> {
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                return Err("unexpected end of string");
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.text.get(self.pos) else {
                        return Err("unexpected end of string");
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => self.unicode_escape(&mut out)?,
                        _ => return Err("invalid escape code"),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        const BAD: &str = "invalid unicode escape code";
        let mut code = self.hex4().ok_or(BAD)?;
        if (0xD800..0xDC00).contains(&code) {
            if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(BAD);
            }
            self.pos += 2;
            let low = self.hex4().ok_or(BAD)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(BAD);
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (0xDC00..0xE000).contains(&code) {
            return Err(BAD);
        }
        let ch = char::from_u32(code).ok_or(BAD)?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
}

/// The longest prefix of `text` that C's `strtod` reads as a decimal number, and its value.
fn strtod_prefix(text: &[u8]) -> Option<(f64, usize)> {
    let mut end = 0;
    let at = |i: usize| text.get(i).copied();
    if matches!(at(end), Some(b'-' | b'+')) {
        end += 1;
    }
    let int_start = end;
    while at(end).is_some_and(|c| c.is_ascii_digit()) {
        end += 1;
    }
    let mut digits = end - int_start;
    if at(end) == Some(b'.') {
        let frac_start = end + 1;
        let mut e = frac_start;
        while at(e).is_some_and(|c| c.is_ascii_digit()) {
            e += 1;
        }
        if digits > 0 || e > frac_start {
            digits += e - frac_start;
            end = e;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(at(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(at(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let exp_start = e;
        while at(e).is_some_and(|c| c.is_ascii_digit()) {
            e += 1;
        }
        if e > exp_start {
            end = e;
        }
    }
    let text = std::str::from_utf8(&text[..end]).ok()?;
    let text = text.strip_suffix('.').unwrap_or(text);
    text.parse::<f64>().ok().map(|n| (n, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        assert_eq!(
            sha1_hex(
                b"if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) else return 0 end"
            ),
            "b70c2384248f88e6b75b9f89241a180f856ad852"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(sha1_hex(&long), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
    }

    #[test]
    fn drand48_matches_redis() {
        // Redis 7.0.15: math.random(1000) from a fresh server gives 397, 841, 354; after
        // math.randomseed(42), 745.
        let mut state = RAND48_INITIAL;
        let draw = |state: &mut u64| {
            let r = (lrand48(state) % i32::MAX) as f64 / i32::MAX as f64;
            (r * 1000.0).floor() as i64 + 1
        };
        assert_eq!(
            [draw(&mut state), draw(&mut state), draw(&mut state)],
            [397, 841, 354]
        );
        let mut seeded = srand48(42);
        assert_eq!(draw(&mut seeded), 745);
    }

    #[test]
    fn percent_g() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(1.2345678901234568e17, 14), "1.2345678901235e+17");
        assert_eq!(format_g(9.007199254740992e15, 14), "9.007199254741e+15");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod_prefix(b"12 3"), Some((12.0, 2)));
        assert_eq!(strtod_prefix(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod_prefix(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod_prefix(b"-"), None);
        assert_eq!(strtod_prefix(b"1."), Some((1.0, 2)));
    }
}
