"""Real Python clients, unchanged, against one server.

    python scenarios.py SCENARIO HOST PORT

Scenarios:
  resp2          redis-py with protocol=2: strings, keys, SCAN iteration, INFO/CONFIG/CLIENT parsing
  resp3          redis-py with protocol=3: HELLO 3 (redis-py checks proto == 3), and the RESP3
                 reply types it parses: null, map (CONFIG GET, HELLO), verbatim (INFO, CLIENT INFO)
  hashes-sets    redis-py hashes and sets on RESP2 and RESP3 (HGETALL as a map, SMEMBERS as a set)
  transaction    redis-py pipeline(transaction=True): MULTI … EXEC, a queued error (EXECABORT),
                 an error inside EXEC, and WATCH retried by Redis.transaction()
  flask-session  Flask + Flask-Session through Flask's test client: log in, carry the cookie,
                 data round-trips (msgpack), log out (DEL), expiry by TTL; on redis-py's default
                 protocol (RESP3 in redis-py 8) and on protocol=2

Prints one line per step; on failure `FAIL: <what the library did>: <what it got back>` and exits 1.
"""

import datetime
import os
import sys
import threading
import time

import warnings

import redis

# setex and hmset are what session stores send; redis-py only marks them deprecated.
warnings.filterwarnings("ignore", category=DeprecationWarning)

TAG = f"py{os.getpid()}"


class Failure(Exception):
    pass


def fail(did, got):
    raise Failure(f"{did}: {got}")


def expect(did, got, want):
    if got != want:
        fail(did, f"{got!r}, expected {want!r}")


def ok(line):
    print(f"ok   {line}", flush=True)


def client(host, port, protocol, **kw):
    return redis.Redis(host=host, port=port, protocol=protocol, socket_timeout=10, **kw)


def connect(host, port, protocol, **kw):
    r = client(host, port, protocol, **kw)
    try:
        r.ping()
    except Exception as e:  # noqa: BLE001 - report whatever the handshake raised
        hs = "HELLO 3 (checks proto == 3), " if protocol == 3 else ""
        fail(f"redis-py protocol={protocol} connect ({hs}CLIENT SETINFO ×2, PING)", repr(e))
    return r


