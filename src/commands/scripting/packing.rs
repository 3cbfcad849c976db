//! The `struct` and `cmsgpack` libraries of Redis's Lua, in Rust: Roberto Ierusalimschy's struct
//! 1.4 (with Redis's size and offset checks) and lua-cmsgpack 0.4.0, as Redis 7.0 bundles them,
//! on x86-64 sizes (short 2, int 4, long and size_t 8, little-endian native order).
//!
//! Failures are raised as `luaL_error` would (see [`super::libs`]), with the same texts.

use mlua::{Lua, MultiValue, Table, Value};

use super::libs::{lib_fn, typename, Raise};

// ---------------------------------------------------------------------------------------------
// struct

const MAXINTSIZE: usize = 32;
/// `MAXALIGN`: the alignment of a double after a char on x86-64.
const MAXALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

const DEFAULT_HEADER: Header = Header {
    little: true,
    align: 1,
};

/// `getnum`: the digits at `fmt[*at..]`, or `default` when there are none.
fn getnum(fmt: &[u8], at: &mut usize, default: usize) -> Result<usize, String> {
    if !fmt.get(*at).is_some_and(u8::is_ascii_digit) {
        return Ok(default);
    }
    let mut a: i64 = 0;
    while let Some(&d) = fmt.get(*at).filter(|d| d.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        if a > i64::from(i32::MAX) / 10 || a * 10 > i64::from(i32::MAX) - digit {
            return Err("integral size overflow".into());
        }
        a = a * 10 + digit;
        *at += 1;
    }
    Ok(a as usize)
}

fn optsize(opt: u8, fmt: &[u8], at: &mut usize) -> Result<usize, String> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => getnum(fmt, at, 1)?,
        b'i' | b'I' => {
            let size = getnum(fmt, at, 4)?;
            if size > MAXINTSIZE {
                return Err(format!(
                    "integral size {size} is larger than limit of {MAXINTSIZE}"
                ));
            }
            size
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The endianness and alignment options; anything else is not a format option.
fn controloptions(
    opt: u8,
    fmt: &[u8],
    at: &mut usize,
    h: &mut Header,
    fname: &str,
) -> Result<(), String> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = getnum(fmt, at, MAXALIGN)?;
            if !a.is_power_of_two() {
                return Err(format!("alignment {a} is not a power of 2"));
            }
            h.align = a;
        }
        other => {
            return Err(format!(
                "bad argument #1 to '{fname}' (invalid format option '{}')",
                other as char
            ))
        }
    }
    Ok(())
}

fn check_string(lua: &Lua, args: &[Value], i: usize, fname: &str) -> Result<Vec<u8>, String> {
    match args.get(i) {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => Ok(lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        None if fname == "pack" && i > 0 => Err(format!(
            "bad argument #{} to 'pack' (string expected, got nil)",
            i + 1
        )),
        other => Err(format!(
            "bad argument #{} to '{fname}' (string expected, got {})",
            i + 1,
            typename(other)
        )),
    }
}

fn check_number(lua: &Lua, args: &[Value], i: usize, fname: &str) -> Result<f64, String> {
    args.get(i)
        .and_then(|v| lua.coerce_number(v.clone()).ok().flatten())
        .ok_or_else(|| {
            // pack pushes a nil mark above its arguments: a missing one reads as nil.
            let got = match args.get(i) {
                None if fname == "pack" => "nil",
                other => typename(other),
            };
            format!(
                "bad argument #{} to '{fname}' (number expected, got {got})",
                i + 1
            )
        })
}

/// C's conversion of a double to `unsigned long` through `long` for negatives, as x86-64 does
/// it (out of range: the "integer indefinite" value).
fn to_uint(n: f64) -> u64 {
    if n < 0.0 {
        if n >= -9_223_372_036_854_775_808.0 {
            n as i64 as u64
        } else {
            1 << 63
        }
    } else if n < 18_446_744_073_709_551_616.0 {
        n as u64
    } else {
        1 << 63
    }
}

fn struct_pack(lua: &Lua, args: Vec<Value>) -> Result<mlua::LuaString, String> {
    let fmt = check_string(lua, &args, 0, "pack")?;
    let mut h = DEFAULT_HEADER;
    let mut arg = 1;
    let mut out: Vec<u8> = Vec::new();
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = optsize(opt, &fmt, &mut at)?;
        let toalign = gettoalign(out.len(), &h, opt, size);
        out.resize(out.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut value = to_uint(check_number(lua, &args, arg, "pack")?);
                arg += 1;
                let mut bytes = vec![0u8; size];
                for b in bytes.iter_mut() {
                    *b = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                if !h.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, &args, arg, "pack")? as f32;
                arg += 1;
                let bytes = if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'd' => {
                let d = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                let bytes = if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // luaL_argcheck names the argument after the one it read.
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 1
                    ));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => controloptions(opt, &fmt, &mut at, &mut h, "pack")?,
        }
    }
    lua.create_string(&out).map_err(|e| e.to_string())
}

