//! Lua scripting against the real binary: conversions in RESP2 and RESP3, errors and the
//! sandbox, the SCRIPT commands and NOSCRIPT, the session libraries' scripts (phpredis lock
//! release, django-redis incr, ASP.NET Core's HSET + EXPIRE through SCRIPT LOAD then EVALSHA),
//! atomicity under concurrent clients, BUSY and SCRIPT KILL, and what scripts share with
//! direct commands: sliding expiry, keyspace events, WATCH.
//!
//! The expected bytes are Redis 7.0.15's (`SESAME_TEST_AGAINST_REDIS=1` runs the tests that do
//! not need sesame's own flags against a real redis-server).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{bulk, int_of, poll_until, show, Conn, TestServer};

const PHPREDIS_UNLOCK: &str = "if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) else return 0 end";
const PHPREDIS_UNLOCK_SHA: &str = "b70c2384248f88e6b75b9f89241a180f856ad852";
const DJANGO_INCR: &str = "local exists = redis.call('EXISTS', KEYS[1]) if (exists == 1) then return redis.call('INCRBY', KEYS[1], ARGV[1]) else return false end";
const ASPNET_SET: &str = "\n                redis.call('HSET', KEYS[1], 'absexp', ARGV[1], 'sldexp', ARGV[2], 'data', ARGV[4])\n                if ARGV[3] ~= '-1' then\n                  redis.call('EXPIRE', KEYS[1], ARGV[3])\n                end\n                return 1";
const ASPNET_SET_SHA: &str = "241ff9be272d2cc7ea3ff7a9c556b75e143d4c26";

fn eval(c: &mut Conn, script: &str, keys: &[&str], args: &[&str]) -> Vec<u8> {
    let numkeys = keys.len().to_string();
    let mut argv = vec!["EVAL", script, numkeys.as_str()];
    argv.extend_from_slice(keys);
    argv.extend_from_slice(args);
    c.cmd(&argv)
}

fn expect_eval(c: &mut Conn, script: &str, expected: &[u8]) {
    let got = eval(c, script, &[], &[]);
    assert_eq!(show(&got), show(expected), "EVAL {script:?}");
}

#[test]
fn lua_values_become_replies_in_resp2_and_resp3() {
    let server = TestServer::start(&[]);
    let mut c2 = server.conn();
    let mut c3 = server.conn3();
    // (script, RESP2 reply, RESP3 reply)
    let rows: &[(&str, &str, &str)] = &[
        ("return 1", ":1\r\n", ":1\r\n"),
        ("return 1.9", ":1\r\n", ":1\r\n"),
        ("return -1.9", ":-1\r\n", ":-1\r\n"),
        (
            "return 1/0",
            ":-9223372036854775808\r\n",
            ":-9223372036854775808\r\n",
        ),
        ("return 'hello'", "$5\r\nhello\r\n", "$5\r\nhello\r\n"),
        ("return true", ":1\r\n", ":1\r\n"),
        ("return false", "$-1\r\n", "_\r\n"),
        ("return nil", "$-1\r\n", "_\r\n"),
        (
            "return {1,2,'a',true,false,nil,4}",
            "*5\r\n:1\r\n:2\r\n$1\r\na\r\n:1\r\n$-1\r\n",
            "*5\r\n:1\r\n:2\r\n$1\r\na\r\n:1\r\n_\r\n",
        ),
        (
            "return {1,{2,{3}}}",
            "*2\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n",
            "*2\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n",
        ),
        ("return {x=3}", "*0\r\n", "*0\r\n"),
        ("return {err='My Error'}", "-My Error\r\n", "-My Error\r\n"),
        ("return {err='a\\r\\nb'}", "-a  b\r\n", "-a  b\r\n"),
        ("return {ok='FINE'}", "+FINE\r\n", "+FINE\r\n"),
        (
            "return redis.error_reply('NOSPACE')",
            "-ERR NOSPACE\r\n",
            "-ERR NOSPACE\r\n",
        ),
        (
            "return redis.status_reply('FINE')",
            "+FINE\r\n",
            "+FINE\r\n",
        ),
        (
            "return {double=3.14}",
            "$18\r\n3.1400000000000001\r\n",
            ",3.1400000000000001\r\n",
        ),
        (
            "return {map={a=1}}",
            "*2\r\n$1\r\na\r\n:1\r\n",
            "%1\r\n$1\r\na\r\n:1\r\n",
        ),
        (
            "return {set={a=true}}",
            "*1\r\n$1\r\na\r\n",
            "~1\r\n$1\r\na\r\n",
        ),
        (
            "return {verbatim_string={format='txt',string='hi'}}",
            "$2\r\nhi\r\n",
            "=6\r\ntxt:hi\r\n",
        ),
        ("return function() end", "$-1\r\n", "_\r\n"),
        ("redis.setresp(3) return true", ":1\r\n", "#t\r\n"),
        ("redis.setresp(3) return false", ":0\r\n", "#f\r\n"),
    ];
    for (script, resp2, resp3) in rows {
        expect_eval(&mut c2, script, resp2.as_bytes());
        expect_eval(&mut c3, script, resp3.as_bytes());
    }
}

