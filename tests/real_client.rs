//! A real, published client against the real binary: the `redis` crate (redis-rs), unchanged,
//! over sync and async (tokio, multiplexed) connections, on RESP2 and RESP3 (`?protocol=resp3`:
//! HELLO 3 on connect). Covers what session code does through it: SET … EX / GET / MGET / EXPIRE /
//! TTL / DEL, a pipeline, SCAN iteration (`scan_match`, cursor followed to "0"), MULTI/EXEC through
//! an atomic pipeline, and WATCH through `redis::transaction`. With `SESAME_TEST_AGAINST_REDIS=1`
//! the same tests run against a real redis-server (see `tests/common`).

mod common;

use std::collections::HashSet;

use redis::{AsyncCommands, Commands, ExistenceCheck, SetExpiry, SetOptions, Value};

use common::{each_shards, TestServer};

const PROTOCOLS: [&str; 2] = ["resp2", "resp3"];

fn client(server: &TestServer, protocol: &str) -> redis::Client {
    let url = format!("redis://{}/?protocol={protocol}", server.addr);
    redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("redis::Client::open({url}): {e}"))
}

/// The `proto` field of `HELLO` (no arguments), as redis-rs parses it on this connection.
fn hello_proto(hello: &Value) -> Option<i64> {
    let pairs: Vec<(&Value, &Value)> = match hello {
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|c| Some((c.first()?, c.get(1)?)))
            .collect(),
        _ => return None,
    };
    pairs.into_iter().find_map(|(k, v)| match (k, v) {
        (Value::BulkString(k), Value::Int(n)) if k == b"proto" => Some(*n),
        (Value::SimpleString(k), Value::Int(n)) if k == "proto" => Some(*n),
        _ => None,
    })
}

