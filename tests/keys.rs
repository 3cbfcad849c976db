//! Keyspace commands against the real binary: DEL/EXISTS/TOUCH/TYPE, RENAME/RENAMENX/COPY, the
//! EXPIRE family, TTL/PTTL/EXPIRETIME/PERSIST, KEYS, SCAN, RANDOMKEY, databases, and expiry with
//! real time. Raw reply bytes checked against redis-server 7.0.15; every keyspace test runs with
//! `--shards 1` and `--shards 16`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{each_shards, encode, int_of, parse, poll_until, show, Conn};

const OK: &[u8] = b"+OK\r\n";
const NIL: &[u8] = b"$-1\r\n";
const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";

/// The sorted elements of an array reply of bulk strings.
fn sorted_strings(reply: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = parse(reply)
        .items()
        .iter()
        .map(|v| String::from_utf8_lossy(v.bytes()).into_owned())
        .collect();
    out.sort();
    out
}

/// MSETs `key:0 … key:<n-1>` in batches.
fn populate(c: &mut Conn, prefix: &str, n: usize) {
    for start in (0..n).step_by(500) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + 500).min(n) {
            args.push(format!("{prefix}{i}"));
            args.push(format!("v{i}"));
        }
        c.expect(&args, OK);
    }
}

#[test]
fn del_exists_touch_type() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("MSET a 1 b 2 c 3", OK),
            ("EXISTS a", b":1\r\n"),
            ("EXISTS a a nokey b", b":3\r\n"),
            ("TOUCH a nokey a c", b":3\r\n"),
            ("TYPE a", b"+string\r\n"),
            ("TYPE nokey", b"+none\r\n"),
            ("DEL a b nokey", b":2\r\n"),
            ("DEL a", b":0\r\n"),
            ("DEL c c", b":1\r\n"),
            ("EXISTS a b c", b":0\r\n"),
            ("UNLINK nokey", b":0\r\n"),
            ("SET u v", OK),
            ("UNLINK u", b":1\r\n"),
            (
                "DEL",
                b"-ERR wrong number of arguments for 'del' command\r\n",
            ),
            (
                "EXISTS",
                b"-ERR wrong number of arguments for 'exists' command\r\n",
            ),
            (
                "TOUCH",
                b"-ERR wrong number of arguments for 'touch' command\r\n",
            ),
            (
                "TYPE",
                b"-ERR wrong number of arguments for 'type' command\r\n",
            ),
            (
                "TYPE a b",
                b"-ERR wrong number of arguments for 'type' command\r\n",
            ),
        ]);
        // DEL over keys spread across every shard.
        populate(&mut c, "key:", 300);
        let mut del = vec!["DEL".to_string()];
        del.extend((0..300).map(|i| format!("key:{i}")));
        del.push("missing".into());
        c.expect(&del, b":300\r\n");
        c.expect_run("DBSIZE", b":0\r\n");
    });
}

#[test]
fn rename_and_renamenx() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET c 3", OK),
            ("RENAME c d", OK),
            ("EXISTS c", b":0\r\n"),
            ("GET d", b"$1\r\n3\r\n"),
            ("RENAME nokey e", b"-ERR no such key\r\n"),
            ("RENAMENX nokey e", b"-ERR no such key\r\n"),
            ("RENAME d d", OK),
            ("RENAMENX d d", b":0\r\n"),
            ("SET e 5", OK),
            ("RENAMENX d e", b":0\r\n"),
            ("GET e", b"$1\r\n5\r\n"),
            ("RENAMENX d f", b":1\r\n"),
            ("RENAME f e", OK),
            ("GET e", b"$1\r\n3\r\n"),
            ("EXISTS d f", b":0\r\n"),
            // The TTL travels with the value and replaces the destination's.
            ("SET t v EX 100", OK),
            ("SET u w", OK),
            ("RENAME t u", OK),
            ("TTL u", b":100\r\n"),
            ("SET plain v", OK),
            ("RENAME plain u", OK),
            ("TTL u", b":-1\r\n"),
            (
                "RENAME a",
                b"-ERR wrong number of arguments for 'rename' command\r\n",
            ),
            (
                "RENAMENX a",
                b"-ERR wrong number of arguments for 'renamenx' command\r\n",
            ),
        ]);
        // Renames between every pair of shards.
        for i in 0..64 {
            c.expect(&["SET", &format!("src{i}"), &format!("v{i}")], OK);
            c.expect(&["RENAME", &format!("src{i}"), &format!("dst{i}")], OK);
            c.expect(
                &["GET", &format!("dst{i}")],
                &common::bulk(format!("v{i}").as_bytes()),
            );
        }
        c.expect_run("DBSIZE", b":66\r\n");
    });
}