def strings_and_keys(r, label):
    """The commands session stores and caches send (research notes §4), checked through redis-py."""
    p = f"{TAG}:{label}:"
    did = lambda what: f"redis-py {label}: {what}"  # noqa: E731
    expect(did("SET k v EX 60"), r.set(p + "a", "1", ex=60), True)
    expect(did("SET k v NX EX 60 on an existing key"), r.set(p + "a", "x", nx=True, ex=60), None)
    expect(did("SET k v XX PX 60000 GET"), r.set(p + "a", "2", xx=True, px=60000, get=True), "1")
    expect(did("GET k"), r.get(p + "a"), "2")
    expect(did("GET missing"), r.get(p + "missing"), None)
    expect(did("SETEX k 30 v"), r.setex(p + "b", 30, "B"), True)
    expect(did("MGET a missing b"), r.mget([p + "a", p + "missing", p + "b"]), ["2", None, "B"])
    expect(did("INCR a"), r.incr(p + "a"), 3)
    expect(did("INCRBYFLOAT a 1.5"), r.incrbyfloat(p + "a", 1.5), 4.5)
    ttl = r.ttl(p + "b")
    if not 25 <= ttl <= 30:
        fail(did("TTL after SETEX 30"), ttl)
    pttl = r.pttl(p + "a")
    if not 50000 < pttl <= 60000:
        fail(did("PTTL after SET … PX 60000 then INCR (keeps the TTL)"), pttl)
    expect(did("EXPIRE b 100 GT"), r.expire(p + "b", 100, gt=True), True)
    expect(did("EXPIRE b 10 GT"), r.expire(p + "b", 10, gt=True), False)
    expect(did("PERSIST b"), r.persist(p + "b"), True)
    expect(did("TTL after PERSIST"), r.ttl(p + "b"), -1)
    expect(did("GETEX b EX 50"), r.getex(p + "b", ex=50), "B")
    expect(did("EXISTS a b missing"), r.exists(p + "a", p + "b", p + "missing"), 2)
    expect(did("TYPE a"), r.type(p + "a"), "string")
    expect(did("RENAME a c"), r.rename(p + "a", p + "c"), True)
    try:
        r.rename(p + "missing", p + "d")
        fail(did("RENAME missing d"), "no error")
    except redis.ResponseError as e:
        expect(did("RENAME missing d (error text)"), str(e), "no such key")
    expect(did("DEL b c missing"), r.delete(p + "b", p + "c", p + "missing"), 2)
    expect(did("ECHO"), r.echo("héllo\x00"), "héllo\x00")

    # SCAN iteration with MATCH and COUNT over several pages, with keys that must not match.
    with r.pipeline(transaction=False) as pipe:
        for i in range(300):
            pipe.set(f"{p}scan:{i}", i, ex=120)
        for i in range(50):
            pipe.set(f"{p}other:{i}", i, ex=120)
        pipe.execute()
    found = set(r.scan_iter(match=f"{p}scan:*", count=20))
    expect(did(f"scan_iter(match='{p}scan:*', count=20): keys found"), len(found), 300)
    if found != {f"{p}scan:{i}" for i in range(300)}:
        fail(did("scan_iter keys"), sorted(found)[:5])
    cursor, keys = r.scan(0, match=f"{p}scan:*", count=20)
    if not isinstance(cursor, int) or not isinstance(keys, list):
        fail(did("SCAN 0 MATCH … COUNT 20 (reply shape)"), (cursor, keys))
    r.delete(*found, *(f"{p}other:{i}" for i in range(50)))

    # Server introspection that clients parse.
    info = r.info()
    if info.get("redis_version", "").split(".")[0] != "7" or info.get("loading") != 0 or info.get("role") != "master":
        fail(did("INFO parsed by redis-py"), {k: info.get(k) for k in ("redis_version", "loading", "role")})
    server = r.info("server")
    if "redis_mode" not in server or len(str(server.get("run_id", ""))) != 40:
        fail(did("INFO server"), {k: server.get(k) for k in ("redis_mode", "run_id")})
    cfg = r.config_get("save")
    expect(did("CONFIG GET save"), cfg, {"save": ""})
    cfg = r.config_get("databases")
    expect(did("CONFIG GET databases"), cfg, {"databases": "16"})
    cinfo = r.client_info()
    if not isinstance(cinfo.get("id"), int) or cinfo.get("resp") != str(r.get_connection_kwargs()["protocol"]):
        fail(did("CLIENT INFO (parsed by redis-py): id, resp"), cinfo)
    expect(did("CLIENT SETNAME / GETNAME"), (r.client_setname("compat"), r.client_getname()), (True, "compat"))
    if not isinstance(r.client_id(), int):
        fail(did("CLIENT ID"), r.client_id())
    if not isinstance(r.dbsize(), int) or not isinstance(r.time()[0], int):
        fail(did("DBSIZE / TIME"), (r.dbsize(), r.time()))


def scenario_resp2(host, port):
    r = connect(host, port, 2, decode_responses=True)
    hello = r.execute_command("HELLO")  # RESP2: a flat [name, value, …] array
    fields = dict(zip(hello[::2], hello[1::2])) if isinstance(hello, list) else {}
    expect(f"redis-py protocol=2: HELLO (no arguments) → proto in {hello!r}", fields.get("proto"), 2)
    ok("connected on RESP2")
    strings_and_keys(r, "resp2")
    ok("strings, keys, SCAN iteration, INFO/CONFIG/CLIENT")


