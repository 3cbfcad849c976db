//! Connection commands against the real binary: PING, ECHO, HELLO, AUTH, SELECT, CLIENT …, QUIT,
//! RESET, INFO's encoding, and the unknown-command error. Raw reply bytes checked against
//! redis-server 7.0.15, except CLIENT SETINFO, which sesame implements on purpose although
//! Redis 7.0 lacks it.

mod common;

use std::time::Duration;

use common::{bulk, encode, int_of, parse, poll_until, show, Conn, TestServer, Value};

const OK: &[u8] = b"+OK\r\n";
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const HELLO_NOAUTH: &[u8] = b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n";

/// The HELLO reply for protocol `proto`, with `id` standing for the client id.
fn hello_reply(proto: u8, id: i64) -> Vec<u8> {
    let head: &[u8] = if proto == 3 { b"%7\r\n" } else { b"*14\r\n" };
    let mut out = head.to_vec();
    out.extend_from_slice(b"$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n");
    out.extend_from_slice(format!("$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n").as_bytes());
    out.extend_from_slice(
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
    );
    out
}

/// Sends HELLO with these arguments and asserts the exact reply for `proto`, whatever the id;
/// returns the id.
fn expect_hello(c: &mut Conn, args: &[&str], proto: u8) -> i64 {
    let reply = c.cmd(args);
    let marker: &[u8] = b"$2\r\nid\r\n:";
    let at = reply
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("{args:?}: no id in {}", show(&reply)))
        + marker.len();
    let end = at + reply[at..].iter().position(|&b| b == b'\r').unwrap();
    let id: i64 = std::str::from_utf8(&reply[at..end])
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        show(&reply),
        show(&hello_reply(proto, id)),
        "reply to {args:?} (left: got, right: expected)"
    );
    id
}

/// The text of a CLIENT LIST / CLIENT INFO reply (bulk in RESP2, verbatim `txt` in RESP3).
fn client_text(reply: &[u8]) -> String {
    let text = match parse(reply) {
        Value::Bulk(b) => b,
        other => panic!("expected a bulk reply, got {other:?}"),
    };
    let text = String::from_utf8(text).unwrap();
    text.strip_prefix("txt:")
        .map(str::to_string)
        .unwrap_or(text)
}

/// The CLIENT LIST line of the client with this id, as field → value.
fn client_line(list: &str, id: i64) -> Vec<(String, String)> {
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no client id={id} in {list:?}"));
    line.split(' ')
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field<'a>(line: &'a [(String, String)], name: &str) -> &'a str {
    line.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {name} in {line:?}"))
}

#[test]
fn ping_and_echo() {
    let s = TestServer::start(&[]);
    let rows: &[(&str, &[u8])] = &[
        ("PING", b"+PONG\r\n"),
        ("ping hi", b"$2\r\nhi\r\n"),
        (
            "PING a b",
            b"-ERR wrong number of arguments for 'ping' command\r\n",
        ),
        ("ECHO x", b"$1\r\nx\r\n"),
        (
            "ECHO",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
        ),
        (
            "ECHO a b",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
        ),
    ];
    s.conn().expect_rows(rows);
    // The same bytes under RESP3.
    s.conn3().expect_rows(rows);
    let mut c = s.conn();
    c.expect(&["ECHO", ""], b"$0\r\n\r\n");
    c.expect(&[b"PING".as_slice(), b"a\r\n\0b"], &bulk(b"a\r\n\0b"));
}

#[test]
fn hello_versions() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let id = c.client_id();
    assert_eq!(expect_hello(&mut c, &["HELLO"], 2), id);
    assert_eq!(expect_hello(&mut c, &["HELLO", "2"], 2), id);
    c.expect_run("GET nokey", b"$-1\r\n");
    assert_eq!(expect_hello(&mut c, &["HELLO", "3"], 3), id);
    c.expect_run("GET nokey", b"_\r\n");
    // HELLO without a version answers in the current protocol and keeps it.
    expect_hello(&mut c, &["hello"], 3);
    c.expect_run("GET nokey", b"_\r\n");
    expect_hello(&mut c, &["HELLO", "2"], 2);
    c.expect_run("GET nokey", b"$-1\r\n");
    c.expect_rows(&[
        ("HELLO 4", b"-NOPROTO unsupported protocol version\r\n"),
        ("HELLO 1", b"-NOPROTO unsupported protocol version\r\n"),
        ("HELLO 0", b"-NOPROTO unsupported protocol version\r\n"),
        ("HELLO -1", b"-NOPROTO unsupported protocol version\r\n"),
        (
            "HELLO abc",
            b"-ERR Protocol version is not an integer or out of range\r\n",
        ),
        (
            "HELLO 2 foo",
            b"-ERR Syntax error in HELLO option 'foo'\r\n",
        ),
        (
            "HELLO 2 AUTH default",
            b"-ERR Syntax error in HELLO option 'AUTH'\r\n",
        ),
        (
            "HELLO 2 SETNAME",
            b"-ERR Syntax error in HELLO option 'SETNAME'\r\n",
        ),
        // A failed HELLO changed nothing.
        ("GET nokey", b"$-1\r\n"),
    ]);
    // Fresh connections get fresh ids.
    let mut other = s.conn();
    assert_ne!(expect_hello(&mut other, &["HELLO", "3"], 3), id);
}

