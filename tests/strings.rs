//! String commands against the real binary, asserting raw reply bytes (RESP2, and RESP3 where the
//! encoding differs). Expected bytes were checked against redis-server 7.0.15. Every test runs
//! with `--shards 1` and `--shards 16`.

mod common;

use common::{bulk, each_shards, int_of, show, unix_ms, Conn};

const OK: &[u8] = b"+OK\r\n";
const NIL: &[u8] = b"$-1\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
const OVERFLOW: &[u8] = b"-ERR increment or decrement would overflow\r\n";

/// Asserts that PTTL of `key` is within 1 s below `full` (the time the requests took).
fn assert_pttl_near(c: &mut Conn, key: &str, full: i64) {
    let pttl = int_of(&c.cmd(&["PTTL", key]));
    assert!(
        (full - 1000..=full).contains(&pttl),
        "PTTL {key} = {pttl}, expected just under {full}"
    );
}

#[test]
fn set_get_basics_and_binary_safety() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("GET k", NIL),
            ("SET k v", OK),
            ("GET k", b"$1\r\nv\r\n"),
            ("SET k longer-value", OK),
            ("GET k", b"$12\r\nlonger-value\r\n"),
        ]);
        // Empty key and empty value.
        c.expect(&["SET", "", ""], OK);
        c.expect(&["GET", ""], b"$0\r\n\r\n");
        c.expect(&["STRLEN", ""], b":0\r\n");
        // Keys and values are bytes: NUL, CR, LF and non-UTF-8 survive.
        let key: &[u8] = b"k\0\r\n\xff";
        let value: &[u8] = b"v\0\r\nx\xfe";
        c.expect(&[b"SET".as_slice(), key, value], OK);
        c.expect(&[b"GET".as_slice(), key], &bulk(value));
        c.expect(&[b"GET".as_slice(), b"k\0"], NIL);
        // A large value comes back whole.
        let big = vec![b'x'; 300_000];
        c.expect(&[b"SET".as_slice(), b"big", &big], OK);
        c.expect(&[b"GET".as_slice(), b"big"], &bulk(&big));
    });
}

#[test]
fn set_options_in_any_order_and_case() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET k v ex 100", OK),
            ("TTL k", b":100\r\n"),
            ("SET k v Px 100000 xX", OK),
            ("TTL k", b":100\r\n"),
            ("SET k v2 xx GET", b"$1\r\nv\r\n"),
            ("TTL k", b":-1\r\n"),
            ("SET k v3 get ex 100 xx", b"$2\r\nv2\r\n"),
            ("TTL k", b":100\r\n"),
            ("SET k v4 GET KEEPTTL", b"$2\r\nv3\r\n"),
            ("TTL k", b":100\r\n"),
            ("SET k v5 keepttl nx", NIL),
            ("GET k", b"$2\r\nv4\r\n"),
            ("SET k v6 get get", b"$2\r\nv4\r\n"),
            ("SET n v px 100000 nx", OK),
            // Repeating EX is allowed; the last one wins.
            ("SET e v EX 10 EX 100", OK),
            ("TTL e", b":100\r\n"),
        ]);
        assert_pttl_near(&mut c, "n", 100_000);
    });
}

#[test]
fn set_option_conflicts_and_bad_values() {
    let invalid = b"-ERR invalid expire time in 'set' command\r\n";
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET k v EX 10 PX 100", SYNTAX),
            ("SET k v NX XX", SYNTAX),
            ("SET k v KEEPTTL EX 10", SYNTAX),
            ("SET k v PXAT 1 KEEPTTL", SYNTAX),
            ("SET k v EXAT 1 PXAT 1", SYNTAX),
            ("SET k v foo", SYNTAX),
            ("SET k v EX", SYNTAX),
            ("SET k v EX abc", NOT_INT),
            ("SET k v EX 1.5", NOT_INT),
            ("SET k v EX 0", invalid),
            ("SET k v EX -1", invalid),
            ("SET k v PX 0", invalid),
            ("SET k v EXAT 0", invalid),
            ("SET k v PXAT -5", invalid),
            ("SET k v EX 9223372036854775807", invalid),
            ("SET k v PX 9223372036854775807", invalid),
            ("SET k v eXaT 999999999999999999", invalid),
            (
                "SET k",
                b"-ERR wrong number of arguments for 'set' command\r\n",
            ),
            // None of the failed SETs wrote anything.
            ("EXISTS k", b":0\r\n"),
        ]);
    });
}

