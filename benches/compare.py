#!/usr/bin/env python3
"""Side-by-side comparison of sesame and redis-server under redis-benchmark.

Starts a redis-server (no persistence) and a sesame on free loopback ports, preloads both the
same way, then runs each workload with redis-benchmark against one and then the other, A B A B,
for several rounds, and prints for each workload the median requests/s of each server, their
ratio, their p50/p99 latencies, and each server's CPU time per request (user + system, read from
/proc before and after the run). With --memory it also loads 1 000 000 sessions
(`sess:<32 hex>`, 1 KiB values, EX 1800), 1 000 000 small keys (100 B values) and 250 000 keys
with 4 KiB values into fresh servers and prints resident memory per key and its overhead beyond
the key and value bytes.

On a small machine the client needs a core of its own: the servers are pinned to CPU 0 and
redis-benchmark to CPU 1 (taskset), and sesame runs with one worker thread, so the comparison is
per core. Machines here are noisy: read the ratios, not the absolute numbers.

    python3 benches/compare.py                 # throughput/latency/CPU, 3 rounds
    python3 benches/compare.py --memory        # plus memory per key
    python3 benches/compare.py --memory-only   # memory per key alone
    python3 benches/compare.py --quick         # 1 round, fewer requests (a smoke test)
    python3 benches/compare.py --only P16      # the workloads whose name contains P16
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
VALUE_1K = "v" * 1024

# name, redis-benchmark arguments (the request count is added), keyspace size hint
WORKLOADS = [
    ("GET 1KiB -c50 -P1", ["-t", "get", "-d", "1024", "-c", "50", "-P", "1", "-r", "100000"]),
    ("SET 1KiB -c50 -P1", ["-t", "set", "-d", "1024", "-c", "50", "-P", "1", "-r", "100000"]),
    ("GET 1KiB -c50 -P16", ["-t", "get", "-d", "1024", "-c", "50", "-P", "16", "-r", "100000"]),
    ("SET 1KiB -c50 -P16", ["-t", "set", "-d", "1024", "-c", "50", "-P", "16", "-r", "100000"]),
    ("GET 1KiB -c500", ["-t", "get", "-d", "1024", "-c", "500", "-P", "1", "-r", "100000"]),
    ("SET 1KiB -c500", ["-t", "set", "-d", "1024", "-c", "500", "-P", "1", "-r", "100000"]),
    ("SET sess EX 1800", ["-c", "50", "-r", "100000", "SET", "sess:__rand_int__", VALUE_1K, "EX", "1800"]),
    ("GETEX sess EX 1800", ["-c", "50", "-r", "100000", "GETEX", "sess:__rand_int__", "EX", "1800"]),
    ("HSET session hash", ["-c", "50", "-r", "100000", "HSET", "hsess:__rand_int__", "user", "42", "data", VALUE_1K[:200]]),
    ("HGETALL session hash", ["-c", "50", "-r", "100000", "HGETALL", "hsess:__rand_int__"]),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


class Server:
    """A server process pinned to CPU 0."""

    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(port)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_servers(sesame_bin, tmp):
    rport, sport = free_port(), free_port()
    redis = Server("redis", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", tmp], rport)
    sesame = Server("sesame", [sesame_bin, "--port", str(sport), "--bind", "127.0.0.1", "--threads", "1"], sport)
    return redis, sesame


def benchmark(server, args, requests):
    """Runs redis-benchmark (on CPU 1) once; returns (rps, p50 ms, p99 ms, server CPU µs/request)."""
    cpu_before = server.cpu_seconds()
    out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(server.port), "-n", str(requests),
                          "--csv", "-q"] + args, capture_output=True, text=True, timeout=600)
    cpu = server.cpu_seconds() - cpu_before
    rows = [line for line in out.stdout.splitlines() if line and not line.startswith('"test"')]
    if out.returncode != 0 or not rows:
        raise RuntimeError(f"redis-benchmark failed against {server.name}: {out.stdout}{out.stderr}")
    fields = [f.strip('"') for f in rows[-1].split('","')]
    rps, p50, p99 = float(fields[1]), float(fields[4]), float(fields[6])
    return rps, p50, p99, cpu * 1e6 / requests


def preload(server):
    """The same starting data for every server: 100 000 1 KiB keys, sessions and hashes (a step
    a server cannot run is left out; its workload is then reported as skipped)."""
    for args in (["-t", "set", "-d", "1024", "-r", "100000"],
                 ["-r", "100000", "SET", "sess:__rand_int__", VALUE_1K, "EX", "1800"],
                 ["-r", "100000", "HSET", "hsess:__rand_int__", "user", "42", "data", VALUE_1K[:200]]):
        subprocess.run(["redis-benchmark", "-p", str(server.port), "-n", "200000", "-P", "32", "-q"] + args,
                       capture_output=True, timeout=300)


def throughput(servers, rounds, requests, only=None):
    print(f"\n{'workload':22} {'redis rps':>10} {'sesame rps':>11} {'ratio':>6}  "
          f"{'p50 r/s ms':>13} {'p99 r/s ms':>13}  {'CPU µs/req r/s':>15} {'ratio':>6}")
    for name, args in WORKLOADS:
        if only and only not in name:
            continue
        n = requests * (8 if "-P16" in name else 1)
        results = {s.name: [] for s in servers}
        try:
            for _ in range(rounds):
                for server in servers:
                    results[server.name].append(benchmark(server, args, n))
        except RuntimeError as e:
            print(f"{name:22} skipped: {str(e).strip().splitlines()[-1][:80]}")
            continue
        med = {k: [statistics.median(col) for col in zip(*v)] for k, v in results.items()}
        r, s = med["redis"], med["sesame"]
        print(f"{name:22} {r[0]:>10.0f} {s[0]:>11.0f} {s[0] / r[0]:>6.2f}  "
              f"{r[1]:>6.3f}/{s[1]:<6.3f} {r[2]:>6.3f}/{s[2]:<6.3f}  "
              f"{r[3]:>7.2f}/{s[3]:<7.2f} {s[3] / r[3]:>6.2f}")


def send_pipelined(port, commands, batch=2000):
    """Sends RESP commands in batches and reads every reply (counts lines of the simple replies)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        pending = []
        for cmd in commands:
            pending.append(cmd)
            if len(pending) == batch:
                _flush(sock, pending)
                pending = []
        if pending:
            _flush(sock, pending)