def scenario_resp3(host, port):
    r = connect(host, port, 3, decode_responses=True)
    conn = r.connection_pool.get_connection()
    try:
        meta = conn.handshake_metadata
        proto = meta.get("proto", meta.get(b"proto")) if isinstance(meta, dict) else None
        expect("redis-py protocol=3: the HELLO 3 map the handshake kept → proto", proto, 3)
        for field in ("server", "version", "mode", "role"):
            if not isinstance(meta.get(field), str):
                fail(f"redis-py protocol=3: HELLO 3 map field {field!r}", meta)
        if not isinstance(meta.get("id"), int) or meta.get("modules") != []:
            fail("redis-py protocol=3: HELLO 3 map fields id/modules", meta)
    finally:
        r.connection_pool.release(conn)
    ok("connected with HELLO 3 (a RESP3 map with proto 3)")
    strings_and_keys(r, "resp3")
    # RESP3 types as redis-py's RESP3 parser returns them, before any response callback.
    raw = client(host, port, 3)
    conn = raw.connection_pool.get_connection()
    try:
        def reply(*args):
            conn.send_command(*args)
            try:
                return conn.read_response()
            except redis.ResponseError as e:
                return e

        checks = [
            (("CONFIG", "GET", "appendonly"), lambda v: v == {b"appendonly": b"no"}, "a map (%) {appendonly: no}"),
            (("HELLO",), lambda v: isinstance(v, dict) and v.get(b"proto") == 3, "a map (%) with proto 3"),
            (("GET", f"{TAG}:nothing"), lambda v: v is None, "null (_)"),
            (("MGET", f"{TAG}:nothing", f"{TAG}:nothing2"), lambda v: v == [None, None], "an array of two nulls"),
            (("INFO", "server"), lambda v: isinstance(v, bytes) and v.startswith(b"# Server\r\n"), "a bulk or verbatim (=txt) string starting '# Server'"),
            (("CLIENT", "INFO"), lambda v: isinstance(v, bytes) and v.startswith(b"id="), "a bulk or verbatim string 'id=…'"),
            (("SCAN", "0", "MATCH", f"{TAG}:nothing*"), lambda v: isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes) and v[0].isdigit() and v[1] == [], "[cursor as a bulk string, empty array]"),
            (("EXISTS", f"{TAG}:nothing"), lambda v: v == 0, "integer 0"),
            (("PING",), lambda v: v in (b"PONG", "PONG"), "simple string PONG"),
        ]
        for args, good, want in checks:
            got = reply(*args)
            if not good(got):
                fail(f"redis-py protocol=3, raw read_response() of {' '.join(args)}", f"{got!r}, expected {want}")
    finally:
        raw.connection_pool.release(conn)
    expect("redis-py protocol=3: SET NX on an existing key (null)", (raw.set(f"{TAG}:n", 1), raw.set(f"{TAG}:n", 2, nx=True)), (True, None))
    raw.delete(f"{TAG}:n")
    ok("strings, keys, SCAN iteration, INFO/CONFIG/CLIENT, RESP3 map/null/verbatim replies")


def scenario_hashes_sets(host, port):
    for protocol in (2, 3):
        r = connect(host, port, protocol, decode_responses=True)
        did = lambda what: f"redis-py protocol={protocol}: {what}"  # noqa: E731,B023
        h, s = f"{TAG}:h{protocol}", f"{TAG}:s{protocol}"
        try:
            expect(did("HSET h (3 fields)"), r.hset(h, mapping={"absexp": "-1", "sldexp": "600", "data": "x"}), 3)
            expect(did("HMSET h"), r.hmset(h, {"data": "y", "extra": "z"}), True)
            expect(did("HGETALL h"), r.hgetall(h), {"absexp": "-1", "sldexp": "600", "data": "y", "extra": "z"})
            expect(did("HMGET h absexp sldexp missing"), r.hmget(h, ["absexp", "sldexp", "missing"]), ["-1", "600", None])
            expect(did("HGET h data"), r.hget(h, "data"), "y")
            expect(did("HDEL h extra"), r.hdel(h, "extra"), 1)
            expect(did("HGETALL missing"), r.hgetall(f"{TAG}:nohash"), {})
            expect(did("SADD s a b c"), r.sadd(s, "a", "b", "c"), 3)
            expect(did("SMEMBERS s"), r.smembers(s), {"a", "b", "c"})
            expect(did("SREM s b"), r.srem(s, "b"), 1)
            expect(did("SISMEMBER s a"), r.sismember(s, "a"), True)
            try:
                r.get(h)
                fail(did("GET on a hash"), "no error")
            except redis.ResponseError as e:
                expect(did("GET on a hash"), str(e), "WRONGTYPE Operation against a key holding the wrong kind of value")
        except redis.ResponseError as e:
            fail(did("hash/set command"), f"error reply {e}")
        finally:
            r.delete(h, s)
        ok(f"hashes and sets on RESP{protocol}")


