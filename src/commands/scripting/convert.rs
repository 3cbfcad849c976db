//! Redis's conversions between replies and Lua values, both ways.
//!
//! Reply → Lua (what `redis.call` returns), for a script in RESP2 (the default) or RESP3
//! (`redis.setresp(3)`): integers become numbers, bulk strings strings, arrays tables, status
//! replies `{ok=…}`, errors `{err=…}`; a null is `false` in RESP2 and `nil` in RESP3; RESP3's
//! maps, sets, doubles, booleans and verbatim strings become `{map=…}`, `{set=…}`,
//! `{double=…}`, booleans and `{verbatim_string=…}`, and in RESP2 what their RESP2 encoding
//! would parse to.
//!
//! Lua → reply (what the script returns): strings are bulk strings, numbers integers (truncated,
//! as C's cast does), `true` is `:1` and `false` a null (RESP3 scripts: booleans), tables are
//! checked for `err`, `ok`, `double`, `big_number`, `verbatim_string`, `map` and `set` fields in
//! Redis's order, else read as an array up to the first nil; anything else is a null.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::protocol::reply::format_double;
use crate::protocol::Reply;

/// How deep a returned table may nest before Redis's Lua stack would overflow: deeper levels
/// answer `ERR reached lua stack limit` (a table that contains itself is no longer a crash).
const MAX_DEPTH: usize = 1000;

/// An error text made safe for one protocol line: CR and LF become spaces, as Redis does.
pub fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn sanitize_bytes(text: &[u8]) -> Bytes {
    Bytes::from(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect::<Vec<u8>>(),
    )
}

/// A Lua number as Redis formats a command argument: `%.17g` (C prints NaN with its sign).
pub fn number_arg(n: f64) -> Bytes {
    if n.is_nan() {
        return Bytes::from_static(if n.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
    }
    Bytes::from(format_double(n))
}

/// The arguments of `redis.call`: strings as they are, numbers as `%.17g`, nothing else.
pub fn command_args(args: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, &'static str> {
    let mut argv = Vec::new();
    for arg in args {
        argv.push(match arg {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Integer(i) => number_arg(i as f64),
            Value::Number(n) => number_arg(n),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        });
    }
    if argv.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    Ok(argv)
}

/// An error table `{err="CODE message"}` as Redis's `luaPushErrorBuff` builds it from an error
/// reply: the code is the first word, or `ERR` when the text has a single word. Errors that
/// come from a command also carry `ignore_error_stats_update = true`.
pub fn error_table(lua: &Lua, text: &str, from_command: bool) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.set("err", lua.create_string(text)?)?;
    if from_command {
        table.set("ignore_error_stats_update", true)?;
    }
    Ok(Value::Table(table))
}

/// Redis's reading of an error reply `-<text>` into `CODE message`.
fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, message): (&[u8], &[u8]) = match text.iter().position(|&b| b == b' ') {
        Some(space) => (&text[..space], &text[space + 1..]),
        None => (b"ERR", text),
    };
    let trim = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = message
        .iter()
        .position(|b| !trim(b))
        .unwrap_or(message.len());
    let end = message
        .iter()
        .rposition(|b| !trim(b))
        .map_or(start, |e| e + 1);
    let mut out = code.to_vec();
    out.push(b' ');
    out.extend_from_slice(&message[start..end.max(start)]);
    out
}

