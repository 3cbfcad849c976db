//! The wire against the real binary: inline commands, pipelining, requests split across many
//! writes, ignored empty requests, malformed and oversized input (the exact `-ERR Protocol
//! error: …` reply, then the close, without disturbing other connections), clients that vanish
//! mid-request, and the limits for unauthenticated clients. Expected bytes checked against
//! redis-server 7.0.15.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{bulk, encode, parse, poll_until, show, Conn, TestServer};

const OK: &[u8] = b"+OK\r\n";
const PONG: &[u8] = b"+PONG\r\n";

/// Sends raw bytes and asserts the exact bytes of the next replies, concatenated.
fn expect_raw(c: &mut Conn, request: &[u8], expected: &[u8]) {
    c.send(request);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.extend(c.read_reply());
    }
    assert_eq!(
        show(&got),
        show(expected),
        "replies to {} (left: got, right: expected)",
        show(request)
    );
}

fn client_count(c: &mut Conn) -> usize {
    let reply = c.run("CLIENT LIST");
    String::from_utf8_lossy(parse(&reply).bytes())
        .lines()
        .count()
}

#[test]
fn inline_commands() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let rows: &[(&[u8], &[u8])] = &[
        (b"PING\r\n", PONG),
        (b"PING\n", PONG),
        (b"ping hello\n", b"$5\r\nhello\r\n"),
        (b"SET k \"a b\"\r\nGET k\r\n", b"+OK\r\n$3\r\na b\r\n"),
        (b"  SET \t k   v  \r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n"),
        (b"SET k \"\"\r\nGET k\r\n", b"+OK\r\n$0\r\n\r\n"),
        (b"SET k 'a\\'b'\r\nGET k\r\n", b"+OK\r\n$3\r\na'b\r\n"),
        (
            b"SET k \"\\x41\\n\\t\\\\\"\r\nGET k\r\n",
            b"+OK\r\n$4\r\nA\n\t\\\r\n",
        ),
        (b"SET k \"\\x4\"\r\nGET k\r\n", b"+OK\r\n$2\r\nx4\r\n"),
        (b"ECHO \"\\u\"\r\n", b"$1\r\nu\r\n"),
        // A CR inside the line is whitespace.
        (b"PING\rPING\r\n", b"$4\r\nPING\r\n"),
        // Empty and blank lines are skipped.
        (b"\r\n\r\n\nPING\r\n", PONG),
        (b"   \r\nPING\r\n", PONG),
        // Inline and multibulk mix in one write.
        (
            b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\nECHO y\n",
            b"+PONG\r\n$1\r\nx\r\n$1\r\ny\r\n",
        ),
        (
            b"nosuch a b\r\n",
            b"-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n",
        ),
    ];
    for (request, expected) in rows {
        expect_raw(&mut c, request, expected);
    }
}

#[test]
fn empty_multibulks_are_ignored() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    expect_raw(&mut c, b"*0\r\nPING\r\n", PONG);
    expect_raw(&mut c, b"*-1\r\n*0\r\n*1\r\n$4\r\nPING\r\n", PONG);
    expect_raw(
        &mut c,
        b"*1\r\n$4\r\nPING\r\n*-5\r\n*0\r\nPING\r\n",
        b"+PONG\r\n+PONG\r\n",
    );
    // The two bytes after a bulk payload are skipped unchecked, as in Redis.
    expect_raw(&mut c, b"*1\r\n$4\r\nPINGabPING\r\n", b"+PONG\r\n+PONG\r\n");
}

/// 10 000 SET + GET pairs in one write: every reply comes back, in order.
#[test]
fn pipelining_ten_thousand_pairs_in_one_write() {
    for shards in common::SHARD_COUNTS {
        let s = TestServer::with_shards(shards, &[]);
        let mut c = s.conn();
        let mut batch = Vec::new();
        let mut expected = Vec::new();
        for i in 0..10_000 {
            let (k, v) = (format!("key:{i}"), format!("value:{i}"));
            batch.extend(encode(&["SET", &k, &v]));
            batch.extend(encode(&["GET", &k]));
            expected.extend_from_slice(OK);
            expected.extend(bulk(v.as_bytes()));
        }
        // Write from another thread so that neither side's buffers can fill up and stall both.
        let mut writer = c.stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || writer.write_all(&batch));
        let mut pos = 0;
        for n in 0..20_000 {
            let reply = c.read_reply();
            let want = &expected[pos..(pos + reply.len()).min(expected.len())];
            assert_eq!(
                show(&reply),
                show(want),
                "reply #{n} is out of order or wrong"
            );
            pos += reply.len();
        }
        sender.join().unwrap().unwrap();
        assert_eq!(pos, expected.len());
        c.expect_run("DBSIZE", b":10000\r\n");
    }
}

