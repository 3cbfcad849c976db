#!/usr/bin/env python3
"""A scripted replay of Spring Session's RedisIndexedSessionRepository traffic.

Spring Session's indexed repository (see shared/research/session-clients.md §2.2) keeps each
session as a hash, a "shadow" string key that expires first, a per-minute expirations set and a
principal index set; it turns keyspace notifications on at startup and listens for
`__keyevent@0__:expired` and `__keyevent@0__:del` to learn that a session ended. This replays
that traffic, byte for byte what Lettuce sends, against one server:

    startup      CONFIG GET/SET notify-keyspace-events, SUBSCRIBE to the two keyevent channels and
                 PSUBSCRIBE to the created-event pattern
    create       HMSET the hash, PUBLISH the created event, APPEND + PEXPIRE the shadow key,
                 PEXPIRE the hash, SADD the principal index and the expirations set
    access       HGETALL, EXISTS, HMSET lastAccessedTime, PEXPIRE again (three times)
    change id    RENAME the hash and the shadow key, move the id in the principal index
    delete       a second session: HGETALL, SREM, DEL of the shadow key (a `del` event), DEL
    expiry       nobody touches the first session: its shadow key must expire and the `expired`
                 event must arrive; the time from the deadline to the event is printed

Usage: spring_replay.py HOST PORT [BACKGROUND] — exits non-zero, saying what was sent and
received, on any unexpected reply or missing event. With BACKGROUND, that many other sessions'
shadow keys (an hour's TTL) are loaded first, as in a server with many users; then the expired
event is only waited for 30 s, and its absence is reported, not failed (Redis samples keys with
a TTL, so in a large keyspace it can take far longer to notice one expired key).
"""

import socket
import sys
import time

NS = b"spring:session:"
SHADOW_TTL_MS = 1500


