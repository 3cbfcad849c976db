-- The environment Redis 7.0 scripts see, built once per Lua state (see engine.rs).
--
-- Redis patches Lua so that every table reachable from the globals is read-only. Stock Lua 5.1
-- cannot refuse a write to an existing key, so here the scripts see read-only proxies instead:
-- an empty table whose metatable reads from the real table and refuses writes. The builtins
-- that bypass metatables (rawget, rawset, next, pairs, ipairs, getmetatable, setmetatable,
-- table.insert, table.remove) are wrapped so that they see through a proxy and refuse to
-- change it, with Redis's messages. The globals table is such a proxy too, whose misses raise
-- Redis's "nonexistent global variable" error.
--
-- This chunk runs with an empty private environment: everything it uses is a local captured
-- below, so the functions it hands to scripts expose nothing through their environment. Its
-- frames carry the chunk name SELF, which the error handler skips when it looks for the line
-- to report.
--
-- Arguments: the real globals (base, string, table, math, coroutine, debug libraries) and a
-- table of functions written in Rust. Returns what engine.rs needs.
--
-- Functions that scripts call in tail position and that can fail (redis.call, pcall, setresp,
-- sha1hex, log, set_repl, acl_check_cmd, math.random, the bit, cjson, struct and cmsgpack
-- libraries) are Rust functions, not Lua wrappers: Lua does not tail-call C functions, so the
-- script's frame stays on the stack for the error position, as in Redis. A Rust function raises its error as a userdata;
-- every place that catches errors turns it back into the table or string Redis would have
-- raised (`unwrap`).
local R, native = ...

local type, error, tostring, tonumber, select = R.type, R.error, R.tostring, R.tonumber, R.select
local rawget, rawset, next, ipairs = R.rawget, R.rawset, R.next, R.ipairs
local setmetatable, getmetatable = R.setmetatable, R.getmetatable
local pcall, xpcall, loadstring, load, setfenv = R.pcall, R.xpcall, R.loadstring, R.load, R.setfenv
local getinfo = R.debug.getinfo
local floor, ceil = R.math.floor, R.math.ceil
local co_resume = R.coroutine.resume
local tinsert, tremove = R.table.insert, R.table.remove
local strbyte, strsub = R.string.byte, R.string.sub

local killed, unwrap = native.killed, native.unwrap

local SELF = "=sesame"
local READONLY = "Attempt to modify a readonly table"
local KILLED = "ERR Script killed by user with SCRIPT KILL..."

-- Argument checks as lauxlib words them, raised at the caller of the checked function.
-- `level` counts from argerror itself: 3 when the checked builtin calls it, 4 through a check*.
local function argerror(n, fname, msg, level)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", level or 3)
end

local function typename(n, ...)
  if select("#", ...) < n then
    return "no value"
  end
  return type((select(n, ...)))
end

local function checktable(n, fname, ...)
  if typename(n, ...) ~= "table" then
    argerror(n, fname, "table expected, got " .. typename(n, ...), 4)
  end
end

local function checkany(n, fname, ...)
  if select("#", ...) < n then
    argerror(n, fname, "value expected", 4)
  end
end

local function checkint(n, fname, ...)
  local v = tonumber((select(n, ...)))
  if v == nil then
    argerror(n, fname, "number expected, got " .. typename(n, ...), 4)
  end
  -- lua_tointeger: truncation toward zero.
  if v >= 0 then return floor(v) end
  return ceil(v)
end

-- Read-only proxies --------------------------------------------------------------------------

local real_of = {}   -- proxy -> the table it shows
local meta_of = {}   -- proxy -> what getmetatable answers for it (false: nil)

local function deny()
  error(READONLY, 2)
end

local function readonly(real, meta, index)
  local proxy = {}
  real_of[proxy] = real
  meta_of[proxy] = meta or false
  setmetatable(proxy, {__index = index or real, __newindex = deny})
  return proxy
end

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  return c
end

-- Error handling -------------------------------------------------------------------------------

-- Redis's __redis__err__handler: turns any error into a table {err=…} and records where the
-- script was when it failed (the first frame that is neither C, nor a lost tail call, nor this
-- chunk).
local function err_handler(err)
  local level = 2
  local i = getinfo(level, "Sl")
  while i and (i.what == "C" or i.what == "tail" or i.source == SELF) do
    level = level + 1
    i = getinfo(level, "Sl")
  end
  if type(err) == "userdata" then
    err = unwrap(err)
  end
  if type(err) ~= "table" then
    err = {err = "ERR " .. tostring(err)}
  end
  if i then
    err["source"] = i.source
    err["line"] = i.currentline
  end
  return err