#[test]
fn set_nx_xx_and_get() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET k v XX", NIL),
            ("EXISTS k", b":0\r\n"),
            ("SET k v XX GET", NIL),
            ("SET k v NX", OK),
            ("SET k v2 NX", NIL),
            ("SET k v2 NX GET", b"$1\r\nv\r\n"),
            ("GET k", b"$1\r\nv\r\n"),
            ("SET k v3 XX", OK),
            ("SET k v4 XX GET", b"$2\r\nv3\r\n"),
            ("SET k v5 GET", b"$2\r\nv4\r\n"),
            ("SET fresh v GET", NIL),
            ("GET fresh", b"$1\r\nv\r\n"),
            ("SETNX k x", b":0\r\n"),
            ("SETNX other x", b":1\r\n"),
            ("GET other", b"$1\r\nx\r\n"),
        ]);
    });
}

#[test]
fn set_absolute_and_past_deadlines() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        let in_100s = unix_ms() / 1000 + 100;
        c.expect_run(&format!("SET k v EXAT {in_100s}"), OK);
        let ttl = int_of(&c.run("TTL k"));
        assert!((98..=100).contains(&ttl), "TTL after EXAT now+100: {ttl}");
        c.expect_run("EXPIRETIME k", format!(":{in_100s}\r\n").as_bytes());
        let at_ms = unix_ms() + 100_000;
        c.expect_run(&format!("SET k v PXAT {at_ms}"), OK);
        c.expect_run("PEXPIRETIME k", format!(":{at_ms}\r\n").as_bytes());
        // A deadline already past stores nothing visible.
        c.expect_rows(&[
            ("SET k v PXAT 1", OK),
            ("GET k", NIL),
            ("EXISTS k", b":0\r\n"),
            ("SET k v EXAT 1 GET", NIL),
            ("GET k", NIL),
        ]);
    });
}

#[test]
fn setex_psetex_and_their_errors() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SETEX k 100 v", OK),
            ("TTL k", b":100\r\n"),
            ("GET k", b"$1\r\nv\r\n"),
            ("PSETEX k 100000 w", OK),
            ("TTL k", b":100\r\n"),
            ("GET k", b"$1\r\nw\r\n"),
            (
                "SETEX k 0 v",
                b"-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                "SETEX k -5 v",
                b"-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                "SETEX k 9223372036854775807 v",
                b"-ERR invalid expire time in 'setex' command\r\n",
            ),
            ("SETEX k abc v", NOT_INT),
            (
                "PSETEX k 0 v",
                b"-ERR invalid expire time in 'psetex' command\r\n",
            ),
            (
                "PSETEX k -1 v",
                b"-ERR invalid expire time in 'psetex' command\r\n",
            ),
            (
                "PSETEX k 9223372036854775807 v",
                b"-ERR invalid expire time in 'psetex' command\r\n",
            ),
            (
                "SETEX k 10",
                b"-ERR wrong number of arguments for 'setex' command\r\n",
            ),
            (
                "SETEX k 10 v extra",
                b"-ERR wrong number of arguments for 'setex' command\r\n",
            ),
            (
                "PSETEX k 10",
                b"-ERR wrong number of arguments for 'psetex' command\r\n",
            ),
            // The failed calls left the value alone.
            ("GET k", b"$1\r\nw\r\n"),
        ]);
    });
}