#[test]
fn copy_with_db_and_replace() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET e 3", OK),
            ("COPY e g", b":1\r\n"),
            ("GET g", b"$1\r\n3\r\n"),
            ("COPY e g", b":0\r\n"),
            ("SET e 4", OK),
            ("COPY e g REPLACE", b":1\r\n"),
            ("GET g", b"$1\r\n4\r\n"),
            ("COPY e g DB 1", b":1\r\n"),
            ("COPY e g db 1", b":0\r\n"),
            ("COPY e g DB 1 REPLACE", b":1\r\n"),
            ("COPY e g replace db 1", b":1\r\n"),
            ("COPY e g DB 16", b"-ERR DB index is out of range\r\n"),
            ("COPY e g DB -1", b"-ERR DB index is out of range\r\n"),
            ("COPY e g DB x", NOT_INT),
            ("COPY e g DB", SYNTAX),
            ("COPY e g foo", SYNTAX),
            (
                "COPY e e",
                b"-ERR source and destination objects are the same\r\n",
            ),
            ("COPY e e DB 1", b":1\r\n"),
            ("COPY nokey g", b":0\r\n"),
            // The copy keeps the TTL.
            ("SET t v EX 100", OK),
            ("COPY t t2", b":1\r\n"),
            ("TTL t2", b":100\r\n"),
            (
                "COPY e",
                b"-ERR wrong number of arguments for 'copy' command\r\n",
            ),
            ("SELECT 1", OK),
            ("GET g", b"$1\r\n4\r\n"),
            ("GET e", b"$1\r\n4\r\n"),
            ("DBSIZE", b":2\r\n"),
            ("SELECT 0", OK),
        ]);
        // The copy is independent of the source.
        c.expect_rows(&[("APPEND g x", b":2\r\n"), ("GET e", b"$1\r\n4\r\n")]);
    });
}

#[test]
fn expire_options_nx_xx_gt_lt() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET ex v", OK),
            ("EXPIRE ex 100 XX", b":0\r\n"),
            ("EXPIRE ex 100 GT", b":0\r\n"),
            ("TTL ex", b":-1\r\n"),
            ("EXPIRE ex 100 LT", b":1\r\n"),
            ("PERSIST ex", b":1\r\n"),
            ("EXPIRE ex 100 NX", b":1\r\n"),
            ("EXPIRE ex 50 NX", b":0\r\n"),
            ("EXPIRE ex 200 xx", b":1\r\n"),
            ("TTL ex", b":200\r\n"),
            ("EXPIRE ex 100 GT", b":0\r\n"),
            ("EXPIRE ex 300 gt", b":1\r\n"),
            ("EXPIRE ex 400 LT", b":0\r\n"),
            ("EXPIRE ex 100 lt", b":1\r\n"),
            ("TTL ex", b":100\r\n"),
            ("EXPIRE ex 500 XX GT", b":1\r\n"),
            ("TTL ex", b":500\r\n"),
            ("PEXPIRE ex 1000000 GT", b":1\r\n"),
            ("TTL ex", b":1000\r\n"),
            ("EXPIREAT ex 1 GT", b":0\r\n"),
            ("EXPIREAT ex 4102444800 LT", b":0\r\n"),
            ("PEXPIREAT ex 4102444800000 GT", b":1\r\n"),
            ("PEXPIRETIME ex", b":4102444800000\r\n"),
            ("EXPIRE nokey 100", b":0\r\n"),
            ("EXPIRE nokey 100 NX", b":0\r\n"),
        ]);
    });
}

