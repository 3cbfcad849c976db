//! Touch-on-read sliding expiry against the real binary, with real time and small TTLs.
//!
//! A sliding key read every 0.5 s outlives its 1 s TTL and dies about one TTL after its last
//! read; a non-matching key expires as in Redis; the lifetime cap ends a key read continuously;
//! CONFIG SET slide takes effect at once; metadata commands do not slide.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{int_of, poll_until, TestServer};

fn pttl(c: &mut common::Conn, key: &str) -> i64 {
    int_of(&c.cmd(&["PTTL", key]))
}

#[test]
fn a_key_read_often_outlives_its_ttl_and_dies_one_ttl_after_the_last_read() {
    for shards in ["1", "16"] {
        let server = TestServer::start(&["--slide", "sess:*", "--shards", shards]);
        let mut c = server.conn();
        c.expect(&["SET", "sess:busy", "v", "PX", "1000"], b"+OK\r\n");
        c.expect(&["SET", "plain", "v", "PX", "1000"], b"+OK\r\n");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2600) {
            sleep(Duration::from_millis(500));
            c.expect(&["GET", "sess:busy"], b"$1\r\nv\r\n");
        }
        // 2.6 s after a 1 s TTL: the busy key lives, the plain one is gone.
        assert_eq!(c.cmd(&["EXISTS", "plain"]), b":0\r\n");
        let last_read = Instant::now();
        assert!(pttl(&mut c, "sess:busy") > 900);
        assert!(poll_until(Duration::from_secs(3), || c
            .cmd(&["EXISTS", "sess:busy"])
            == b":0\r\n"));
        let died_after = last_read.elapsed();
        assert!(
            died_after >= Duration::from_millis(850) && died_after < Duration::from_millis(1600),
            "died {died_after:?} after the last read"
        );
    }
}

#[test]
fn metadata_commands_do_not_slide_and_value_reads_do() {
    let server = TestServer::start(&["--slide", "s:*"]);
    let mut c = server.conn();
    c.expect(&["SET", "s:a", "v", "EX", "100"], b"+OK\r\n");
    c.expect(&["PEXPIRE", "s:a", "5000"], b":1\r\n");
    sleep(Duration::from_millis(300));
    for meta in [
        &["TTL", "s:a"][..],
        &["PTTL", "s:a"],
        &["EXISTS", "s:a"],
        &["TYPE", "s:a"],
        &["EXPIRETIME", "s:a"],
    ] {
        c.cmd(meta);
    }
    let before = pttl(&mut c, "s:a");
    assert!(before < 4800, "metadata reads slid the key: {before}");
    for read in [
        &["GET", "s:a"][..],
        &["STRLEN", "s:a"],
        &["GETRANGE", "s:a", "0", "0"],
        &["MGET", "s:a"],
        &["TOUCH", "s:a"],
        &["GETEX", "s:a"],
    ] {
        sleep(Duration::from_millis(20));
        let was = pttl(&mut c, "s:a");
        c.cmd(read);
        assert!(pttl(&mut c, "s:a") > was, "{read:?} did not slide");
    }
    // The idle period is the TTL last set by a write: 5 s, not the original 100 s.
    assert!(pttl(&mut c, "s:a") <= 5000);
    // PERSIST clears it; a read of a key without TTL sets none.
    c.expect(&["PERSIST", "s:a"], b":1\r\n");
    c.cmd(&["GET", "s:a"]);
    c.expect(&["TTL", "s:a"], b":-1\r\n");
    // SET KEEPTTL keeps both the TTL and the idle period.
    c.expect(&["SET", "s:b", "v", "PX", "3000"], b"+OK\r\n");
    c.expect(&["SET", "s:b", "w", "KEEPTTL"], b"+OK\r\n");
    sleep(Duration::from_millis(200));
    c.cmd(&["GET", "s:b"]);
    assert!(pttl(&mut c, "s:b") > 2900);
}

#[test]
fn the_lifetime_cap_ends_a_key_read_continuously() {
    let server = TestServer::start(&["--slide", "sess:*", "--slide-max-lifetime", "2"]);
    let mut c = server.conn();
    c.expect(&["SET", "sess:capped", "v", "PX", "800"], b"+OK\r\n");
    let created = Instant::now();
    while c.cmd(&["GET", "sess:capped"]) != b"$-1\r\n" {
        assert!(
            created.elapsed() < Duration::from_secs(4),
            "outlived its 2 s cap"
        );
        sleep(Duration::from_millis(200));
    }
    assert!(
        created.elapsed() >= Duration::from_millis(1800),
        "died before its cap: {:?}",
        created.elapsed()
    );
}

#[test]
fn config_set_slide_takes_effect_at_once() {
    let server = TestServer::start(&[]);
    let mut c = server.conn();
    c.expect(
        &["CONFIG", "GET", "slide"],
        b"*2\r\n$5\r\nslide\r\n$0\r\n\r\n",
    );
    c.expect(&["SET", "k:a", "v", "PX", "2000"], b"+OK\r\n");
    sleep(Duration::from_millis(300));
    c.cmd(&["GET", "k:a"]);
    assert!(pttl(&mut c, "k:a") < 1800, "slid without a pattern");
    c.expect(&["CONFIG", "SET", "slide", "x:* k:*"], b"+OK\r\n");
    c.expect(
        &["CONFIG", "GET", "slide"],
        b"*2\r\n$5\r\nslide\r\n$7\r\nx:* k:*\r\n",
    );
    c.cmd(&["GET", "k:a"]);
    assert!(pttl(&mut c, "k:a") > 1900, "CONFIG SET slide did not apply");
    c.expect(&["CONFIG", "SET", "slide-max-lifetime", "7"], b"+OK\r\n");
    c.expect(
        &["CONFIG", "GET", "slide-max-lifetime"],
        b"*2\r\n$18\r\nslide-max-lifetime\r\n$1\r\n7\r\n",
    );
    let info = String::from_utf8(c.cmd(&["INFO", "stats"])).unwrap();
    assert!(info.contains("slid_keys:1\r\n"), "{info}");
}