end

-- A killed script must not survive by catching the error: every protected call re-raises it.
local function unless_killed(...)
  if killed() then
    error({err = KILLED})
  end
  return ...
end

-- Redis's pcall: an error table becomes its message, as before Redis 7 errors were tables.
local function after_pcall(ok, ...)
  if killed() then
    error({err = KILLED})
  end
  if ok then
    return true, ...
  end
  local e = ...
  if type(e) == "userdata" then
    e = unwrap(e)
  end
  if type(e) == "table" then
    local msg = e.err
    if type(msg) == "string" or type(msg) == "number" then
      e = msg
    end
  end
  return false, e
end

local function g_pcall(...)
  if select("#", ...) == 0 then
    return false
  end
  return after_pcall(pcall(...))
end

local function g_xpcall(...)
  checkany(2, "xpcall", ...)
  local f, handler = ...
  return unless_killed(xpcall(f, function(e)
    if type(e) == "userdata" then
      e = unwrap(e)
    end
    return handler(e)
  end))
end

local function after_resume(ok, ...)
  if killed() then
    error({err = KILLED})
  end
  if not ok and type((...)) == "userdata" then
    return false, unwrap((...))
  end
  return ok, ...
end

local function g_resume(...)
  return after_resume(co_resume(...))
end

-- Builtins that see through proxies ------------------------------------------------------------

local function g_rawget(...)
  checktable(1, "rawget", ...)
  checkany(2, "rawget", ...)
  local t, k = ...
  return rawget(real_of[t] or t, k)
end

local function g_rawset(...)
  checktable(1, "rawset", ...)
  checkany(2, "rawset", ...)
  checkany(3, "rawset", ...)
  local t, k, v = ...
  if real_of[t] then
    error(READONLY, 0)
  end
  return rawset(t, k, v)
end

local function g_next(...)
  checktable(1, "next", ...)
  local t, k = ...
  return next(real_of[t] or t, k)
end

local function g_pairs(...)
  checktable(1, "pairs", ...)
  local t = ...
  local real = real_of[t]
  if real then
    return function(_, k) return next(real, k) end, t, nil
  end
  return next, t, nil
end

local function g_ipairs(...)
  checktable(1, "ipairs", ...)
  local t = ...
  local real = real_of[t]
  if real then
    return function(_, i)
      i = i + 1
      local v = rawget(real, i)
      if v ~= nil then return i, v end
    end, t, 0
  end
  return ipairs(t)
end

local function g_getmetatable(...)
  checkany(1, "getmetatable", ...)
  local t = ...
  local meta = meta_of[t]
  if meta ~= nil then
    return meta or nil
  end
  return getmetatable(t)
end

local function g_setmetatable(...)
  checktable(1, "setmetatable", ...)
  local t, m = ...
  local kind = type(m)
  if kind ~= "nil" and kind ~= "table" then
    argerror(2, "setmetatable", "nil or table expected")
  end
  if real_of[t] then
    error(READONLY, 0)
  end
  return setmetatable(t, m)
end

local function g_insert(...)
  local n = select("#", ...)
  checktable(1, "insert", ...)
  if n == 3 then
    checkint(2, "insert", ...)
  elseif n ~= 2 then
    error("wrong number of arguments to 'insert'", 2)
  end
  if real_of[(...)] then
    error(READONLY, 0)
  end
  tinsert(...)
end

local function g_remove(...)
  checktable(1, "remove", ...)
  if select("#", ...) >= 2 and select(2, ...) ~= nil then
    checkint(2, "remove", ...)
  end
  if real_of[(...)] then
    error(READONLY, 0)
  end
  return tremove(...)
end

-- The redis library ------------------------------------------------------------------------------

local redis = {
  call = native.call,
  pcall = native.pcall,
  setresp = native.setresp,
  sha1hex = native.sha1hex,
  log = native.log,
  set_repl = native.set_repl,
  acl_check_cmd = native.acl_check_cmd,
}