#[test]
fn hello_setname_and_auth_without_a_password() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    expect_hello(&mut c, &["HELLO", "3", "SETNAME", "foo"], 3);
    c.expect_run("CLIENT GETNAME", b"$3\r\nfoo\r\n");
    c.expect(
        &["HELLO", "2", "SETNAME", "a b"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    // The failed HELLO did not switch the protocol or the name.
    c.expect_run("CLIENT GETNAME", b"$3\r\nfoo\r\n");
    // The default user has no password: any password authenticates it.
    expect_hello(&mut c, &["HELLO", "2", "AUTH", "default", "x"], 2);
    c.expect_run("HELLO 3 AUTH someone x", WRONGPASS);
    c.expect_run("GET nokey", b"$-1\r\n");
}

#[test]
fn select() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_rows(&[
        ("SELECT 0", OK),
        ("SELECT 15", OK),
        ("SET k v", OK),
        ("SELECT 16", b"-ERR DB index is out of range\r\n"),
        ("SELECT -1", b"-ERR DB index is out of range\r\n"),
        (
            "SELECT x",
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            "SELECT",
            b"-ERR wrong number of arguments for 'select' command\r\n",
        ),
        ("GET k", b"$1\r\nv\r\n"),
        ("SELECT 0", OK),
        ("GET k", b"$-1\r\n"),
    ]);
}

#[test]
fn client_id_setname_getname() {
    let s = TestServer::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let (ia, ib) = (a.client_id(), b.client_id());
    assert!(ia > 0 && ib > 0 && ia != ib, "ids {ia} {ib}");
    assert_eq!(a.client_id(), ia, "CLIENT ID is stable");
    a.expect_rows(&[
        ("CLIENT GETNAME", b"$-1\r\n"),
        ("client setname foo", OK),
        ("CLIENT GETNAME", b"$3\r\nfoo\r\n"),
        ("CLIENT SETNAME a", OK),
        ("CLIENT GETNAME", b"$1\r\na\r\n"),
        (
            "CLIENT SETNAME",
            b"-ERR wrong number of arguments for 'client|setname' command\r\n",
        ),
        (
            "CLIENT SETNAME a b",
            b"-ERR wrong number of arguments for 'client|setname' command\r\n",
        ),
        (
            "CLIENT ID x",
            b"-ERR wrong number of arguments for 'client|id' command\r\n",
        ),
        (
            "CLIENT GETNAME x",
            b"-ERR wrong number of arguments for 'client|getname' command\r\n",
        ),
        (
            "CLIENT",
            b"-ERR wrong number of arguments for 'client' command\r\n",
        ),
        (
            "CLIENT foo",
            b"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
        ),
    ]);
    for bad in ["a b", "a\nb", "caf\u{e9}", "x\x7f"] {
        a.expect(
            &["CLIENT", "SETNAME", bad],
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        );
    }
    a.expect(&["CLIENT", "SETNAME", ""], OK);
    a.expect_run("CLIENT GETNAME", b"$-1\r\n");
    // Names are per connection.
    b.expect_run("CLIENT GETNAME", b"$-1\r\n");
    let mut r3 = s.conn3();
    r3.expect_run("CLIENT GETNAME", b"_\r\n");
}

