//! The process as a whole: startup flags and configuration files (good and bad), the client
//! cap, the idle timeout, and shutdown by signal or by command.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{poll_until, run_to_exit, show, Finished, ReadEnd, TestServer};

const PONG: &[u8] = b"+PONG\r\n";

/// A configuration file in the temp directory, removed on drop.
struct ConfFile(PathBuf);

impl ConfFile {
    fn new(name: &str, text: &str) -> ConfFile {
        let path =
            std::env::temp_dir().join(format!("sesame-test-{}-{name}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        ConfFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ConfFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Asserts a clean refusal to start: non-zero exit, every fragment in stderr, no panic.
fn assert_refused(run: &Finished, fragments: &[&str]) {
    assert!(
        !run.status.success(),
        "exited with {} (stderr {:?})",
        run.status,
        run.stderr
    );
    assert!(
        !run.stderr.contains("panicked"),
        "it panicked: {}",
        run.stderr
    );
    for fragment in fragments {
        assert!(
            run.stderr.contains(fragment),
            "stderr {:?} does not mention {fragment:?}",
            run.stderr
        );
    }
    assert!(
        !run.stdout.contains("listening on"),
        "it listened: {:?}",
        run.stdout
    );
}

#[test]
fn prints_the_bound_address_first() {
    let s = TestServer::start(&[]);
    assert!(s.addr.ip().is_loopback());
    assert_ne!(s.addr.port(), 0, "port 0 must be resolved to the real port");
    assert!(s
        .stdout()
        .starts_with(&format!("listening on {}\n", s.addr)));
    s.conn().expect_run("PING", PONG);
}

/// The default `--bind 127.0.0.1 ::1` starts whether or not the machine has IPv6 (a missing
/// family is skipped with a warning).
#[test]
fn default_bind_starts() {
    let s = TestServer::start_raw(&["--port", "0"]);
    assert_eq!(s.addr.ip().to_string(), "127.0.0.1");
    s.conn().expect_run("PING", PONG);
    // If ::1 was bound, it serves on the same port.
    let ipv6 = format!("listening on [::1]:{}", s.addr.port());
    if poll_until(Duration::from_millis(200), || s.stdout().contains(&ipv6)) {
        let addr = format!("[::1]:{}", s.addr.port()).parse().unwrap();
        common::Conn::connect(addr).expect_run("PING", PONG);
    } else {
        assert!(
            s.stderr().contains("::1"),
            "::1 neither bound nor warned about: {:?}",
            s.stderr()
        );
    }
}

#[test]
fn config_file_directives_apply_and_flags_override_them() {
    let conf = ConfFile::new(
        "good",
        "# a comment\n\nport 0\nbind 127.0.0.1\n  databases 2\nrequirepass \"pass word\"\nmaxclients 5\n",
    );
    let s = TestServer::start_raw(&[conf.path()]);
    let mut c = s.conn();
    c.expect_rows(&[("PING", b"-NOAUTH Authentication required.\r\n")]);
    c.expect(&["AUTH", "pass word"], b"+OK\r\n");
    c.expect_rows(&[
        ("SELECT 1", b"+OK\r\n"),
        ("SELECT 2", b"-ERR DB index is out of range\r\n"),
        (
            "CONFIG GET databases",
            b"*2\r\n$9\r\ndatabases\r\n$1\r\n2\r\n",
        ),
        (
            "CONFIG GET maxclients",
            b"*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n",
        ),
    ]);
    drop(s);
    // Flags given on the command line win over the file.
    let s = TestServer::start_raw(&[conf.path(), "--databases", "3", "--requirepass", "x"]);
    let mut c = s.conn();
    c.expect_run("AUTH x", b"+OK\r\n");
    c.expect_run("SELECT 2", b"+OK\r\n");
}

#[test]
fn bad_config_files_fail_cleanly() {
    let unknown = ConfFile::new("unknown", "port 0\nbind 127.0.0.1\nfrobnicate yes\n");
    let run = run_to_exit(&[unknown.path()]);
    assert_refused(&run, &[unknown.path(), "line 3", "frobnicate"]);

    let bad_value = ConfFile::new("badvalue", "port 0\nmaxclients abc\n");
    let run = run_to_exit(&[bad_value.path()]);
    assert_refused(&run, &[bad_value.path(), "line 2", "maxclients", "abc"]);

    let bad_port = ConfFile::new("badport", "port 70000\n");
    let run = run_to_exit(&[bad_port.path()]);
    assert_refused(&run, &[bad_port.path(), "line 1", "port"]);

    let arity = ConfFile::new("arity", "bind 127.0.0.1\nport 1 2\n");
    let run = run_to_exit(&[arity.path()]);
    assert_refused(&run, &[arity.path(), "line 2", "port"]);

    let quotes = ConfFile::new("quotes", "requirepass \"open\n");
    let run = run_to_exit(&[quotes.path()]);
    assert_refused(&run, &[quotes.path(), "line 1"]);

    let missing = "/nonexistent/dir/sesame.conf";
    let run = run_to_exit(&[missing]);
    assert_refused(&run, &[missing]);
}

#[test]
fn bad_flags_fail_cleanly() {
    assert_refused(&run_to_exit(&["--port", "x"]), &["--port"]);
    assert_refused(&run_to_exit(&["--port", "70000"]), &["--port"]);
    assert_refused(&run_to_exit(&["--port"]), &["--port"]);
    assert_refused(
        &run_to_exit(&["--port", "0", "--bind", "127.0.0.1", "--databases", "0"]),
        &["databases"],
    );
    assert_refused(
        &run_to_exit(&["--port", "0", "--bind", "127.0.0.1", "--shards", "0"]),
        &["shards"],
    );
    assert_refused(
        &run_to_exit(&["--port", "0", "--bind", "not-an-address"]),
        &["not-an-address"],
    );
}

/// An unknown flag or a second positional argument is an error (exit status non-zero), while
/// `--help` and `--version` succeed.
#[test]
fn unknown_arguments_fail_and_help_succeeds() {
    assert_refused(&run_to_exit(&["--no-such-flag"]), &["--no-such-flag"]);
    assert_refused(&run_to_exit(&["-x"]), &["-x"]);
    assert_refused(&run_to_exit(&["a.conf", "b.conf"]), &["b.conf"]);
    for flag in ["--help", "--version"] {
        let run = run_to_exit(&[flag]);
        assert!(run.status.success(), "{flag}: {}", run.status);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn port_in_use_fails_cleanly() {
    let s = TestServer::start(&[]);
    let port = s.addr.port().to_string();
    let run = run_to_exit(&["--port", &port, "--bind", "127.0.0.1"]);
    assert_refused(&run, &[&port]);
    s.conn().expect_run("PING", PONG);
}

#[test]
fn maxclients_refuses_the_extra_connection() {
    let s = TestServer::start(&["--maxclients", "2"]);
    let mut a = s.conn();
    let mut b = s.conn();
    a.expect_run("PING", PONG);
    b.expect_run("PING", PONG);
    let mut c = s.conn();
    assert_eq!(
        show(&c.read_reply()),
        show(b"-ERR max number of clients reached\r\n")
    );
    c.expect_closed();
    a.expect_run("PING", PONG);
    // Once a client leaves, a new one is accepted.
    drop(a);
    let accepted = poll_until(Duration::from_secs(5), || {
        let mut c = s.conn();
        c.send(b"PING\r\n");
        c.try_read_reply(Duration::from_secs(2)).ok().as_deref() == Some(PONG)
    });
    assert!(accepted, "no connection accepted after one of two closed");
    b.expect_run("PING", PONG);
}

/// With `--timeout 1` an idle client is closed within a few seconds; one that keeps sending is
/// not.
#[test]
fn idle_timeout_closes_only_idle_clients() {
    let s = TestServer::start(&["--timeout", "1"]);
    let mut idle = s.conn();
    let mut active = s.conn();
    idle.expect_run("PING", PONG);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    let mut closed_after = None;
    while Instant::now() < deadline {
        active.expect_run("PING", PONG);
        if closed_after.is_none() {
            match idle.try_read_reply(Duration::from_millis(200)) {
                Err(ReadEnd::Eof(rest)) if rest.is_empty() => closed_after = Some(start.elapsed()),
                Err(ReadEnd::Timeout(rest)) if rest.is_empty() => {}
                other => panic!("idle client got {other:?}"),
            }
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
        // Keep the active client going for a while past the idle one's close.
        if closed_after.is_some() && start.elapsed() > Duration::from_millis(2200) {
            break;
        }
    }
    let closed_after = closed_after.expect("the idle client was still connected after 5 s");
    assert!(
        closed_after >= Duration::from_millis(900),
        "closed after {closed_after:?}, before the 1 s timeout"
    );
    active.expect_run("PING", PONG);
}

#[test]
fn sigterm_exits_zero() {
    let mut s = TestServer::start(&[]);
    let mut c = s.conn();
    c.expect_run("SET k v", b"+OK\r\n");
    s.sigterm();
    let status = s.wait_exit(Duration::from_secs(8));
    let status = status.expect("still running 8 s after SIGTERM");
    assert!(status.success(), "exit status {status} after SIGTERM");
    c.expect_closed();
}

#[test]
fn shutdown_command_exits_zero() {
    let mut s = TestServer::start(&[]);
    let mut other = s.conn();
    other.expect_run("PING", PONG);
    let mut c = s.conn();
    c.expect_run("SHUTDOWN foo", b"-ERR syntax error\r\n");
    c.expect_run("PING", PONG);
    c.send(b"SHUTDOWN NOSAVE\r\n");
    // Redis answers a successful SHUTDOWN by closing the connection.
    c.expect_closed();
    let status = s.wait_exit(Duration::from_secs(8));
    let status = status.expect("still running 8 s after SHUTDOWN");
    assert!(status.success(), "exit status {status} after SHUTDOWN");
    other.expect_closed();
    assert!(
        std::net::TcpStream::connect(s.addr).is_err(),
        "still accepting after exit"
    );
}