-- luaPushErrorBuff: "-CODE message" keeps its code, anything else becomes "ERR …".
local function error_table(text)
  local code, msg
  if strsub(text, 1, 1) == "-" then
    local space = R.string.find(text, " ", 1, true)
    if space then
      code, msg = strsub(text, 2, space - 1), strsub(text, space + 1)
    else
      code, msg = "ERR", strsub(text, 2)
    end
  else
    code, msg = "ERR", text
  end
  msg = R.string.gsub(msg, "^[\r\n]+", "")
  msg = R.string.gsub(msg, "[\r\n]+$", "")
  return {err = code .. " " .. msg}
end

function redis.error_reply(...)
  local text = ...
  if select("#", ...) ~= 1 or type(text) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  if strsub(text, 1, 1) ~= "-" then
    text = "-" .. text
  end
  return error_table(text)
end

function redis.status_reply(...)
  local text = ...
  if select("#", ...) ~= 1 or type(text) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  return {ok = text}
end

function redis.replicate_commands()
  return true
end

function redis.breakpoint()
  return false
end

function redis.debug()
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = native.REDIS_VERSION
redis.REDIS_VERSION_NUM = native.REDIS_VERSION_NUM

-- The globals ---------------------------------------------------------------------------------

local view = {}
local globals = readonly(view, false)

local function missing(_, name)
  local kind = type(name)
  if kind ~= "string" and kind ~= "number" then
    error("Second argument to luaProtectedTableError must be a string or number", 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
setmetatable(view, {__index = missing})
meta_of[globals] = readonly({__index = missing})

local function g_loadstring(...)
  local s, name = ...
  if type(s) ~= "string" and type(s) ~= "number" then
    argerror(1, "loadstring", "string expected, got " .. typename(1, ...))
  end
  s = tostring(s)
  if strbyte(s, 1) == 27 then
    return nil, "binary chunks are not allowed"
  end
  local f, err = loadstring(s, name or s)
  if f then setfenv(f, globals) end
  return f, err
end

local function g_load(...)
  local reader, name = ...
  if type(reader) ~= "function" then
    argerror(1, "load", "function expected, got " .. typename(1, ...))
  end
  local first = true
  local f, err = load(function()
    local piece = reader()
    if first and type(piece) == "string" and piece ~= "" then
      first = false
      if strbyte(piece, 1) == 27 then
        return nil
      end
    end
    return piece
  end, name or "=(load)")
  if f then setfenv(f, globals) end
  return f, err
end

local math_ = copy(R.math)
math_.random, math_.randomseed = native.random, native.randomseed
local table_ = copy(R.table)
table_.insert, table_.remove = g_insert, g_remove
local coroutine_ = copy(R.coroutine)
coroutine_.resume = g_resume

local string_ = readonly(R.string)
-- `("x"):rep(3)` reads the real string table; getmetatable("") answers a read-only view of it.
getmetatable("").__metatable = readonly({__index = string_})

view._G = globals
view._VERSION = R._VERSION
view.assert = R.assert
view.collectgarbage = R.collectgarbage
view.error = R.error
view.gcinfo = R.gcinfo
view.getmetatable = g_getmetatable
view.ipairs = g_ipairs
view.load = g_load
view.loadstring = g_loadstring
view.next = g_next
view.pairs = g_pairs
view.pcall = g_pcall
view.rawequal = R.rawequal
view.rawget = g_rawget
view.rawset = g_rawset
view.select = R.select
view.setmetatable = g_setmetatable
view.tonumber = R.tonumber
view.tostring = R.tostring
view.type = R.type
view.unpack = R.unpack
view.xpcall = g_xpcall
view.coroutine = readonly(coroutine_)
view.math = readonly(math_)
view.string = string_
view.table = readonly(table_)
view.redis = readonly(redis)
view.bit = readonly(native.bit)
view.cjson = readonly(native.cjson)
view.struct = readonly(native.struct)
view.cmsgpack = readonly(native.cmsgpack)
view.__redis__err__handler = err_handler
view.KEYS = {}
view.ARGV = {}

-- Runs a compiled script: Redis's lua_pcall(lua, 0, 1, handler), so exactly one result.
local function first(ok, value)
  return ok, value
end

local function run(f, keys, argv)
  view.KEYS = keys
  view.ARGV = argv
  return first(xpcall(f, err_handler))
end

return globals, run