/// CLIENT SETINFO is sesame's on purpose (Redis 7.2's texts): newer client libraries send it at
/// connect time.
#[test]
fn client_setinfo() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_rows(&[
        ("CLIENT SETINFO LIB-NAME redis-py", OK),
        ("client setinfo lib-ver 5.0.1", OK),
        ("CLIENT SETINFO x y", b"-ERR Unrecognized option 'x'\r\n"),
        (
            "CLIENT SETINFO lib-name",
            b"-ERR wrong number of arguments for 'client|setinfo' command\r\n",
        ),
    ]);
    c.expect(
        &["CLIENT", "SETINFO", "lib-name", "a b"],
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
    );
    c.expect(
        &["CLIENT", "SETINFO", "lib-ver", "1.0 beta"],
        b"-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n",
    );
}

#[test]
fn client_list_and_info() {
    let s = TestServer::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let (ia, ib) = (a.client_id(), b.client_id());
    b.expect_run("CLIENT SETNAME other", OK);
    b.expect_run("SELECT 2", OK);
    b.expect_run("GET x", b"$-1\r\n");

    let list = client_text(&a.run("CLIENT LIST"));
    assert!(list.ends_with('\n'), "{list:?}");
    assert_eq!(list.lines().count(), 2, "{list:?}");
    let mine = client_line(&list, ia);
    assert_eq!(field(&mine, "addr"), a.local_addr().to_string());
    assert_eq!(field(&mine, "laddr"), s.addr.to_string());
    assert_eq!(field(&mine, "name"), "");
    assert_eq!(field(&mine, "db"), "0");
    assert_eq!(field(&mine, "resp"), "2");
    let theirs = client_line(&list, ib);
    assert_eq!(field(&theirs, "addr"), b.local_addr().to_string());
    assert_eq!(field(&theirs, "name"), "other");
    assert_eq!(field(&theirs, "db"), "2");
    assert_eq!(field(&theirs, "cmd"), "get");
    for name in ["fd", "age", "idle", "flags", "multi", "user", "events"] {
        field(&mine, name);
    }

    let info = client_text(&b.run("CLIENT INFO"));
    assert_eq!(info.lines().count(), 1, "{info:?}");
    assert_eq!(field(&client_line(&info, ib), "name"), "other");

    let only_b = client_text(&a.cmd(&["CLIENT", "LIST", "ID", &ib.to_string()]));
    assert_eq!(only_b.lines().count(), 1);
    client_line(&only_b, ib);
    let both = client_text(&a.cmd(&["CLIENT", "LIST", "ID", &ib.to_string(), &ia.to_string()]));
    assert_eq!(both.lines().count(), 2);
    let normal = client_text(&a.run("CLIENT LIST TYPE normal"));
    assert_eq!(normal.lines().count(), 2);
    a.expect_rows(&[
        ("CLIENT LIST ID 999999", b"$0\r\n\r\n"),
        ("CLIENT LIST ID x", b"-ERR Invalid client ID\r\n"),
        ("CLIENT LIST foo", b"-ERR syntax error\r\n"),
        (
            "CLIENT INFO x",
            b"-ERR wrong number of arguments for 'client|info' command\r\n",
        ),
    ]);

    // A closed connection leaves the list.
    drop(b);
    assert!(
        poll_until(Duration::from_secs(5), || client_text(
            &a.run("CLIENT LIST")
        )
        .lines()
        .count()
            == 1),
        "the closed connection stayed in CLIENT LIST"
    );

    // RESP3: verbatim strings of format txt; the line says resp=3.
    let mut r3 = s.conn3();
    let reply = r3.run("CLIENT INFO");
    assert!(reply.starts_with(b"="), "{}", show(&reply));
    assert!(
        reply[..16].windows(5).any(|w| w == b"\r\ntxt"),
        "{}",
        show(&reply)
    );
    let info = client_text(&reply);
    let id = r3.client_id();
    assert_eq!(field(&client_line(&info, id), "resp"), "3");
    r3.expect_run("CLIENT LIST ID 999999", b"=4\r\ntxt:\r\n");
}

/// CLIENT LIST ID takes any integers: ids that are zero or negative match nobody, only a
/// non-integer is an error.
#[test]
fn client_list_id_accepts_any_integer() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let id = c.client_id();
    c.expect_rows(&[
        ("CLIENT LIST ID 0", b"$0\r\n\r\n"),
        ("CLIENT LIST ID -1", b"$0\r\n\r\n"),
        ("CLIENT LIST ID 0 x", b"-ERR Invalid client ID\r\n"),
    ]);
    let both = client_text(&c.cmd(&["CLIENT", "LIST", "ID", "0", &id.to_string()]));
    client_line(&both, id);
}