#[test]
fn expire_error_texts() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("SET ex v", OK);
        c.expect_rows(&[
            (
                "EXPIRE ex 100 NX XX",
                b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                "EXPIRE ex 100 NX GT",
                b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
            ),
            (
                "EXPIRE ex 100 GT LT",
                b"-ERR GT and LT options at the same time are not compatible\r\n",
            ),
            ("EXPIRE ex 100 foo", b"-ERR Unsupported option foo\r\n"),
            ("PEXPIRE ex 100 bar", b"-ERR Unsupported option bar\r\n"),
            ("EXPIRE ex abc", NOT_INT),
            ("EXPIRE ex 1.5", NOT_INT),
            (
                "EXPIRE ex 9223372036854775807",
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "EXPIRE ex -9223372036854775808",
                b"-ERR invalid expire time in 'expire' command\r\n",
            ),
            (
                "PEXPIRE ex 9223372036854775807",
                b"-ERR invalid expire time in 'pexpire' command\r\n",
            ),
            (
                "EXPIREAT ex 9223372036854775807",
                b"-ERR invalid expire time in 'expireat' command\r\n",
            ),
            (
                "EXPIRE ex",
                b"-ERR wrong number of arguments for 'expire' command\r\n",
            ),
            (
                "PEXPIREAT ex",
                b"-ERR wrong number of arguments for 'pexpireat' command\r\n",
            ),
            (
                "TTL",
                b"-ERR wrong number of arguments for 'ttl' command\r\n",
            ),
            (
                "PERSIST",
                b"-ERR wrong number of arguments for 'persist' command\r\n",
            ),
            (
                "EXPIRETIME",
                b"-ERR wrong number of arguments for 'expiretime' command\r\n",
            ),
            // None of the errors changed the key.
            ("TTL ex", b":-1\r\n"),
        ]);
    });
}

#[test]
fn ttl_pttl_expiretime_persist() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("TTL nokey", b":-2\r\n"),
            ("PTTL nokey", b":-2\r\n"),
            ("EXPIRETIME nokey", b":-2\r\n"),
            ("PEXPIRETIME nokey", b":-2\r\n"),
            ("PERSIST nokey", b":0\r\n"),
            ("SET k v", OK),
            ("TTL k", b":-1\r\n"),
            ("PTTL k", b":-1\r\n"),
            ("EXPIRETIME k", b":-1\r\n"),
            ("PEXPIRETIME k", b":-1\r\n"),
            ("PERSIST k", b":0\r\n"),
            ("EXPIREAT k 4102444800", b":1\r\n"),
            ("EXPIRETIME k", b":4102444800\r\n"),
            ("PEXPIRETIME k", b":4102444800000\r\n"),
            ("PEXPIREAT k 4102444800999", b":1\r\n"),
            // Rounded to the nearest second.
            ("EXPIRETIME k", b":4102444801\r\n"),
            ("PEXPIREAT k 4102444800499", b":1\r\n"),
            ("EXPIRETIME k", b":4102444800\r\n"),
            ("PEXPIREAT k 4102444800999", b":1\r\n"),
            ("PEXPIRETIME k", b":4102444800999\r\n"),
            ("EXPIRE k 100", b":1\r\n"),
            ("TTL k", b":100\r\n"),
            ("PERSIST k", b":1\r\n"),
            ("PERSIST k", b":0\r\n"),
            ("TTL k", b":-1\r\n"),
            ("PTTL k", b":-1\r\n"),
        ]);
        c.expect_run("PEXPIRE k 100000", b":1\r\n");
        let pttl = int_of(&c.run("PTTL k"));
        assert!((99_000..=100_000).contains(&pttl), "PTTL {pttl}");
        let at = int_of(&c.run("PEXPIRETIME k"));
        let now = common::unix_ms();
        assert!(
            (now + 98_000..=now + 100_000).contains(&at),
            "PEXPIRETIME {at}, now {now}"
        );
        // A write that replaces the value drops the TTL; one that modifies it keeps it.
        c.expect_rows(&[
            ("SETRANGE k 0 x", b":1\r\n"),
            ("TTL k", b":100\r\n"),
            ("INCR n", b":1\r\n"),
            ("EXPIRE n 100", b":1\r\n"),
            ("INCR n", b":2\r\n"),
            ("TTL n", b":100\r\n"),
            ("SET k v", OK),
            ("TTL k", b":-1\r\n"),
        ]);
    });
}