#[test]
fn incr_family_and_overflow() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("INCR n", b":1\r\n"),
            ("INCR n", b":2\r\n"),
            ("INCRBY n 10", b":12\r\n"),
            ("DECR n", b":11\r\n"),
            ("DECRBY n 5", b":6\r\n"),
            ("INCRBY n -10", b":-4\r\n"),
            ("GET n", b"$2\r\n-4\r\n"),
            ("INCRBY n abc", NOT_INT),
            ("INCRBY n 1.5", NOT_INT),
            ("DECRBY n 99999999999999999999", NOT_INT),
            ("SET big 9223372036854775807", OK),
            ("INCR big", OVERFLOW),
            ("INCRBY big 1", OVERFLOW),
            ("DECRBY big -1", OVERFLOW),
            ("GET big", b"$19\r\n9223372036854775807\r\n"),
            ("SET small -9223372036854775808", OK),
            ("DECR small", OVERFLOW),
            ("DECRBY small 1", OVERFLOW),
            ("INCRBY small -1", OVERFLOW),
            ("INCR small", b":-9223372036854775807\r\n"),
            (
                "DECRBY n -9223372036854775808",
                b"-ERR decrement would overflow\r\n",
            ),
            ("SET z 0", OK),
            ("DECRBY z 9223372036854775807", b":-9223372036854775807\r\n"),
            ("DECRBY z 9223372036854775807", OVERFLOW),
            ("INCRBY n 9223372036854775807", b":9223372036854775803\r\n"),
            ("INCRBY n 5", OVERFLOW),
            // Only canonical integers count.
            ("SET s abc", OK),
            ("INCR s", NOT_INT),
            ("SET s 01", OK),
            ("INCR s", NOT_INT),
            ("SET s +1", OK),
            ("INCR s", NOT_INT),
            ("SET s -0", OK),
            ("INCR s", NOT_INT),
            ("SET s 1", OK),
            ("APPEND s 2", b":2\r\n"),
            ("INCR s", b":13\r\n"),
            (
                "INCR",
                b"-ERR wrong number of arguments for 'incr' command\r\n",
            ),
            (
                "INCRBY n",
                b"-ERR wrong number of arguments for 'incrby' command\r\n",
            ),
        ]);
        // A value with a space is not an integer.
        c.expect(&["SET", "sp", " 1"], OK);
        c.expect(&["INCR", "sp"], NOT_INT);
        c.expect(&["SET", "sp", "1 "], OK);
        c.expect(&["DECR", "sp"], NOT_INT);
    });
}

#[test]
fn incrbyfloat_values_and_errors() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("INCRBYFLOAT f 1.5", b"$3\r\n1.5\r\n"),
            ("INCRBYFLOAT f 10", b"$4\r\n11.5\r\n"),
            ("INCRBYFLOAT f -11.5", b"$1\r\n0\r\n"),
            ("INCRBYFLOAT g 3.0e3", b"$4\r\n3000\r\n"),
            ("INCRBYFLOAT g -3000", b"$1\r\n0\r\n"),
            ("INCRBYFLOAT h 1.1e-10", b"$13\r\n0.00000000011\r\n"),
            ("SET i 5.0e3", OK),
            ("INCRBYFLOAT i 0", b"$4\r\n5000\r\n"),
            ("INCRBYFLOAT f abc", b"-ERR value is not a valid float\r\n"),
            ("INCRBYFLOAT f nan", b"-ERR value is not a valid float\r\n"),
            ("SET s abc", OK),
            ("INCRBYFLOAT s 1", b"-ERR value is not a valid float\r\n"),
            ("SET inf inf", OK),
            (
                "INCRBYFLOAT inf 1",
                b"-ERR increment would produce NaN or Infinity\r\n",
            ),
            (
                "INCRBYFLOAT f inf",
                b"-ERR increment would produce NaN or Infinity\r\n",
            ),
            ("GET f", b"$1\r\n0\r\n"),
        ]);
    });
}

/// The example from Redis's INCRBYFLOAT documentation.
#[test]
fn incrbyfloat_documented_example() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET mykey 10.50", OK),
            ("INCRBYFLOAT mykey 0.1", b"$4\r\n10.6\r\n"),
            ("INCRBYFLOAT mykey -5", b"$3\r\n5.6\r\n"),
            ("SET mykey 5.0e3", OK),
            ("INCRBYFLOAT mykey 2.0e2", b"$4\r\n5200\r\n"),
        ]);
    });
}

/// Redis adds in C's `long double` (x87 80-bit) and prints 17 decimals: results a 64-bit double
/// would round or overflow differently.
#[test]
fn incrbyfloat_has_long_double_precision() {
    let huge = "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880";
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET f 10.50", OK),
            ("INCRBYFLOAT f 0.1", b"$4\r\n10.6\r\n"),
            ("INCRBYFLOAT f -5e3", b"$23\r\n-4989.39999999999999991\r\n"),
            ("SET h 0.1", OK),
            ("INCRBYFLOAT h 0.2", b"$3\r\n0.3\r\n"),
            ("INCRBYFLOAT h 1e17", &bulk(b"100000000000000000.296875")),
            ("INCRBYFLOAT g -1e400", &bulk(format!("-{huge}").as_bytes())),
            ("INCRBYFLOAT g 1e400", b"$1\r\n0\r\n"),
        ]);
        c.expect(&["INCRBYFLOAT", "g", "1e400"], &bulk(huge.as_bytes()));
    });
}

