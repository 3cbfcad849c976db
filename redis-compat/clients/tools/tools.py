"""redis-cli and redis-benchmark, unchanged, against one server.

    python3 tools.py SCENARIO HOST PORT

Scenarios:
  cli-args       redis-cli in arguments mode: raw and --no-raw output, errors, -x (binary from stdin)
  cli-resp3      redis-cli -3: HELLO 3, maps, nulls, verbatim INFO
  cli-scan       redis-cli --scan --pattern over 1 000 keys, among keys that must not match
  cli-pipe       redis-cli --pipe mass insertion of 100 000 SETs (into db 9, which it empties first)
  cli-hints      interactive redis-cli under tmux: command hints while typing, then commands
  benchmark      redis-benchmark -t ping,set,get,incr,mset,hset,sadd -n 2000 -q
  benchmark-3    the same with -3 (RESP3)

Expected outputs are what redis-cli 7.0.15 prints against redis-server 7.0.15. Standard library
only. Prints one line per step; on failure `FAIL: <what the tool did>: <what it got back>` and
exits 1.
"""

import os
import re
import shutil
import subprocess
import sys
import time


class Failure(Exception):
    pass


def fail(did, got):
    raise Failure(f"{did}: {got}")


def ok(line):
    print(f"ok   {line}", flush=True)


def run(argv, stdin=b"", timeout=60):
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(" ".join(argv), f"did not finish within {timeout} s")
    return p.returncode, p.stdout, p.stderr


class Cli:
    def __init__(self, host, port):
        self.base = ["redis-cli", "-h", host, "-p", str(port)]

    def __call__(self, *args, stdin=b"", flags=()):
        rc, out, err = run([*self.base, *flags, *args], stdin)
        if rc != 0:
            fail(f"redis-cli {' '.join([*flags, *args])}", f"exit status {rc}, stderr {err!r}, stdout {out!r}")
        return out

    def check(self, args, want, flags=(), stdin=b"", pattern=False):
        """Runs redis-cli [flags] args; its stdout must equal `want` (or match it as a regex)."""
        out = self(*args, stdin=stdin, flags=flags)
        good = re.fullmatch(want, out, re.S) is not None if pattern else out == want
        if not good:
            fail(f"redis-cli {' '.join([*flags, *args])}", f"printed {out!r}, expected {'a match of ' if pattern else ''}{want!r}")


def cli_args(host, port):
    cli = Cli(host, port)
    k = f"cli{os.getpid()}:"
    raw = []  # redis-cli's own output mode when stdout is not a terminal
    raw += [
        (["SET", k + "a", "hello world", "EX", "100"], b"OK\n"),
        (["GET", k + "a"], b"hello world\n"),
        (["GET", k + "none"], b"\n"),
        (["EXISTS", k + "a", k + "none"], b"1\n"),
        (["INCR", k + "n"], b"1\n"),
        (["INCRBY", k + "n", "41"], b"42\n"),
        (["INCR", k + "a"], b"ERR value is not an integer or out of range\n\n"),
        (["SET", k + "a", "x", "NX"], b"\n"),
        (["TTL", k + "a"], b"100\n"),
        (["MGET", k + "a", k + "none", k + "n"], b"hello world\n\n42\n"),
    ]
    for args, want in raw:
        cli.check(args, want)
    formatted = [
        (["GET", k + "a"], b'"hello world"\n'),
        (["GET", k + "none"], b"(nil)\n"),
        (["TTL", k + "a"], b"(integer) 100\n"),
        (["MGET", k + "a", k + "none", k + "n"], b'1) "hello world"\n2) (nil)\n3) "42"\n'),
        (["SCAN", "0", "MATCH", k + "nothing*", "COUNT", "1000000"], b'1) "0"\n2) (empty array)\n'),
        (["INCR", k + "a"], b"(error) ERR value is not an integer or out of range\n"),
        (["NOSUCH", "x"], b"(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' \n"),
        (["get"], b"(error) ERR wrong number of arguments for 'get' command\n"),
        (["CONFIG", "GET", "appendonly"], b'1) "appendonly"\n2) "no"\n'),
        (["TYPE", k + "a"], b"string\n"),
    ]
    for args, want in formatted:
        cli.check(args, want, flags=["--no-raw"])
    # -x: the last argument comes from stdin, bytes as they are.
    blob = b"bin\x00\xff\r\n\"quoted\"\n" * 3
    cli.check(["SET", k + "bin"], b"OK\n", flags=["-x"], stdin=blob)
    cli.check(["GET", k + "bin"], blob + b"\n", flags=["--raw"])
    cli.check(["STRLEN", k + "bin"], f"{len(blob)}\n".encode())
    cli.check(["DEL", k + "a", k + "n", k + "bin", k + "none"], b"3\n")
    ok("arguments mode: raw and formatted replies, errors, -x binary round trip")