#[test]
fn a_deadline_not_in_the_future_deletes_the_key() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SET p v", OK),
            ("EXPIRE p -1", b":1\r\n"),
            ("EXISTS p", b":0\r\n"),
            ("SET p v", OK),
            ("EXPIRE p 0", b":1\r\n"),
            ("GET p", NIL),
            ("SET p v", OK),
            ("PEXPIRE p 0", b":1\r\n"),
            ("EXISTS p", b":0\r\n"),
            ("SET p v", OK),
            ("EXPIREAT p 1", b":1\r\n"),
            ("TTL p", b":-2\r\n"),
            ("SET p v", OK),
            ("PEXPIREAT p 1", b":1\r\n"),
            ("DBSIZE", b":0\r\n"),
            ("SET p v", OK),
            ("EXPIRE p 0 XX", b":0\r\n"),
            ("EXISTS p", b":1\r\n"),
        ]);
    });
}

#[test]
fn keys_patterns() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("KEYS *", b"*0\r\n");
        c.expect_run(
            "MSET one 1 two 2 three 3 four 4 h*llo 5 hallo 6 hello 7",
            OK,
        );
        c.expect(&["SET", "with space", "8"], OK);
        c.expect_run("KEYS o?e", b"*1\r\n$3\r\none\r\n");
        c.expect_run("KEYS nothing*", b"*0\r\n");
        let cases: &[(&str, &[&str])] = &[
            (
                "*",
                &[
                    "four",
                    "h*llo",
                    "hallo",
                    "hello",
                    "one",
                    "three",
                    "two",
                    "with space",
                ],
            ),
            ("t*", &["three", "two"]),
            ("[a-g]*", &["four"]),
            ("*o", &["h*llo", "hallo", "hello", "two"]),
            ("h?llo", &["h*llo", "hallo", "hello"]),
            ("h[ae]llo", &["hallo", "hello"]),
            ("h[^e]llo", &["h*llo", "hallo"]),
            ("h\\*llo", &["h*llo"]),
            ("[o-t]*", &["one", "three", "two"]),
            ("*\\ *", &["with space"]),
            ("* *", &["with space"]),
        ];
        for (pattern, expected) in cases {
            let got = sorted_strings(&c.cmd(&["KEYS", pattern]));
            assert_eq!(got, *expected, "KEYS {pattern}");
        }
        c.expect_run(
            "KEYS",
            b"-ERR wrong number of arguments for 'keys' command\r\n",
        );
    });
}

#[test]
fn randomkey() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("RANDOMKEY", NIL);
        c.expect_run("SET only v", OK);
        c.expect_run("RANDOMKEY", b"$4\r\nonly\r\n");
        populate(&mut c, "k", 50);
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let reply = c.run("RANDOMKEY");
            let key = String::from_utf8(parse(&reply).bytes().to_vec()).unwrap();
            assert!(key == "only" || key.starts_with('k'), "RANDOMKEY {key}");
            seen.insert(key);
        }
        assert!(seen.len() > 1, "RANDOMKEY always returned {seen:?}");
        // Keys that expired are never returned.
        c.expect_run("FLUSHDB", OK);
        c.expect_run("SET gone v PX 1", OK);
        assert!(poll_until(Duration::from_secs(2), || c.run("RANDOMKEY") == NIL));
        c.expect_run(
            "RANDOMKEY x",
            b"-ERR wrong number of arguments for 'randomkey' command\r\n",
        );
    });
}

/// One full SCAN with these options; returns every key returned (with repeats) and the number
/// of calls.
fn scan_all(c: &mut Conn, options: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let reply = c.cmd(&args);
        calls += 1;
        assert!(calls < 100_000, "SCAN does not terminate");
        let value = parse(&reply);
        let [next, batch] = value.items() else {
            panic!("SCAN reply {}", show(&reply));
        };
        keys.extend(
            batch
                .items()
                .iter()
                .map(|k| String::from_utf8_lossy(k.bytes()).into_owned()),
        );
        cursor = String::from_utf8(next.bytes().to_vec()).unwrap();
        if cursor == "0" {
            return (keys, calls);
        }
    }
}