#[test]
fn replies_become_lua_values_in_resp2_and_resp3_scripts() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    c.expect(&["SET", "k", "v"], b"+OK\r\n");
    c.expect(&["HSET", "h", "f", "v"], b":1\r\n");
    c.expect(&["SADD", "s", "m"], b":1\r\n");
    let rows: &[(&str, &[u8])] = &[
        (
            "local r = redis.call('set','k','v') return type(r) .. ':' .. r.ok",
            b"$8\r\ntable:OK\r\n",
        ),
        (
            "return type(redis.call('get','nosuch'))",
            b"$7\r\nboolean\r\n",
        ),
        (
            "redis.setresp(3) return type(redis.call('get','nosuch'))",
            b"$3\r\nnil\r\n",
        ),
        (
            "return redis.call('hgetall','h')",
            b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
        ),
        (
            "redis.setresp(3) return redis.call('hgetall','h').map.f",
            b"$1\r\nv\r\n",
        ),
        (
            "redis.setresp(3) return tostring(redis.call('smembers','s').set.m)",
            b"$4\r\ntrue\r\n",
        ),
        (
            "return redis.call('incrbyfloat','f','1.5')",
            b"$3\r\n1.5\r\n",
        ),
        ("return redis.call('exists','k','nosuch')", b":1\r\n"),
        ("return redis.call('set','n',0.1)", b"+OK\r\n"),
        (
            "return redis.call('get','n')",
            b"$19\r\n0.10000000000000001\r\n",
        ),
        (
            "return redis.pcall('hset','k','a','b')",
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "return redis.pcall('nosuch')['err']",
            b"$44\r\nERR Unknown Redis command called from script\r\n",
        ),
    ];
    for (script, expected) in rows {
        expect_eval(&mut c, script, expected);
    }
}