class Conn:
    """A raw RESP connection that reads one reply at a time."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One reply, decoded: bytes, int, list, None, or ("error", text)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ("error", rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"unexpected reply line {line!r}")

    def call(self, *args, want=...):
        self.send(*args)
        got = self.read()
        if want is not ... and got != want:
            shown = b" ".join(a if isinstance(a, bytes) else str(a).encode() for a in args)
            raise AssertionError(f"sent {shown!r}: got {got!r}, expected {want!r}")
        return got


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    background = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    c = Conn(host, port)
    listener = Conn(host, port)
    for start in range(0, background, 1000):
        batch = range(start, min(start + 1000, background))
        for i in batch:
            c.send("SET", NS + b"sessions:expires:bg%d" % i, "", "EX", 3600)
        for _ in batch:
            c.read()

    # Startup: ConfigureNotifyKeyspaceEventsAction, then the listener container's subscriptions.
    current = c.call("CONFIG", "GET", "notify-keyspace-events")
    flags = current[1].decode() if current else ""
    c.call("CONFIG", "SET", "notify-keyspace-events", flags + "Egx", want=b"OK")
    listener.call("SUBSCRIBE", "__keyevent@0__:del", want=[b"subscribe", b"__keyevent@0__:del", 1])
    listener.call("SUBSCRIBE", "__keyevent@0__:expired", want=[b"subscribe", b"__keyevent@0__:expired", 2])
    listener.call("PSUBSCRIBE", "spring:session:event:0:created:*",
                  want=[b"psubscribe", b"spring:session:event:0:created:*", 3])
    print("ok   startup: notify-keyspace-events and subscriptions")

    def create(sid, user):
        now = int(time.time() * 1000)
        minute = (now // 60000 + 1) * 60000
        c.call("HMSET", NS + b"sessions:" + sid, "creationTime", now, "lastAccessedTime", now,
               "maxInactiveInterval", SHADOW_TTL_MS // 1000, "sessionAttr:user", user, want=b"OK")
        c.call("PUBLISH", b"spring:session:event:0:created:" + sid, b"\xac\xed\x00\x05", want=1)
        c.call("APPEND", NS + b"sessions:expires:" + sid, "", want=0)
        c.call("PEXPIRE", NS + b"sessions:expires:" + sid, SHADOW_TTL_MS, want=1)
        c.call("PEXPIRE", NS + b"sessions:" + sid, SHADOW_TTL_MS + 300000, want=1)
        index = NS + b"index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:"
        c.call("SADD", index + user.encode(), sid, want=1)
        c.call("PEXPIRE", NS + b"expirations:%d" % minute, SHADOW_TTL_MS + 300000)
        c.call("SADD", NS + b"expirations:%d" % minute, b"expires:" + sid, want=1)
        got = listener.read()
        if got != [b"pmessage", b"spring:session:event:0:created:*", b"spring:session:event:0:created:" + sid,
                   b"\xac\xed\x00\x05"]:
            raise AssertionError(f"created event for {sid!r}: got {got!r}")
        return index + user.encode()

    def expect_event(want):
        """Reads events until `want`; others on the way (e.g. the `del` of an emptied index set,
        which Redis emits too) are passed over."""
        seen = []
        while True:
            got = listener.read()
            if got == want:
                return
            seen.append(got)
            if len(seen) > 10:
                raise AssertionError(f"expected event {want!r}, got {seen!r}")

    index = create(b"s1", "alice")
    other_index = create(b"s2", "bob")
    print("ok   create: hash, created event, shadow key, principal index, expirations set")

    for _ in range(3):
        fields = c.call("HGETALL", NS + b"sessions:s1")
        if b"sessionAttr:user" not in fields[::2]:
            raise AssertionError(f"HGETALL returned {fields!r}")
        c.call("EXISTS", NS + b"sessions:s1", want=1)
        c.call("HMSET", NS + b"sessions:s1", "lastAccessedTime", int(time.time() * 1000), want=b"OK")
        c.call("APPEND", NS + b"sessions:expires:s1", "", want=0)
        c.call("PEXPIRE", NS + b"sessions:expires:s1", SHADOW_TTL_MS, want=1)
    print("ok   access: HGETALL, EXISTS, HMSET, shadow key renewed")

    c.call("RENAME", NS + b"sessions:s1", NS + b"sessions:s1b", want=b"OK")
    c.call("RENAME", NS + b"sessions:expires:s1", NS + b"sessions:expires:s1b", want=b"OK")
    c.call("SREM", index, "s1", want=1)
    c.call("SADD", index, "s1b", want=1)
    got = c.call("RENAME", NS + b"sessions:gone", NS + b"sessions:gone2")
    if got != ("error", b"ERR no such key"):
        raise AssertionError(f"RENAME of a missing session: {got!r} (Spring swallows only 'ERR no such key')")
    c.call("SMEMBERS", index, want=[b"s1b"])
    print("ok   change id: RENAME hash and shadow key, principal index moved, ERR no such key")

    c.call("HGETALL", NS + b"sessions:s2")
    c.call("SREM", other_index, "s2", want=1)
    c.call("DEL", NS + b"sessions:expires:s2", want=1)
    expect_event([b"message", b"__keyevent@0__:del", NS + b"sessions:expires:s2"])
    c.call("DEL", NS + b"sessions:s2", want=1)
    expect_event([b"message", b"__keyevent@0__:del", NS + b"sessions:s2"])
    print("ok   delete: del events for the shadow key and the hash")

    # Expiry: nothing touches s1b's shadow key; its expired event must arrive by itself.
    deadline = time.time() * 1000 + c.call("PTTL", NS + b"sessions:expires:s1b")
    listener.sock.settimeout(30 if background else 60)
    try:
        expect_event([b"message", b"__keyevent@0__:expired", NS + b"sessions:expires:s1b"])
    except (socket.timeout, TimeoutError):
        if not background:
            raise AssertionError("no expired event for the idle session's shadow key within 60 s")
        print(f"note the expired event did not arrive within 30 s of the deadline ({background} other shadow keys)")
        return
    lag = time.time() * 1000 - deadline
    c.call("EXISTS", NS + b"sessions:s1b", want=1)
    c.call("CONFIG", "SET", "notify-keyspace-events", flags, want=b"OK")
    print(f"ok   expiry: the expired event of the idle session's shadow key arrived {lag:.0f} ms after its deadline")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, EOFError, OSError) as e:
        print(f"FAIL {e}")
        sys.exit(1)