/// A request that arrives a few bytes at a time, with pauses, is decoded exactly as one write.
#[test]
fn requests_split_across_many_small_writes() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let value = "v".repeat(100);
    let mut request = encode(&["SET", "split", &value]);
    request.extend_from_slice(b"ECHO inline\r\n");
    request.extend(encode(&["GET", "split"]));
    for (i, chunk) in request.chunks(3).enumerate() {
        c.send(chunk);
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(c.read_reply(), OK);
    assert_eq!(c.read_reply(), b"$6\r\ninline\r\n");
    assert_eq!(c.read_reply(), bulk(value.as_bytes()));
    // One byte at a time, splitting every CRLF.
    for &byte in encode(&["ECHO", "bytewise"]).iter() {
        c.send(&[byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(c.read_reply(), b"$8\r\nbytewise\r\n");
}

const PROTOCOL_ERRORS: &[(&[u8], &[u8])] = &[
    (
        b"*1\r\n$-5\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*1\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*1\r\n$+4\r\nPING\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*1\r\n$4 \r\nPING\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        b"*2147483648\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*+1\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*1 \r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        b"*1\r\nfoo\r\n",
        b"-ERR Protocol error: expected '$', got 'f'\r\n",
    ),
    (
        b"*2\r\n$4\r\nECHO\r\n:1\r\n",
        b"-ERR Protocol error: expected '$', got ':'\r\n",
    ),
    (
        b"SET k \"a\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    (
        b"SET k \"a\"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    (
        b"SET k 'a\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    // Replies to requests before the bad one are sent first.
    (
        b"PING\r\n*1\r\n$-5\r\n",
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
    ),
];

/// Malformed input gets Redis's exact protocol error, then the connection closes; a connection
/// opened before keeps working.
#[test]
fn protocol_errors_close_only_the_offending_connection() {
    let s = TestServer::start(&[]);
    let mut other = s.conn();
    other.expect_run("PING", PONG);
    for (request, expected) in PROTOCOL_ERRORS {
        let mut bad = s.conn();
        expect_raw(&mut bad, request, expected);
        bad.expect_closed();
        other.expect_run("PING", PONG);
    }
    // The same bytes under RESP3.
    let mut bad = s.conn3();
    expect_raw(
        &mut bad,
        b"*1\r\n$-5\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    bad.expect_closed();
    other.expect_run("PING", PONG);
}

/// The requests before a protocol error in the same write all run and are answered, in order,
/// before the error and the close (sesame decodes a pipeline ahead of running it).
#[test]
fn requests_before_a_protocol_error_run_first() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        request.extend(encode(&["SET", &format!("k{i}"), "v"]));
        request.extend(encode(&["GET", &format!("k{i}")]));
        expected.extend_from_slice(OK);
        expected.extend(bulk(b"v"));
    }
    request.extend_from_slice(b"*1\r\n$-5\r\n");
    expected.extend_from_slice(b"-ERR Protocol error: invalid bulk length\r\n");
    expect_raw(&mut c, &request, &expected);
    c.expect_closed();
    let mut other = s.conn();
    other.expect_run("DBSIZE", b":100\r\n");
}

/// Too-long lines: an inline request, a `*` count or a `$` length past 64 KiB with no line end.
#[test]
fn oversized_lines_are_protocol_errors() {
    let s = TestServer::start(&[]);
    let mut other = s.conn();
    other.expect_run("PING", PONG);
    let digits = vec![b'1'; 70_000];
    let rows: Vec<(Vec<u8>, &[u8])> = vec![
        (
            vec![b'a'; 70_000],
            b"-ERR Protocol error: too big inline request\r\n",
        ),
        (
            [b"*".as_slice(), &digits].concat(),
            b"-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            [b"*1\r\n$".as_slice(), &digits].concat(),
            b"-ERR Protocol error: too big bulk count string\r\n",
        ),
    ];
    for (request, expected) in &rows {
        let mut bad = s.conn();
        expect_raw(&mut bad, request, expected);
        bad.expect_closed();
        other.expect_run("PING", PONG);
    }
    // A long inline request that does end in time is fine.
    let mut c = s.conn();
    let long = format!("ECHO {}\r\n", "x".repeat(60_000));
    expect_raw(
        &mut c,
        long.as_bytes(),
        &bulk("x".repeat(60_000).as_bytes()),
    );
}

/// The byte after `expected '$', got '` is the raw byte the client sent, not its UTF-8 encoding.
#[test]
fn expected_dollar_error_quotes_the_raw_byte() {
    let s = TestServer::start(&[]);
    let mut bad = s.conn();
    expect_raw(
        &mut bad,
        b"*1\r\n\xff\r\n",
        b"-ERR Protocol error: expected '$', got '\xff'\r\n",
    );
    bad.expect_closed();
}

/// A client that goes away in the middle of a request costs nothing: the half request is
/// dropped, the connection leaves the client list, others are served.
#[test]
fn disconnecting_mid_bulk_costs_nothing() {
    let s = TestServer::start(&[]);
    let mut other = s.conn();
    other.expect_run("PING", PONG);
    for cut in [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nabc".as_slice(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5".as_slice(),
        b"*3\r\n$3\r\nSET\r\n".as_slice(),
        b"SET k \"unfinished".as_slice(),
    ] {
        let mut gone = s.conn();
        gone.send(cut);
        gone.shutdown_write();
        drop(gone);
        other.expect_run("PING", PONG);
    }
    assert!(
        poll_until(Duration::from_secs(5), || client_count(&mut other) == 1),
        "disconnected clients stayed registered"
    );
    other.expect_run("EXISTS k", b":0\r\n");
}

/// Declaring a huge bulk reserves no memory the client has not sent (sesame's own invariant,
/// stricter than Redis, which reserves the declared size up front): neither resident nor even
/// virtual memory grows by the declared sizes.
#[test]
fn declared_but_unsent_bulks_do_not_allocate() {
    let s = TestServer::start(&[]);
    let mut other = s.conn();
    other.expect_run("PING", PONG);
    let before = (s.mem_kib("VmRSS"), s.mem_kib("VmSize"));
    let mut hogs = Vec::new();
    for _ in 0..16 {
        let mut c = s.conn();
        c.send(b"*2\r\n$4\r\nECHO\r\n$536870912\r\n");
        c.send(&[b'x'; 1024]);
        hogs.push(c);
    }
    other.expect_run("PING", PONG);
    let after = (s.mem_kib("VmRSS"), s.mem_kib("VmSize"));
    if let ((Some(rss0), Some(vm0)), (Some(rss1), Some(vm1))) = (before, after) {
        assert!(
            rss1 < rss0 + 64 * 1024,
            "RSS grew from {rss0} KiB to {rss1} KiB for 16 clients that declared 512 MiB each"
        );
        assert!(
            vm1 < vm0 + 1024 * 1024,
            "virtual size grew from {vm0} KiB to {vm1} KiB for 16 clients that declared 512 MiB \
             each"
        );
    }
    drop(hogs);
    assert!(poll_until(Duration::from_secs(5), || client_count(
        &mut other
    ) == 1));
}

/// Before AUTH, a client may not declare more than 10 arguments or a bulk over 16 KiB.
#[test]
fn unauthenticated_request_limits() {
    let s = TestServer::start(&["--requirepass", "secret"]);
    let mut other = s.conn();
    other.expect_run("AUTH secret", OK);

    let mut bad = s.conn();
    expect_raw(
        &mut bad,
        b"*11\r\n",
        b"-ERR Protocol error: unauthenticated multibulk length\r\n",
    );
    bad.expect_closed();
    let mut bad = s.conn();
    expect_raw(
        &mut bad,
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        b"-ERR Protocol error: unauthenticated bulk length\r\n",
    );
    bad.expect_closed();
    other.expect_run("PING", PONG);

    // Within the limits the request runs (and fails normally).
    let mut c = s.conn();
    let args = ["a"; 10];
    c.expect(
        &args,
        b"-ERR unknown command 'a', with args beginning with: 'a' 'a' 'a' 'a' 'a' 'a' 'a' 'a' 'a' \r\n",
    );
    c.expect(
        &["GET", &"k".repeat(16384)],
        b"-NOAUTH Authentication required.\r\n",
    );
    // Inline requests are not limited that way.
    expect_raw(
        &mut c,
        b"GET a b c d e f g h i j k l m\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    // AUTH and a request past the unauthenticated limits in one write: the limits end with the
    // AUTH, not with the write.
    let mut fast = s.conn();
    let mut both = encode(&["AUTH", "secret"]);
    let mut past_limit = vec!["MSET"];
    past_limit.extend(["k", "v"].repeat(10));
    both.extend(encode(&past_limit));
    expect_raw(&mut fast, &both, b"+OK\r\n+OK\r\n");
    // After AUTH, the limits are gone.
    c.expect_run("AUTH secret", OK);
    let mut many = vec!["MSET"];
    many.extend(["k", "v"].repeat(10));
    c.expect(&many, OK);
    c.expect(&["SET", "big", &"v".repeat(100_000)], OK);
}