#[test]
fn append_and_strlen() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("STRLEN a", b":0\r\n"),
            ("APPEND a hello", b":5\r\n"),
            ("STRLEN a", b":5\r\n"),
            ("SET t v EX 100", OK),
            ("APPEND t w", b":2\r\n"),
            // APPEND keeps the TTL.
            ("TTL t", b":100\r\n"),
            ("GET t", b"$2\r\nvw\r\n"),
            (
                "APPEND a",
                b"-ERR wrong number of arguments for 'append' command\r\n",
            ),
        ]);
        c.expect(&["APPEND", "a", " world"], b":11\r\n");
        c.expect(&["GET", "a"], b"$11\r\nhello world\r\n");
        c.expect(&["APPEND", "a", ""], b":11\r\n");
        c.expect(&["APPEND", "e", ""], b":0\r\n");
        c.expect(&["EXISTS", "e"], b":1\r\n");
    });
}

#[test]
fn getrange_and_setrange() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect(&["SET", "a", "hello world"], OK);
        c.expect_rows(&[
            ("GETRANGE a 0 4", b"$5\r\nhello\r\n"),
            ("GETRANGE a -5 -1", b"$5\r\nworld\r\n"),
            ("GETRANGE a 5 2", b"$0\r\n\r\n"),
            ("GETRANGE a 0 -100", b"$1\r\nh\r\n"),
            ("GETRANGE a -100 -50", b"$1\r\nh\r\n"),
            ("GETRANGE a 100 200", b"$0\r\n\r\n"),
            ("GETRANGE a 0 1000", b"$11\r\nhello world\r\n"),
            ("GETRANGE none 0 -1", b"$0\r\n\r\n"),
            ("GETRANGE a x 1", NOT_INT),
            (
                "GETRANGE a 0",
                b"-ERR wrong number of arguments for 'getrange' command\r\n",
            ),
            ("SUBSTR a 0 2", b"$3\r\nhel\r\n"),
            ("SETRANGE a 6 WORLD", b":11\r\n"),
            ("GET a", b"$11\r\nhello WORLD\r\n"),
            ("SETRANGE a 9 LDS!", b":13\r\n"),
            ("GET a", b"$13\r\nhello WORLDS!\r\n"),
            ("SETRANGE b 3 x", b":4\r\n"),
            ("GET b", b"$4\r\n\0\0\0x\r\n"),
            ("SETRANGE c -1 x", b"-ERR offset is out of range\r\n"),
            (
                "SETRANGE c 536870912 x",
                b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
            ),
            ("SETRANGE c x v", NOT_INT),
            (
                "SETRANGE c 0",
                b"-ERR wrong number of arguments for 'setrange' command\r\n",
            ),
        ]);
        // An empty write to a missing key creates nothing, even at a huge offset.
        c.expect(&["SETRANGE", "c", "0", ""], b":0\r\n");
        c.expect(&["SETRANGE", "c", "536870911", ""], b":0\r\n");
        c.expect(&["EXISTS", "c"], b":0\r\n");
        // An empty write to an existing key returns its length.
        c.expect(&["SETRANGE", "a", "100", ""], b":13\r\n");
    });
}

#[test]
fn mget_mset_msetnx() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("MSET m1 a m2 b m3 c", OK),
            (
                "MGET m1 m2 nokey m3",
                b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n$1\r\nc\r\n",
            ),
            ("MGET nokey", b"*1\r\n$-1\r\n"),
            (
                "MSET m1",
                b"-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                "MSET m1 a m2",
                b"-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                "MGET",
                b"-ERR wrong number of arguments for 'mget' command\r\n",
            ),
            // The last value of a repeated key wins.
            ("MSET d 1 d 2", OK),
            ("GET d", b"$1\r\n2\r\n"),
            ("MSETNX m1 x m9 y", b":0\r\n"),
            ("EXISTS m9", b":0\r\n"),
            ("GET m1", b"$1\r\na\r\n"),
            ("MSETNX m8 y m9 z", b":1\r\n"),
            ("MGET m8 m9", b"*2\r\n$1\r\ny\r\n$1\r\nz\r\n"),
            ("MSETNX e 1 e 2", b":1\r\n"),
            ("GET e", b"$1\r\n2\r\n"),
            (
                "MSETNX m1",
                b"-ERR wrong number of arguments for 'msetnx' command\r\n",
            ),
            // MSET drops TTLs.
            ("SET t v EX 100", OK),
            ("MSET t w", OK),
            ("TTL t", b":-1\r\n"),
        ]);
        // Many keys, spread over every shard, in one MSET and one MGET.
        let mut mset = vec!["MSET".to_string()];
        let mut mget = vec!["MGET".to_string()];
        let mut expected = b"*200\r\n".to_vec();
        for i in 0..200 {
            mset.push(format!("key:{i}"));
            mset.push(format!("value:{i}"));
            mget.push(format!("key:{i}"));
            expected.extend_from_slice(&bulk(format!("value:{i}").as_bytes()));
        }
        c.expect(&mset, OK);
        c.expect(&mget, &expected);
    });
}