def scenario_transaction(host, port):
    r = connect(host, port, 2, decode_responses=True)
    k = f"{TAG}:tx"
    with r.pipeline(transaction=True) as pipe:
        pipe.set(k + ":a", "1", ex=60).incr(k + ":a").incrby(k + ":a", 10).get(k + ":a").expire(k + ":a", 120).ttl(k + ":a")
        pipe.mset({k + ":b": "B", k + ":c": "C"}).mget([k + ":b", k + ":c", k + ":z"])
        got = pipe.execute()
    expect("redis-py pipeline(transaction=True): MULTI, SET EX, INCR, INCRBY, GET, EXPIRE, TTL, MSET, MGET, EXEC", got, [True, 2, 12, "12", True, 120, True, ["B", "C", None]])
    ok("MULTI/EXEC pipeline returned every reply in order")

    # A command rejected while queueing (wrong arity) → EXECABORT; nothing ran.
    with r.pipeline(transaction=True) as pipe:
        pipe.set(k + ":d", "D").execute_command("SET", k + ":e")
        try:
            pipe.execute()
            fail("redis-py pipeline(transaction=True) with a wrong-arity SET queued", "execute() raised nothing")
        except redis.ResponseError as e:
            if "wrong number of arguments for 'set' command" not in str(e):
                fail("redis-py pipeline(transaction=True) with a wrong-arity SET queued", repr(e))
    expect("GET after an EXECABORT transaction", r.get(k + ":d"), None)
    ok("a queued error aborts the transaction (EXECABORT)")

    # An error at run time is one reply of EXEC; the other commands ran.
    with r.pipeline(transaction=True) as pipe:
        pipe.set(k + ":f", "notanumber").incr(k + ":f").set(k + ":g", "G")
        got = pipe.execute(raise_on_error=False)
    if got[0] is not True or not isinstance(got[1], redis.ResponseError) or "not an integer" not in str(got[1]) or got[2] is not True:
        fail("redis-py pipeline(transaction=True): SET, INCR on a non-number, SET", got)
    ok("a run-time error inside EXEC is one reply; the rest ran")

    # WATCH: Redis.transaction() retries when another client changed the watched key.
    other = connect(host, port, 2)
    calls = []
    r.set(k + ":counter", 10)

    def bump(pipe):
        value = int(pipe.get(k + ":counter"))
        calls.append(value)
        if len(calls) == 1:
            other.incr(k + ":counter")  # invalidates the WATCH: EXEC must answer a null array
        pipe.multi()
        pipe.set(k + ":counter", value + 100)

    r.transaction(bump, k + ":counter")
    expect("Redis.transaction(): WATCH, GET, (another client INCRs), MULTI, SET, EXEC → null, retry; GETs seen", calls, [10, 11])
    expect("GET counter after the retried transaction", r.get(k + ":counter"), "111")
    r.delete(*(k + s for s in (":a", ":b", ":c", ":f", ":g", ":counter")))
    ok("WATCH conflict → EXEC null → redis-py retried")