def cli_resp3(host, port):
    cli = Cli(host, port)
    k = f"cli3{os.getpid()}:"
    cases = [
        (["HELLO", "3"], rb'1# "server" => "redis"\n2# "version" => "7\.\d+\.\d+"\n3# "proto" => \(integer\) 3\n4# "id" => \(integer\) \d+\n5# "mode" => "standalone"\n6# "role" => "master"\n7# "modules" => \(empty array\)\n'),
        (["CONFIG", "GET", "appendonly"], rb'1# "appendonly" => "no"\n'),
        (["GET", k + "none"], rb"\(nil\)\n"),
        (["MGET", k + "none", k + "none"], rb"1\) \(nil\)\n2\) \(nil\)\n"),
        (["SET", k + "x", "1", "EX", "100"], rb"OK\n"),
        (["SET", k + "x", "1", "NX"], rb"\(nil\)\n"),
        (["TTL", k + "x"], rb"\(integer\) 100\n"),
        (["INFO", "server"], rb"# Server\r?\nredis_version:7\.\d+\.\d+\r?\n.*redis_mode:standalone.*"),
        (["CLIENT", "INFO"], rb"id=\d+ addr=127\.0\.0\.1:\d+ .* resp=3\n"),
        (["INCRBYFLOAT", k + "x", "0.5"], rb'"1\.5"\n'),
        (["DEL", k + "x"], rb"\(integer\) 1\n"),
    ]
    for args, want in cases:
        cli.check(args, want, flags=["-3", "--no-raw"], pattern=True)
    cli.check(["GET", k + "none"], b"\n", flags=["-3"])
    ok("redis-cli -3: HELLO 3 map, CONFIG GET map, nulls, INFO, CLIENT INFO")


def cli_scan(host, port):
    cli = Cli(host, port)
    k = f"scan{os.getpid()}:"
    proto = bytearray()
    for i in range(1000):
        proto += resp(b"SET", f"{k}sess:{i}".encode(), b"v", b"EX", b"300")
    for i in range(300):
        proto += resp(b"SET", f"{k}other:{i}".encode(), b"v", b"EX", b"300")
    cli.check([], rb".*errors: 0, replies: 1300\n", flags=["--pipe"], stdin=bytes(proto), pattern=True)
    for flags in (["--scan", "--pattern", f"{k}sess:*"], ["--scan", "--pattern", f"{k}sess:*", "-3"]):
        out = cli(flags=flags)
        keys = out.decode().split("\n")[:-1]
        want = {f"{k}sess:{i}" for i in range(1000)}
        if set(keys) != want:
            extra = sorted(set(keys) - want)[:5]
            missing = sorted(want - set(keys))[:5]
            fail(f"redis-cli {' '.join(flags)}", f"{len(set(keys))} distinct keys printed, expected 1000; extra {extra}, missing {missing}")
    # Clean up with the same tool.
    for pattern in (f"{k}sess:*", f"{k}other:*"):
        keys = cli(flags=["--scan", "--pattern", pattern]).decode().split("\n")[:-1]
        for i in range(0, len(keys), 500):
            cli("DEL", *keys[i : i + 500])
    ok("--scan --pattern listed exactly the 1000 matching keys (RESP2 and -3)")


def resp(*args):
    out = bytearray(b"*%d\r\n" % len(args))
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return bytes(out)


def cli_pipe(host, port):
    cli = Cli(host, port)
    n = 100_000
    proto = b"".join(resp(b"SET", b"mass:%d" % i, b"value:%d" % i) for i in range(n))
    cli.check(["-n", "9", "FLUSHDB"], b"OK\n")
    started = time.monotonic()
    out = cli(flags=["-n", "9", "--pipe"], stdin=proto)
    took = time.monotonic() - started
    if not out.endswith(f"errors: 0, replies: {n}\n".encode()):
        fail(f"redis-cli -n 9 --pipe < {n} SET commands", f"printed {out[-300:]!r}")
    cli.check(["-n", "9", "DBSIZE"], f"{n}\n".encode())
    for i in (0, 4242, n - 1):
        cli.check(["-n", "9", "GET", f"mass:{i}"], f"value:{i}\n".encode())
    cli.check(["-n", "9", "FLUSHDB"], b"OK\n")
    ok(f"--pipe inserted {n} keys in {took:.2f} s (errors: 0), DBSIZE {n}")