/// CLIENT LIST's `cmd=` is the last command run, by its full name (`client|info` for a
/// subcommand); for the caller it is the command running now.
#[test]
fn client_list_cmd_field_names_the_command() {
    let s = TestServer::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    let ib = b.client_id();
    b.expect_run("CLIENT SETNAME x", OK);
    let ia = a.client_id();
    let list = client_text(&a.run("CLIENT LIST"));
    let info = client_text(&a.run("CLIENT INFO"));
    let got = [
        field(&client_line(&list, ib), "cmd").to_string(),
        field(&client_line(&list, ia), "cmd").to_string(),
        field(&client_line(&info, ia), "cmd").to_string(),
    ];
    assert_eq!(
        got,
        ["client|setname", "client|list", "client|info"],
        "cmd= of: the other client after CLIENT SETNAME, the caller in CLIENT LIST, the caller \
         in CLIENT INFO"
    );
}

#[test]
fn client_kill() {
    let s = TestServer::start(&[]);
    let mut a = s.conn();
    let ia = a.client_id();

    // By ID: the other connection is closed.
    let mut b = s.conn();
    let ib = b.client_id();
    a.expect(&["CLIENT", "KILL", "ID", &ib.to_string()], b":1\r\n");
    b.expect_closed();
    a.expect(&["CLIENT", "KILL", "ID", &ib.to_string()], b":0\r\n");

    // By ADDR.
    let mut b = s.conn();
    b.expect_run("PING", b"+PONG\r\n");
    let addr = b.local_addr().to_string();
    a.expect(&["CLIENT", "KILL", "ADDR", &addr], b":1\r\n");
    b.expect_closed();

    // The old form: an address alone, +OK or an error.
    let mut b = s.conn();
    b.expect_run("PING", b"+PONG\r\n");
    let addr = b.local_addr().to_string();
    a.expect(&["CLIENT", "KILL", &addr], OK);
    b.expect_closed();
    a.expect(&["CLIENT", "KILL", &addr], b"-ERR No such client\r\n");

    // SKIPME defaults to yes for the filter form.
    a.expect(&["CLIENT", "KILL", "ID", &ia.to_string()], b":0\r\n");
    let me = a.local_addr().to_string();
    a.expect(&["CLIENT", "KILL", "ADDR", &me], b":0\r\n");
    a.expect_rows(&[
        ("CLIENT KILL 1.2.3.4:5", b"-ERR No such client\r\n"),
        ("CLIENT KILL ADDR 1.2.3.4:5", b":0\r\n"),
        ("CLIENT KILL ID 99999", b":0\r\n"),
        (
            "CLIENT KILL ID x",
            b"-ERR client-id should be greater than 0\r\n",
        ),
        (
            "CLIENT KILL ID 0",
            b"-ERR client-id should be greater than 0\r\n",
        ),
        ("CLIENT KILL ID", b"-ERR No such client\r\n"),
        ("CLIENT KILL foo bar", b"-ERR syntax error\r\n"),
        ("CLIENT KILL ID 5 SKIPME maybe", b"-ERR syntax error\r\n"),
        (
            "CLIENT KILL TYPE foo",
            b"-ERR Unknown client type 'foo'\r\n",
        ),
        (
            "CLIENT KILL",
            b"-ERR wrong number of arguments for 'client|kill' command\r\n",
        ),
    ]);
    // Killing itself with SKIPME no: the reply, then the close.
    a.expect(
        &["CLIENT", "KILL", "ID", &ia.to_string(), "SKIPME", "no"],
        b":1\r\n",
    );
    a.expect_closed();
    // The old form on itself: +OK, then the close.
    let mut c = s.conn();
    let me = c.local_addr().to_string();
    c.expect(&["CLIENT", "KILL", &me], OK);
    c.expect_closed();
}

/// CLIENT KILL USER names a user that must exist (`default` is the only one).
#[test]
fn client_kill_user() {
    let s = TestServer::start(&[]);
    let mut a = s.conn();
    let mut b = s.conn();
    b.expect_run("PING", b"+PONG\r\n");
    a.expect_run("CLIENT KILL USER nobody", b"-ERR No such user 'nobody'\r\n");
    b.expect_run("PING", b"+PONG\r\n");
    a.expect_run("CLIENT KILL USER default", b":1\r\n");
    b.expect_closed();
}