fn getinteger(data: &[u8], little: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let size = data.len();
    for i in 0..size {
        let b = if little { data[size - 1 - i] } else { data[i] };
        l = (l << 8) | u64::from(b);
    }
    if !signed {
        return l as f64;
    }
    // C shifts by (size*8 - 1) mod 64 on x86-64.
    let mask = u64::MAX << ((size * 8 - 1) % 64);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn struct_unpack(lua: &Lua, args: Vec<Value>) -> Result<MultiValue, String> {
    let fmt = check_string(lua, &args, 0, "unpack")?;
    let data = check_string(lua, &args, 1, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_number(lua, &args, 2, "unpack")? as i64,
    };
    if start == 0 {
        return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into());
    }
    let too_short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
    let mut pos = (start as u64).wrapping_sub(1) as usize;
    let mut h = DEFAULT_HEADER;
    let mut out = MultiValue::new();
    let mut last_number: Option<f64> = None;
    let fits = |pos: usize, size: usize| pos <= data.len() && size <= data.len() - pos;
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let mut size = optsize(opt, &fmt, &mut at)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !fits(pos, size) {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = getinteger(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                out.push_back(Value::Number(n));
                last_number = Some(n);
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push_back(Value::Number(f64::from(f)));
                last_number = Some(f64::from(f));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push_back(Value::Number(d));
                last_number = Some(d);
            }
            b'c' => {
                if size == 0 {
                    // The previous result is the length, and is consumed.
                    let Some(n) =
                        last_number.filter(|_| matches!(out.back(), Some(Value::Number(_))))
                    else {
                        return Err("format 'c0' needs a previous size".into());
                    };
                    out.pop_back();
                    size = n as usize;
                    if !fits(pos, size) {
                        return Err(too_short());
                    }
                }
                let s = lua
                    .create_string(&data[pos..pos + size])
                    .map_err(|e| e.to_string())?;
                out.push_back(Value::String(s));
                last_number = None;
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err("unfinished string in data".into());
                };
                let s = lua
                    .create_string(&data[pos..pos + end])
                    .map_err(|e| e.to_string())?;
                out.push_back(Value::String(s));
                last_number = None;
                size = end + 1;
            }
            _ => controloptions(opt, &fmt, &mut at, &mut h, "unpack")?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push_back(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(out)
}

fn struct_size(lua: &Lua, args: Vec<Value>) -> Result<f64, String> {
    let fmt = check_string(lua, &args, 0, "size")?;
    let mut h = DEFAULT_HEADER;
    let mut pos = 0usize;
    let mut at = 0;
    while at < fmt.len() {
        let opt = fmt[at];
        at += 1;
        let size = optsize(opt, &fmt, &mut at)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt == b'c' && size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &fmt, &mut at, &mut h, "size")?;
        }
        pos += size;
    }
    Ok(pos as f64)
}

/// The `struct` table.
pub fn struct_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lib_fn(lua, struct_pack)?)?;
    t.set("unpack", lib_fn(lua, struct_unpack)?)?;
    t.set("size", lib_fn(lua, struct_size)?)?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// cmsgpack

const MAX_NESTING: usize = 16;
/// Results one call may return before Lua's stack limit (LUAI_MAXCSTACK is 8000).
const MAX_RESULTS: usize = 7900;

