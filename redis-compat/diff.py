#!/usr/bin/env python3
"""Differential Redis-protocol runner.

Sends the same commands to two servers (A, the reference redis-server, and B,
the server under test) over raw sockets, reads exactly one raw reply from each
and compares the bytes.  Commands come from case files (redis-compat/cases/*.txt,
syntax in README.md) and/or from a seeded random generator over the string,
key, hash and set commands.  Every difference is printed with its case file, line, command and
both replies as escaped bytes; the last line is

    compared N replies in M cases: D differences

and the exit status is 1 when D > 0 (2 when a server cannot be reached).

Standard library only (Python 3.11).
"""

import argparse
import glob
import os
import random
import select
import socket
import sys
import time

REPLY_TIMEOUT_S = 5.0  # a reply slower than this counts as "no reply"
QUIET_S = 0.15  # silence that ends a raw (`!`) exchange or a no-reply check
TTL_COMMANDS = {b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"}
MS_TTL_COMMANDS = {b"PTTL", b"PEXPIRETIME"}
MS_TOLERANCE = 50  # `~` tolerance for millisecond TTL-like replies
RACE_WINDOW_MS = 5  # random mode: a key this close to its deadline may race
RECLAIM_WINDOW_MS = 300  # random mode: DBSIZE may count expired, unreclaimed keys


# ---------------------------------------------------------------- arguments


def split_args(line):
    """Split one command line into byte arguments the way redis-cli does.

    Whitespace separates arguments; "double quotes" allow the escapes
    \\n \\r \\t \\b \\a \\\\ \\" and \\xHH (so binary and empty "" arguments are
    possible); 'single quotes' only allow \\'.  A closing quote must be followed
    by whitespace or the end of the line.  Raises ValueError on bad quoting.
    """
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if i >= n:
                if in_dq or in_sq:
                    raise ValueError("unbalanced quotes")
                break
            c = line[i]
            if in_dq:
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and _is_hex(line[i + 2 : i + 4]):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}.get(
                        line[i], line[i].encode()
                    )
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode()
            elif in_sq:
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur += b"'"
                    i += 1
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode()
            else:
                if c.isspace():
                    break
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    cur += c.encode()
            i += 1
        args.append(bytes(cur))


def _is_hex(s):
    """True when s is exactly two hexadecimal digits."""
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


def decode_raw(text):
    """Decode the escapes of a `!` raw line (\\r \\n \\t \\\\ \\" \\xHH) into bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 3 < len(text) and text[i + 1] == "x" and _is_hex(text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif c == "\\" and i + 1 < len(text):
            out += {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0"}.get(text[i + 1], text[i + 1].encode())
            i += 2
        else:
            out += c.encode()
            i += 1
    return bytes(out)


def encode_command(argv):
    """Encode an argument list as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def show(raw):
    """Render bytes for a report: printable ASCII as is, everything else escaped."""
    if raw is None:
        return "<none>"
    out = []
    for b in raw[:4000]:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 13:
            out.append("\\r")
        elif b == 10:
            out.append("\\n")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    if len(raw) > 4000:
        out.append("...(%d bytes)" % len(raw))
    return "".join(out)


def show_argv(argv):
    """Render a command for a report, quoting arguments that need it."""
    parts = []
    for a in argv:
        s = show(a).replace('"', '\\"')
        parts.append(s if a and all(33 <= b < 127 and b not in b"\"'\\" for b in a) else '"%s"' % s)
    return " ".join(parts)


# ---------------------------------------------------------------- RESP reading


class Closed(Exception):
    """The server closed the connection (or reset it) before a full reply."""