#[test]
fn script_errors_name_the_script_and_line() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    let rows: &[(&str, &str)] = &[
        (
            "return redis.call('nosuch')",
            "-ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.\r\n",
        ),
        (
            "\nlocal x = 1\n\nredis.call('nosuch')",
            "-ERR Unknown Redis command called from script script: be828392ffda098caa3c5713d5ff6d6ba5b419d1, on @user_script:4.\r\n",
        ),
        (
            "return redis.call('get')",
            "-ERR Wrong number of args calling Redis command from script script: f187dee77f607f7cff00bbabc9df38507582c78d, on @user_script:1.\r\n",
        ),
        (
            "return redis.call()",
            "-ERR Please specify at least one argument for this redis lib call script: 0a907e1429221a4d85516cab7fd219a82a9439d8, on @user_script:1.\r\n",
        ),
        (
            "return redis.call('eval','return 1','0')",
            "-ERR This Redis command is not allowed from script script: 1e5046f3a9119d3dc9cf5824428b6d9fedd305d2, on @user_script:1.\r\n",
        ),
        (
            "error('boom')",
            "-ERR user_script:1: boom script: 82903a0434f1503e152f89c03c9acd881a0e8150, on @user_script:1.\r\n",
        ),
        (
            "error({err='XX boom'})",
            "-XX boom script: 35378cc52dd1142d0e2fa87c9c1e16cf1c502171, on @user_script:1.\r\n",
        ),
        (
            "return 1 +",
            "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n",
        ),
        (
            "return cjson.decode('{bad')",
            "-ERR user_script:1: Expected object key string but found invalid token at character 2 script: 30ef5270b6812bc00d57c0e3376f7ab6f31d9da0, on @user_script:1.\r\n",
        ),
    ];
    for (script, expected) in rows {
        expect_eval(&mut c, script, expected.as_bytes());
    }
    c.expect(
        &["EVAL_RO", "return redis.call('set','a','b')", "0"],
        b"-ERR Write commands are not allowed from read-only scripts. script: ff967d0ae0e68b4f9e360fa91c54598bc25ad9b6, on @user_script:1.\r\n",
    );
    c.expect(
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        b"-ERR Can not execute a script with write flag using *_ro command.\r\n",
    );
}

#[test]
fn sandbox_hides_unsafe_globals() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    for name in [
        "os", "io", "require", "loadfile", "dofile", "print", "debug", "getfenv", "setfenv",
        "newproxy", "package", "module",
    ] {
        let got = eval(&mut c, &format!("return {name}"), &[], &[]);
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(
            text.starts_with(&format!(
                "-ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"
            )),
            "{name}: {text}"
        );
    }
    for script in [
        "x = 1",
        "redis.call = nil",
        "string.rep = nil",
        "getmetatable('').__index = nil",
        "math.random = 1",
    ] {
        let got = String::from_utf8_lossy(&eval(&mut c, script, &[], &[])).into_owned();
        assert!(
            got.starts_with("-ERR user_script:1: Attempt to modify a readonly table script: "),
            "{script}: {got}"
        );
    }
    for script in [
        "rawset(_G, 'x', 1)",
        "rawset(redis, 'call', 1)",
        "table.insert(_G, 1)",
        "setmetatable(_G, nil)",
    ] {
        let got = String::from_utf8_lossy(&eval(&mut c, script, &[], &[])).into_owned();
        assert!(
            got.starts_with("-ERR Attempt to modify a readonly table script: "),
            "{script}: {got}"
        );
    }
    // Bytecode cannot be loaded, and what loadstring compiles sees the protected globals.
    expect_eval(
        &mut c,
        "return {loadstring(string.dump(function() return 1 end))}",
        b"*0\r\n",
    );
    let got = eval(&mut c, "return loadstring('x = 1')()", &[], &[]);
    assert!(
        show(&got).contains("Attempt to modify a readonly table"),
        "{}",
        show(&got)
    );
    // Nothing a script did to its own tables leaks into the next one.
    expect_eval(&mut c, "local t = {} t.x = 1 return t.x", b":1\r\n");
    expect_eval(&mut c, "return rawget(_G, 'x')", b"$-1\r\n");
    expect_eval(&mut c, "return redis.call('ping')", b"+PONG\r\n");
}