def _flush(sock, commands):
    sock.sendall(b"".join(commands))
    expected, buf = len(commands), b""
    while buf.count(b"\r\n") < expected:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk


def resp(*words):
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        out.append(b"$%d\r\n%s\r\n" % (len(w), w))
    return b"".join(out)


def memory(sesame_bin, tmp, count):
    print(f"\nresident memory per key, {count} keys ({count // 4} for 4 KiB values) with EX 1800 "
          "(key = sess:<32 hex>, 37 B)")
    print(f"{'value':>7} {'redis B/key':>12} {'sesame B/key':>13} {'redis overhead':>15} {'sesame overhead':>16} {'ratio':>6}")
    # 4 KiB values with a quarter of the keys: as many bytes as the 1 KiB run, to show whether an
    # allocator size class makes a cliff there.
    for value_len, keys in ((1024, count), (100, count), (4096, count // 4)):
        value = b"x" * value_len
        per_key = {}
        redis, sesame = start_servers(sesame_bin, tmp)
        try:
            for server in (redis, sesame):
                before = server.rss_bytes()
                send_pipelined(server.port, (resp(b"SET", b"sess:%032x" % i, value, b"EX", b"1800")
                                             for i in range(keys)))
                time.sleep(0.5)
                per_key[server.name] = (server.rss_bytes() - before) / keys
        finally:
            redis.stop()
            sesame.stop()
        payload = 37 + value_len
        r, s = per_key["redis"], per_key["sesame"]
        print(f"{value_len:>6}B {r:>12.0f} {s:>13.0f} {r - payload:>15.0f} {s - payload:>16.0f} {s / r:>6.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200_000, help="per run (×8 for -P16 workloads)")
    parser.add_argument("--memory", action="store_true", help="also measure memory per key")
    parser.add_argument("--memory-keys", type=int, default=1_000_000)
    parser.add_argument("--memory-only", action="store_true", help="only measure memory per key")
    parser.add_argument("--only", metavar="TEXT", help="only the workloads whose name contains TEXT")
    parser.add_argument("--quick", action="store_true", help="1 round of 20 000 requests")
    parser.add_argument("--sesame-bin", default=os.path.join(ROOT, "target", "release", "sesame"))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests, args.memory_keys = 1, 20_000, 100_000
    if args.sesame_bin == os.path.join(ROOT, "target", "release", "sesame"):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown CPU")
    print(f"{time.strftime('%Y-%m-%d')} · {os.cpu_count()} CPUs ({model}) · servers on CPU 0, "
          f"redis-benchmark on CPU 1 · sesame --threads 1 · {args.rounds} rounds A B A B, medians")
    with tempfile.TemporaryDirectory() as tmp:
        if args.memory_only:
            memory(args.sesame_bin, tmp, args.memory_keys)
            return
        redis, sesame = start_servers(args.sesame_bin, tmp)
        try:
            for server in (redis, sesame):
                preload(server)
            throughput([redis, sesame], args.rounds, args.requests, args.only)
        finally:
            redis.stop()
            sesame.stop()
        if args.memory:
            memory(args.sesame_bin, tmp, args.memory_keys)


if __name__ == "__main__":
    sys.exit(main())
