#!/usr/bin/env python3
"""Expiry on time and sliding expiry: sesame and redis-server side by side.

1. Dense: 200 000 keys whose deadlines are spread over one second. How long after the last
   deadline until DBSIZE counts none, with no client touching the keys.
2. Sparse: 1 000 000 keys of which 5 % expire (spread over one second) and the rest live an
   hour. How long after the last deadline until every expired one is gone (the rest remain).
3. Burst: 1 000 000 keys expire in the same millisecond while redis-benchmark reads other keys;
   its p99 compared with an idle run of the same benchmark.
4. Sliding: GET throughput of sesame with `--slide 'key:*'` (every GET slides a deadline)
   against sesame without sliding, on keys that have a TTL.
5. Wheel memory: resident memory of sesame with 1 000 000 keys with a TTL minus the same keys
   without a TTL, per key (the entry has the same size either way; the difference is the wheel).

Servers run on CPU 0 and clients on CPU 1. Lags are measured by polling DBSIZE every 5 ms.

    python3 benches/expiry.py            # everything
    python3 benches/expiry.py --quick    # a tenth of the keys
    python3 benches/expiry.py --only 4   # one part (here the sliding GETs)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, Server, free_port, resp, send_pipelined  # noqa: E402

POLL_S = 0.005
GIVE_UP_S = 20.0


def start(kind, tmp, extra=()):
    port = free_port()
    if kind == "redis":
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", tmp]
    else:
        argv = [SESAME, "--port", str(port), "--bind", "127.0.0.1", "--threads", "1", *extra]
    return Server(kind, argv, port)


def command(port, *words):
    """One command on a fresh connection; returns the raw reply line."""
    import socket
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(resp(*[w if isinstance(w, bytes) else str(w).encode() for w in words]))
        return s.recv(1 << 16).split(b"\r\n", 1)[0]


def dbsize(port):
    return int(command(port, "DBSIZE")[1:])


def now_ms():
    return int(time.time() * 1000)


def wait_for_count(port, target, last_deadline_ms):
    """Polls DBSIZE until it is at most `target`; returns (lag after the last deadline in ms, or
    None if it gave up, and the count then)."""
    while now_ms() < last_deadline_ms:
        time.sleep(POLL_S)
    start = time.time()
    while True:
        n = dbsize(port)
        if n <= target:
            return (time.time() - start) * 1000, n
        if time.time() - start > GIVE_UP_S:
            return None, n
        time.sleep(POLL_S)


def lag_text(lag, count, target):
    if lag is None:
        return f"> {GIVE_UP_S:.0f} s ({count - target} still there)"
    return f"{lag:.0f} ms"


def dense(tmp, n):
    print(f"\n1. dense: {n} keys, deadlines spread over 1 s, no reads")
    for kind in ("redis", "sesame"):
        server = start(kind, tmp)
        try:
            base = now_ms() + 3000
            send_pipelined(server.port, (resp(b"SET", b"d:%d" % i, b"v", b"PXAT", b"%d" % (base + i * 1000 // n))
                                         for i in range(n)))
            lag, count = wait_for_count(server.port, 0, base + 1000)
            print(f"   {kind:7} all gone {lag_text(lag, count, 0)} after the last deadline")
        finally:
            server.stop()


def sparse(tmp, n):
    expiring = n // 20
    print(f"\n2. sparse: {n} keys, {expiring} (5 %) expiring over 1 s, the rest in an hour, no reads")
    for kind in ("redis", "sesame"):
        server = start(kind, tmp)
        try:
            base = now_ms() + 8000

            def commands():
                for i in range(n):
                    if i % 20 == 0:
                        yield resp(b"SET", b"s:%d" % i, b"v", b"PXAT", b"%d" % (base + (i // 20) * 1000 // expiring))
                    else:
                        yield resp(b"SET", b"s:%d" % i, b"v", b"EX", b"3600")

            send_pipelined(server.port, commands())
            lag, count = wait_for_count(server.port, n - expiring, base + 1000)
            print(f"   {kind:7} every expired key gone {lag_text(lag, count, n - expiring)} after the last deadline")
        finally:
            server.stop()


def benchmark_p99(port, requests):
    out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-n", str(requests), "-c", "50",
                          "-r", "10000", "--csv", "-q", "GET", "other:__rand_int__"],
                         capture_output=True, text=True, timeout=300)
    row = [line for line in out.stdout.splitlines() if line and not line.startswith('"test"')][-1]
    fields = [f.strip('"') for f in row.split('","')]
    return float(fields[1]), float(fields[6])


def burst(tmp, n):
    print(f"\n3. burst: {n} keys expire in the same millisecond while clients read other keys")
    for kind in ("redis", "sesame"):
        server = start(kind, tmp)
        try:
            send_pipelined(server.port, (resp(b"SET", b"other:%d" % i, b"v") for i in range(10000)))
            _, idle_p99 = benchmark_p99(server.port, 100_000)
            deadline = now_ms() + 60_000
            send_pipelined(server.port, (resp(b"SET", b"b:%d" % i, b"v", b"PXAT", b"%d" % deadline)
                                         for i in range(n)))
            while now_ms() < deadline - 300:
                time.sleep(0.01)
            # The benchmark runs across the deadline and the removal of the burst.
            _, burst_p99 = benchmark_p99(server.port, 200_000)
            left = dbsize(server.port) - 10000
            print(f"   {kind:7} p99 idle {idle_p99:.3f} ms, during the burst {burst_p99:.3f} ms "
                  f"({burst_p99 / idle_p99:.2f}×); {left} of the burst left afterwards")
        finally:
            server.stop()


def sliding(tmp, requests):
    print("\n4. sliding: GET on keys with a TTL, sesame with and without --slide 'key:*'")
    # Both servers run at once and take turns (A B A B A B), so drift in the machine's speed
    # does not favour either.
    servers = {}
    try:
        for label, extra in (("plain", ()), ("sliding", ("--slide", "key:*"))):
            servers[label] = start("sesame", tmp, extra)
            send_pipelined(servers[label].port, (resp(b"SET", b"key:%012d" % i, b"v" * 100, b"EX", b"1800")
                                                 for i in range(100_000)))
        rps = {label: [] for label in servers}
        for _ in range(3):
            for label, server in servers.items():
                out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(server.port), "-n",
                                      str(requests), "-c", "50", "-r", "100000", "-t", "get", "--csv", "-q"],
                                     capture_output=True, text=True, timeout=300)
                row = [line for line in out.stdout.splitlines() if line and not line.startswith('"test"')][-1]
                rps[label].append(float(row.split('","')[1]))
        results = {}
        for label, server in servers.items():
            results[label] = sorted(rps[label])[1]
            info = subprocess.run(["redis-cli", "-p", str(server.port), "INFO", "stats"], capture_output=True,
                                  text=True).stdout
            slid = next((line for line in info.splitlines() if line.startswith("slid_keys")), "")
            print(f"   {label:8} median {results[label]:.0f} GET/s   {slid}")
    finally:
        for server in servers.values():
            server.stop()
    print(f"   ratio sliding/plain {results['sliding'] / results['plain']:.2f}")


def wheel_memory(tmp, n):
    print(f"\n5. wheel memory: sesame, {n} keys with EX 3600 minus the same keys without TTL")
    per_key = {}
    for label, ttl in (("no TTL", ()), ("TTL", (b"EX", b"3600"))):
        server = start("sesame", tmp)
        try:
            before = server.rss_bytes()
            send_pipelined(server.port, (resp(b"SET", b"w:%032x" % i, b"v" * 100, *ttl) for i in range(n)))
            time.sleep(0.5)
            per_key[label] = (server.rss_bytes() - before) / n
        finally:
            server.stop()
    print(f"   {per_key['no TTL']:.1f} B/key without TTL, {per_key['TTL']:.1f} B/key with: "
          f"the wheel adds {per_key['TTL'] - per_key['no TTL']:.1f} B per key with a TTL")


def main():
    global SESAME
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the keys")
    parser.add_argument("--only", type=int, choices=range(1, 6), metavar="N", help="only part N (1-5)")
    parser.add_argument("--sesame-bin", default=os.path.join(ROOT, "target", "release", "sesame"))
    args = parser.parse_args()
    SESAME = args.sesame_bin
    if SESAME == os.path.join(ROOT, "target", "release", "sesame"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    scale = 10 if args.quick else 1
    print(f"{time.strftime('%Y-%m-%d')} · {os.cpu_count()} CPUs · servers on CPU 0, clients on CPU 1 · "
          f"sesame --threads 1")
    with tempfile.TemporaryDirectory() as tmp:
        parts = [
            lambda: dense(tmp, 200_000 // scale),
            lambda: sparse(tmp, 1_000_000 // scale),
            lambda: burst(tmp, 1_000_000 // scale),
            lambda: sliding(tmp, 200_000 // scale),
            lambda: wheel_memory(tmp, 1_000_000 // scale),
        ]
        for number, part in enumerate(parts, 1):
            if args.only in (None, number):
                part()


SESAME = ""

if __name__ == "__main__":
    sys.exit(main())