#[test]
fn sync_connection_session_commands() {
    each_shards(&[], |server| {
        for protocol in PROTOCOLS {
            let mut con = client(server, protocol)
                .get_connection()
                .unwrap_or_else(|e| panic!("{protocol}: get_connection (handshake): {e}"));
            let hello: Value = redis::cmd("HELLO").query(&mut con).expect("HELLO");
            let want = if protocol == "resp3" { 3 } else { 2 };
            assert_eq!(
                hello_proto(&hello),
                Some(want),
                "{protocol}: HELLO replied {hello:?}"
            );
            if protocol == "resp3" {
                assert!(
                    matches!(hello, Value::Map(_)),
                    "RESP3 HELLO must be a map: {hello:?}"
                );
            }

            let key = format!("sess:{protocol}:1");
            let () = con
                .set_ex(&key, r#"{"user":"alice"}"#, 60)
                .expect("SET … EX 60");
            let got: Option<String> = con.get(&key).expect("GET");
            assert_eq!(
                got.as_deref(),
                Some(r#"{"user":"alice"}"#),
                "{protocol}: GET"
            );
            let missing: Option<String> = con.get("sess:missing").expect("GET missing");
            assert_eq!(missing, None, "{protocol}: GET of a missing key");

            // SET NX on an existing key is a null reply, which redis-rs turns into None.
            let opts = SetOptions::default()
                .conditional_set(ExistenceCheck::NX)
                .with_expiration(SetExpiry::EX(60));
            let not_set: Option<String> = con.set_options(&key, "other", opts).expect("SET NX EX");
            assert_eq!(not_set, None, "{protocol}: SET … NX EX on an existing key");

            let ttl: i64 = con.ttl(&key).expect("TTL");
            assert!(
                (55..=60).contains(&ttl),
                "{protocol}: TTL after SET EX 60 = {ttl}"
            );
            let extended: bool = con.expire(&key, 1800).expect("EXPIRE");
            assert!(extended, "{protocol}: EXPIRE on an existing key");
            let ttl: i64 = con.ttl(&key).expect("TTL");
            assert!(
                (1795..=1800).contains(&ttl),
                "{protocol}: TTL after EXPIRE 1800 = {ttl}"
            );

            let many: Vec<Option<String>> =
                con.mget(&[key.as_str(), "sess:missing"]).expect("MGET");
            assert_eq!(
                many,
                vec![Some(r#"{"user":"alice"}"#.to_string()), None],
                "{protocol}: MGET"
            );
            let n: i64 = con.incr(format!("counter:{protocol}"), 5).expect("INCRBY");
            assert_eq!(n, 5, "{protocol}: INCRBY on a missing key");
            let exists: i64 = con.exists(&[key.as_str(), "sess:missing"]).expect("EXISTS");
            assert_eq!(exists, 1, "{protocol}: EXISTS");
            let deleted: i64 = con.del(&[key.as_str(), "sess:missing"]).expect("DEL");
            assert_eq!(deleted, 1, "{protocol}: DEL");

            // An error reply is an error, and the connection goes on.
            let () = con.set("sess:notanumber", "abc").expect("SET");
            let err = con.incr::<_, _, i64>("sess:notanumber", 1);
            let err = err.expect_err("INCR on a non-number");
            assert!(
                err.to_string()
                    .contains("value is not an integer or out of range"),
                "{protocol}: {err}"
            );
            let pong: String = redis::cmd("PING")
                .query(&mut con)
                .expect("PING after an error");
            assert_eq!(pong, "PONG");
        }
    });
}

#[test]
fn sync_pipeline_and_scan_iteration() {
    each_shards(&[], |server| {
        for protocol in PROTOCOLS {
            let mut con = client(server, protocol)
                .get_connection()
                .expect("get_connection");
            // One pipeline: 600 SET … EX, then a GET; replies come back in order.
            let mut pipe = redis::pipe();
            for i in 0..400 {
                pipe.set_ex(format!("sess:{protocol}:{i}"), i, 300).ignore();
            }
            for i in 0..200 {
                pipe.set_ex(format!("other:{protocol}:{i}"), i, 300)
                    .ignore();
            }
            pipe.get(format!("sess:{protocol}:399")).cmd("DBSIZE");
            let (last, dbsize): (String, i64) = pipe
                .query(&mut con)
                .expect("pipeline of 600 SETs + GET + DBSIZE");
            assert_eq!(last, "399", "{protocol}: GET at the end of the pipeline");
            assert!(dbsize >= 600, "{protocol}: DBSIZE {dbsize}");

            let pattern = format!("sess:{protocol}:*");
            let found: HashSet<String> = con
                .scan_match::<_, String>(&pattern)
                .expect("SCAN 0 MATCH …")
                .map(|item| item.expect("SCAN page"))
                .collect();
            let want: HashSet<String> = (0..400).map(|i| format!("sess:{protocol}:{i}")).collect();
            assert_eq!(
                found.len(),
                400,
                "{protocol}: scan_match({pattern}) found {} keys",
                found.len()
            );
            assert_eq!(found, want, "{protocol}: scan_match keys");

            // Cleanup with a pipeline of DELs.
            let mut pipe = redis::pipe();
            for key in &want {
                pipe.del(key).ignore();
            }
            let () = pipe.query(&mut con).expect("pipeline of DELs");
            let left: Vec<String> = con
                .scan_match::<_, String>(&pattern)
                .expect("SCAN")
                .map(|k| k.expect("SCAN page"))
                .collect();
            assert!(left.is_empty(), "{protocol}: keys left after DEL: {left:?}");
        }
    });
}

#[test]
fn atomic_pipeline_is_multi_exec() {
    each_shards(&[], |server| {
        for protocol in PROTOCOLS {
            let mut con = client(server, protocol)
                .get_connection()
                .expect("get_connection");
            let key = format!("sess:tx:{protocol}");
            let (value, counter, ttl, both): (String, i64, i64, Vec<Option<String>>) =
                redis::pipe()
                    .atomic()
                    .set_ex(&key, "payload", 120)
                    .ignore()
                    .incr(format!("{key}:n"), 7)
                    .ignore()
                    .get(&key)
                    .incr(format!("{key}:n"), 1)
                    .ttl(&key)
                    .mget(&[key.as_str(), "sess:tx:missing"])
                    .query(&mut con)
                    .unwrap_or_else(|e| {
                        panic!(
                            "{protocol}: MULTI, SET EX, INCRBY, GET, INCRBY, TTL, MGET, EXEC: {e}"
                        )
                    });
            assert_eq!(value, "payload");
            assert_eq!(counter, 8);
            assert!(
                (115..=120).contains(&ttl),
                "{protocol}: TTL inside EXEC = {ttl}"
            );
            assert_eq!(both, vec![Some("payload".to_string()), None]);

            // A command rejected at queueing time aborts the whole transaction.
            let aborted: redis::RedisResult<Value> = redis::pipe()
                .atomic()
                .set(format!("{key}:never"), "x")
                .cmd("SET")
                .arg(format!("{key}:bad"))
                .query(&mut con);
            let err = aborted.expect_err("EXEC after a wrong-arity SET was queued");
            assert!(
                err.to_string().contains("EXECABORT")
                    || err.to_string().contains("wrong number of arguments"),
                "{protocol}: {err}"
            );
            let never: Option<String> = con.get(format!("{key}:never")).expect("GET");
            assert_eq!(
                never, None,
                "{protocol}: a command of an aborted transaction ran"
            );

            // WATCH: redis::transaction retries when another connection changes the watched key.
            let counter_key = format!("{key}:watched");
            let () = con.set(&counter_key, 10).expect("SET");
            let mut other = client(server, protocol)
                .get_connection()
                .expect("second connection");
            let mut attempts = 0;
            let (final_value,): (i64,) =
                redis::transaction(&mut con, &[counter_key.as_str()], |con, pipe| {
                    let current: i64 = con.get(&counter_key)?;
                    attempts += 1;
                    if attempts == 1 {
                        let () = other.incr(&counter_key, 1)?; // EXEC must now answer a null array
                    }
                    pipe.set(&counter_key, current + 100)
                        .ignore()
                        .get(&counter_key)
                        .query(con)
                })
                .expect("redis::transaction");
            assert_eq!(
                attempts, 2,
                "{protocol}: the WATCHed transaction ran {attempts} times"
            );
            assert_eq!(
                final_value, 111,
                "{protocol}: value after the retried transaction"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_multiplexed_connection() {
    let server = TestServer::start(&[]);
    for protocol in PROTOCOLS {
        let mut con = client(&server, protocol)
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("{protocol}: get_multiplexed_async_connection: {e}"));
        let hello: Value = redis::cmd("HELLO")
            .query_async(&mut con)
            .await
            .expect("HELLO");
        assert_eq!(
            hello_proto(&hello),
            Some(if protocol == "resp3" { 3 } else { 2 }),
            "{hello:?}"
        );

        // Many requests in flight at once on one connection: replies must come back in order.
        let writes = (0..200).map(|i| {
            let mut con = con.clone();
            async move {
                con.set_ex::<_, _, ()>(format!("sess:async:{protocol}:{i}"), format!("v{i}"), 300)
                    .await
            }
        });
        for result in futures_join(writes).await {
            result.expect("concurrent SET … EX");
        }
        let reads = (0..200).map(|i| {
            let mut con = con.clone();
            async move {
                (
                    i,
                    con.get::<_, Option<String>>(format!("sess:async:{protocol}:{i}"))
                        .await,
                )
            }
        });
        for (i, result) in futures_join(reads).await {
            assert_eq!(
                result.expect("concurrent GET"),
                Some(format!("v{i}")),
                "{protocol}: GET #{i}"
            );
        }

        // An async pipeline and an async atomic pipeline.
        let (a, b): (String, Option<String>) = redis::pipe()
            .get(format!("sess:async:{protocol}:7"))
            .get("sess:async:missing")
            .query_async(&mut con)
            .await
            .expect("async pipeline");
        assert_eq!((a.as_str(), b), ("v7", None));
        let (n, ttl): (i64, i64) = redis::pipe()
            .atomic()
            .incr(format!("async:{protocol}:n"), 2)
            .expire(format!("async:{protocol}:n"), 100)
            .ignore()
            .ttl(format!("async:{protocol}:n"))
            .query_async(&mut con)
            .await
            .expect("async MULTI/EXEC");
        assert_eq!(n, 2);
        assert!((95..=100).contains(&ttl), "{protocol}: TTL {ttl}");

        // Async SCAN iteration.
        let mut found = HashSet::new();
        {
            let mut iter = con
                .scan_match::<_, String>(format!("sess:async:{protocol}:*"))
                .await
                .expect("async SCAN");
            while let Some(key) = iter.next_item().await {
                found.insert(key.expect("async SCAN page"));
            }
        }
        assert_eq!(
            found.len(),
            200,
            "{protocol}: async scan_match found {} keys",
            found.len()
        );
        let keys: Vec<String> = found.into_iter().collect();
        let deleted: i64 = con.del(&keys).await.expect("DEL of 200 keys");
        assert_eq!(deleted, 200);
    }
}

/// Runs futures concurrently as tokio tasks and collects their outputs in order (no extra
/// dependency for `join_all`).
async fn futures_join<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}