def scenario_flask_session(host, port):
    from flask import Flask, jsonify, request, session
    from flask_session import Session

    for protocol in (None, 2):
        label = "default protocol (3)" if protocol is None else f"protocol={protocol}"
        rc = redis.Redis(host=host, port=port, socket_timeout=10) if protocol is None else client(host, port, protocol)
        prefix = f"session:{TAG}:{protocol}:"
        app = Flask(__name__)
        app.config.update(
            SECRET_KEY="sesame",
            SESSION_TYPE="redis",
            SESSION_REDIS=rc,
            SESSION_KEY_PREFIX=prefix,
            SESSION_PERMANENT=True,
            PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=60),
        )
        Session(app)

        @app.post("/login")
        def login():
            session["user"] = request.args["user"]
            session["cart"] = {"items": [1, 2, 3], "note": "ß ✓", "total": 12.5}
            session["visits"] = 0
            return jsonify(ok=True)

        @app.get("/me")
        def me():
            if "user" not in session:
                return jsonify(error="no session"), 401
            session["visits"] += 1
            return jsonify(user=session["user"], cart=session["cart"], visits=session["visits"])

        @app.post("/logout")
        def logout():
            session.clear()
            return jsonify(ok=True)

        did = lambda what: f"Flask-Session on redis-py {label}: {what}"  # noqa: E731,B023
        browser = app.test_client()
        resp = browser.post("/login?user=alice")
        cookie = browser.get_cookie("session")
        if resp.status_code != 200 or cookie is None:
            fail(did("POST /login: SET session:<sid> <msgpack> EX 60"), f"HTTP {resp.status_code} {resp.get_data(as_text=True)[:300]}")
        sid = cookie.value
        key = prefix + sid
        for visit in range(1, 4):
            resp = browser.get("/me")
            want = {"user": "alice", "cart": {"items": [1, 2, 3], "note": "ß ✓", "total": 12.5}, "visits": visit}
            if resp.status_code != 200 or resp.get_json() != want:
                fail(did(f"GET /me #{visit} with the cookie: GET {key}, SET … EX"), f"HTTP {resp.status_code} {resp.get_data(as_text=True)[:300]}")
        ttl = rc.ttl(key)
        if not 55 <= ttl <= 60:
            fail(did(f"TTL {key}"), ttl)
        if app.test_client().get("/me").status_code != 401:
            fail(did("GET /me without a cookie"), "a session")
        ok(f"{label}: login, cookie carried through 3 requests, data round-trips (TTL {ttl})")

        resp = browser.post("/logout")
        if resp.status_code != 200 or rc.exists(key) != 0:
            fail(did(f"POST /logout: DEL {key}"), f"HTTP {resp.status_code}, EXISTS {rc.exists(key)}")
        if browser.get("/me").status_code != 401:
            fail(did("GET /me after logout"), "still a session")
        ok(f"{label}: logout deleted the session")

        # Expiry: a 1 s lifetime, then no requests; the server removes the key.
        app.permanent_session_lifetime = datetime.timedelta(seconds=1)
        browser = app.test_client()
        browser.post("/login?user=bob")
        t0 = time.monotonic()
        key = prefix + browser.get_cookie("session").value
        expect(did(f"TTL {key} after SET … EX 1"), rc.ttl(key), 1)
        gone = None
        while time.monotonic() - t0 < 3:
            if rc.exists(key) == 0:
                gone = time.monotonic() - t0
                break
            time.sleep(0.05)
        if gone is None or gone < 0.7:
            fail(did(f"EXISTS {key} polled after SET … EX 1"), "still 1 after 3 s" if gone is None else f"0 already after {gone:.3f} s")
        if browser.get("/me").status_code != 401:
            fail(did("GET /me with the expired session's cookie"), "still a session")
        ok(f"{label}: a 1 s session expired after {gone * 1000:.0f} ms")
        rc.close()


SCENARIOS = {
    "resp2": scenario_resp2,
    "resp3": scenario_resp3,
    "hashes-sets": scenario_hashes_sets,
    "transaction": scenario_transaction,
    "flask-session": scenario_flask_session,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        print(f"usage: scenarios.py {'|'.join(SCENARIOS)} HOST PORT", file=sys.stderr)
        sys.exit(2)
    watchdog = threading.Timer(60, lambda: (print("FAIL: the scenario did not finish within 60 s", flush=True), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()
    try:
        SCENARIOS[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - an unexpected exception is a failure with its text
        import traceback

        print(f"FAIL: unexpected exception: {e!r}\n{traceback.format_exc()}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