#[test]
fn script_commands_and_noscript() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    let load = c.cmd(&["SCRIPT", "LOAD", "return 'loaded'"]);
    assert_eq!(
        show(&load),
        show(&bulk(b"b534286061d4b9e4026607613b95c06c06015ae8"))
    );
    c.expect(
        &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        b"$6\r\nloaded\r\n",
    );
    c.expect(
        &["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
        b"$6\r\nloaded\r\n",
    );
    c.expect(
        &[
            "SCRIPT",
            "EXISTS",
            "b534286061d4b9e4026607613b95c06c06015ae8",
            "nope",
        ],
        b"*2\r\n:1\r\n:0\r\n",
    );
    // EVAL caches what it runs.
    c.expect(&["EVAL", "return 1", "0"], b":1\r\n");
    c.expect(
        &[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        ],
        b"*1\r\n:1\r\n",
    );
    c.expect(&["SCRIPT", "FLUSH"], b"+OK\r\n");
    let noscript = b"-NOSCRIPT No matching script. Please use EVAL.\r\n";
    c.expect(
        &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        noscript,
    );
    c.expect(&["EVALSHA", "abc", "0"], noscript);
    c.expect(
        &[
            "EVALSHA_RO",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "0",
        ],
        noscript,
    );
    c.expect(
        &["SCRIPT", "FLUSH", "X"],
        b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n",
    );
    c.expect(&["SCRIPT", "FLUSH", "ASYNC"], b"+OK\r\n");
    c.expect(
        &["SCRIPT", "KILL"],
        b"-NOTBUSY No scripts in execution right now.\r\n",
    );
    c.expect(
        &["EVAL", "return 1", "-1"],
        b"-ERR Number of keys can't be negative\r\n",
    );
    c.expect(
        &["EVAL", "return 1", "3", "a"],
        b"-ERR Number of keys can't be greater than number of args\r\n",
    );
    c.expect(
        &["SCRIPT", "LOAD", "return +"],
        b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'\r\n",
    );
    // The interpreter was reset: math.random starts over only when seeded, as in Redis.
    c.expect(
        &["EVAL", "math.randomseed(42) return math.random(1000)", "0"],
        b":745\r\n",
    );
}

#[test]
fn phpredis_lock_release_falls_back_from_evalsha_to_eval() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    let lock = "PHPREDIS_SESSION:abc_LOCK";
    c.expect(&["SET", lock, "web1|4242", "NX", "PX", "30000"], b"+OK\r\n");
    c.expect(&["SET", lock, "web2|77", "NX", "PX", "30000"], b"$-1\r\n");
    // Not cached yet: phpredis gets NOSCRIPT (no exception) and sends EVAL.
    c.expect(
        &["EVALSHA", PHPREDIS_UNLOCK_SHA, "1", lock, "web1|4242"],
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
    );
    c.expect(
        &["EVAL", PHPREDIS_UNLOCK, "1", lock, "web1|4242"],
        b":1\r\n",
    );
    c.expect(&["EXISTS", lock], b":0\r\n");
    // The next request: its lock, then a release by EVALSHA, now cached.
    c.expect(&["SET", lock, "web2|77", "NX", "PX", "30000"], b"+OK\r\n");
    c.expect(
        &["EVALSHA", PHPREDIS_UNLOCK_SHA, "1", lock, "web1|4242"],
        b":0\r\n",
    );
    c.expect(&["GET", lock], b"$7\r\nweb2|77\r\n");
    c.expect(
        &["EVALSHA", PHPREDIS_UNLOCK_SHA, "1", lock, "web2|77"],
        b":1\r\n",
    );
}

#[test]
fn django_redis_incr_script() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    assert_eq!(eval(&mut c, DJANGO_INCR, &["ctr"], &["5"]), b"$-1\r\n");
    c.expect(&["SET", "ctr", "10"], b"+OK\r\n");
    assert_eq!(eval(&mut c, DJANGO_INCR, &["ctr"], &["5"]), b":15\r\n");
    c.expect(&["SET", "txt", "abc"], b"+OK\r\n");
    let got = eval(&mut c, DJANGO_INCR, &["txt"], &["1"]);
    assert!(
        got.starts_with(b"-ERR value is not an integer or out of range script: "),
        "{}",
        show(&got)
    );
}