#[test]
fn scan_returns_every_key_while_others_are_added() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        populate(&mut c, "key:", 3000);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let mut w = s.conn();
                let mut added = 0;
                // Bounded: SCAN need not terminate over a collection that grows forever.
                while !stop.load(Ordering::Relaxed) && added < 6000 {
                    let mut batch = Vec::new();
                    for i in added..added + 50 {
                        batch.extend_from_slice(&encode(&["SET", &format!("new:{i}"), "x"]));
                    }
                    w.send(&batch);
                    for _ in 0..50 {
                        assert_eq!(w.read_reply(), OK);
                    }
                    added += 50;
                }
                added
            });
            let (keys, calls) = scan_all(&mut c, &["COUNT", "20"]);
            stop.store(true, Ordering::Relaxed);
            let added = writer.join().unwrap();
            let seen: HashSet<&str> = keys.iter().map(String::as_str).collect();
            let missing: Vec<String> = (0..3000)
                .map(|i| format!("key:{i}"))
                .filter(|k| !seen.contains(k.as_str()))
                .collect();
            assert!(
                missing.is_empty(),
                "SCAN missed {} keys present throughout, e.g. {:?} ({calls} calls, {added} keys added meanwhile)",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
            assert!(calls > 1, "COUNT 20 over 3000 keys took one call");
            eprintln!("SCAN took {calls} calls; {added} keys added meanwhile");
            for k in &seen {
                assert!(k.starts_with("key:") || k.starts_with("new:"), "{k}");
            }
        });
    });
}

#[test]
fn scan_match_count_type() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        populate(&mut c, "user:", 500);
        populate(&mut c, "sess:", 500);
        // MATCH filters; iterating to completion still finds every matching key.
        let (keys, _) = scan_all(&mut c, &["MATCH", "sess:1*", "COUNT", "7"]);
        let got: HashSet<String> = keys.into_iter().collect();
        let want: HashSet<String> = (0..500)
            .map(|i| format!("sess:{i}"))
            .filter(|k| k.starts_with("sess:1"))
            .collect();
        assert_eq!(got, want);
        // TYPE filters by type, case-insensitively.
        let (keys, _) = scan_all(&mut c, &["TYPE", "STRING", "COUNT", "1000"]);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 1000);
        let (keys, _) = scan_all(&mut c, &["type", "hash"]);
        assert!(keys.is_empty(), "TYPE hash returned {keys:?}");
        let (keys, _) = scan_all(&mut c, &["TYPE", "foo"]);
        assert!(keys.is_empty(), "TYPE foo returned {keys:?}");
        // Options in any order.
        let (keys, _) = scan_all(
            &mut c,
            &["count", "50", "type", "string", "match", "user:42*"],
        );
        let got: HashSet<String> = keys.into_iter().collect();
        let want: HashSet<String> = ["user:42", "user:420", "user:421", "user:422", "user:423"]
            .iter()
            .chain(&["user:424", "user:425", "user:426", "user:427", "user:428"])
            .chain(&["user:429"])
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    });
}

#[test]
fn scan_small_and_errors() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_rows(&[
            ("SCAN 0", b"*2\r\n$1\r\n0\r\n*0\r\n"),
            ("SET one 1", OK),
            ("SCAN 0", b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\none\r\n"),
            ("SCAN 0 MATCH x*", b"*2\r\n$1\r\n0\r\n*0\r\n"),
            (
                "SCAN 0 TYPE string",
                b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\none\r\n",
            ),
            (
                "SCAN 0 count 10 match * type STRING",
                b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\none\r\n",
            ),
            ("SCAN 0 COUNT 0", SYNTAX),
            ("SCAN 0 COUNT -1", SYNTAX),
            ("SCAN 0 COUNT x", NOT_INT),
            ("SCAN 0 foo", SYNTAX),
            ("SCAN 0 MATCH", SYNTAX),
            ("SCAN 0 COUNT", SYNTAX),
            ("SCAN x", b"-ERR invalid cursor\r\n"),
            ("SCAN 1x", b"-ERR invalid cursor\r\n"),
            ("SCAN 18446744073709551616", b"-ERR invalid cursor\r\n"),
            (
                "SCAN",
                b"-ERR wrong number of arguments for 'scan' command\r\n",
            ),
        ]);
        // The largest cursor is accepted; from there the iteration ends at once.
        let reply = c.run("SCAN 18446744073709551615");
        assert!(reply.starts_with(b"*2\r\n$1\r\n0\r\n"), "{}", show(&reply));
    });
}

/// Redis parses the cursor with `strtoul`, which accepts a minus sign (wrapping around): `SCAN -1`
/// is a valid call, not an error.
#[test]
fn scan_cursor_parsed_like_strtoul() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("SET one 1", OK);
        let reply = c.run("SCAN -1");
        assert!(
            reply.starts_with(b"*2\r\n$1\r\n0\r\n"),
            "SCAN -1: {}",
            show(&reply)
        );
    });
}