#[test]
fn client_reply_off_on_skip() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    // OFF: nothing comes back until ON, whose +OK is the very next reply.
    let mut batch = encode(&["CLIENT", "REPLY", "OFF"]);
    batch.extend(encode(&["PING"]));
    batch.extend(encode(&["SET", "k", "v"]));
    batch.extend(encode(&["NOSUCHCOMMAND"]));
    batch.extend(encode(&["CLIENT", "REPLY", "ON"]));
    c.send(&batch);
    assert_eq!(show(&c.read_reply()), show(OK));
    // The commands ran.
    c.expect_run("GET k", b"$1\r\nv\r\n");
    // SKIP: the next command's reply only.
    let mut batch = encode(&["CLIENT", "REPLY", "SKIP"]);
    batch.extend(encode(&["PING", "a"]));
    batch.extend(encode(&["PING", "b"]));
    c.send(&batch);
    assert_eq!(show(&c.read_reply()), show(b"$1\r\nb\r\n"));
    c.expect_rows(&[
        ("CLIENT REPLY ON", OK),
        ("CLIENT REPLY foo", b"-ERR syntax error\r\n"),
        (
            "CLIENT REPLY",
            b"-ERR wrong number of arguments for 'client|reply' command\r\n",
        ),
    ]);
    // With OFF and no ON, the connection stays silent.
    c.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    c.send(&encode(&["PING"]));
    c.expect_silence(Duration::from_millis(200));
}

#[test]
fn quit_closes_after_ok() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_run("QUIT", OK);
    c.expect_closed();
    // Requests pipelined after QUIT are not executed.
    let mut c = s.conn();
    let mut batch = encode(&["QUIT"]);
    batch.extend(encode(&["SET", "after", "quit"]));
    c.send(&batch);
    assert_eq!(c.read_reply(), OK);
    c.expect_closed();
    s.conn().expect_run("EXISTS after", b":0\r\n");
    // QUIT takes any arguments.
    let mut c = s.conn();
    c.expect_run("QUIT now please", OK);
    c.expect_closed();
}

#[test]
fn reset_restores_the_connection_defaults() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_run("SET k db0", OK);
    c.expect_run("SELECT 3", OK);
    c.expect_run("CLIENT SETNAME nm", OK);
    expect_hello(&mut c, &["HELLO", "3"], 3);
    c.expect_run("RESET", b"+RESET\r\n");
    c.expect_rows(&[
        ("CLIENT GETNAME", b"$-1\r\n"),
        ("GET k", b"$3\r\ndb0\r\n"),
        ("GET nokey", b"$-1\r\n"),
        (
            "RESET x",
            b"-ERR wrong number of arguments for 'reset' command\r\n",
        ),
    ]);
    // RESET turns replies back on.
    c.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    c.expect_run("RESET", b"+RESET\r\n");
    c.expect_run("PING", b"+PONG\r\n");
}

#[test]
fn unknown_command_texts() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_rows(&[
        (
            "foo a b",
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
        ),
        (
            "foo",
            b"-ERR unknown command 'foo', with args beginning with: \r\n",
        ),
        (
            "FOO x",
            b"-ERR unknown command 'FOO', with args beginning with: 'x' \r\n",
        ),
    ]);
    // CR and LF become spaces; a NUL ends the argument.
    c.expect(
        &[b"FOO".as_slice(), b"a\r\nb", b"x"],
        b"-ERR unknown command 'FOO', with args beginning with: 'a  b' 'x' \r\n",
    );
    c.expect(
        &[b"FOO".as_slice(), b"a\0b"],
        b"-ERR unknown command 'FOO', with args beginning with: 'a' \r\n",
    );
    // The name and the argument list are cut at 128 bytes.
    let name = "F".repeat(200);
    let arg = "b".repeat(200);
    let expected = format!(
        "-ERR unknown command '{}', with args beginning with: '{}' \r\n",
        "F".repeat(128),
        "b".repeat(128)
    );
    c.expect(&[name.as_str(), arg.as_str(), "xyz"], expected.as_bytes());
    let (a, b) = ("a".repeat(100), "c".repeat(30));
    let expected = format!(
        "-ERR unknown command 'f', with args beginning with: '{a}' '{}' \r\n",
        "c".repeat(25)
    );
    c.expect(&["f", a.as_str(), b.as_str(), "d"], expected.as_bytes());
    // Subcommands of a container.
    c.expect_run(
        "CONFIG nosuch",
        b"-ERR unknown subcommand 'nosuch'. Try CONFIG HELP.\r\n",
    );
    // Unknown commands are errors, not protocol errors: the connection goes on.
    c.expect_run("PING", b"+PONG\r\n");
}