#[test]
fn aspnet_set_script_through_script_load_then_evalsha() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    // StackExchange.Redis: SCRIPT LOAD, then EVAL in the same batch; EVALSHA afterwards.
    let mut batch = common::encode(&["SCRIPT", "LOAD", ASPNET_SET]);
    batch.extend(common::encode(&[
        "EVAL",
        ASPNET_SET,
        "1",
        "app:s1",
        "-1",
        "12000000000",
        "1200",
        "\x00\x01bytes",
    ]));
    c.send(&batch);
    assert_eq!(
        show(&c.read_reply()),
        show(&bulk(ASPNET_SET_SHA.as_bytes()))
    );
    assert_eq!(c.read_reply(), b":1\r\n");
    c.expect(
        &["HMGET", "app:s1", "absexp", "sldexp", "data"],
        b"*3\r\n$2\r\n-1\r\n$11\r\n12000000000\r\n$7\r\n\x00\x01bytes\r\n",
    );
    assert!((1199..=1200).contains(&int_of(&c.cmd(&["TTL", "app:s1"]))));
    c.expect(
        &[
            "EVALSHA",
            ASPNET_SET_SHA,
            "1",
            "app:s1",
            "-1",
            "12000000000",
            "60",
            "new",
        ],
        b":1\r\n",
    );
    c.expect(&["HGET", "app:s1", "data"], b"$3\r\nnew\r\n");
    assert!((59..=60).contains(&int_of(&c.cmd(&["TTL", "app:s1"]))));
    // No expiry: the hash keeps none.
    c.expect(
        &[
            "EVALSHA",
            ASPNET_SET_SHA,
            "1",
            "app:s2",
            "638000000000000000",
            "-1",
            "-1",
            "x",
        ],
        b":1\r\n",
    );
    c.expect(&["TTL", "app:s2"], b":-1\r\n");
    // After a flush, SE.Redis sees NOSCRIPT, flushes its own cache and retries.
    c.expect(&["SCRIPT", "FLUSH"], b"+OK\r\n");
    c.expect(
        &[
            "EVALSHA",
            ASPNET_SET_SHA,
            "1",
            "app:s3",
            "-1",
            "-1",
            "-1",
            "x",
        ],
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
    );
}

