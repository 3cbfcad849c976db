//! Pub/sub, keyspace notifications and transactions across connections, against the real binary.

mod common;

use std::time::Duration;

use common::{show, TestServer};

fn push3(kind: &str, name: &str, n: i64) -> Vec<u8> {
    format!(
        "*3\r\n${}\r\n{kind}\r\n${}\r\n{name}\r\n:{n}\r\n",
        kind.len(),
        name.len()
    )
    .into_bytes()
}

#[test]
fn subscribers_receive_messages_in_both_protocols() {
    let server = TestServer::start(&[]);
    let mut sub2 = server.conn();
    let mut sub3 = server.conn3();
    let mut publisher = server.conn();
    assert_eq!(
        sub2.cmd(&["SUBSCRIBE", "news"]),
        push3("subscribe", "news", 1)
    );
    sub3.send(&common::encode(&["SUBSCRIBE", "news"]));
    assert_eq!(
        sub3.read_reply(),
        b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        sub2.cmd(&["PSUBSCRIBE", "n*"]),
        push3("psubscribe", "n*", 2)
    );
    publisher.expect(&["PUBLISH", "news", "hello"], b":3\r\n");
    assert_eq!(
        sub2.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        sub2.read_reply(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        sub3.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    // RESP2 subscribed mode allows only the pub/sub commands; RESP3 allows everything.
    sub2.expect(
        &["GET", "x"],
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    sub2.expect(&["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    sub3.expect(&["GET", "x"], b"_\r\n");
    publisher.expect(
        &["PUBSUB", "NUMSUB", "news", "none"],
        b"*4\r\n$4\r\nnews\r\n:2\r\n$4\r\nnone\r\n:0\r\n",
    );
    publisher.expect(&["PUBSUB", "NUMPAT"], b":1\r\n");
    publisher.expect(&["PUBSUB", "CHANNELS", "ne*"], b"*1\r\n$4\r\nnews\r\n");
    assert_eq!(
        sub2.cmd(&["UNSUBSCRIBE", "news"]),
        push3("unsubscribe", "news", 1)
    );
    assert_eq!(sub2.cmd(&["PUNSUBSCRIBE"]), push3("punsubscribe", "n*", 0));
    sub2.expect(&["GET", "x"], b"$-1\r\n");
    // A subscriber that disconnects is forgotten.
    drop(sub3);
    assert!(common::poll_until(Duration::from_secs(2), || publisher
        .cmd(&["PUBLISH", "news", "x"])
        == b":0\r\n"));
}

#[test]
fn thousands_of_messages_in_flight_arrive_in_order() {
    let server = TestServer::start(&[]);
    let mut sub = server.conn();
    let mut publisher = server.conn();
    sub.cmd(&["SUBSCRIBE", "ch"]);
    let mut batch = Vec::new();
    for i in 0..5000 {
        batch.extend(common::encode(&["PUBLISH", "ch", &format!("m{i}")]));
    }
    publisher.send(&batch);
    for _ in 0..5000 {
        assert_eq!(publisher.read_reply(), b":1\r\n");
    }
    for i in 0..5000 {
        let m = format!("m{i}");
        let expected = format!("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{m}\r\n", m.len());
        assert_eq!(show(&sub.read_reply()), show(expected.as_bytes()));
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_at_the_output_limit() {
    let server = TestServer::start(&[]);
    let mut sub = server.conn();
    let mut publisher = server.conn();
    sub.cmd(&["SUBSCRIBE", "flood"]);
    let payload = "x".repeat(64 * 1024);
    // 64 KiB × 1000 = 64 MiB, past the 32 MiB hard limit, while the subscriber reads nothing.
    let mut delivered = 0;
    for _ in 0..1000 {
        if publisher.cmd(&["PUBLISH", "flood", &payload]) == b":1\r\n" {
            delivered += 1;
        }
    }
    assert!(delivered < 1000, "the subscriber was never cut off");
    publisher.expect(
        &["PUBSUB", "NUMSUB", "flood"],
        b"*2\r\n$5\r\nflood\r\n:0\r\n",
    );
    publisher.expect(&["PING"], b"+PONG\r\n");
}

#[test]
fn keyspace_events_are_published_including_expired_without_access() {
    let server = TestServer::start(&["--notify-keyspace-events", "KEA"]);
    let mut sub = server.conn();
    let mut c = server.conn();
    sub.cmd(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    c.expect(&["SET", "k", "v", "PX", "100"], b"+OK\r\n");
    let event = |name: &str, key: &str| {
        let channel = format!("__keyevent@0__:{name}");
        format!(
            "*4\r\n$8\r\npmessage\r\n$16\r\n__keyevent@0__:*\r\n${}\r\n{channel}\r\n${}\r\n{key}\r\n",
            channel.len(),
            key.len()
        )
    };
    assert_eq!(show(&sub.read_reply()), show(event("set", "k").as_bytes()));
    assert_eq!(
        show(&sub.read_reply()),
        show(event("expire", "k").as_bytes())
    );
    // Nobody touches k: the sweeper removes it and publishes `expired`.
    assert_eq!(
        show(&sub.read_reply()),
        show(event("expired", "k").as_bytes())
    );
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["INCRBY", "a", "2"]);
    c.cmd(&["RENAME", "a", "b"]);
    c.cmd(&["DEL", "b"]);
    for (name, key) in [
        ("set", "a"),
        ("incrby", "a"),
        ("rename_from", "a"),
        ("rename_to", "b"),
        ("del", "b"),
    ] {
        assert_eq!(show(&sub.read_reply()), show(event(name, key).as_bytes()));
    }
    c.expect(
        &["CONFIG", "GET", "notify-keyspace-events"],
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n",
    );
}

#[test]
fn watch_is_invalidated_by_another_client_and_by_expiry() {
    let server = TestServer::start(&[]);
    let mut a = server.conn();
    let mut b = server.conn();
    a.expect(&["SET", "w", "1"], b"+OK\r\n");
    a.expect(&["WATCH", "w"], b"+OK\r\n");
    b.expect(&["SET", "w", "2"], b"+OK\r\n");
    a.expect(&["MULTI"], b"+OK\r\n");
    a.expect(&["SET", "w", "3"], b"+QUEUED\r\n");
    a.expect(&["EXEC"], b"*-1\r\n");
    a.expect(&["GET", "w"], b"$1\r\n2\r\n");
    // A change to another key does not invalidate.
    a.expect(&["WATCH", "w"], b"+OK\r\n");
    b.expect(&["SET", "other", "x"], b"+OK\r\n");
    a.expect(&["MULTI"], b"+OK\r\n");
    a.expect(&["INCR", "w"], b"+QUEUED\r\n");
    a.expect(&["EXEC"], b"*1\r\n:3\r\n");
    // Expiry by the sweeper invalidates.
    a.expect(&["SET", "t", "v", "PX", "50"], b"+OK\r\n");
    a.expect(&["WATCH", "t"], b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(200));
    a.expect(&["MULTI"], b"+OK\r\n");
    a.expect(&["SET", "t", "again"], b"+QUEUED\r\n");
    a.expect(&["EXEC"], b"*-1\r\n");
    // FLUSHALL invalidates a watched key that existed.
    a.expect(&["SET", "f", "1"], b"+OK\r\n");
    a.expect(&["WATCH", "f"], b"+OK\r\n");
    b.expect(&["FLUSHALL"], b"+OK\r\n");
    a.expect(&["MULTI"], b"+OK\r\n");
    a.expect(&["PING"], b"+QUEUED\r\n");
    a.expect(&["EXEC"], b"*-1\r\n");
}

#[test]
fn exec_is_atomic_for_other_clients() {
    let server = TestServer::start(&["--shards", "16"]);
    let mut writer = server.conn();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let mut r = server.conn();
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Both keys are always written together, so a reader sees them equal.
                let reply = r.cmd(&["MGET", "x", "y"]);
                let text = String::from_utf8_lossy(&reply).into_owned();
                let parts: Vec<&str> = text.split("\r\n").collect();
                assert!(
                    reply == b"*2\r\n$-1\r\n$-1\r\n" || parts[2] == parts[4],
                    "half a transaction: {text}"
                );
                checks += 1;
            }
            checks
        })
    };
    for i in 0..2000 {
        writer.cmd(&["MULTI"]);
        writer.cmd(&["SET", "x", &i.to_string()]);
        writer.cmd(&["SET", "y", &i.to_string()]);
        let reply = writer.cmd(&["EXEC"]);
        assert_eq!(reply, b"*2\r\n+OK\r\n+OK\r\n");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}
