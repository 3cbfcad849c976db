//! Criterion benchmarks of the data structures on the request path: request decoding, reply
//! encoding, and the store's GET/SET/EXPIRE on a million keys.
//!
//! Run with `cargo bench --bench structures`. Machines here are noisy: compare runs made on the
//! same machine one after the other, not absolute times.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sesame::protocol::{Decoder, Protocol, Reply};
use sesame::store::{Clock, SlideRules, Store, Value};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let value = vec![b'x'; 100];
    let requests: [(&str, Vec<u8>); 4] = [
        (
            "get/2args",
            multibulk(&[b"GET", b"sess:0123456789abcdef0123456789abcdef"]),
        ),
        (
            "set/3args",
            multibulk(&[b"SET", b"sess:0123456789abcdef0123456789abcdef", &value]),
        ),
        (
            "set_ex/5args",
            multibulk(&[
                b"SET",
                b"sess:0123456789abcdef0123456789abcdef",
                &value,
                b"EX",
                b"1800",
            ]),
        ),
        ("inline/ping", b"PING\r\n".to_vec()),
    ];
    for (name, request) in requests {
        group.bench_function(name, |b| {
            let mut decoder = Decoder::default();
            b.iter_batched_ref(
                || BytesMut::from(&request[..]),
                |buf| decoder.decode(buf, true).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let bulk = Reply::Bulk(Bytes::from(vec![b'x'; 1024]));
    let array = Reply::Array(
        (0..10)
            .map(|i| Reply::Bulk(Bytes::from(format!("value{i}"))))
            .collect(),
    );
    for (name, reply) in [
        ("ok", Reply::ok()),
        ("int", Reply::Integer(123456)),
        ("bulk/1KiB", bulk),
        ("array/10", array),
    ] {
        group.bench_function(name, |b| {
            let mut out = BytesMut::with_capacity(64 * 1024);
            b.iter(|| {
                out.clear();
                reply.encode(&mut out, Protocol::Resp2);
            })
        });
    }
    group.finish();
}

const KEYS: usize = 1_000_000;

fn key(i: usize) -> Vec<u8> {
    format!("sess:{i:032x}").into_bytes()
}

fn store(c: &mut Criterion) {
    let store = Store::new(16, 16, Clock::System);
    let value = Value::Str(Bytes::from(vec![b'x'; 100]));
    let far = store.now() + 3_600_000;
    for i in 0..KEYS {
        let k = key(i);
        store.lock(0, [&k]).insert(&k, value.clone(), far);
    }
    let mut group = c.benchmark_group("store/1M");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("get/hit", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = key(i);
            let mut locked = store.lock(0, [&k]);
            locked.get(&k).is_some()
        })
    });
    // The same read with touch-on-read on: every key matches the sliding rules and has a TTL, so
    // every GET moves its deadline (the cost sliding adds to a GET is the difference).
    store.set_slide_rules(SlideRules {
        patterns: vec![Bytes::from_static(b"sess:*")],
        max_lifetime_ms: 0,
    });
    group.bench_function("get/hit/sliding", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = key(i);
            let mut locked = store.lock_with(0, [&k], true);
            locked.get(&k).is_some()
        })
    });
    group.bench_function("get/hit/not-sliding", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = key(i);
            let mut locked = store.lock_with(0, [&k], false);
            locked.get(&k).is_some()
        })
    });
    store.set_slide_rules(SlideRules::default());
    group.bench_function("get/miss", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = format!("none:{i:032x}");
            let mut locked = store.lock(0, [&k]);
            locked.get(k.as_bytes()).is_some()
        })
    });
    group.bench_function("set/overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = key(i);
            let mut locked = store.lock(0, [&k]);
            locked.insert(&k, value.clone(), far)
        })
    });
    group.bench_function("expire/later", |b| {
        let mut t = far;
        b.iter(|| {
            i = (i + 7919) % KEYS;
            t += 1;
            let k = key(i);
            let mut locked = store.lock(0, [&k]);
            locked.set_expires_at(&k, t)
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode, store);
criterion_main!(benches);