/// A command's reply as `redis.call` returns it to a script speaking RESP2 or RESP3.
pub fn reply_to_lua(lua: &Lua, reply: Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Simple(s) => {
            let table = lua.create_table()?;
            table.set("ok", lua.create_string(&s)?)?;
            Value::Table(table)
        }
        Reply::Error(e) => {
            let table = lua.create_table()?;
            table.set("err", lua.create_string(error_text(&e))?)?;
            table.set("ignore_error_stats_update", true)?;
            Value::Table(table)
        }
        Reply::Integer(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Null | Reply::NullArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => array(lua, items, resp3)?,
        Reply::Set(items) => {
            if resp3 {
                let set = lua.create_table()?;
                for item in items {
                    let key = reply_to_lua(lua, item, resp3)?;
                    if !key.is_nil() {
                        set.set(key, true)?;
                    }
                }
                wrap(lua, "set", Value::Table(set))?
            } else {
                array(lua, items, resp3)?
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                let map = lua.create_table()?;
                for (k, v) in pairs {
                    let key = reply_to_lua(lua, k, resp3)?;
                    let value = reply_to_lua(lua, v, resp3)?;
                    if !key.is_nil() {
                        map.set(key, value)?;
                    }
                }
                wrap(lua, "map", Value::Table(map))?
            } else {
                array(
                    lua,
                    pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                    resp3,
                )?
            }
        }
        Reply::Double(x) => {
            if resp3 {
                wrap(lua, "double", Value::Number(x))?
            } else {
                Value::String(lua.create_string(format_double(x))?)
            }
        }
        Reply::Boolean(b) => {
            if resp3 {
                Value::Boolean(b)
            } else {
                Value::Number(b as i64 as f64)
            }
        }
        Reply::Verbatim(format, text) => {
            if resp3 {
                let inner = lua.create_table()?;
                inner.set("string", lua.create_string(&text)?)?;
                inner.set("format", format)?;
                wrap(lua, "verbatim_string", Value::Table(inner))?
            } else {
                Value::String(lua.create_string(&text)?)
            }
        }
        // Redis parses only the first reply a command wrote.
        Reply::Multiple(replies) => match replies.into_iter().next() {
            Some(first) => reply_to_lua(lua, first, resp3)?,
            None => Value::Nil,
        },
    })
}

fn wrap(lua: &Lua, field: &str, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.set(field, value)?;
    Ok(Value::Table(table))
}

fn array(lua: &Lua, items: Vec<Reply>, resp3: bool) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        let value = reply_to_lua(lua, item, resp3)?;
        if !value.is_nil() {
            table.raw_set(i + 1, value)?;
        }
    }
    Ok(Value::Table(table))
}

/// A Lua number as C's `(long long)` cast makes it on x86-64: truncated toward zero, and
/// `LLONG_MIN` for NaN and anything out of range.
pub fn lua_integer(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// What a script returns, as the reply to EVAL. `resp3` is the script's protocol
/// (`redis.setresp`), which decides how booleans are answered.
pub fn lua_to_reply(value: &Value, resp3: bool) -> Reply {
    to_reply(value, resp3, 0)
}

fn field(table: &Table, name: &str) -> Value {
    table.get::<Value>(name).unwrap_or(Value::Nil)
}

fn to_reply(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::Error(Bytes::from_static(b"ERR reached lua stack limit"));
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => {
            if resp3 {
                Reply::Boolean(*b)
            } else if *b {
                Reply::Integer(1)
            } else {
                Reply::Null
            }
        }
        Value::Integer(i) => Reply::Integer(*i),
        Value::Number(n) => Reply::Integer(lua_integer(*n)),
        Value::Table(t) => table_reply(t, resp3, depth),
        _ => Reply::Null,
    }
}