#[test]
fn getex_getdel_getset() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET k v", OK),
            ("GETEX k", b"$1\r\nv\r\n"),
            ("TTL k", b":-1\r\n"),
            ("GETEX k EX 100", b"$1\r\nv\r\n"),
            ("TTL k", b":100\r\n"),
            ("GETEX k persist", b"$1\r\nv\r\n"),
            ("TTL k", b":-1\r\n"),
            ("GETEX k px 100000", b"$1\r\nv\r\n"),
            ("TTL k", b":100\r\n"),
            ("GETEX k PX 1000 EX 10", SYNTAX),
            ("GETEX k PERSIST EX 1", SYNTAX),
            ("GETEX k foo", SYNTAX),
            ("GETEX k EX", SYNTAX),
            ("GETEX k EX abc", NOT_INT),
            (
                "GETEX k EX 0",
                b"-ERR invalid expire time in 'getex' command\r\n",
            ),
            (
                "GETEX k EXAT 0",
                b"-ERR invalid expire time in 'getex' command\r\n",
            ),
            (
                "GETEX k EX 9223372036854775807",
                b"-ERR invalid expire time in 'getex' command\r\n",
            ),
            ("GETEX none EX 10", NIL),
            ("EXISTS none", b":0\r\n"),
            // A deadline in the past deletes the key after returning it.
            ("GETEX k PXAT 1", b"$1\r\nv\r\n"),
            ("EXISTS k", b":0\r\n"),
            ("SET k v EX 100", OK),
            ("GETSET k w", b"$1\r\nv\r\n"),
            // GETSET drops the TTL.
            ("TTL k", b":-1\r\n"),
            ("GETSET none v", NIL),
            ("GET none", b"$1\r\nv\r\n"),
            ("GETDEL k", b"$1\r\nw\r\n"),
            ("GETDEL k", NIL),
            ("EXISTS k", b":0\r\n"),
            (
                "GETDEL",
                b"-ERR wrong number of arguments for 'getdel' command\r\n",
            ),
            (
                "GETSET k",
                b"-ERR wrong number of arguments for 'getset' command\r\n",
            ),
            (
                "GETEX",
                b"-ERR wrong number of arguments for 'getex' command\r\n",
            ),
        ]);
    });
}

/// Under RESP3 a missing value is `_`, everything else here is encoded as in RESP2.
#[test]
fn resp3_replies() {
    each_shards(&[], |s| {
        let mut c = s.conn3();
        c.expect_rows(&[
            ("GET nokey", b"_\r\n"),
            ("SET k v", OK),
            ("GET k", b"$1\r\nv\r\n"),
            ("SET k v2 GET", b"$1\r\nv\r\n"),
            ("SET n v NX GET", b"_\r\n"),
            ("SET k v XX", OK),
            ("SET x v XX", b"_\r\n"),
            ("MGET k nokey", b"*2\r\n$1\r\nv\r\n_\r\n"),
            ("GETDEL nokey", b"_\r\n"),
            ("GETEX nokey", b"_\r\n"),
            ("GETSET nokey2 v", b"_\r\n"),
            ("INCR i", b":1\r\n"),
            ("INCRBYFLOAT f 1.5", b"$3\r\n1.5\r\n"),
            ("STRLEN k", b":1\r\n"),
            ("GETRANGE k 0 -1", b"$1\r\nv\r\n"),
            ("MSETNX k a", b":0\r\n"),
            ("INCR k", NOT_INT),
        ]);
    });
}

/// Commands run against the same key from several connections at once lose no update.
#[test]
fn concurrent_incr_loses_nothing() {
    each_shards(&[], |s| {
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let mut c = s.conn();
                    let mut batch = Vec::new();
                    for _ in 0..500 {
                        batch.extend_from_slice(&common::encode(&["INCR", "counter"]));
                    }
                    c.send(&batch);
                    for _ in 0..500 {
                        let reply = c.read_reply();
                        assert!(reply.starts_with(b":"), "{}", show(&reply));
                    }
                });
            }
        });
        s.conn().expect_run("GET counter", b"$4\r\n2000\r\n");
    });
}