fn mp_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_header(n: usize, fix: u8, b16: u8, b32: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn mp_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn mp_number(n: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and (int64_t)n == n.
    let as_int = super::convert::lua_integer(n);
    if !n.is_infinite() && as_int as f64 == n {
        mp_int(as_int, out);
    } else if n == f64::from(n as f32) {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `table_is_an_array`: every key a number in 1..=INT_MAX, integral, and as many keys as the
/// largest.
fn mp_is_array(t: &Table) -> bool {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    for pair in t.pairs::<Value, Value>() {
        let Ok((k, _)) = pair else { return false };
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return false,
        };
        if n <= 0.0 || n > f64::from(i32::MAX) || n.fract() != 0.0 {
            return false;
        }
        max = max.max(n as i64);
        count += 1;
    }
    max == count
}

fn mp_encode(v: &Value, level: usize, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => mp_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => mp_number(*i as f64, out),
        Value::Number(n) => mp_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => {
            if mp_is_array(t) {
                let len = t.raw_len();
                mp_header(len, 0x90, 0xdc, 0xdd, out);
                for j in 1..=len {
                    let item = t.get::<Value>(j).unwrap_or(Value::Nil);
                    mp_encode(&item, level + 1, out);
                }
            } else {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().filter_map(Result::ok).collect();
                mp_header(pairs.len(), 0x80, 0xde, 0xdf, out);
                for (k, item) in &pairs {
                    mp_encode(k, level + 1, out);
                    mp_encode(item, level + 1, out);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

/// Why decoding stopped.
enum MpError {
    /// `Missing bytes in input.`
    Eof,
    /// `Bad data format in input.`
    BadFormat,
    /// A Lua error while building the result (`table index is nil`).
    Lua(String),
}

struct MpCursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl MpCursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), MpError> {
        if self.left() < n {
            Err(MpError::Eof)
        } else {
            Ok(())
        }
    }

    fn byte(&self, i: usize) -> u8 {
        self.data[self.pos + i]
    }

    fn be(&self, from: usize, len: usize) -> u64 {
        (0..len).fold(0u64, |acc, i| (acc << 8) | u64::from(self.byte(from + i)))
    }

    fn string(&mut self, lua: &Lua, header: usize, len: usize) -> Result<Value, MpError> {
        self.need(header.saturating_add(len))?;
        let start = self.pos + header;
        let s = lua
            .create_string(&self.data[start..start + len])
            .map_err(|e| MpError::Lua(e.to_string()))?;
        self.pos = start + len;
        Ok(Value::String(s))
    }

    fn decode(&mut self, lua: &Lua) -> Result<Value, MpError> {
        self.need(1)?;
        let b = self.byte(0);
        let num = |n: f64| Ok(Value::Number(n));
        match b {
            0xcc => {
                self.need(2)?;
                let v = self.byte(1);
                self.pos += 2;
                num(f64::from(v))
            }
            0xd0 => {
                self.need(2)?;
                let v = self.byte(1) as i8;
                self.pos += 2;
                num(f64::from(v))
            }
            0xcd => {
                self.need(3)?;
                let v = self.be(1, 2);
                self.pos += 3;
                num(v as f64)
            }
            0xd1 => {
                self.need(3)?;
                let v = self.be(1, 2) as u16 as i16;
                self.pos += 3;
                num(f64::from(v))
            }
            0xce => {
                self.need(5)?;
                let v = self.be(1, 4);
                self.pos += 5;
                num(v as f64)
            }
            0xd2 => {
                self.need(5)?;
                let v = self.be(1, 4) as u32 as i32;
                self.pos += 5;
                num(f64::from(v))
            }
            // lua_pushunsigned is lua_pushinteger on 64 bits: the value as a signed integer.
            0xcf | 0xd3 => {
                self.need(9)?;
                let v = self.be(1, 8) as i64;
                self.pos += 9;
                num(v as f64)
            }
            0xc0 => {
                self.pos += 1;
                Ok(Value::Nil)
            }
            0xc3 | 0xc2 => {
                self.pos += 1;
                Ok(Value::Boolean(b == 0xc3))
            }
            0xca => {
                self.need(5)?;
                let f = f32::from_bits(self.be(1, 4) as u32);
                self.pos += 5;
                num(f64::from(f))
            }
            0xcb => {
                self.need(9)?;
                let d = f64::from_bits(self.be(1, 8));
                self.pos += 9;
                num(d)
            }
            0xd9 => {
                self.need(2)?;
                let len = self.byte(1) as usize;
                self.string(lua, 2, len)
            }
            0xda => {
                self.need(3)?;
                let len = self.be(1, 2) as usize;
                self.string(lua, 3, len)
            }
            0xdb => {
                self.need(5)?;
                let len = self.be(1, 4) as usize;
                self.string(lua, 5, len)
            }
            0xdc..=0xdf => {
                let header = if b == 0xdc || b == 0xde { 3 } else { 5 };
                self.need(header)?;
                let len = self.be(1, header - 1) as usize;
                self.pos += header;
                if b <= 0xdd {
                    self.array(lua, len)
                } else {
                    self.map(lua, len)
                }
            }
            _ if b & 0x80 == 0 => {
                self.pos += 1;
                num(f64::from(b))
            }
            _ if b & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(f64::from(b as i8))
            }
            _ if b & 0xe0 == 0xa0 => self.string(lua, 1, (b & 0x1f) as usize),
            _ if b & 0xf0 == 0x90 => {
                self.pos += 1;
                self.array(lua, (b & 0xf) as usize)
            }
            _ if b & 0xf0 == 0x80 => {
                self.pos += 1;
                self.map(lua, (b & 0xf) as usize)
            }
            _ => Err(MpError::BadFormat),
        }
    }

    fn array(&mut self, lua: &Lua, len: usize) -> Result<Value, MpError> {
        let t = lua
            .create_table()
            .map_err(|e| MpError::Lua(e.to_string()))?;
        for i in 1..=len {
            let v = self.decode(lua)?;
            t.raw_set(i, v).map_err(|e| MpError::Lua(e.to_string()))?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, len: usize) -> Result<Value, MpError> {
        let t = lua
            .create_table()
            .map_err(|e| MpError::Lua(e.to_string()))?;
        for _ in 0..len {
            let k = self.decode(lua)?;
            let v = self.decode(lua)?;
            match &k {
                Value::Nil => return Err(MpError::Lua("table index is nil".into())),
                Value::Number(n) if n.is_nan() => {
                    return Err(MpError::Lua("table index is NaN".into()))
                }
                _ => {}
            }
            t.raw_set(k, v).map_err(|e| MpError::Lua(e.to_string()))?;
        }
        Ok(Value::Table(t))
    }
}

/// `mp_unpack_full`: every object (`limit` 0 and `offset` 0), or at most `limit` from `offset`,
/// then preceded by the next offset (-1 at the end).
fn mp_unpack_full(
    lua: &Lua,
    data: &[u8],
    limit: i64,
    offset: i64,
) -> Result<MultiValue, mlua::Error> {
    let here = |message: String| Err(super::libs::raise_here(lua, message));
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return here(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32,
            data.len() as i32
        ));
    }
    if offset as u64 > data.len() as u64 {
        return here(format!(
            "Start offset {} greater than input length {}.",
            offset as i32,
            data.len() as i32
        ));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut cursor = MpCursor {
        data,
        pos: offset as usize,
    };
    let mut out = MultiValue::new();
    let mut count = 0;
    while cursor.left() > 0 && count < limit {
        if out.len() >= MAX_RESULTS {
            return here(
                "stack overflow (too many return values at once; use unpack_one or \
                 unpack_limit instead.)"
                    .into(),
            );
        }
        match cursor.decode(lua) {
            Ok(v) => out.push_back(v),
            Err(MpError::Eof) => return here("Missing bytes in input.".into()),
            Err(MpError::BadFormat) => return here("Bad data format in input.".into()),
            Err(MpError::Lua(message)) => {
                return Err(mlua::Error::external(Raise::Message(message)))
            }
        }
        count += 1;
    }
    if !decode_all {
        let next = if cursor.left() == 0 {
            -1
        } else {
            cursor.pos as i64
        };
        out.push_front(Value::Number(next as f64));
    }
    Ok(out)
}

fn unpack_data(lua: &Lua, args: &[Value], fname: &str) -> mlua::Result<Vec<u8>> {
    match args.first() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => Ok(lua
            .coerce_string(v.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()),
        other => Err(super::libs::raise_here(
            lua,
            format!(
                "bad argument #1 to '{fname}' (string expected, got {})",
                typename(other)
            ),
        )),
    }
}

fn opt_integer(lua: &Lua, args: &[Value], i: usize, fname: &str) -> mlua::Result<i64> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(0),
        Some(v) => match lua.coerce_number(v.clone())? {
            Some(n) => Ok(n as i64),
            None => Err(super::libs::raise_here(
                lua,
                format!(
                    "bad argument #{} to '{fname}' (number expected, got {})",
                    i + 1,
                    typename(Some(v))
                ),
            )),
        },
    }
}

/// The `cmsgpack` table.
pub fn cmsgpack_library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(super::libs::raise_here(
                    lua,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for arg in &args {
                mp_encode(arg, 0, &mut out);
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let data = unpack_data(lua, &args, "unpack")?;
            mp_unpack_full(lua, &data, 0, 0)
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let offset = opt_integer(lua, &args, 1, "unpack_one")?;
            let data = unpack_data(lua, &args, "unpack_one")?;
            mp_unpack_full(lua, &data, 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            if matches!(args.get(1), None | Some(Value::Nil)) {
                return Err(super::libs::raise_here(
                    lua,
                    format!(
                        "bad argument #2 to 'unpack_limit' (number expected, got {})",
                        typename(args.get(1))
                    ),
                ));
            }
            let limit = opt_integer(lua, &args, 1, "unpack_limit")?;
            let offset = opt_integer(lua, &args, 2, "unpack_limit")?;
            let data = unpack_data(lua, &args, "unpack_limit")?;
            mp_unpack_full(lua, &data, limit, offset)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_the_smallest_encoding() {
        let enc = |n: f64| {
            let mut out = Vec::new();
            mp_number(n, &mut out);
            out
        };
        assert_eq!(enc(1.0), [0x01]);
        assert_eq!(enc(-1.0), [0xff]);
        assert_eq!(enc(200.0), [0xcc, 200]);
        assert_eq!(enc(-200.0), [0xd1, 0xff, 0x38]);
        assert_eq!(enc(1.5), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(enc(0.1)[0], 0xcb);
    }

    #[test]
    fn struct_integers_round_trip() {
        assert_eq!(getinteger(&[0xfe, 0xff], true, true), -2.0);
        assert_eq!(getinteger(&[0x01, 0x02], false, false), 258.0);
        assert_eq!(to_uint(-3.0), u64::MAX - 2);
    }
}