fn table_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Value::String(err) = field(t, "err") {
        return Reply::Error(sanitize_bytes(&err.as_bytes()));
    }
    if let Value::String(ok) = field(t, "ok") {
        return Reply::Simple(sanitize_bytes(&ok.as_bytes()));
    }
    match field(t, "double") {
        Value::Number(x) => return Reply::Double(x),
        Value::Integer(i) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Value::String(big) = field(t, "big_number") {
        // sesame's replies have no RESP3 big number type: it is sent as a bulk string, which is
        // also what RESP2 clients get from Redis.
        return Reply::Bulk(sanitize_bytes(&big.as_bytes()));
    }
    if let Value::Table(verbatim) = field(t, "verbatim_string") {
        if let (Value::String(format), Value::String(text)) =
            (field(&verbatim, "format"), field(&verbatim, "string"))
        {
            return Reply::Verbatim(
                verbatim_format(&format.as_bytes()),
                Bytes::copy_from_slice(&text.as_bytes()),
            );
        }
    }
    if let Value::Table(map) = field(t, "map") {
        let pairs = map
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| {
                (
                    to_reply(&k, resp3, depth + 1),
                    to_reply(&v, resp3, depth + 1),
                )
            })
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(set) = field(t, "set") {
        let items = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| to_reply(&k, resp3, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        let item = t.get::<Value>(i).unwrap_or(Value::Nil);
        if item.is_nil() {
            break;
        }
        items.push(to_reply(&item, resp3, depth + 1));
    }
    Reply::Array(items)
}

/// A verbatim string's three-letter format. Redis copies three bytes whatever the string is;
/// the common formats are static, any other is interned once.
fn verbatim_format(format: &[u8]) -> &'static str {
    let mut three = [b' '; 3];
    for (slot, b) in three.iter_mut().zip(format) {
        *slot = *b;
    }
    match &three {
        b"txt" => "txt",
        b"mkd" => "mkd",
        _ => {
            use std::collections::HashSet;
            use std::sync::OnceLock;
            static INTERNED: OnceLock<parking_lot::Mutex<HashSet<&'static str>>> = OnceLock::new();
            let text = String::from_utf8_lossy(&three).into_owned();
            let mut set = INTERNED.get_or_init(Default::default).lock();
            if let Some(found) = set.get(text.as_str()) {
                return found;
            }
            let leaked: &'static str = Box::leak(text.into_boxed_str());
            set.insert(leaked);
            leaked
        }
    }
}

/// The reply to a script that raised an error: `-<err> script: <sha>, on <source>:<line>.`, or
/// Redis's fallback when the handler left no table.
pub fn script_error(value: &Value, sha: &str) -> Reply {
    let Value::Table(t) = value else {
        let message = match value {
            Value::String(s) => s.to_string_lossy().to_string(),
            _ => "execution failure".to_string(),
        };
        let message: String = message.chars().take(100).collect();
        return Reply::Error(Bytes::from(sanitize(&format!(
            "ERR Error running script {sha}, {message}"
        ))));
    };
    let mut text = match field(t, "err") {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Number(n) => format_double(n).into_bytes(),
        _ => b"ERR unknown error".to_vec(),
    };
    let line = match field(t, "line") {
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(format_double(n)),
        Value::String(s) => Some(s.to_string_lossy().to_string()),
        _ => None,
    };
    if let (Value::String(source), Some(line)) = (field(t, "source"), line) {
        text.extend_from_slice(format!(" script: {sha}, on ").as_bytes());
        text.extend_from_slice(&source.as_bytes());
        text.extend_from_slice(format!(":{line}.").as_bytes());
    }
    Reply::Error(sanitize_bytes(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_keep_their_code() {
        assert_eq!(error_text(b"WRONGTYPE Operation"), b"WRONGTYPE Operation");
        assert_eq!(error_text(b"NOSPACE"), b"ERR NOSPACE");
        assert_eq!(error_text(b""), b"ERR ");
        assert_eq!(error_text(b"X a\r\n"), b"X a");
    }

    #[test]
    fn numbers_truncate_like_a_c_cast() {
        assert_eq!(lua_integer(1.9), 1);
        assert_eq!(lua_integer(-1.9), -1);
        assert_eq!(lua_integer(f64::INFINITY), i64::MIN);
        assert_eq!(lua_integer(f64::NAN), i64::MIN);
        assert_eq!(lua_integer(2f64.powi(63)), i64::MIN);
    }

    #[test]
    fn arguments_format_numbers_like_printf_17g() {
        assert_eq!(number_arg(0.1), "0.10000000000000001");
        assert_eq!(number_arg(3.0), "3");
        assert_eq!(number_arg(-0.0), "-0");
        assert_eq!(number_arg(f64::INFINITY), "inf");
    }
}