#[test]
fn scripts_are_atomic_under_concurrent_clients() {
    let server = TestServer::start(&[]);
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    // Read, compute in Lua, write back: lost updates would show if scripts interleaved.
    let bump = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                local spin = 0 for i = 1, 2000 do spin = spin + i end \
                redis.call('set', KEYS[1], v + 1) \
                redis.call('set', KEYS[2], v + 1) \
                return v + 1";
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut c = server.conn();
        let stop = stop.clone();
        thread::spawn(move || {
            // Two keys a script always writes together: nobody may see them differ.
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) {
                let got = c.cmd(&["MGET", "a", "b"]);
                let parsed = common::parse(&got);
                let items = parsed.items();
                assert_eq!(items[0], items[1], "saw a script half done");
                checks += 1;
            }
            checks
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut c = server.conn();
            let bump = bump.to_string();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let got = eval(&mut c, &bump, &["a", "b"], &[]);
                    assert!(got.starts_with(b":"), "{}", show(&got));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(watcher.join().unwrap() > 0);
    let mut c = server.conn();
    let total = (THREADS * ROUNDS).to_string();
    c.expect(&["GET", "a"], &bulk(total.as_bytes()));
    c.expect(&["GET", "b"], &bulk(total.as_bytes()));
}

#[test]
fn busy_scripts_answer_busy_and_script_kill_stops_them() {
    let server = TestServer::start(&[]);
    let mut admin = server.conn();
    admin.expect(&["CONFIG", "SET", "lua-time-limit", "100"], b"+OK\r\n");
    admin.expect(
        &["CONFIG", "GET", "busy-reply-threshold"],
        b"*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n100\r\n",
    );
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

    // A read-only runaway script, even one that catches errors, can be killed.
    let mut runner = server.conn();
    runner.send(&common::encode(&[
        "EVAL",
        "local i = 0 while true do pcall(function() i = i + 1 end) end",
        "0",
    ]));
    let started = Instant::now();
    let mut other = server.conn();
    // The first GET may arrive before the script starts, or wait for the threshold; once the
    // script is past it, the answer is BUSY at once.
    assert!(poll_until(Duration::from_secs(3), || other
        .cmd(&["GET", "x"])
        == busy));
    // Not before the threshold; and the script never ends unless killed, so these answers prove
    // that BUSY does not wait for it.
    assert!(started.elapsed() >= Duration::from_millis(90));
    other.expect(&["GET", "x"], busy);
    other.expect(&["PING"], busy);
    other.expect(&["EVAL", "return 1", "0"], busy);
    other.expect(&["SCRIPT", "KILL"], b"+OK\r\n");
    let killed = runner.read_reply();
    assert!(
        killed.starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        show(&killed)
    );
    other.expect(&["GET", "x"], b"$-1\r\n");
    runner.expect(&["PING"], b"+PONG\r\n");

    // A script that wrote cannot be killed; it finishes, and its writes are whole.
    runner.send(&common::encode(&[
        "EVAL",
        "local function now() local t = redis.call('time') \
         return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end \
         redis.call('set','w','1') local start = now() \
         while now() < start + 1500 do end \
         redis.call('set','w','2') return 'done'",
        "0",
    ]));
    assert!(poll_until(Duration::from_secs(2), || other
        .cmd(&["GET", "w"])
        == busy));
    other.expect(
        &["SCRIPT", "KILL"],
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n",
    );
    assert_eq!(runner.read_reply(), b"$4\r\ndone\r\n");
    other.expect(&["GET", "w"], b"$1\r\n2\r\n");

    // A client waiting for the gate when the script ends runs normally.
    runner.send(&common::encode(&[
        "EVAL",
        "local i = 0 while i < 200000 do i = i + 1 end return i",
        "0",
    ]));
    other.expect(&["SET", "after", "1"], b"+OK\r\n");
    assert_eq!(runner.read_reply(), b":200000\r\n");
}

#[test]
fn every_client_gets_busy_while_a_script_holds_a_worker() {
    // The script keeps its worker thread; the other worker must still read every socket.
    for threads in ["2", "4"] {
        let server = TestServer::start(&["--threads", threads]);
        let mut admin = server.conn();
        admin.expect(&["CONFIG", "SET", "lua-time-limit", "100"], b"+OK\r\n");
        let mut runner = server.conn();
        runner.send(&common::encode(&["EVAL", "while true do end", "0"]));
        thread::sleep(Duration::from_millis(20));
        let clients: Vec<_> = (0..12)
            .map(|_| {
                let mut c = server.conn();
                thread::spawn(move || {
                    let got = c.cmd(&["GET", "x"]);
                    assert!(got.starts_with(b"-BUSY "), "{}", show(&got));
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        admin.expect(&["SCRIPT", "KILL"], b"+OK\r\n");
        assert!(runner.read_reply().starts_with(b"-ERR Script killed"));
        admin.expect(&["PING"], b"+PONG\r\n");
    }
}

#[test]
fn busy_while_queueing_aborts_exec() {
    let server = TestServer::start(&[]);
    let mut admin = server.conn();
    admin.expect(&["CONFIG", "SET", "busy-reply-threshold", "50"], b"+OK\r\n");
    let mut tx = server.conn();
    tx.expect(&["MULTI"], b"+OK\r\n");
    let mut runner = server.conn();
    runner.send(&common::encode(&["EVAL", "while true do end", "0"]));
    assert!(poll_until(Duration::from_secs(2), || admin
        .cmd(&["GET", "x"])
        .starts_with(b"-BUSY")));
    tx.expect(
        &["SET", "k", "v"],
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
    );
    admin.expect(&["SCRIPT", "KILL"], b"+OK\r\n");
    assert!(runner.read_reply().starts_with(b"-ERR Script killed"));
    tx.expect(
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
}

#[test]
fn a_runaway_script_never_wedges_the_server() {
    // One worker thread: the script must not take the only thread other clients need.
    let mut server = TestServer::start(&["--threads", "1"]);
    let mut admin = server.conn();
    admin.expect(&["CONFIG", "SET", "lua-time-limit", "100"], b"+OK\r\n");
    let mut runner = server.conn();
    runner.send(&common::encode(&["EVAL", "while true do end", "0"]));
    assert!(poll_until(Duration::from_secs(3), || admin
        .cmd(&["GET", "x"])
        .starts_with(b"-BUSY")));
    admin.expect(&["SCRIPT", "KILL"], b"+OK\r\n");
    assert!(runner.read_reply().starts_with(b"-ERR Script killed"));

    // A script that wrote cannot be killed, but SHUTDOWN NOSAVE still ends the process.
    runner.send(&common::encode(&[
        "EVAL",
        "redis.call('set','w','1') while true do end",
        "0",
    ]));
    assert!(poll_until(Duration::from_secs(3), || admin
        .cmd(&["GET", "x"])
        .starts_with(b"-BUSY")));
    admin.send(&common::encode(&["SHUTDOWN", "NOSAVE"]));
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "the server did not exit");
}

#[test]
fn script_reads_slide_as_direct_reads_do() {
    // sesame's own: redis-server does not know --slide.
    let server = TestServer::start(&["--slide", "sess:*"]);
    let mut c = server.conn();
    c.expect(&["SET", "sess:1", "data", "PX", "1000"], b"+OK\r\n");
    thread::sleep(Duration::from_millis(400));
    let before = int_of(&c.cmd(&["PTTL", "sess:1"]));
    assert!(before < 700, "{before}");
    expect_eval(
        &mut c,
        "return redis.call('get', 'sess:1')",
        b"$4\r\ndata\r\n",
    );
    let after = int_of(&c.cmd(&["PTTL", "sess:1"]));
    assert!(after > 900, "a script read did not slide: {after}");
    // TTL from a script does not slide, as directly.
    expect_eval(&mut c, "return redis.call('pttl', 'sess:1') > 0", b":1\r\n");
}

#[test]
fn script_writes_notify_and_invalidate_watch() {
    let server = TestServer::start(&["--notify-keyspace-events", "KEA"]);
    let mut c = server.conn();
    let mut sub = server.conn();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:hset"]);
    sub.read_reply();
    let mut watcher = server.conn();
    watcher.expect(&["WATCH", "w"], b"+OK\r\n");
    expect_eval(
        &mut c,
        "redis.call('set', 'w', '1') redis.call('hset', 'h', 'f', 'v') return 1",
        b":1\r\n",
    );
    assert_eq!(
        show(&sub.read_reply()),
        show(b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nw\r\n")
    );
    assert_eq!(
        show(&sub.read_reply()),
        show(b"*3\r\n$7\r\nmessage\r\n$19\r\n__keyevent@0__:hset\r\n$1\r\nh\r\n")
    );
    watcher.expect(&["MULTI"], b"+OK\r\n");
    watcher.expect(&["GET", "w"], b"+QUEUED\r\n");
    watcher.expect(&["EXEC"], b"*-1\r\n");
}

#[test]
fn scripts_in_transactions_and_select_stays_inside_the_script() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    c.expect(&["MULTI"], b"+OK\r\n");
    c.expect(
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "ctr"],
        b"+QUEUED\r\n",
    );
    c.expect(
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "ctr"],
        b"+QUEUED\r\n",
    );
    c.expect(&["EXEC"], b"*2\r\n:1\r\n:2\r\n");
    expect_eval(
        &mut c,
        "redis.call('select', '1') redis.call('set', 'in1', 'x') return 1",
        b":1\r\n",
    );
    c.expect(&["EXISTS", "in1"], b":0\r\n");
    c.expect(&["SELECT", "1"], b"+OK\r\n");
    c.expect(&["EXISTS", "in1"], b":1\r\n");
    // CLIENT LIST shows the script's command, not the last command the script ran.
    let list = String::from_utf8_lossy(&c.cmd(&["CLIENT", "LIST"])).into_owned();
    assert!(list.contains("cmd=client|list"), "{list}");
    expect_eval(&mut c, "return redis.call('dbsize')", b":1\r\n");
}