def cli_hints(host, port):
    if not shutil.which("tmux"):
        fail("tmux", "not installed")
    socket = f"sesame-compat-{os.getpid()}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    # A fresh tmux server on its own socket (killed at the end); no history file written.
    env = dict(os.environ, TERM=os.environ.get("TERM") or "xterm-256color", REDISCLI_HISTFILE="/dev/null")
    prompt = f"{host}:{port}> "
    k = f"hint{os.getpid()}"

    def t(*args):
        subprocess.run([*tmux, *args], check=True, env=env, capture_output=True, timeout=10)

    def pane():
        p = subprocess.run([*tmux, "capture-pane", "-p", "-t", "cli"], env=env, capture_output=True, timeout=10)
        return [line.rstrip() for line in p.stdout.decode(errors="replace").split("\n") if line.strip()]

    def wait_for(line, what):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = pane()
            if line in lines:
                return
            time.sleep(0.05)
        fail(what, "the pane shows:\n      " + "\n      ".join(lines[-8:]) + f"\n    expected a line {line!r}")

    steps = [
        # (keys typed, the line the pane must show, what it shows)
        ("SET ", prompt + "SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]", "hint after 'SET '"),
        (f"{k} v ", prompt + f"SET {k} v [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]", "hint after 'SET key value '"),
        ("EX 100\n", "OK", "reply to SET … EX 100"),
        (f"TTL {k}\n", "(integer) 100", "reply to TTL"),
        (f"GET {k}\n", '"v"', "reply to GET"),
        ("EXPIRE ", prompt + "EXPIRE key seconds [NX|XX|GT|LT]", "hint after 'EXPIRE '"),
        ("\x15HELLO ", prompt + "HELLO [protover [AUTH username password] [SETNAME clientname]]", "hint after 'HELLO '"),
        ("\x15getex ", prompt + "getex key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]", "hint after 'getex ' (lower case)"),
        (f"\x15DEL {k}\n", "(integer) 1", "reply to DEL"),
    ]
    try:
        t("new-session", "-d", "-s", "cli", "-x", "220", "-y", "50", f"redis-cli -h {host} -p {port}")
        wait_for(prompt.rstrip(), "interactive redis-cli started under tmux: the prompt")
        for keys, line, what in steps:
            for part in re.split(r"([\n\x15])", keys):
                if part == "\n":
                    t("send-keys", "-t", "cli", "Enter")
                elif part == "\x15":
                    t("send-keys", "-t", "cli", "C-u")
                elif part:
                    t("send-keys", "-t", "cli", "-l", part)
            wait_for(line, f"interactive redis-cli, typed {keys!r}: {what}")
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, capture_output=True, timeout=10)
    ok("interactive redis-cli under tmux: hints for SET (twice), EXPIRE, HELLO, getex; replies to SET/TTL/GET/DEL")


def benchmark(host, port, resp3=False):
    tests = "ping,set,get,incr,mset,hset,sadd"
    argv = ["redis-benchmark", "-h", host, "-p", str(port), "-t", tests, "-n", "2000", "-q"] + (["-3"] if resp3 else [])
    rc, out, err = run(argv, timeout=120)
    text = (out + err).decode(errors="replace")
    # -q prints progress with carriage returns; the final line per test follows the last \r.
    lines = [seg.strip() for line in text.split("\n") for seg in line.split("\r")[-1:] if seg.strip()]
    errors = [line for line in text.replace("\r", "\n").split("\n") if "rror" in line]
    done = {line.split(":")[0].split(" (")[0] for line in lines if "requests per second" in line}
    want = {"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET", "HSET", "SADD"}
    if rc != 0 or errors or not want <= done:
        fail(" ".join(argv), f"exit status {rc}; errors {errors}; finished tests {sorted(done)} (expected {sorted(want)}); output tail {text[-400:]!r}")
    ok(f"{' '.join(argv[5:])}: all {len(want)} tests finished with no error")


SCENARIOS = {
    "cli-args": cli_args,
    "cli-resp3": cli_resp3,
    "cli-scan": cli_scan,
    "cli-pipe": cli_pipe,
    "cli-hints": cli_hints,
    "benchmark": lambda h, p: benchmark(h, p),
    "benchmark-3": lambda h, p: benchmark(h, p, resp3=True),
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        print(f"usage: tools.py {'|'.join(SCENARIOS)} HOST PORT", file=sys.stderr)
        sys.exit(2)
    try:
        SCENARIOS[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