#[test]
fn databases_are_separate() {
    each_shards(&["--databases", "4"], |s| {
        let mut c = s.conn();
        let mut other = s.conn();
        c.expect_rows(&[
            ("SET k db0", OK),
            ("SELECT 3", OK),
            ("GET k", NIL),
            ("SET k db3", OK),
            ("DBSIZE", b":1\r\n"),
            ("SELECT 4", b"-ERR DB index is out of range\r\n"),
            ("SELECT x", NOT_INT),
            ("SELECT -1", b"-ERR DB index is out of range\r\n"),
            ("GET k", b"$3\r\ndb3\r\n"),
        ]);
        // Another connection starts in database 0.
        other.expect_run("GET k", b"$3\r\ndb0\r\n");
        other.expect_run("COPY k k DB 3 REPLACE", b":1\r\n");
        c.expect_run("GET k", b"$3\r\ndb0\r\n");
        c.expect_run("FLUSHDB", OK);
        other.expect_run("DBSIZE", b":1\r\n");
    });
}

#[test]
fn resp3_replies() {
    each_shards(&[], |s| {
        let mut c = s.conn3();
        c.expect_rows(&[
            ("SET one 1", OK),
            ("TYPE one", b"+string\r\n"),
            ("TYPE nokey", b"+none\r\n"),
            ("EXISTS one nokey", b":1\r\n"),
            ("TTL one", b":-1\r\n"),
            ("TTL nokey", b":-2\r\n"),
            ("EXPIRE one 100", b":1\r\n"),
            ("KEYS o*", b"*1\r\n$3\r\none\r\n"),
            ("SCAN 0", b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\none\r\n"),
            ("RANDOMKEY", b"$3\r\none\r\n"),
            ("RENAME nokey x", b"-ERR no such key\r\n"),
            ("DEL one", b":1\r\n"),
            ("RANDOMKEY", b"_\r\n"),
        ]);
    });
}

/// With real time: a key set with PX 100 is gone within about a second, and the background sweep
/// removes expired keys without anyone reading them (DBSIZE counts them until then).
#[test]
fn expiry_with_real_time() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("SET k v PX 100", OK);
        c.expect_run("GET k", b"$1\r\nv\r\n");
        assert!(
            poll_until(Duration::from_secs(1), || c.run("GET k") == NIL),
            "a PX 100 key was still there after 1 s"
        );
        c.expect_run("EXISTS k", b":0\r\n");

        let mut args = vec!["MSET".to_string()];
        for i in 0..200 {
            args.push(format!("sweep:{i}"));
            args.push("v".into());
        }
        c.expect(&args, OK);
        for i in 0..200 {
            c.expect(&["PEXPIRE", &format!("sweep:{i}"), "100"], b":1\r\n");
        }
        c.expect_run("SET keep v", OK);
        let mut last = -1;
        let swept = poll_until(Duration::from_secs(2), || {
            last = int_of(&c.run("DBSIZE"));
            last == 1
        });
        assert!(
            swept,
            "DBSIZE still {last} 2 s after 200 keys expired with nobody reading them"
        );
        c.expect_run("KEYS *", b"*1\r\n$4\r\nkeep\r\n");
        // A later deadline survives the sweep.
        c.expect_run("SET later v PX 5000", OK);
        std::thread::sleep(Duration::from_millis(200));
        c.expect_run("EXISTS later", b":1\r\n");
    });
}

/// An expired key is absent for every command at once, even before the sweep runs.
#[test]
fn expired_keys_are_absent_to_every_command() {
    each_shards(&[], |s| {
        let mut c = s.conn();
        c.expect_run("SET a v PX 30", OK);
        c.expect_run("SET b v PX 30", OK);
        c.expect_run("SET c v PX 30", OK);
        assert!(poll_until(Duration::from_secs(1), || c.run("EXISTS a") == b":0\r\n"));
        c.expect_rows(&[
            ("TTL b", b":-2\r\n"),
            ("TYPE c", b"+none\r\n"),
            ("RENAME b x", b"-ERR no such key\r\n"),
            ("SET c w NX", OK),
            ("TTL c", b":-1\r\n"),
            ("INCR a", b":1\r\n"),
        ]);
    });
}