class Conn:
    """One client connection that reads whole RESP2/RESP3 replies as raw bytes."""

    def __init__(self, addr):
        """Connect to addr, a (host, port) pair."""
        self.sock = socket.create_connection(addr, timeout=REPLY_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        """Close the socket, ignoring errors."""
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Send all of data; a dead peer is noticed by the next read."""
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def _fill(self):
        """Receive more bytes into the buffer; raise Closed on EOF or reset."""
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise Closed()
        if self.pos > 65536:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        """Return the next line including its CRLF."""
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos : end + 2])
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n):
        """Return the next n bytes."""
        while len(self.buf) - self.pos < n:
            self._fill()
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def read_reply(self):
        """Read one complete reply and return its raw bytes.

        Raises Closed on EOF, socket.timeout when the server is silent, and
        ValueError on bytes that are not RESP.
        """
        out = bytearray()
        self._read_into(out)
        return bytes(out)

    def _read_into(self, out):
        """Append one reply (recursively for aggregates) to out."""
        line = self._line()
        out += line
        kind = line[:1]
        if kind and kind in b"+-:_,#(":
            return
        try:
            n = int(line[1:-2])
        except ValueError:
            raise ValueError("bad RESP header %r" % line) from None
        if kind in (b"$", b"!", b"="):
            if n >= 0:
                out += self._exact(n + 2)
        elif kind in (b"*", b"~", b">"):
            for _ in range(max(n, 0)):
                self._read_into(out)
        elif kind == b"%":
            for _ in range(2 * max(n, 0)):
                self._read_into(out)
        elif kind == b"|":  # attribute map, then the reply it annotates
            for _ in range(2 * n):
                self._read_into(out)
            self._read_into(out)
        else:
            raise ValueError("bad RESP type %r" % line)


def read_quiet_all(conns, quiet=QUIET_S, limit=2.0):
    """Read from several connections at once until each is silent for quiet seconds or at EOF.

    Returns a list of (bytes, eof), one per connection, so two servers' silences
    overlap instead of adding up.
    """
    data = [bytes(c.buf[c.pos :]) for c in conns]
    eof = [False] * len(conns)
    for c in conns:
        c.buf, c.pos = bytearray(), 0
    last = [time.monotonic()] * len(conns)
    deadline = time.monotonic() + limit
    while True:
        now = time.monotonic()
        live = [i for i, c in enumerate(conns) if not eof[i] and now - last[i] < quiet]
        if not live or now >= deadline:
            return list(zip(data, eof))
        wait = min(quiet - (now - last[i]) for i in live)
        ready, _, _ = select.select([conns[i].sock for i in live], [], [], max(wait, 0))
        for i in live:
            if conns[i].sock in ready:
                try:
                    chunk = conns[i].sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                if chunk:
                    data[i] += chunk
                    last[i] = time.monotonic()
                else:
                    eof[i] = True


# ---------------------------------------------------------------- parsing and comparing


def parse(raw, pos=0):
    """Parse one reply from raw bytes into (type, payload, raw_slice), returning (node, end).

    Scalars carry their payload bytes (the line or the bulk body, None for -1
    lengths); aggregates carry a list of child nodes (maps flattened k, v, k, v).
    """
    end = raw.index(b"\r\n", pos)
    kind = raw[pos : pos + 1]
    head = raw[pos + 1 : end]
    nxt = end + 2
    if kind in (b"$", b"!", b"="):
        n = int(head)
        if n < 0:
            return (kind, None, raw[pos:nxt]), nxt
        return (kind, raw[nxt : nxt + n], raw[pos : nxt + n + 2]), nxt + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if n < 0:
            return (kind, None, raw[pos:nxt]), nxt
        count = 2 * n if kind in (b"%", b"|") else n
        children = []
        for _ in range(count):
            child, nxt = parse(raw, nxt)
            children.append(child)
        if kind == b"|":
            annotated, nxt = parse(raw, nxt)
            children.append(annotated)
        return (kind, children, raw[pos:nxt]), nxt
    return (kind, head, raw[pos:nxt]), nxt


def tree(raw):
    """Parse a whole raw reply; None if it is not exactly one valid reply."""
    try:
        node, end = parse(raw)
        return node if end == len(raw) else None
    except (ValueError, IndexError):
        return None


def shape(node):
    """The shape of a reply: its type, and for aggregates the shapes of the children."""
    kind, payload, _ = node
    if isinstance(payload, list):
        return (kind, tuple(shape(c) for c in payload))
    return (kind, payload is None)


def _number(b):
    """Parse bytes as an int or float, or return None."""
    try:
        return int(b)
    except (TypeError, ValueError):
        try:
            return float(b)
        except (TypeError, ValueError):
            return None


def near(a, b, tol):
    """Compare nodes, letting integers (and numeric strings/doubles) differ by tol."""
    if a[0] != b[0]:
        return False
    if isinstance(a[1], list) and isinstance(b[1], list):
        return len(a[1]) == len(b[1]) and all(near(x, y, tol) for x, y in zip(a[1], b[1]))
    if a[2] == b[2]:
        return True
    x, y = _number(a[1]), _number(b[1])
    return x is not None and y is not None and abs(x - y) <= tol


def pairs(node):
    """Key/value pairs of a RESP3 map or a flat RESP2 array, or None."""
    kind, payload, _ = node
    if kind in (b"%", b"*") and isinstance(payload, list) and len(payload) % 2 == 0:
        return [(payload[i], payload[i + 1]) for i in range(0, len(payload), 2)]
    return None


def same_hello(a, b):
    """Compare HELLO replies: same keys in order, same values except id and version (type only)."""
    pa, pb = pairs(a), pairs(b)
    if a[0] != b[0] or pa is None or pb is None or len(pa) != len(pb):
        return False
    for (ka, va), (kb, vb) in zip(pa, pb):
        if ka[2] != kb[2]:
            return False
        if ka[1] in (b"id", b"version"):
            if va[0] != vb[0]:
                return False
        elif va[2] != vb[2]:
            return False
    return True


def unordered(a, b, argv):
    """Compare aggregates as multisets (maps and CONFIG GET arrays as multisets of pairs).

    A SCAN-family page (SCAN, SSCAN, HSCAN) must have the same cursor, and its items are
    compared as a multiset (of field/value pairs for HSCAN).
    """
    if a[0] != b[0] or not isinstance(a[1], list) or not isinstance(b[1], list):
        return a[2] == b[2]
    name = argv[0].upper() if argv else b""
    if name in (b"SCAN", b"SSCAN", b"HSCAN") and len(a[1]) == 2 and len(b[1]) == 2:
        (cursor_a, page_a), (cursor_b, page_b) = a[1], b[1]
        if cursor_a[2] != cursor_b[2] or page_a[0] != page_b[0]:
            return False
        if not isinstance(page_a[1], list) or not isinstance(page_b[1], list):
            return page_a[2] == page_b[2]
        items_a, items_b = [c[2] for c in page_a[1]], [c[2] for c in page_b[1]]
        if name == b"HSCAN":
            items_a = list(zip(items_a[::2], items_a[1::2]))
            items_b = list(zip(items_b[::2], items_b[1::2]))
        return sorted(items_a) == sorted(items_b)
    if a[0] == b"%" or (len(argv) > 1 and argv[0].upper() == b"CONFIG" and argv[1].upper() == b"GET"):
        pa, pb = pairs(a), pairs(b)
        if pa is not None and pb is not None:
            return sorted((k[2], v[2]) for k, v in pa) == sorted((k[2], v[2]) for k, v in pb)
    return sorted(c[2] for c in a[1]) == sorted(c[2] for c in b[1])


def replies_match(mode, argv, ra, rb):
    """Decide whether two raw replies to argv match under a line mode.

    mode: "" exact, "~" TTL-ish numeric tolerance, "?" shape only, "=" unordered.
    HELLO replies (not errors) are always compared by same_hello.
    """
    if ra == rb:
        return True
    ta, tb = tree(ra), tree(rb)
    if ta is None or tb is None:
        return False
    name = argv[0].upper() if argv else b""
    if name == b"HELLO" and ta[0] != b"-" and tb[0] != b"-":
        return same_hello(ta, tb)
    if mode == "?":
        return shape(ta) == shape(tb)
    if mode == "~":
        return near(ta, tb, MS_TOLERANCE if name in MS_TTL_COMMANDS else 1)
    if mode == "=":
        return unordered(ta, tb, argv)
    return False


# ---------------------------------------------------------------- the pair of servers


class Pair:
    """Two connections, one to A and one to B, with the client state the runner tracks.

    proto is the protocol a fresh pair negotiates (HELLO 3 after connecting when 3);
    reply_mode follows CLIENT REPLY ON/OFF/SKIP so silent commands are not awaited.
    """

    def __init__(self, runner, addr_a, addr_b):
        """Remember the addresses; connect() opens the sockets."""
        self.runner = runner
        self.addrs = (addr_a, addr_b)
        self.conns = None
        self.proto = 2
        self.reply_mode = "on"

    def connect(self, where):
        """Open a fresh connection pair; in RESP3 send and compare HELLO 3 first."""
        self.close()
        self.conns = [Conn(self.addrs[0]), Conn(self.addrs[1])]
        self.reply_mode = "on"
        if self.proto == 3:
            self.command([b"HELLO", b"3"], where, "")

    def close(self):
        """Close both connections."""
        if self.conns:
            for c in self.conns:
                c.close()
        self.conns = None

    def exchange(self, argv):
        """Send argv to both servers back to back and read one reply from each.

        Returns a pair of raw replies; a reply is b"<closed>" or b"<timeout>" (and
        the pair is reconnected afterwards) when a server closes or stays silent.
        """
        data = encode_command(argv)
        for c in self.conns:
            c.send(data)
        out, broken = [], False
        for c in self.conns:
            try:
                out.append(c.read_reply())
            except Closed:
                out.append(b"<closed>")
                broken = True
            except socket.timeout:
                out.append(b"<timeout>")
                broken = True
            except (ValueError, OSError) as e:
                out.append(b"<bad reply: " + str(e).encode() + b">")
                broken = True
        return out, broken

    def command(self, argv, where, mode):
        """Run one command line on both servers and record the comparison."""
        name = argv[0].upper() if argv else b""
        sub = argv[1].upper() if len(argv) > 1 else b""
        if not self._expects_reply(argv, name, sub):
            for c in self.conns:
                c.send(encode_command(argv))
            (ra, ea), (rb, eb) = read_quiet_all(self.conns)
            ra, rb = (ra or b"<no reply>") + (b" <EOF>" if ea else b""), (rb or b"<no reply>") + (b" <EOF>" if eb else b"")
            self.runner.record(where, show_argv(argv), ra == rb, ra, rb)
            if ea or eb:
                self.connect(where)
            return
        (ra, rb), broken = self.exchange(argv)
        ok = replies_match(mode, argv, ra, rb)
        if name == b"QUIT" and not broken:
            # The server must close the connection right after +OK.
            eofs = [eof for _, eof in read_quiet_all(self.conns)]
            ra += b" <EOF>" if eofs[0] else b" <still open>"
            rb += b" <EOF>" if eofs[1] else b" <still open>"
            ok = ok and eofs[0] == eofs[1]
            broken = True
        self.runner.record(where, show_argv(argv), ok, ra, rb)
        if name == b"RESET" and ra == b"+RESET\r\n":
            self.proto = 2
        if name == b"HELLO" and sub in (b"2", b"3") and ra[:1] != b"-":
            self.proto = int(sub)
        if broken:
            self.connect(where)

    def _expects_reply(self, argv, name, sub):
        """Track CLIENT REPLY state; False when the server must stay silent."""
        client_reply = name == b"CLIENT" and sub == b"REPLY" and len(argv) == 3
        mode_arg = argv[2].upper() if client_reply else b""
        if self.reply_mode == "skip":
            self.reply_mode = "on"
            if client_reply and mode_arg in (b"ON", b"OFF", b"SKIP"):
                self.reply_mode = {b"ON": "on", b"OFF": "off", b"SKIP": "skip"}[mode_arg]
            return False
        if client_reply and mode_arg == b"ON":
            self.reply_mode = "on"
            return True
        if client_reply and mode_arg in (b"OFF", b"SKIP"):
            self.reply_mode = "off" if mode_arg == b"OFF" else "skip"
            return False
        return self.reply_mode == "on"

    def raw(self, data, where, text):
        """Send raw bytes on a fresh connection to each server and compare all that comes back.

        The exchange ends at EOF or after QUIET_S of silence; EOF is part of the
        comparison.  In RESP3 mode HELLO 3 is sent (and its reply dropped) first.
        The pair's own connections are not touched, so a half-sent request cannot
        break the lines that follow.
        """
        conns = [Conn(addr) for addr in self.addrs]
        try:
            for conn in conns:
                if self.proto == 3:
                    conn.send(encode_command([b"HELLO", b"3"]))
                    try:
                        conn.read_reply()
                    except (Closed, socket.timeout, ValueError):
                        pass  # whatever follows shows the difference
                conn.send(data)
            results = [reply + (b" <EOF>" if eof else b"") for reply, eof in read_quiet_all(conns)]
        finally:
            for conn in conns:
                conn.close()
        self.runner.record(where, "! " + text, results[0] == results[1], *results)

    def scan(self, args, where, command=(b"SCAN",), pairs=False):
        """Iterate a SCAN-family command to completion on each server and compare what it collected.

        command is the words before the cursor (SCAN, or HSCAN/SSCAN with their key); with
        pairs, the items are field/value pairs (HSCAN) and are collected as such.
        """
        results = []
        for c in self.conns:
            cursor, keys, err = b"0", set(), None
            for _ in range(100000):
                c.send(encode_command(list(command) + [cursor] + args))
                try:
                    node = tree(c.read_reply())
                except (Closed, socket.timeout, ValueError, OSError) as e:
                    err = b"<%s>" % type(e).__name__.encode()
                    break
                if node is None or node[0] not in (b"*",) or not isinstance(node[1], list) or len(node[1]) != 2:
                    err = node[2] if node else b"<bad reply>"
                    break
                cursor_node, batch = node[1]
                if cursor_node[0] != b"$" or not isinstance(batch[1], list):
                    err = node[2]
                    break
                items = [k[1] for k in batch[1]]
                if pairs:
                    items = [b"%s=%s" % (items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
                keys.update(items)
                cursor = cursor_node[1]
                if cursor == b"0":
                    break
            results.append(err if err is not None else b"{" + b", ".join(sorted(keys)) + b"}")
        label = "@" + command[0].decode().lower() + " " + show_argv(list(command[1:]) + args)
        self.runner.record(where, label, results[0] == results[1], *results)
        if any(r.startswith(b"<") for r in results):
            self.connect(where)  # a connection may be dead or out of step


# ---------------------------------------------------------------- the runner


class Runner:
    """Runs case files and random commands against a Pair and counts results."""

    def __init__(self, addr_a, addr_b, dump=False):
        """Prepare the pair; dump prints every command with A's reply."""
        self.pair = Pair(self, addr_a, addr_b)
        self.compared = 0
        self.cases = 0
        self.differences = 0
        self.resyncs = 0
        self.deadlines = [{}, {}]
        self.dump = dump

    def record(self, where, command, ok, ra, rb):
        """Count one compared reply and print it when it differs (or when dumping)."""
        self.compared += 1
        if self.dump:
            print("%s: %s\n    -> %s" % (where, command, show(ra)))
        if not ok:
            self.differences += 1
            print("DIFF %s: %s" % (where, command))
            print("  a: %s" % show(ra))
            print("  b: %s" % show(rb))
            sys.stdout.flush()

    def flushall(self, where):
        """FLUSHALL on both servers (compared like any other command)."""
        self.pair.command([b"FLUSHALL"], where, "")

    def start_case(self, where, proto):
        """Fresh connection pair and an empty dataset on both servers."""
        self.cases += 1
        self.pair.proto = 2
        self.pair.connect(where)
        self.flushall(where)
        if proto == 3:
            self.pair.proto = 3
            self.pair.connect(where)

    # -- case files

    def run_file(self, path):
        """Run one case file (twice, in RESP2 then RESP3, when it says @both)."""
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        name = os.path.normpath(path)
        protos = [2, 3] if any(line.strip() == "@both" for line in lines) else [2]
        for proto in protos:
            label = name if len(protos) == 1 else "%s[resp%d]" % (name, proto)
            self.start_case(label, proto)
            for lineno, line in enumerate(lines, 1):
                self.run_line(line, "%s:%d" % (label, lineno))
        self.pair.close()

    def run_line(self, line, where):
        """Run one case-file line: a comment, a directive, or a (prefixed) command."""
        text = line.strip()
        if not text or text.startswith("#"):
            return
        pair = self.pair
        if text.startswith("@"):
            words = text.split(None, 1)
            directive, rest = words[0], (words[1] if len(words) > 1 else "")
            if directive in ("@resp2", "@resp3"):
                pair.proto = 3 if directive == "@resp3" else 2
                pair.connect(where)
                if pair.proto == 2:
                    pair.command([b"HELLO", b"2"], where, "")
            elif directive == "@sleep":
                time.sleep(int(rest) / 1000)
            elif directive == "@reset":
                self.flushall(where)
                pair.connect(where)
            elif directive == "@scan":
                pair.scan(split_args(rest), where)
            elif directive in ("@hscan", "@sscan"):
                words = split_args(rest)
                if not words:
                    raise SystemExit("%s: %s needs a key" % (where, directive))
                pair.scan(words[1:], where, (directive[1:].upper().encode(), words[0]),
                          pairs=directive == "@hscan")
            elif directive == "@both":
                pass
            else:
                raise SystemExit("%s: unknown directive %s" % (where, directive))
            return
        if text.startswith("! "):
            pair.raw(decode_raw(text[2:]), where, text[2:])
            return
        mode = ""
        if text[:2] in ("~ ", "? ", "= "):
            mode, text = text[0], text[2:]
        try:
            argv = split_args(text)
        except ValueError as e:
            raise SystemExit("%s: %s" % (where, e))
        if argv:
            pair.command(argv, where, mode)

    # -- random mode

    def run_random(self, count, seed):
        """Send count random string/key commands to both servers and compare them.

        Expiry races: both servers get each command within microseconds, but a
        key whose deadline falls in that gap (or, for DBSIZE, which counts
        expired keys Redis has not reclaimed yet, one that expired in the last
        RECLAIM_WINDOW_MS) can legitimately answer differently.  To recognise
        them, PTTL k0..k7 is polled on both servers after every command (not
        compared) and each key's last known deadline is kept per server.  When
        a reply differs and a key the command touches has, on either server, a
        deadline within RACE_WINDOW_MS of now, the difference is not reported
        and both datasets are re-synchronised from A (resync()).  A reported
        difference is re-synchronised too, so one bug is not reported again by
        every later command that reads the diverged keys.  More than
        max(5, count/100) such races is itself reported as a difference, since
        it points at a server whose deadlines are wrong.
        """
        where0 = "random(seed=%d)" % seed
        self.start_case(where0, 2)
        rng = random.Random(seed)
        # Hash and set commands draw from their own generator, so the string/key commands of a
        # seed stay the same sequence.
        crng = random.Random(seed * 1000003 + 17)
        self.deadlines = [{}, {}]
        self.poll_deadlines()
        races = 0
        for i in range(1, count + 1):
            if crng.random() < COLLECTION_SHARE:
                argv, keys, mode = random_collection_command(crng)
            else:
                argv, keys = random_command(rng)
                mode = "~" if argv[0].upper() in TTL_COMMANDS else ""
            where = "%s#%d" % (where0, i)
            (ra, rb), broken = self.pair.exchange(argv)
            now = time.monotonic() * 1000
            name = argv[0].upper()
            ok = replies_match("" if mode == "o" else mode, argv, ra, rb)
            if not ok and mode == "o" and not broken and replies_match("=", argv, ra, rb):
                # Only a small encoding's order is fixed; a hashtable's follows the hash seed.
                ok = self.encoding_on_a(keys[0]) == b"hashtable"
            if not ok and not broken and self.is_race(name, keys, now):
                races += 1
                self.compared += 1
                self.resync()
            else:
                note = "" if ok else self.deadline_note(keys, now)
                self.record(where, show_argv(argv) + note, ok, ra, rb)
                if broken:
                    self.pair.connect(where)
                if not ok:
                    self.resync()  # report each divergence once, not every later echo of it
            self.poll_deadlines()
        self.resyncs += races
        limit = max(5, count // 100)
        if races > limit:
            self.record(where0, "more than %d expiry races (%d): deadlines disagree" % (limit, races),
                        False, b"at most %d races" % limit, b"%d races" % races)
        self.pair.close()

    def encoding_on_a(self, key):
        """OBJECT ENCODING of key on server A (None when it cannot be read)."""
        a = self.pair.conns[0]
        a.send(encode_command([b"OBJECT", b"ENCODING", key]))
        try:
            node = tree(a.read_reply())
        except (Closed, socket.timeout, ValueError):
            return None
        return node[1] if node else None

    def is_race(self, name, keys, now):
        """True when a touched key is, on either server, about to expire or just expired."""
        back = RECLAIM_WINDOW_MS if name == b"DBSIZE" else RACE_WINDOW_MS
        for known in self.deadlines:
            for k in keys:
                d = known.get(k)
                if d is not None and now - back <= d <= now + RACE_WINDOW_MS:
                    return True
        return False

    def deadline_note(self, keys, now):
        """Describe the touched keys' known deadlines, for a reported random-mode difference."""
        parts = []
        for k in keys:
            da, db = (known.get(k) for known in self.deadlines)
            if da is not None or db is not None:
                fmt = lambda d: "-" if d is None else "%+.1fms" % (d - now)
                parts.append("%s deadline a %s b %s" % (k.decode(), fmt(da), fmt(db)))
        return "   (%s)" % "; ".join(parts) if parts else ""

    def poll_deadlines(self):
        """Run _poll_deadlines, reconnecting when a server fails to answer."""
        self._guarded(self._poll_deadlines)

    def _poll_deadlines(self):
        """PTTL every random-mode key on both servers and update self.deadlines.

        A deadline is kept after the key expires (PTTL -2 once the deadline has
        passed), so an expiry that just happened is still known; it is dropped
        when the key becomes persistent or disappears before its deadline.
        """
        for c, known in zip(self.pair.conns, self.deadlines):
            c.send(b"".join(encode_command([b"PTTL", k]) for k in KEYS))
            sent = time.monotonic() * 1000
            for k in KEYS:
                node = tree(c.read_reply())
                ms = int(node[1]) if node and node[0] == b":" else -2
                if ms >= 0:
                    known[k] = sent + ms
                elif ms == -1 or known.get(k, 0) > sent + RACE_WINDOW_MS:
                    known.pop(k, None)

    def resync(self):
        """Run _resync, reconnecting when a server fails to answer."""
        self._guarded(self._resync)

    def _guarded(self, step):
        """Run a bookkeeping step; on a dead or silent connection reconnect the pair instead.

        (The commands' own replies are compared elsewhere; this only keeps a
        misbehaving server from stopping the run.)
        """
        try:
            step()
        except (Closed, socket.timeout, ValueError, TypeError, IndexError) as e:
            print("note: %s failed (%r); reconnecting" % (step.__name__.strip("_"), e))
            self.pair.connect("random")

    def _resync(self):
        """Copy A's dataset (string keys k0..k7 with their TTLs) onto both servers."""
        a = self.pair.conns[0]
        state = {}
        for k in KEYS:
            a.send(encode_command([b"GET", k]) + encode_command([b"PTTL", k]))
            value, ttl = tree(a.read_reply()), tree(a.read_reply())
            state[k] = (value[1], int(ttl[1]))
        for c in self.pair.conns:
            cmds = []
            for k, (value, ttl) in state.items():
                if value is None or 0 <= ttl < 20:
                    cmds.append([b"DEL", k])
                elif ttl < 0:
                    cmds.append([b"SET", k, value])
                else:
                    cmds.append([b"SET", k, value, b"PX", b"%d" % ttl])
            c.send(b"".join(encode_command(cmd) for cmd in cmds))
            for _ in cmds:
                c.read_reply()
        self._resync_collections()

    def _resync_collections(self):
        """Copy A's collection keys (c0..c5: hashes, sets, or strings, without TTLs) onto both."""
        a = self.pair.conns[0]
        cmds = []
        for k in CKEYS:
            a.send(encode_command([b"TYPE", k]))
            kind = tree(a.read_reply())[1]
            cmds.append([b"DEL", k])
            read = {b"hash": b"HGETALL", b"set": b"SMEMBERS", b"string": b"GET"}.get(kind)
            if read is None:
                continue
            a.send(encode_command([read, k]))
            node = tree(a.read_reply())
            if kind == b"string":
                cmds.append([b"SET", k, node[1]])
            else:
                write = b"HSET" if kind == b"hash" else b"SADD"
                cmds.append([write, k] + [c[1] for c in node[1]])
        for c in self.pair.conns:
            c.send(b"".join(encode_command(cmd) for cmd in cmds))
            for _ in cmds:
                c.read_reply()


# ---------------------------------------------------------------- random commands

KEYS = [b"k%d" % i for i in range(8)]
VALUES = [b"", b"v", b"hello", b"0", b"1", b"-1", b"7", b"42", b"100", b"3.5", b"-2.25",
          b"1e3", b" 1", b"0x10", b"9223372036854775807", b"-9223372036854775808",
          b"a\x00b", b"\xff\xfe", b"abc def", b"12345678901234567890"]
INCREMENTS = [b"0", b"1", b"-1", b"5", b"-100", b"9223372036854775807", b"-9223372036854775808",
              b"1.5", b"x", b"", b"99999999999999999999"]
FLOAT_INCREMENTS = [b"0", b"1", b"-1.5", b"0.1", b"3e2", b"1e308", b"-1e308", b"inf", b"nan",
                    b"x", b"", b"10.50", b"5.0e3"]


def random_case(rng, word):
    """Return word in upper, lower or mixed case."""
    choice = rng.randrange(3)
    if choice == 0:
        return word.upper()
    if choice == 1:
        return word.lower()
    return bytes(c ^ 0x20 if rng.random() < 0.5 and chr(c).isalpha() else c for c in word)


def random_expiry(rng, allow_keepttl=True):
    """A random SET/GETEX expiry option list: EX 1..2, PX 1..200, EXAT, PXAT, KEEPTTL, or a bad one."""
    now_ms = int(time.time() * 1000)
    roll = rng.randrange(20)
    if roll < 4:
        return [b"EX", b"%d" % rng.randint(1, 2)]
    if roll < 10:
        return [b"PX", b"%d" % rng.randint(1, 200)]
    if roll < 12:
        return [b"EXAT", b"%d" % (now_ms // 1000 + rng.randint(1, 2))]
    if roll < 15:
        return [b"PXAT", b"%d" % (now_ms + rng.randint(1, 200))]
    if roll < 17 and allow_keepttl:
        return [b"KEEPTTL"]
    return rng.choice([[b"EX", b"0"], [b"PX", b"-5"], [b"EX", b"abc"], [b"PX"],
                       [b"EX", b"9223372036854775807"], [b"PXAT", b"0"]])


def random_command(rng):
    """Generate one random string/key command; return (argv, keys it touches)."""
    key = rng.choice(KEYS)
    key2 = rng.choice(KEYS)
    val = rng.choice(VALUES)
    some = rng.sample(KEYS, rng.randint(1, 4))
    now_ms = int(time.time() * 1000)
    name = rng.choice([
        "GET", "SET", "SET", "SET", "SETEX", "PSETEX", "SETNX", "GETEX", "GETDEL", "GETSET",
        "MGET", "MSET", "MSETNX", "APPEND", "STRLEN", "INCR", "DECR", "INCRBY", "DECRBY",
        "INCRBYFLOAT", "GETRANGE", "SETRANGE", "DEL", "UNLINK", "EXISTS", "TOUCH", "EXPIRE",
        "PEXPIRE", "EXPIREAT", "PEXPIREAT", "TTL", "PTTL", "PERSIST", "TYPE", "RENAME",
        "RENAMENX", "COPY", "DBSIZE", "EXPIRETIME", "PEXPIRETIME",
    ])
    if name == "SET":
        opts = []
        if rng.random() < 0.4:
            opts.append([rng.choice([b"NX", b"XX"])])
        if rng.random() < 0.3:
            opts.append([b"GET"])
        if rng.random() < 0.6:
            opts.append(random_expiry(rng))
        if rng.random() < 0.05:
            opts.append([rng.choice([b"NX", b"XX", b"KEEPTTL", b"EX", b"BOGUS"])])
        rng.shuffle(opts)
        argv = [b"SET", key, val] + [random_case(rng, w) if w.isalpha() else w for o in opts for w in o]
        return argv, [key]
    if name == "SETEX":
        return [b"SETEX", key, rng.choice([b"1", b"2", b"0", b"-1", b"x"]), val], [key]
    if name == "PSETEX":
        return [b"PSETEX", key, b"%d" % rng.randint(-1, 200), val], [key]
    if name in ("SETNX", "GETSET", "APPEND"):
        return [name.encode(), key, val], [key]
    if name in ("GET", "GETDEL", "STRLEN", "INCR", "DECR", "TTL", "PTTL", "PERSIST", "TYPE",
                "EXPIRETIME", "PEXPIRETIME"):
        return [name.encode(), key], [key]
    if name == "GETEX":
        roll = rng.randrange(6)
        opt = [] if roll == 0 else [b"PERSIST"] if roll == 1 else random_expiry(rng, False)
        return [b"GETEX", key] + [random_case(rng, w) if w.isalpha() else w for w in opt], [key]
    if name in ("MGET", "DEL", "UNLINK", "EXISTS", "TOUCH"):
        return [name.encode()] + some, some
    if name in ("MSET", "MSETNX"):
        argv = [name.encode()]
        for k in some:
            argv += [k, rng.choice(VALUES)]
        return argv, some
    if name in ("INCRBY", "DECRBY"):
        return [name.encode(), key, rng.choice(INCREMENTS)], [key]
    if name == "INCRBYFLOAT":
        return [b"INCRBYFLOAT", key, rng.choice(FLOAT_INCREMENTS)], [key]
    if name == "GETRANGE":
        return [b"GETRANGE", key, b"%d" % rng.randint(-6, 8), b"%d" % rng.randint(-6, 8)], [key]
    if name == "SETRANGE":
        return [b"SETRANGE", key, b"%d" % rng.randint(-1, 12), val], [key]
    if name in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        t = {"EXPIRE": rng.randint(-1, 2), "PEXPIRE": rng.randint(-5, 200),
             "EXPIREAT": now_ms // 1000 + rng.randint(-1, 2),
             "PEXPIREAT": now_ms + rng.randint(-10, 200)}[name]
        flags = rng.choice([[], [], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"NX", b"XX"], [b"GT", b"LT"]])
        return [name.encode(), key, b"%d" % t] + [random_case(rng, f) for f in flags], [key]
    if name in ("RENAME", "RENAMENX"):
        return [name.encode(), key, key2], [key, key2]
    if name == "COPY":
        return [b"COPY", key, key2] + ([b"REPLACE"] if rng.random() < 0.5 else []), [key, key2]
    return [b"DBSIZE"], KEYS


# ---------------------------------------------------------------- random hash and set commands

COLLECTION_SHARE = 0.35  # share of random-mode commands that are hash/set commands
CKEYS = [b"c%d" % i for i in range(6)]
FIELDS = [b"f0", b"f1", b"f2", b"f3", b"F0", b"", b"a\x00b"]
# Fewer than 10 distinct members (SSCAN's default COUNT), so a set's scan is always one page.
MEMBERS = [b"0", b"1", b"2", b"-5", b"10", b"01", b"a", b"b", b" 1"]
LONG_VALUE = b"x" * 65  # converts a listpack hash


def random_collection_command(rng):
    """Generate one random hash/set command over c0..c5; return (argv, keys, mode).

    mode is a case-file line mode ("", "=", "?"), or "o": exact, except that a reply
    from a hashtable-encoded key (on A) may come in another order.  Commands whose
    effect is random on each server (SPOP of part of a set) are not generated.
    """
    key, key2, key3 = rng.choice(CKEYS), rng.choice(CKEYS), rng.choice(CKEYS)
    # Hashes live mostly in c0..c2 and sets in c3..c5, so most commands find their type and
    # some find another (WRONGTYPE).
    hkey, skey, skey2 = (rng.choice(CKEYS[:3] if rng.random() < 0.85 else CKEYS),
                         rng.choice(CKEYS[3:] if rng.random() < 0.85 else CKEYS),
                         rng.choice(CKEYS[3:] if rng.random() < 0.85 else CKEYS))
    some_sets = rng.sample(CKEYS[3:], rng.randint(1, 3)) if rng.random() < 0.8 else None
    field = rng.choice(FIELDS)
    member = rng.choice(MEMBERS)
    value = LONG_VALUE if rng.random() < 0.03 else rng.choice(VALUES)
    fields = rng.sample(FIELDS, rng.randint(1, 3))
    members = rng.sample(MEMBERS, rng.randint(1, 3))
    some = rng.sample(CKEYS, rng.randint(1, 3))
    name = rng.choice([
        "HSET", "HSET", "HSET", "HSETNX", "HGET", "HMGET", "HMSET", "HGETALL", "HDEL", "HEXISTS",
        "HLEN", "HKEYS", "HVALS", "HINCRBY", "HINCRBYFLOAT", "HSTRLEN", "HSCAN", "HRANDFIELD",
        "SADD", "SADD", "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SPOP",
        "SRANDMEMBER", "SMOVE", "SSCAN", "SINTER", "SUNION", "SDIFF", "SINTERSTORE",
        "SUNIONSTORE", "SDIFFSTORE", "SINTERCARD", "TYPE", "OBJECT", "DEL", "EXISTS", "RENAME",
        "COPY", "GET", "APPEND",
    ])
    if name.startswith("H"):
        key = hkey
    elif name.startswith("S"):
        key, key2 = skey, skey2
        some = some_sets or some
    if name == "APPEND" and rng.random() < 0.7:
        name = "GET"
    if name in ("HSET", "HMSET"):
        argv = [name.encode(), key]
        for f in fields:
            argv += [f, value if rng.random() < 0.5 else rng.choice(VALUES)]
        return argv, [key], ""
    if name == "HSETNX":
        return [b"HSETNX", key, field, value], [key], ""
    if name in ("HGET", "HEXISTS", "HSTRLEN"):
        return [name.encode(), key, field], [key], ""
    if name in ("HMGET", "HDEL"):
        return [name.encode(), key] + fields, [key], ""
    if name in ("HGETALL", "HKEYS", "HVALS", "SMEMBERS"):
        return [name.encode(), key], [key], "o"
    if name in ("HLEN", "SCARD", "TYPE"):
        return [name.encode(), key], [key], ""
    if name == "HINCRBY":
        return [b"HINCRBY", key, field, rng.choice(INCREMENTS)], [key], ""
    if name == "HINCRBYFLOAT":
        return [b"HINCRBYFLOAT", key, field, rng.choice(FLOAT_INCREMENTS)], [key], ""
    if name in ("HSCAN", "SSCAN"):
        # One page must hold the whole key, also as a hashtable (whose pages Redis cuts at
        # COUNT reply items: two per hash field).
        opts = rng.choice([[], [], [b"MATCH", b"f*"], [b"MATCH", b"*1*"]])
        if name == "HSCAN":
            opts += [b"COUNT", b"100"]
        return [name.encode(), key, b"0"] + opts, [key], "o"
    if name in ("HRANDFIELD", "SRANDMEMBER"):
        form = rng.choice([[], [b"100"], [b"-3"], [b"0"], [b"2"], [b"x"], [b"100", b"WITHVALUES"],
                           [b"-2", b"withvalues"]])
        if name == "SRANDMEMBER" and len(form) > 1:
            form = form[:1]
        mode = "o" if form[:1] == [b"100"] else "?" if form[:1] in ([], [b"-3"], [b"2"], [b"-2"]) else ""
        return [name.encode(), key] + form, [key], mode
    if name in ("SADD", "SREM", "SMISMEMBER"):
        return [name.encode(), key] + members, [key], ""
    if name == "SISMEMBER":
        return [b"SISMEMBER", key, member], [key], ""
    if name == "SPOP":
        return [b"SPOP", key, rng.choice([b"100", b"100", b"0", b"-1"])], [key], "="
    if name == "SMOVE":
        return [b"SMOVE", key, key2, member], [key, key2], ""
    if name in ("SINTER", "SUNION", "SDIFF"):
        return [name.encode()] + some, some, "="
    if name in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        return [name.encode(), key3] + some, some + [key3], ""
    if name == "SINTERCARD":
        limit = rng.choice([[], [b"LIMIT", b"1"], [b"LIMIT", b"0"], [b"LIMIT", b"-1"]])
        return [b"SINTERCARD", b"%d" % len(some)] + some + limit, some, ""
    if name == "OBJECT":
        return [b"OBJECT", b"ENCODING", key], [key], ""
    if name in ("DEL", "EXISTS"):
        return [name.encode()] + some, some, ""
    if name in ("RENAME", "COPY"):
        return [name.encode(), key, key2], [key, key2], ""
    if name == "GET":
        return [b"GET", key], [key], ""
    return [b"APPEND", key, value], [key], ""


# ---------------------------------------------------------------- main


def parse_addr(text):
    """Parse HOST:PORT into a (host, port) pair."""
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def main():
    """Command-line entry point; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="reference server HOST:PORT (redis-server)")
    ap.add_argument("--b", required=True, help="server under test HOST:PORT")
    ap.add_argument("--cases", help="directory of *.txt case files (or one file)")
    ap.add_argument("--random", type=int, default=0, metavar="N", help="random commands to send")
    ap.add_argument("--seed", type=int, default=1, help="random seed")
    ap.add_argument("--dump", action="store_true", help="print every command with A's reply")
    args = ap.parse_args()
    if not args.cases and not args.random:
        ap.error("nothing to do: give --cases and/or --random")
    runner = Runner(parse_addr(args.a), parse_addr(args.b), dump=args.dump)
    try:
        if args.cases:
            files = [args.cases] if os.path.isfile(args.cases) else sorted(
                glob.glob(os.path.join(args.cases, "*.txt")))
            for path in files:
                runner.run_file(path)
        if args.random:
            runner.run_random(args.random, args.seed)
    except (ConnectionRefusedError, socket.timeout, Closed) as e:
        print("cannot talk to a server (did it crash?): %r" % e)
        return 2
    if runner.resyncs:
        print("random mode: %d expiry races re-synchronised (not counted as differences)" % runner.resyncs)
    print("compared %d replies in %d cases: %d differences" % (runner.compared, runner.cases, runner.differences))
    return 1 if runner.differences else 0


if __name__ == "__main__":
    sys.exit(main())