#[test]
fn info_is_a_bulk_or_a_verbatim_string() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    let reply = c.run("INFO server");
    let text = String::from_utf8(parse(&reply).bytes().to_vec()).unwrap();
    assert!(reply.starts_with(b"$"), "{}", show(&reply));
    assert!(
        text.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{text:?}"
    );
    assert!(text.contains("\r\nredis_mode:standalone\r\n"), "{text:?}");
    assert!(
        text.contains(&format!("\r\ntcp_port:{}\r\n", s.addr.port())),
        "{text:?}"
    );
    let mut r3 = s.conn3();
    let reply = r3.run("INFO server");
    assert!(reply.starts_with(b"="), "{}", show(&reply));
    let text = String::from_utf8(parse(&reply).bytes().to_vec()).unwrap();
    assert!(text.starts_with("txt:# Server\r\n"), "{text:?}");
    r3.expect_run("INFO nosuchsection", b"=4\r\ntxt:\r\n");
}

#[test]
fn auth_without_requirepass() {
    let s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_rows(&[
        (
            "AUTH x",
            b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
        ),
        ("AUTH default x", OK),
        ("AUTH someone x", WRONGPASS),
        ("AUTH", b"-ERR wrong number of arguments for 'auth' command\r\n"),
        ("AUTH a b c", b"-ERR syntax error\r\n"),
        ("PING", b"+PONG\r\n"),
    ]);
}

#[test]
fn auth_with_requirepass() {
    let s = TestServer::start(&["--requirepass", "secret"]);
    let mut c = s.conn();
    c.expect_rows(&[
        ("GET k", NOAUTH),
        ("PING", NOAUTH),
        ("CLIENT ID", NOAUTH),
        ("SELECT 1", NOAUTH),
        // Lookup and arity come before the authentication check.
        (
            "foo",
            b"-ERR unknown command 'foo', with args beginning with: \r\n",
        ),
        (
            "GET",
            b"-ERR wrong number of arguments for 'get' command\r\n",
        ),
        ("AUTH wrong", WRONGPASS),
        ("AUTH default wrong", WRONGPASS),
        ("AUTH foo secret", WRONGPASS),
        ("HELLO 3 AUTH default wrong", WRONGPASS),
        ("GET k", NOAUTH),
        ("AUTH secret", OK),
        ("GET k", b"$-1\r\n"),
        ("AUTH wrong", WRONGPASS),
        // A failed AUTH does not log an authenticated client out.
        ("GET k", b"$-1\r\n"),
        ("AUTH default secret", OK),
        ("PING", b"+PONG\r\n"),
    ]);

    // HELLO without AUTH is refused (exact text: hello_noauth_text) and switches nothing.
    let mut c = s.conn();
    let reply = c.run("HELLO 3");
    assert!(
        reply.starts_with(b"-NOAUTH HELLO must be called with the client already authenticated"),
        "{}",
        show(&reply)
    );
    c.expect_run("AUTH default secret", OK);
    c.expect_run("GET k", b"$-1\r\n");
    c.expect_run("PING", b"+PONG\r\n");

    let mut c = s.conn();
    expect_hello(
        &mut c,
        &["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "cli"],
        3,
    );
    c.expect_run("CLIENT GETNAME", b"$3\r\ncli\r\n");
    c.expect_run("GET k", b"_\r\n");
    // RESET logs out.
    c.expect_run("RESET", b"+RESET\r\n");
    c.expect_run("GET k", NOAUTH);

    // QUIT works before AUTH.
    let mut c = s.conn();
    c.expect_run("QUIT", OK);
    c.expect_closed();
}

/// The exact HELLO text for an unauthenticated client, as Redis 7.0.15 sends it.
#[test]
fn hello_noauth_text() {
    let s = TestServer::start(&["--requirepass", "secret"]);
    let mut c = s.conn();
    c.expect_run("HELLO", HELLO_NOAUTH);
    c.expect_run("HELLO 2", HELLO_NOAUTH);
}

#[test]
fn ids_are_unique_across_many_connections() {
    let s = TestServer::start(&[]);
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let mut c = s.conn();
        assert!(ids.insert(c.client_id()));
    }
    let mut c = s.conn();
    let id = int_of(&c.run("CLIENT ID"));
    assert!(ids.iter().all(|&old| old < id), "ids increase: {id}");
}
