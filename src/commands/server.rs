//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, LASTSAVE,
//! SHUTDOWN, OBJECT, MEMORY, and the cluster family (CLUSTER, READONLY, READWRITE, ASKING), which
//! a standalone Redis refuses.
//!
//! Invariants:
//! - COMMAND and its subcommands are built from [`crate::commands::table`] alone: a command added
//!   to any family shows up in COMMAND, COMMAND COUNT/INFO/DOCS/LIST/GETKEYS without an edit here.
//!   The one thing the table lacks is argument syntax: COMMAND DOCS takes it from
//!   [`ARGUMENT_SYNTAX`] (by full name), which is what gives redis-cli its hints; a command without
//!   an entry is documented without `arguments`.
//! - INFO prints only what sesame can measure or knows to be true. A Redis field sesame cannot
//!   know is left out rather than faked, except the few that clients parse (`loading:0`,
//!   `role:master`, …), which are true of sesame anyway. Where a value comes from is said next to
//!   the code that reads it.
//! - CONFIG SET is all or nothing: every name is checked, then every value, before anything is
//!   applied, and the runtime settings are then written under one lock.
//! - sesame never persists data: SAVE and BGSAVE do not exist, LASTSAVE is the start time, and
//!   the persistence parameters (`save`, `appendonly`) accept only the values that say so.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::flags::*;
use super::{full_name, lookup, lookup_sub, resolve, table, Args, Command, Ctx, KeySpec, NO_KEYS};
use crate::error::CmdError;
use crate::protocol::decode::MAX_BULK_LEN;
use crate::protocol::Reply;
use crate::server::{ReplyMode, Shared, SWEEP_INTERVAL_MS};
use crate::store::glob::glob_match;
use crate::store::{unix_us, Entry, Hash, Set, SlideRules, ValueRef};

/// A container command (CONFIG, OBJECT, …): Redis reports it with no flags, no keys and only
/// `@slow`; its subcommands carry the real flags.
const fn container(
    name: &'static str,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [Command],
) -> Command {
    Command {
        name,
        arity: -2,
        flags: 0,
        keys: NO_KEYS,
        acl: SLOW,
        group,
        since,
        summary,
        handler: container_only,
        subcommands,
    }
}

/// The key of a subcommand: the word after the subcommand's name (`OBJECT ENCODING key`).
const SUB_KEY: KeySpec = KeySpec {
    first: 2,
    last: 2,
    step: 1,
};

const SLOW: &[&str] = &["slow"];
const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];
const INTROSPECT: &[&str] = &["slow", "connection"];
const KEY_READ_SLOW: &[&str] = &["keyspace", "read", "slow"];
const CLUSTER_FAST: &[&str] = &["fast", "connection"];
/// The flags Redis gives configuration and admin subcommands.
const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
/// The flags Redis gives HELP and introspection subcommands.
const ANYTIME: u32 = LOADING | STALE;

/// The server commands.
pub static COMMANDS: &[Command] = &[
    Command::leaf(
        "server",
        "info",
        -1,
        ANYTIME,
        NO_KEYS,
        &["slow", "dangerous"],
        "1.0.0",
        "Reports the server's state and counters, by section.",
        info,
    ),
    container(
        "config",
        "server",
        "2.0.0",
        "Reads and changes the server's configuration.",
        CONFIG_SUBCOMMANDS,
    ),
    Command {
        name: "command",
        arity: -1,
        flags: ANYTIME,
        keys: NO_KEYS,
        acl: INTROSPECT,
        group: "server",
        since: "2.8.13",
        summary: "Describes every command the server knows.",
        handler: command_all,
        subcommands: COMMAND_SUBCOMMANDS,
    },
    Command::leaf(
        "server",
        "dbsize",
        1,
        READONLY | FAST,
        NO_KEYS,
        &["keyspace", "read", "fast"],
        "1.0.0",
        "Counts the keys of the selected database.",
        dbsize,
    ),
    Command::leaf(
        "server",
        "flushdb",
        -1,
        WRITE,
        NO_KEYS,
        &["keyspace", "write", "slow", "dangerous"],
        "1.0.0",
        "Deletes every key of the selected database.",
        flushdb,
    ),
    Command::leaf(
        "server",
        "flushall",
        -1,
        WRITE,
        NO_KEYS,
        &["keyspace", "write", "slow", "dangerous"],
        "1.0.0",
        "Deletes every key of every database.",
        flushall,
    ),
    Command::leaf(
        "server",
        "swapdb",
        3,
        WRITE | FAST,
        NO_KEYS,
        &["keyspace", "write", "fast", "dangerous"],
        "4.0.0",
        "Exchanges the contents of two databases.",
        swapdb,
    ),
    Command::leaf(
        "server",
        "time",
        1,
        ANYTIME | FAST,
        NO_KEYS,
        &["fast"],
        "2.6.0",
        "Returns the server's clock as Unix seconds and microseconds.",
        time,
    ),
    Command::leaf(
        "server",
        "lastsave",
        1,
        ANYTIME | FAST,
        NO_KEYS,
        &["admin", "fast", "dangerous"],
        "1.0.0",
        "Returns the Unix time of the last save; sesame never saves, so this is its start time.",
        lastsave,
    ),
    Command::leaf(
        "server",
        "shutdown",
        -1,
        ADMIN_FLAGS | NO_MULTI | ALLOW_BUSY,
        NO_KEYS,
        ADMIN_ACL,
        "1.0.0",
        "Stops the server (sesame holds nothing to save first).",
        shutdown,
    ),
    container(
        "object",
        "generic",
        "2.2.3",
        "Inspects how a key's value is held.",
        OBJECT_SUBCOMMANDS,
    ),
    container(
        "memory",
        "server",
        "4.0.0",
        "Reports on memory use.",
        MEMORY_SUBCOMMANDS,
    ),
    container(
        "cluster",
        "cluster",
        "3.0.0",
        "Cluster management; refused, sesame is a standalone server.",
        CLUSTER_SUBCOMMANDS,
    ),
    Command::leaf(
        "cluster",
        "readonly",
        1,
        ANYTIME | FAST,
        NO_KEYS,
        CLUSTER_FAST,
        "3.0.0",
        "Allows reads from a cluster replica; refused, sesame is a standalone server.",
        cluster_disabled,
    ),
    Command::leaf(
        "cluster",
        "readwrite",
        1,
        ANYTIME | FAST,
        NO_KEYS,
        CLUSTER_FAST,
        "3.0.0",
        "Undoes READONLY on a cluster replica; refused, sesame is a standalone server.",
        cluster_disabled,
    ),
    Command::leaf(
        "cluster",
        "asking",
        1,
        FAST,
        NO_KEYS,
        CLUSTER_FAST,
        "3.0.0",
        "Follows a cluster ASK redirection; refused, sesame is a standalone server.",
        cluster_disabled,
    ),
];

static CONFIG_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        "server",
        "get",
        -3,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.0.0",
        "Returns the parameters whose names match glob patterns, with their values.",
        config_get,
    ),
    Command::leaf(
        "server",
        "set",
        -4,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.0.0",
        "Changes parameters, all of them or none.",
        config_set,
    ),
    Command::leaf(
        "server",
        "resetstat",
        2,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.0.0",
        "Zeroes the counters INFO reports.",
        config_resetstat,
    ),
    Command::leaf(
        "server",
        "rewrite",
        2,
        ADMIN_FLAGS,
        NO_KEYS,
        ADMIN_ACL,
        "2.8.0",
        "Would write the running configuration to its file; sesame refuses.",
        config_rewrite,
    ),
    Command::leaf(
        "server",
        "help",
        2,
        ANYTIME,
        NO_KEYS,
        SLOW,
        "5.0.0",
        "Lists the CONFIG subcommands.",
        config_help,
    ),
];

static COMMAND_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        "server",
        "count",
        2,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "2.8.13",
        "Counts the commands the server knows.",
        command_count,
    ),
    Command::leaf(
        "server",
        "docs",
        -2,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "7.0.0",
        "Returns the documentation of commands.",
        command_docs,
    ),
    Command::leaf(
        "server",
        "getkeys",
        -4,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "2.8.13",
        "Returns the keys a full command names.",
        command_getkeys,
    ),
    Command::leaf(
        "server",
        "getkeysandflags",
        -4,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "7.0.0",
        "Returns the keys a full command names and how it uses each.",
        command_getkeysandflags,
    ),
    Command::leaf(
        "server",
        "help",
        2,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "5.0.0",
        "Lists the COMMAND subcommands.",
        command_help,
    ),
    Command::leaf(
        "server",
        "info",
        -2,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "2.8.13",
        "Describes the named commands, or all of them.",
        command_info,
    ),
    Command::leaf(
        "server",
        "list",
        -2,
        ANYTIME,
        NO_KEYS,
        INTROSPECT,
        "7.0.0",
        "Names the commands, optionally filtered.",
        command_list,
    ),
];

static OBJECT_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        "generic",
        "encoding",
        3,
        READONLY,
        SUB_KEY,
        KEY_READ_SLOW,
        "2.2.3",
        "Names the internal representation of a key's value.",
        object_encoding,
    ),
    Command::leaf(
        "generic",
        "freq",
        3,
        READONLY,
        SUB_KEY,
        KEY_READ_SLOW,
        "4.0.0",
        "Access frequency of a key; refused without an LFU eviction policy.",
        object_freq,
    ),
    Command::leaf(
        "generic",
        "help",
        2,
        ANYTIME,
        NO_KEYS,
        &["keyspace", "slow"],
        "6.2.0",
        "Lists the OBJECT subcommands.",
        object_help,
    ),
    Command::leaf(
        "generic",
        "idletime",
        3,
        READONLY,
        SUB_KEY,
        KEY_READ_SLOW,
        "2.2.3",
        "Seconds since a key was last used; sesame does not track it and answers 0.",
        object_idletime,
    ),
    Command::leaf(
        "generic",
        "refcount",
        3,
        READONLY,
        SUB_KEY,
        KEY_READ_SLOW,
        "2.2.3",
        "Counts the references to a key's value.",
        object_refcount,
    ),
];

static MEMORY_SUBCOMMANDS: &[Command] = &[
    Command::leaf(
        "server",
        "help",
        2,
        ANYTIME,
        NO_KEYS,
        SLOW,
        "4.0.0",
        "Lists the MEMORY subcommands.",
        memory_help,
    ),
    Command::leaf(
        "server",
        "usage",
        -3,
        READONLY,
        SUB_KEY,
        &["read", "slow"],
        "4.0.0",
        "Estimates the bytes a key and its value occupy.",
        memory_usage,
    ),
];

/// What a standalone Redis answers to every cluster command, HELP included.
const CLUSTER_DISABLED: CmdError = CmdError::Text("ERR This instance has cluster support disabled");

const fn cluster(
    name: &'static str,
    arity: i32,
    admin: bool,
    since: &'static str,
    summary: &'static str,
) -> Command {
    let (flags, acl) = if admin {
        (ADMIN | STALE, ADMIN_ACL)
    } else {
        (STALE, SLOW)
    };
    Command::leaf(
        "cluster",
        name,
        arity,
        flags,
        NO_KEYS,
        acl,
        since,
        summary,
        cluster_disabled,
    )
}

// Redis 7.0's CLUSTER subcommands, so that arity and unknown-subcommand errors come out as Redis
// words them before the refusal.
static CLUSTER_SUBCOMMANDS: &[Command] = &[
    cluster(
        "addslots",
        -3,
        true,
        "3.0.0",
        "Assigns hash slots to this node.",
    ),
    cluster(
        "addslotsrange",
        -4,
        true,
        "7.0.0",
        "Assigns ranges of hash slots to this node.",
    ),
    cluster(
        "bumpepoch",
        2,
        true,
        "3.0.0",
        "Advances the node's configuration epoch.",
    ),
    cluster(
        "count-failure-reports",
        3,
        true,
        "3.0.0",
        "Counts the failure reports about a node.",
    ),
    cluster(
        "countkeysinslot",
        3,
        false,
        "3.0.0",
        "Counts the keys in a hash slot.",
    ),
    cluster(
        "delslots",
        -3,
        true,
        "3.0.0",
        "Unassigns hash slots from this node.",
    ),
    cluster(
        "delslotsrange",
        -4,
        true,
        "7.0.0",
        "Unassigns ranges of hash slots from this node.",
    ),
    cluster(
        "failover",
        -2,
        true,
        "3.0.0",
        "Makes a replica take over from its master.",
    ),
    cluster(
        "flushslots",
        2,
        true,
        "3.0.0",
        "Unassigns every slot of this node.",
    ),
    cluster(
        "forget",
        3,
        true,
        "3.0.0",
        "Removes a node from this node's view of the cluster.",
    ),
    cluster(
        "getkeysinslot",
        4,
        false,
        "3.0.0",
        "Returns keys of a hash slot.",
    ),
    Command {
        flags: ANYTIME,
        ..cluster("help", 2, false, "5.0.0", "Lists the CLUSTER subcommands.")
    },
    cluster("info", 2, false, "3.0.0", "Reports the cluster's state."),
    cluster(
        "keyslot",
        3,
        false,
        "3.0.0",
        "Returns the hash slot of a key.",
    ),
    cluster(
        "links",
        2,
        false,
        "7.0.0",
        "Lists the links to the other nodes.",
    ),
    cluster(
        "meet",
        -4,
        true,
        "3.0.0",
        "Joins another node to the cluster.",
    ),
    cluster("myid", 2, false, "3.0.0", "Returns this node's id."),
    cluster(
        "nodes",
        2,
        false,
        "3.0.0",
        "Describes every node of the cluster.",
    ),
    cluster(
        "replicas",
        3,
        true,
        "5.0.0",
        "Lists the replicas of a master.",
    ),
    cluster(
        "replicate",
        3,
        true,
        "3.0.0",
        "Makes this node a replica of a master.",
    ),
    Command {
        flags: ADMIN | NOSCRIPT | STALE,
        ..cluster(
            "reset",
            -2,
            true,
            "3.0.0",
            "Resets this node's cluster state.",
        )
    },
    cluster(
        "saveconfig",
        2,
        true,
        "3.0.0",
        "Saves the cluster configuration to disk.",
    ),
    cluster(
        "set-config-epoch",
        3,
        true,
        "3.0.0",
        "Sets the configuration epoch of a new node.",
    ),
    cluster(
        "setslot",
        -4,
        true,
        "3.0.0",
        "Changes the state of a hash slot.",
    ),
    cluster(
        "shards",
        2,
        false,
        "7.0.0",
        "Describes the cluster's shards.",
    ),
    cluster(
        "slaves",
        3,
        true,
        "3.0.0",
        "Lists the replicas of a master (old name of REPLICAS).",
    ),
    cluster("slots", 2, false, "3.0.0", "Maps hash slots to nodes."),
];

/// Never runs: a container with a subcommand word dispatches to the subcommand, and one without
/// fails the arity check first.
fn container_only(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Err(CmdError::Syntax)
}

fn cluster_disabled(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Err(CLUSTER_DISABLED)
}

/// A HELP reply: Redis's header line, the entries, and its closing HELP entry, as simple strings.
fn help(command: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(Bytes::from(format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    )))];
    out.extend(
        lines
            .iter()
            .map(|l| Reply::Simple(Bytes::copy_from_slice(l.as_bytes()))),
    );
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}

// ---------------------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------------------

/// INFO's sections, in the order Redis prints them. Redis's `commandstats` and `latencystats`
/// are missing because sesame keeps no per-command statistics; `errorstats` is printed empty
/// because sesame does not count errors either (clients only look for the header).
pub const INFO_SECTIONS: &[(&str, &str)] = &[
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("modules", "Modules"),
    ("errorstats", "Errorstats"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
];

/// INFO [section ...]: a bulk string (a verbatim `txt` string in RESP3, as Redis 7.0 sends) of
/// `# Title` sections of `name:value` lines,
/// each line ending in CRLF and sections separated by an empty line. No argument, `default`,
/// `all` and `everything` select every section sesame has; names are case-insensitive and an
/// unknown one selects nothing.
fn info(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let sections = info_sections(args.rest_slice());
    Ok(Reply::Verbatim(
        "txt",
        Bytes::from(info_text(ctx.shared, &sections)),
    ))
}

/// The sections INFO's arguments select, in output order (indexes into [`INFO_SECTIONS`]).
pub fn info_sections(words: &[Bytes]) -> Vec<usize> {
    let mut wanted = vec![words.is_empty(); INFO_SECTIONS.len()];
    for word in words {
        let word = word.to_ascii_lowercase();
        match word.as_slice() {
            b"all" | b"default" | b"everything" => wanted.fill(true),
            // Redis's internal name for the `# Modules` section is accepted too.
            b"module_list" => wanted[7] = true,
            _ => {
                if let Some(i) = INFO_SECTIONS
                    .iter()
                    .position(|(name, _)| name.as_bytes() == word)
                {
                    wanted[i] = true;
                }
            }
        }
    }
    (0..INFO_SECTIONS.len()).filter(|&i| wanted[i]).collect()
}

/// Renders the selected sections.
fn info_text(shared: &Shared, sections: &[usize]) -> String {
    let mut out = String::with_capacity(2048);
    for (n, &i) in sections.iter().enumerate() {
        let (name, title) = INFO_SECTIONS[i];
        if n > 0 {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {title}\r\n");
        let mut section = Section(&mut out);
        match name {
            "server" => server_section(shared, &mut section),
            "clients" => clients_section(shared, &mut section),
            "memory" => memory_section(&mut section),
            "persistence" => persistence_section(shared, &mut section),
            "stats" => stats_section(shared, &mut section),
            "replication" => replication_section(shared, &mut section),
            "cpu" => cpu_section(&mut section),
            "cluster" => section.field("cluster_enabled", 0),
            "keyspace" => keyspace_section(shared, &mut section),
            // No modules, and no error counts (see INFO_SECTIONS).
            _ => {}
        }
    }
    out
}

/// Appends `name:value` lines to an INFO reply.
struct Section<'a>(&'a mut String);

impl Section<'_> {
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

fn server_section(shared: &Shared, s: &mut Section) {
    let uptime = shared.started.elapsed().as_secs();
    s.field("redis_version", crate::REDIS_VERSION);
    s.field("redis_git_sha1", "00000000");
    s.field("redis_git_dirty", 0);
    s.field("redis_build_id", build_id());
    s.field("redis_mode", "standalone");
    s.field("os", os_name());
    s.field("arch_bits", usize::BITS);
    // std's Instant reads CLOCK_MONOTONIC through clock_gettime, as Redis's POSIX clock does.
    s.field("monotonic_clock", "POSIX clock_gettime");
    if let Some(api) = multiplexing_api() {
        s.field("multiplexing_api", api);
    }
    s.field("process_id", std::process::id());
    s.field("process_supervised", "no");
    s.field("run_id", &shared.run_id);
    s.field("tcp_port", shared.port);
    s.field("server_time_usec", unix_us());
    s.field("uptime_in_seconds", uptime);
    s.field("uptime_in_days", uptime / 86_400);
    s.field("hz", HZ);
    s.field("configured_hz", HZ);
    s.field(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    s.field("config_file", config_file(shared));
    s.field("sesame_version", crate::SESAME_VERSION);
}

/// The rate of sesame's periodic background work (the expiry sweep), which is what Redis's `hz`
/// measures for its own.
const HZ: u64 = 1000 / SWEEP_INTERVAL_MS;

/// A stable id for this build of sesame: a hash of its version (Redis hashes its build
/// environment; sesame has nothing better to offer that stays the same between runs).
fn build_id() -> String {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same version always gives the same id.
    let mut h = std::hash::DefaultHasher::new();
    ("sesame", crate::SESAME_VERSION).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// `uname -s -r -m`, as Redis prints it, from /proc where available.
fn os_name() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(os), Some(release)) => format!("{os} {release} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// The readiness API tokio (mio) uses on this platform.
fn multiplexing_api() -> Option<&'static str> {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        Some("epoll")
    } else if cfg!(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )) {
        Some("kqueue")
    } else {
        None
    }
}

fn config_file(shared: &Shared) -> String {
    shared
        .config
        .config_file
        .as_ref()
        .map_or_else(String::new, |p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
}

fn clients_section(shared: &Shared, s: &mut Section) {
    s.field("connected_clients", shared.clients.len());
    s.field("cluster_connections", 0);
    s.field("maxclients", shared.runtime.read().maxclients);
    // True by construction while no command in the table can block; otherwise sesame would
    // have to count, so the line is left out.
    if !table().any(|c| c.has(BLOCKING) || c.subcommands.iter().any(|s| s.has(BLOCKING))) {
        s.field("blocked_clients", 0);
    }
}

/// Memory figures from /proc/self/status (Linux), in bytes. sesame uses the system allocator
/// and cannot ask it how much it holds, so `used_memory` is the process's anonymous resident
/// memory (`RssAnon`: heap and stacks, which includes memory freed but not yet returned to the
/// system), and `used_memory_rss` its whole resident set (`VmRSS`). Fields Redis derives from
/// its allocator's statistics (peak, overhead, fragmentation…) are not printed.
fn memory_section(s: &mut Section) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(used) = kib_field(&status, "RssAnon:") {
        s.field("used_memory", used);
        s.field("used_memory_human", bytes_to_human(used));
    }
    if let Some(rss) = kib_field(&status, "VmRSS:") {
        s.field("used_memory_rss", rss);
        s.field("used_memory_rss_human", bytes_to_human(rss));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(total) = kib_field(&meminfo, "MemTotal:") {
        s.field("total_system_memory", total);
        s.field("total_system_memory_human", bytes_to_human(total));
    }
    s.field("maxmemory", 0);
    s.field("maxmemory_human", "0B");
    s.field("maxmemory_policy", "noeviction");
    s.field("mem_allocator", "libc");
}

/// A `Name:   123 kB` line of a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Redis's human-readable byte counts: `512B`, `1.50K`, `3.00M`, …
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u32, char)] = &[(5, 'P'), (4, 'T'), (3, 'G'), (2, 'M'), (1, 'K')];
    let n_f = n as f64;
    for &(power, unit) in UNITS {
        let scale = 1024f64.powi(power as i32);
        if n_f >= scale && (power == 5 || n_f < scale * 1024.0) {
            return format!("{:.2}{unit}", n_f / scale);
        }
    }
    format!("{n}B")
}

/// Unix seconds at which the server started (LASTSAVE, `rdb_last_save_time`).
fn start_unix_secs(shared: &Shared) -> u64 {
    let elapsed = shared.started.elapsed().as_micros() as u64;
    unix_us().saturating_sub(elapsed) / 1_000_000
}

/// Nothing is ever saved or logged to disk: the fields say so in Redis's own terms.
fn persistence_section(shared: &Shared, s: &mut Section) {
    s.field("loading", 0);
    s.field("async_loading", 0);
    s.field("rdb_bgsave_in_progress", 0);
    s.field("rdb_last_save_time", start_unix_secs(shared));
    s.field("rdb_last_bgsave_status", "ok");
    s.field("rdb_last_bgsave_time_sec", -1);
    s.field("rdb_current_bgsave_time_sec", -1);
    s.field("rdb_saves", 0);
    s.field("aof_enabled", 0);
    s.field("aof_rewrite_in_progress", 0);
    s.field("aof_rewrite_scheduled", 0);
    s.field("aof_last_rewrite_time_sec", -1);
    s.field("aof_current_rewrite_time_sec", -1);
    s.field("aof_last_bgrewrite_status", "ok");
    s.field("aof_rewrites", 0);
    s.field("aof_last_write_status", "ok");
}

fn stats_section(shared: &Shared, s: &mut Section) {
    let now = Counters::read(shared);
    let rates = instantaneous_rates(shared, now);
    let store = shared.store.stats();
    s.field(
        "total_connections_received",
        shared.clients.total_received.load(Ordering::Relaxed),
    );
    s.field("total_commands_processed", now.commands);
    s.field(
        "instantaneous_ops_per_sec",
        rates.ops_per_sec.round() as u64,
    );
    s.field("total_net_input_bytes", now.input);
    s.field("total_net_output_bytes", now.output);
    s.field(
        "instantaneous_input_kbps",
        format!("{:.2}", rates.input_kbps),
    );
    s.field(
        "instantaneous_output_kbps",
        format!("{:.2}", rates.output_kbps),
    );
    s.field(
        "rejected_connections",
        shared.clients.rejected.load(Ordering::Relaxed),
    );
    s.field("expired_keys", store.expired_keys);
    // The sweeper never stops early for lack of time (it works in bounded slices until nothing
    // due is left), so Redis's count of time-capped expiry cycles is always 0 here.
    s.field("expired_time_cap_reached_count", 0);
    // noeviction is the only policy: nothing is ever evicted.
    s.field("evicted_keys", 0);
    s.field("keyspace_hits", store.keyspace_hits);
    s.field("keyspace_misses", store.keyspace_misses);
    // sesame's own: reads that slid a key's deadline, and how late the last sweep that removed
    // keys was, at worst, after their deadlines.
    s.field("slid_keys", store.slid_keys);
    s.field("expiry_lag_ms", shared.store.last_sweep_lag_ms());
}

/// The server counters the instantaneous rates are computed from.
#[derive(Clone, Copy)]
struct Counters {
    at: Instant,
    commands: u64,
    input: u64,
    output: u64,
}

impl Counters {
    fn read(shared: &Shared) -> Counters {
        Counters {
            at: Instant::now(),
            commands: shared.stats.commands_processed.load(Ordering::Relaxed),
            input: shared.stats.net_input_bytes.load(Ordering::Relaxed),
            output: shared.stats.net_output_bytes.load(Ordering::Relaxed),
        }
    }
}

struct Rates {
    ops_per_sec: f64,
    input_kbps: f64,
    output_kbps: f64,
}

/// Samples of the counters taken when INFO runs, per server (by run id, which is unique), so
/// that `instantaneous_*` are real rates over the last [`RATE_WINDOW`] or so, as Redis's are,
/// without a timer task: the rate is measured from the newest sample at least that old (or the
/// oldest there is; before the first INFO, the start of the server).
static RATE_SAMPLES: Mutex<Vec<(String, VecDeque<Counters>)>> = Mutex::new(Vec::new());
const RATE_WINDOW: Duration = Duration::from_secs(2);
const RATE_SAMPLE_EVERY: Duration = Duration::from_millis(100);

fn instantaneous_rates(shared: &Shared, now: Counters) -> Rates {
    let mut all = RATE_SAMPLES.lock();
    let pos = match all.iter().position(|(id, _)| *id == shared.run_id) {
        Some(pos) => pos,
        None => {
            let start = Counters {
                at: shared.started,
                commands: 0,
                input: 0,
                output: 0,
            };
            all.push((shared.run_id.clone(), VecDeque::from([start])));
            all.len() - 1
        }
    };
    let samples = &mut all[pos].1;
    while samples.len() > 1 && now.at.duration_since(samples[1].at) >= RATE_WINDOW {
        samples.pop_front();
    }
    let base = samples[0];
    let secs = now.at.duration_since(base.at).as_secs_f64();
    let rate = |new: u64, old: u64| {
        if secs > 0.001 {
            new.saturating_sub(old) as f64 / secs
        } else {
            0.0
        }
    };
    let rates = Rates {
        ops_per_sec: rate(now.commands, base.commands),
        input_kbps: rate(now.input, base.input) / 1024.0,
        output_kbps: rate(now.output, base.output) / 1024.0,
    };
    if samples
        .back()
        .is_none_or(|last| now.at.duration_since(last.at) >= RATE_SAMPLE_EVERY)
    {
        samples.push_back(now);
    }
    rates
}

fn forget_rate_samples(shared: &Shared) {
    RATE_SAMPLES.lock().retain(|(id, _)| *id != shared.run_id);
}

/// sesame is always a master with no replicas.
fn replication_section(shared: &Shared, s: &mut Section) {
    s.field("role", "master");
    s.field("connected_slaves", 0);
    s.field("master_failover_state", "no-failover");
    s.field("master_replid", replication_id(&shared.run_id));
    s.field("master_replid2", "0".repeat(40));
    s.field("master_repl_offset", 0);
    s.field("second_repl_offset", -1);
    s.field("repl_backlog_active", 0);
    s.field("repl_backlog_first_byte_offset", 0);
    s.field("repl_backlog_histlen", 0);
}

/// A 40-hex replication id that stays the same for the life of the server (derived from its
/// run id, which is random per start, as Redis's replication id is).
fn replication_id(run_id: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::with_capacity(48);
    for i in 0..3u8 {
        let mut h = std::hash::DefaultHasher::new();
        ("replid", run_id, i).hash(&mut h);
        let _ = write!(out, "{:016x}", h.finish());
    }
    out.truncate(40);
    out
}

/// CPU seconds of the whole process (every thread) from /proc/self/stat, which counts in
/// USER_HZ ticks, 100 a second on every Linux platform sesame builds for.
fn cpu_section(s: &mut Section) {
    let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| stat_cpu_ticks(&t))
    else {
        return;
    };
    let secs = |t: u64| format!("{:.6}", t as f64 / 100.0);
    s.field("used_cpu_sys", secs(ticks[1]));
    s.field("used_cpu_user", secs(ticks[0]));
    s.field("used_cpu_sys_children", secs(ticks[3]));
    s.field("used_cpu_user_children", secs(ticks[2]));
}

/// utime, stime, cutime, cstime (fields 14 to 17) of a /proc/<pid>/stat line. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
fn stat_cpu_ticks(stat: &str) -> Option<[u64; 4]> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let at = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
    };
    Some([at(14)?, at(15)?, at(16)?, at(17)?])
}

/// One line per non-empty database; `avg_ttl` is the exact mean remaining TTL in ms of the keys
/// that have one (Redis estimates it by sampling).
fn keyspace_section(shared: &Shared, s: &mut Section) {
    for db in 0..shared.store.databases() {
        let (keys, expires, avg_ttl) = shared.store.keyspace(db);
        if keys > 0 {
            s.field(
                &format!("db{db}"),
                format!("keys={keys},expires={expires},avg_ttl={avg_ttl}"),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------------------------

/// One configuration parameter as CONFIG GET and CONFIG SET see it.
struct Param {
    name: &'static str,
    get: fn(&Shared) -> String,
    set: Setter,
}

/// How CONFIG SET treats a parameter.
enum Setter {
    /// Fixed at startup: `can't set immutable config`.
    Immutable,
    /// A path Redis refuses to change unless protected configs are enabled: `can't set protected
    /// config` (sesame never writes files there anyway).
    Protected,
    /// Checked as Redis checks it (same error texts), then applied, or refused with the reason
    /// sesame cannot honour the value.
    Value(fn(&str) -> Result<Change, String>),
}

/// What an accepted CONFIG SET pair changes.
#[derive(Debug, PartialEq)]
enum Change {
    /// The value is the one sesame already has.
    Nothing,
    Requirepass(Option<String>),
    Maxclients(usize),
    Timeout(u64),
    /// The enabled keyspace notification classes.
    NotifyKeyspaceEvents(u32),
    /// The sliding patterns (sesame's own parameter `slide`).
    SlidePatterns(Vec<bytes::Bytes>),
    /// The sliding lifetime cap in seconds (`slide-max-lifetime`).
    SlideMaxLifetime(u64),
    /// `busy-reply-threshold` / `lua-time-limit` in milliseconds.
    BusyThreshold(u64),
}

/// The value sesame reports for `client-output-buffer-limit`: no class has a limit.
const NO_BUFFER_LIMITS: &str = "normal 0 0 0 slave 0 0 0 pubsub 0 0 0";

/// The parameters, in the order CONFIG GET lists them. Aliases are separate rows, as in Redis.
static PARAMS: &[Param] = &[
    Param {
        name: "port",
        get: |s| s.port.to_string(),
        set: Setter::Immutable,
    },
    Param {
        name: "bind",
        get: |s| s.config.bind.join(" "),
        set: Setter::Immutable,
    },
    Param {
        name: "requirepass",
        get: |s| s.runtime.read().requirepass.clone().unwrap_or_default(),
        set: Setter::Value(|v| {
            Ok(Change::Requirepass(
                Some(v.to_string()).filter(|p| !p.is_empty()),
            ))
        }),
    },
    Param {
        name: "maxclients",
        get: |s| s.runtime.read().maxclients.to_string(),
        set: Setter::Value(|v| Ok(Change::Maxclients(int_in(v, 1, u32::MAX as i64)? as usize))),
    },
    Param {
        name: "timeout",
        get: |s| s.idle_timeout().to_string(),
        set: Setter::Value(|v| Ok(Change::Timeout(int_in(v, 0, i32::MAX as i64)? as u64))),
    },
    Param {
        name: "notify-keyspace-events",
        get: |s| crate::server::notify::flags_to_string(s.events.flags()),
        set: Setter::Value(|v| {
            crate::server::notify::parse_flags(v)
                .map(Change::NotifyKeyspaceEvents)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
        }),
    },
    Param {
        name: "slide",
        get: |s| {
            let rules = s.store.slide_rules();
            let patterns: Vec<String> = rules
                .patterns
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            patterns.join(" ")
        },
        set: Setter::Value(|v| {
            Ok(Change::SlidePatterns(
                v.split_ascii_whitespace()
                    .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()))
                    .collect(),
            ))
        }),
    },
    Param {
        name: "slide-max-lifetime",
        get: |s| (s.store.slide_rules().max_lifetime_ms / 1000).to_string(),
        set: Setter::Value(|v| {
            Ok(Change::SlideMaxLifetime(
                int_in(v, 0, i64::MAX / 1000)? as u64
            ))
        }),
    },
    Param {
        name: "databases",
        get: |s| s.store.databases().to_string(),
        set: Setter::Immutable,
    },
    Param {
        name: "save",
        get: |_| String::new(),
        set: Setter::Value(set_save),
    },
    Param {
        name: "appendonly",
        get: |_| "no".into(),
        set: Setter::Value(|v| {
            fixed(
                yes_no(v)?,
                false,
                "sesame keeps data in memory only; it has no append-only file",
            )
        }),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |_| MAX_BULK_LEN.to_string(),
        set: Setter::Value(|v| {
            let n = memory_in(v, 1024 * 1024, i64::MAX as u64)?;
            fixed(
                n,
                MAX_BULK_LEN as u64,
                "sesame's limit on the size of a request argument is fixed",
            )
        }),
    },
    Param {
        name: "maxmemory",
        get: |_| "0".into(),
        set: Setter::Value(|v| {
            fixed(
                memory_in(v, 0, u64::MAX)?,
                0,
                "sesame has no memory limit; maxmemory stays 0",
            )
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |_| "noeviction".into(),
        set: Setter::Value(|v| {
            let policy = one_of(v, &EVICTION_POLICIES)?;
            fixed(
                policy,
                "noeviction",
                "sesame never evicts keys; noeviction is its only policy",
            )
        }),
    },
    Param {
        name: "replica-read-only",
        get: |_| "yes".into(),
        set: Setter::Value(set_replica_read_only),
    },
    Param {
        name: "slave-read-only",
        get: |_| "yes".into(),
        set: Setter::Value(set_replica_read_only),
    },
    Param {
        name: "io-threads",
        get: |s| s.config.threads.to_string(),
        set: Setter::Immutable,
    },
    Param {
        name: "hz",
        get: |_| HZ.to_string(),
        set: Setter::Value(|v| {
            fixed(
                int_in(v, 0, i32::MAX as i64)?,
                HZ as i64,
                "sesame's expiry sweep runs at a fixed rate",
            )
        }),
    },
    Param {
        name: "dir",
        get: |_| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        },
        set: Setter::Protected,
    },
    Param {
        name: "dbfilename",
        get: |_| "dump.rdb".into(),
        set: Setter::Protected,
    },
    Param {
        name: "loglevel",
        get: |_| "notice".into(),
        set: Setter::Value(|v| {
            let level = one_of(v, &["debug", "verbose", "notice", "warning"])?;
            fixed(level, "notice", "sesame has a single log level")
        }),
    },
    Param {
        name: "protected-mode",
        get: |_| "no".into(),
        set: Setter::Value(|v| {
            fixed(
                yes_no(v)?,
                false,
                "sesame has no protected mode; limit access with bind and requirepass",
            )
        }),
    },
    Param {
        name: "daemonize",
        get: |_| "no".into(),
        set: Setter::Immutable,
    },
    Param {
        name: "tcp-keepalive",
        get: |_| "0".into(),
        set: Setter::Value(|v| {
            fixed(
                int_in(v, 0, i32::MAX as i64)?,
                0,
                "sesame does not enable TCP keepalive on client connections",
            )
        }),
    },
    Param {
        name: "lua-time-limit",
        get: |s| s.scripts.busy_threshold_ms().to_string(),
        set: Setter::Value(set_busy_threshold),
    },
    Param {
        name: "busy-reply-threshold",
        get: |s| s.scripts.busy_threshold_ms().to_string(),
        set: Setter::Value(set_busy_threshold),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |_| NO_BUFFER_LIMITS.into(),
        set: Setter::Value(set_client_output_buffer_limit),
    },
    Param {
        name: "threads",
        get: |s| s.config.threads.to_string(),
        set: Setter::Immutable,
    },
    Param {
        name: "shards",
        get: |s| s.store.shard_count().to_string(),
        set: Setter::Immutable,
    },
];

const EVICTION_POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Accepts `value` only when it is what sesame already has.
fn fixed<T: PartialEq>(value: T, current: T, reason: &str) -> Result<Change, String> {
    if value == current {
        Ok(Change::Nothing)
    } else {
        Err(reason.to_string())
    }
}

/// An integer parameter as Redis parses it (strict decimal), within `min..=max`.
fn int_in(v: &str, min: i64, max: i64) -> Result<i64, String> {
    let n = crate::store::parse_canonical_i64(v.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// A memory amount as Redis parses it: digits with an optional unit (`k` = 1000, `kb` = 1024,
/// likewise `m`/`mb`, `g`/`gb`; `b` = 1), case-insensitive.
pub fn parse_memory(v: &str) -> Option<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn memory_in(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn yes_no(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

/// An enumerated parameter: one of `options`, case-insensitively; returns the canonical spelling.
fn one_of<'a>(v: &str, options: &[&'a str]) -> Result<&'a str, String> {
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(v))
        .copied()
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                options.join(", ")
            )
        })
}

/// `save`: Redis accepts pairs of `<seconds> <changes>`; sesame accepts only the empty value,
/// because it never saves.
fn set_save(v: &str) -> Result<Change, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    let invalid = || "Invalid save parameters".to_string();
    if !words.len().is_multiple_of(2) {
        return Err(invalid());
    }
    for pair in words.chunks(2) {
        let seconds: i64 = pair[0].parse().map_err(|_| invalid())?;
        let changes: i64 = pair[1].parse().map_err(|_| invalid())?;
        if seconds < 1 || changes < 0 {
            return Err(invalid());
        }
    }
    if words.is_empty() {
        Ok(Change::Nothing)
    } else {
        Err("sesame keeps data in memory only and never saves it to disk".into())
    }
}

fn set_replica_read_only(v: &str) -> Result<Change, String> {
    fixed(
        yes_no(v)?,
        true,
        "sesame is never a replica; the setting stays yes",
    )
}

/// `busy-reply-threshold` / `lua-time-limit`: how long a script runs before other clients are
/// answered BUSY (0: never).
fn set_busy_threshold(v: &str) -> Result<Change, String> {
    Ok(Change::BusyThreshold(int_in(v, 0, i64::MAX)? as u64))
}

/// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <soft-seconds>`, checked as
/// Redis checks them; sesame accepts only limits of 0 (none), which is what it enforces.
fn set_client_output_buffer_limit(v: &str) -> Result<Change, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut all_zero = true;
    for group in words.chunks(4) {
        if !["normal", "slave", "replica", "pubsub"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(group[0]))
        {
            return Err("Invalid client class specified in buffer limit configuration.".into());
        }
        let bad = || {
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string()
        };
        let hard = parse_memory(group[1]).ok_or_else(bad)?;
        let soft = parse_memory(group[2]).ok_or_else(bad)?;
        let seconds: i64 = group[3].parse().map_err(|_| bad())?;
        if seconds < 0 {
            return Err(bad());
        }
        all_zero &= hard == 0 && soft == 0 && seconds == 0;
    }
    if all_zero {
        Ok(Change::Nothing)
    } else {
        Err("sesame does not limit client output buffers".into())
    }
}

fn find_param(name: &[u8]) -> Option<&'static Param> {
    PARAMS
        .iter()
        .find(|p| p.name.as_bytes().eq_ignore_ascii_case(name))
}

/// CONFIG GET pattern [pattern ...]: a map (a flat array in RESP2) of every parameter matching a
/// pattern (glob, case-insensitive) to its value. A pattern without glob characters is a name and
/// is echoed as the client spelled it, as Redis does; each parameter is listed once.
fn config_get(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let mut seen = vec![false; PARAMS.len()];
    let mut pairs = Vec::new();
    for pattern in args.rest() {
        let is_glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        for (i, param) in PARAMS.iter().enumerate() {
            let hit = if is_glob {
                glob_match(&pattern, param.name.as_bytes(), true)
            } else {
                param.name.as_bytes().eq_ignore_ascii_case(&pattern)
            };
            if hit && !seen[i] {
                seen[i] = true;
                let name = if is_glob {
                    Bytes::from_static(param.name.as_bytes())
                } else {
                    pattern.clone()
                };
                pairs.push((
                    Reply::Bulk(name),
                    Reply::Bulk(Bytes::from((param.get)(ctx.shared))),
                ));
            }
        }
    }
    Ok(Reply::Map(pairs))
}

/// CONFIG SET parameter value [parameter value ...]: `+OK` once every pair is applied. Checks in
/// Redis's order, first failure wins: every name (unknown, immutable, protected, repeated), then
/// every value; nothing is applied unless all pass.
fn config_set(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let words = args.rest();
    if !words.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(&Bytes, &Bytes)> = words.chunks(2).map(|p| (&p[0], &p[1])).collect();
    let given = |name: &Bytes| String::from_utf8_lossy(name).into_owned();
    let failed = |arg: String, reason: &str| CmdError::ConfigSetFailed {
        arg,
        reason: reason.to_string(),
    };

    let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, _) in &pairs {
        let param = find_param(name).ok_or_else(|| CmdError::ConfigUnknownOption(given(name)))?;
        match param.set {
            Setter::Immutable => return Err(failed(given(name), "can't set immutable config")),
            Setter::Protected => return Err(failed(given(name), "can't set protected config")),
            Setter::Value(_) => {}
        }
        if params.iter().any(|p| std::ptr::eq(*p, param)) {
            return Err(failed(given(name), "duplicate parameter"));
        }
        params.push(param);
    }

    let mut changes = Vec::with_capacity(pairs.len());
    for (param, (_, value)) in params.iter().zip(&pairs) {
        let Setter::Value(check) = param.set else {
            unreachable!("refused above")
        };
        let value = std::str::from_utf8(value)
            .map_err(|_| failed(param.name.to_string(), "sesame accepts only UTF-8 values"))?;
        changes.push(check(value).map_err(|reason| failed(param.name.to_string(), &reason))?);
    }

    let mut runtime = ctx.shared.runtime.write();
    for change in changes {
        match change {
            Change::Nothing => {}
            Change::Requirepass(p) => runtime.requirepass = p,
            Change::Maxclients(n) => runtime.maxclients = n,
            Change::Timeout(t) => ctx.shared.timeout.store(t, Ordering::Relaxed),
            Change::NotifyKeyspaceEvents(flags) => ctx.shared.events.set_flags(flags),
            Change::SlidePatterns(patterns) => {
                let rules = ctx.shared.store.slide_rules();
                ctx.shared.store.set_slide_rules(SlideRules {
                    patterns,
                    ..(*rules).clone()
                });
            }
            Change::BusyThreshold(ms) => ctx.shared.scripts.set_busy_threshold_ms(ms),
            Change::SlideMaxLifetime(secs) => {
                let rules = ctx.shared.store.slide_rules();
                let max_lifetime_ms = secs * 1000;
                ctx.shared.store.set_slide_rules(SlideRules {
                    max_lifetime_ms,
                    ..(*rules).clone()
                });
            }
        }
    }
    Ok(Reply::ok())
}

/// CONFIG RESETSTAT: zeroes the keyspace counters and the server's (commands, connections,
/// network bytes); `+OK`.
fn config_resetstat(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    let shared = ctx.shared;
    shared.store.reset_stats();
    shared.stats.commands_processed.store(0, Ordering::Relaxed);
    shared.stats.net_input_bytes.store(0, Ordering::Relaxed);
    shared.stats.net_output_bytes.store(0, Ordering::Relaxed);
    shared.clients.total_received.store(0, Ordering::Relaxed);
    shared.clients.rejected.store(0, Ordering::Relaxed);
    forget_rate_samples(shared);
    Ok(Reply::ok())
}

/// CONFIG REWRITE: Redis's error without a configuration file; with one, sesame refuses in the
/// form Redis uses for a failed rewrite (it does not edit its configuration file).
fn config_rewrite(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    if ctx.shared.config.config_file.is_none() {
        return Err(CmdError::Text(
            "ERR The server is running without a config file",
        ));
    }
    Err(CmdError::Text(
        "ERR Rewriting config file: sesame does not rewrite its configuration file",
    ))
}

fn config_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(help(
        "CONFIG",
        &[
            "GET <pattern> [<pattern> ...]",
            "    Return each parameter whose name matches a glob-style <pattern>, with its value.",
            "SET <parameter> <value> [<parameter> <value> ...]",
            "    Change parameters: either every change is made or none is.",
            "RESETSTAT",
            "    Zero the counters that INFO reports.",
            "REWRITE",
            "    Refused: sesame does not write its configuration file.",
        ],
    ))
}

// ---------------------------------------------------------------------------------------------
// COMMAND
// ---------------------------------------------------------------------------------------------

/// COMMAND: COMMAND INFO of every top-level command (subcommands nested in their container).
fn command_all(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Array(
        table().map(|c| command_reply(None, c)).collect(),
    ))
}

/// Finds a command by the name COMMAND INFO/DOCS accept: `get`, or `config|get` for a
/// subcommand; case-insensitive.
fn find_command(name: &[u8]) -> Option<(Option<&'static Command>, &'static Command)> {
    match name.iter().position(|&c| c == b'|') {
        None => lookup(name).map(|c| (None, c)),
        Some(bar) => {
            let parent = lookup(&name[..bar])?;
            lookup_sub(parent, &name[bar + 1..]).map(|sub| (Some(parent), sub))
        }
    }
}

/// One COMMAND INFO entry, Redis 7.0's ten fields: name, arity, flags, first key, last key, key
/// step, ACL categories, tips (sesame has none), key specifications, subcommands. Flags,
/// categories, tips and key specs are sets in RESP3, as Redis sends them.
pub fn command_reply(container: Option<&Command>, cmd: &Command) -> Reply {
    let flags = NAMES
        .iter()
        .filter(|(bit, _)| cmd.has(*bit))
        .map(|(_, name)| Reply::simple(name))
        .collect();
    let acl = cmd
        .acl
        .iter()
        .map(|a| Reply::Simple(Bytes::from(format!("@{a}"))))
        .collect();
    // Redis sends an empty set when there are no subcommands and an array when there are.
    let subcommands = if cmd.subcommands.is_empty() {
        Reply::Set(Vec::new())
    } else {
        Reply::Array(
            cmd.subcommands
                .iter()
                .map(|s| command_reply(Some(cmd), s))
                .collect(),
        )
    };
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(full_name(container, cmd))),
        Reply::Integer(i64::from(cmd.arity)),
        Reply::Set(flags),
        Reply::Integer(i64::from(cmd.keys.first)),
        Reply::Integer(i64::from(cmd.keys.last)),
        Reply::Integer(i64::from(cmd.keys.step)),
        Reply::Set(acl),
        Reply::Set(Vec::new()),
        Reply::Set(key_specs(cmd)),
        subcommands,
    ])
}

/// The access flags of a command's keys, derived from its command flags (the table has no
/// per-key flags): a write reads and updates (`RW update`), a read is `RO`, and `access` marks a
/// command that reads the value itself rather than only its metadata.
fn key_flags(cmd: &Command) -> Vec<&'static str> {
    let mut flags = vec![if cmd.has(WRITE) { "RW" } else { "RO" }];
    if cmd.has(TOUCHES_VALUE) {
        flags.push("access");
    }
    if cmd.has(WRITE) {
        flags.push("update");
    }
    flags
}

/// Redis 7.0 key specifications derived from the table's first/last/step: one `index` begin
/// search at the first key, one `range` find-keys whose `lastkey` is relative to it (negative:
/// counted from the end of the arguments).
fn key_specs(cmd: &Command) -> Vec<Reply> {
    let k = cmd.keys;
    if k.first <= 0 {
        return Vec::new();
    }
    let s = Reply::bulk_static;
    let lastkey = if k.last < 0 { k.last } else { k.last - k.first };
    vec![Reply::Map(vec![
        (
            s("flags"),
            Reply::Set(key_flags(cmd).into_iter().map(Reply::simple).collect()),
        ),
        (
            s("begin_search"),
            Reply::Map(vec![
                (s("type"), s("index")),
                (
                    s("spec"),
                    Reply::Map(vec![(s("index"), Reply::Integer(i64::from(k.first)))]),
                ),
            ]),
        ),
        (
            s("find_keys"),
            Reply::Map(vec![
                (s("type"), s("range")),
                (
                    s("spec"),
                    Reply::Map(vec![
                        (s("lastkey"), Reply::Integer(i64::from(lastkey))),
                        (s("keystep"), Reply::Integer(i64::from(k.step))),
                        (s("limit"), Reply::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])]
}

/// COMMAND COUNT: the number of top-level commands.
fn command_count(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Integer(table().count() as i64))
}

/// COMMAND INFO [name ...]: one entry per name, null for an unknown one; every command without
/// names.
fn command_info(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    if args.is_empty() {
        return command_all(ctx, args);
    }
    Ok(Reply::Array(
        args.rest()
            .iter()
            .map(|name| {
                find_command(name).map_or(Reply::Null, |(parent, c)| command_reply(parent, c))
            })
            .collect(),
    ))
}

/// One COMMAND DOCS entry: summary, since, group, the arguments (from [`ARGUMENT_SYNTAX`], when
/// the command has an entry there) and, for a container, its subcommands' docs. sesame's table
/// has no complexity, so that field is left out.
fn command_doc(container: Option<&Command>, cmd: &Command) -> Reply {
    let s = Reply::bulk_static;
    let mut doc = vec![
        (s("summary"), s(cmd.summary)),
        (s("since"), s(cmd.since)),
        (s("group"), s(cmd.group)),
    ];
    let name = full_name(container, cmd);
    if let Some(args) = ARGUMENT_SYNTAX
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, syntax)| parse_syntax(syntax).ok())
    {
        doc.push((
            s("arguments"),
            Reply::Array(args.iter().map(ArgSpec::reply).collect()),
        ));
    }
    if !cmd.subcommands.is_empty() {
        let subs = cmd
            .subcommands
            .iter()
            .map(|sub| {
                (
                    Reply::Bulk(Bytes::from(full_name(Some(cmd), sub))),
                    command_doc(Some(cmd), sub),
                )
            })
            .collect();
        doc.push((s("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(doc)
}

/// One argument of a command as COMMAND DOCS describes it (and redis-cli turns into its hints).
#[derive(Clone, Debug, PartialEq)]
pub struct ArgSpec {
    pub name: String,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`, `pure-token`, `oneof` or
    /// `block`.
    pub kind: &'static str,
    /// The keyword that comes before the value (`EX` in `EX seconds`), or the keyword itself for
    /// a pure token.
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    /// When repeated, the token is repeated too (`PREFIX p [PREFIX p ...]`).
    pub multiple_token: bool,
    /// The alternatives of a `oneof`, the parts of a `block`.
    pub args: Vec<ArgSpec>,
}

impl ArgSpec {
    fn leaf(name: &str, kind: &'static str) -> ArgSpec {
        ArgSpec {
            name: name.to_string(),
            kind,
            token: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }

    fn group(name: String, kind: &'static str, args: Vec<ArgSpec>) -> ArgSpec {
        ArgSpec {
            args,
            ..ArgSpec::leaf(&name, kind)
        }
    }

    /// A keyword standing alone, neither optional nor repeated: it takes the values after it.
    fn is_bare_token(&self) -> bool {
        self.kind == "pure-token" && !self.optional && !self.multiple
    }

    /// The COMMAND DOCS map, fields in Redis's order.
    fn reply(&self) -> Reply {
        let s = Reply::bulk_static;
        let mut map = vec![
            (s("name"), Reply::bulk_from(&self.name)),
            (s("type"), s(self.kind)),
        ];
        if self.kind == "key" {
            // sesame derives one key specification per command, so every key argument refers to it.
            map.push((s("key_spec_index"), Reply::Integer(0)));
        }
        if let Some(token) = &self.token {
            map.push((s("token"), Reply::bulk_from(token)));
        }
        let flags: Vec<Reply> = [
            ("optional", self.optional),
            ("multiple", self.multiple),
            ("multiple_token", self.multiple_token),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(flag, _)| Reply::simple(flag))
        .collect();
        if !flags.is_empty() {
            map.push((s("flags"), Reply::Set(flags)));
        }
        if !self.args.is_empty() {
            map.push((
                s("arguments"),
                Reply::Array(self.args.iter().map(ArgSpec::reply).collect()),
            ));
        }
        Reply::Map(map)
    }
}

/// Parses the compact syntax of [`ARGUMENT_SYNTAX`] into COMMAND DOCS arguments.
///
/// The notation is the one redis-cli prints as hints, made unambiguous: `name` is a value
/// (`name=type` gives its type; `key` is a key), an upper-case word is a keyword, `[...]` is
/// optional, `(...)` groups, `a|b` chooses, and a `...` suffix repeats (`...+` repeats the
/// keyword too). A keyword standing alone takes the values after it, up to the next such keyword
/// (`EX seconds`, `AUTH username password`).
pub fn parse_syntax(syntax: &str) -> Result<Vec<ArgSpec>, String> {
    let mut parser = SyntaxParser {
        text: syntax.as_bytes(),
        pos: 0,
    };
    let mut alternatives = parser.alternatives(None)?;
    if alternatives.len() != 1 {
        return Err(format!("top-level '|' in {syntax:?}"));
    }
    Ok(alternatives.remove(0))
}

struct SyntaxParser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl SyntaxParser<'_> {
    /// The `|`-separated sequences up to `close` (or the end of the text).
    fn alternatives(&mut self, close: Option<u8>) -> Result<Vec<Vec<ArgSpec>>, String> {
        let mut alternatives = Vec::new();
        let mut sequence = Vec::new();
        loop {
            while self.text.get(self.pos) == Some(&b' ') {
                self.pos += 1;
            }
            match self.text.get(self.pos).copied() {
                None if close.is_none() => break,
                None => return Err("unclosed group".into()),
                Some(c) if Some(c) == close => {
                    self.pos += 1;
                    break;
                }
                Some(b'|') => {
                    self.pos += 1;
                    alternatives.push(attach_tokens(std::mem::take(&mut sequence)));
                }
                Some(open @ (b'[' | b'(')) => {
                    self.pos += 1;
                    let inner = self.alternatives(Some(if open == b'[' { b']' } else { b')' }))?;
                    let mut arg = choice(inner)?;
                    arg.optional |= open == b'[';
                    self.repeat_suffix(&mut arg);
                    sequence.push(arg);
                }
                Some(b']' | b')') => return Err("unbalanced group".into()),
                Some(_) => {
                    let start = self.pos;
                    while self
                        .text
                        .get(self.pos)
                        .is_some_and(|c| !b" []()|".contains(c))
                    {
                        self.pos += 1;
                    }
                    let word = std::str::from_utf8(&self.text[start..self.pos])
                        .map_err(|e| e.to_string())?;
                    sequence.push(word_arg(word));
                }
            }
        }
        alternatives.push(attach_tokens(sequence));
        Ok(alternatives)
    }

    /// A `...` or `...+` right after a group.
    fn repeat_suffix(&mut self, arg: &mut ArgSpec) {
        let rest = &self.text[self.pos..];
        if rest.starts_with(b"...+") {
            (arg.multiple, arg.multiple_token) = (true, true);
            self.pos += 4;
        } else if rest.starts_with(b"...") {
            arg.multiple = true;
            self.pos += 3;
        }
    }
}

/// One word: a keyword (upper case) or a value, with its repeat suffix and type.
fn word_arg(word: &str) -> ArgSpec {
    let (word, multiple, multiple_token) = if let Some(w) = word.strip_suffix("...+") {
        (w, true, true)
    } else if let Some(w) = word.strip_suffix("...") {
        (w, true, false)
    } else {
        (word, false, false)
    };
    let keyword = word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    let mut arg = if keyword {
        ArgSpec {
            token: Some(word.to_string()),
            ..ArgSpec::leaf(&word.to_ascii_lowercase(), "pure-token")
        }
    } else {
        let (name, kind) = match word.split_once('=') {
            Some((name, kind)) => (name, value_kind(kind)),
            None => (word, if word == "key" { "key" } else { "string" }),
        };
        ArgSpec::leaf(name, kind)
    };
    arg.multiple = multiple;
    arg.multiple_token = multiple_token;
    arg
}

fn value_kind(kind: &str) -> &'static str {
    match kind {
        "key" => "key",
        "integer" => "integer",
        "double" => "double",
        "pattern" => "pattern",
        "unix-time" => "unix-time",
        _ => "string",
    }
}

/// Gives each bare keyword the values that follow it: one value takes the keyword as its token,
/// several become a block led by it.
fn attach_tokens(sequence: Vec<ArgSpec>) -> Vec<ArgSpec> {
    let mut out = Vec::with_capacity(sequence.len());
    let mut items = sequence.into_iter().peekable();
    while let Some(arg) = items.next() {
        if !arg.is_bare_token() {
            out.push(arg);
            continue;
        }
        let mut taken = Vec::new();
        while let Some(next) = items.next_if(|a| !a.is_bare_token()) {
            taken.push(next);
        }
        out.push(match taken.len() {
            0 => arg,
            1 if taken[0].token.is_none() && !taken[0].optional => ArgSpec {
                token: arg.token,
                ..taken.remove(0)
            },
            _ => ArgSpec {
                token: arg.token,
                ..ArgSpec::group(arg.name, "block", taken)
            },
        });
    }
    out
}

/// The argument a group stands for: its only item, a block of its items, or a choice between
/// its alternatives.
fn choice(alternatives: Vec<Vec<ArgSpec>>) -> Result<ArgSpec, String> {
    let mut options = Vec::with_capacity(alternatives.len());
    for mut sequence in alternatives {
        options.push(match sequence.len() {
            0 => return Err("empty group or alternative".into()),
            1 => sequence.remove(0),
            _ => ArgSpec::group(sequence[0].name.clone(), "block", sequence),
        });
    }
    if options.len() == 1 {
        return Ok(options.remove(0));
    }
    let name = options
        .iter()
        .map(|o| o.name.as_str())
        .collect::<Vec<_>>()
        .join("|");
    Ok(ArgSpec::group(name, "oneof", options))
}

/// COMMAND DOCS [name ...]: a map (flat array in RESP2) of command name to its docs; unknown
/// names are left out; every top-level command without names.
fn command_docs(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let entries = if args.is_empty() {
        table()
            .map(|c| (Reply::bulk_static(c.name), command_doc(None, c)))
            .collect()
    } else {
        args.rest()
            .iter()
            .filter_map(|name| find_command(name))
            .map(|(parent, c)| {
                (
                    Reply::Bulk(Bytes::from(full_name(parent, c))),
                    command_doc(parent, c),
                )
            })
            .collect()
    };
    Ok(Reply::Map(entries))
}

/// COMMAND LIST [FILTERBY ACLCAT category | PATTERN pattern | MODULE name]: the names of every
/// command and subcommand (`config|get`) that pass the filter. sesame has no modules, so a
/// MODULE filter matches nothing.
fn command_list(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    enum Filter {
        All,
        Category(Bytes),
        Pattern(Bytes),
        Module,
    }
    let filter = match args.rest_slice() {
        [] => Filter::All,
        [by, kind, value] if by.eq_ignore_ascii_case(b"filterby") => {
            match kind.to_ascii_lowercase().as_slice() {
                b"aclcat" => Filter::Category(value.clone()),
                b"pattern" => Filter::Pattern(value.clone()),
                b"module" => Filter::Module,
                _ => return Err(CmdError::Syntax),
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let keep = |parent: Option<&Command>, c: &Command| match &filter {
        Filter::All => true,
        Filter::Category(cat) => c.acl.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(cat)),
        Filter::Pattern(p) => glob_match(p, full_name(parent, c).as_bytes(), true),
        Filter::Module => false,
    };
    let mut names = Vec::new();
    for c in table() {
        if keep(None, c) {
            names.push(Reply::bulk_static(c.name));
        }
        for sub in c.subcommands {
            if keep(Some(c), sub) {
                names.push(Reply::Bulk(Bytes::from(full_name(Some(c), sub))));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// The positions of the keys in a full command (`argv[0]` is its name), with its table row, or
/// COMMAND GETKEYS's errors, in Redis's order: unknown command, no keys, wrong arity.
fn key_positions(argv: &[Bytes]) -> Result<(&'static Command, Vec<usize>), CmdError> {
    let (_, cmd) = resolve(argv).map_err(|_| CmdError::Text("ERR Invalid command specified"))?;
    if cmd.keys.first <= 0 {
        return Err(CmdError::Text("ERR The command has no key arguments"));
    }
    if !cmd.arity_ok(argv.len()) {
        return Err(CmdError::Text(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let k = cmd.keys;
    let argc = argv.len() as i64;
    let last = if k.last < 0 {
        argc + i64::from(k.last)
    } else {
        i64::from(k.last)
    }
    .min(argc - 1);
    let step = i64::from(k.step.max(1));
    let positions: Vec<usize> = (i64::from(k.first)..=last)
        .step_by(step as usize)
        .map(|i| i as usize)
        .collect();
    if positions.is_empty() {
        return Err(CmdError::Text(
            "ERR Invalid arguments specified for command",
        ));
    }
    Ok((cmd, positions))
}

/// COMMAND GETKEYS command [arg ...]: the keys the command would touch.
fn command_getkeys(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let argv = args.rest();
    let (_, positions) = key_positions(&argv)?;
    Ok(Reply::bulks(positions.into_iter().map(|i| argv[i].clone())))
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]: each key with its access flags.
fn command_getkeysandflags(_ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let argv = args.rest();
    let (cmd, positions) = key_positions(&argv)?;
    let flags = key_flags(cmd);
    Ok(Reply::Array(
        positions
            .into_iter()
            .map(|i| {
                let flags = flags.iter().copied().map(Reply::simple).collect();
                Reply::Array(vec![Reply::Bulk(argv[i].clone()), Reply::Set(flags)])
            })
            .collect(),
    ))
}

fn command_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(help(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Describe every command this server knows.",
            "COUNT",
            "    Count the commands this server knows.",
            "LIST [FILTERBY (ACLCAT <category> | PATTERN <pattern> | MODULE <module>)]",
            "    Name every command and subcommand, or only those the filter selects.",
            "INFO [<command-name> ...]",
            "    Describe the named commands, or every command when none is named.",
            "DOCS [<command-name> ...]",
            "    Document the named commands, or every command when none is named.",
            "GETKEYS <full-command>",
            "    List the keys a full command would touch.",
            "GETKEYSANDFLAGS <full-command>",
            "    List the keys a full command would touch, with how it uses each.",
        ],
    ))
}

/// The arguments of Redis 7.0's commands, in [`parse_syntax`]'s notation, for COMMAND DOCS (and
/// so for redis-cli's hints). Keyed by full name; only commands that are in the table are ever
/// looked up, so an entry for a command sesame lacks is inert. Written from the syntax Redis 7.0
/// documents (argument names, keywords, types).
pub static ARGUMENT_SYNTAX: &[(&str, &str)] = &[
    ("append", "key value"),
    ("auth", "[username] password"),
    ("client|caching", "(YES|NO)"),
    ("client|kill", "(ip:port|([ID client-id=integer]|[TYPE (NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no])...)"),
    ("client|list", "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id=integer...]"),
    ("client|no-evict", "(ON|OFF)"),
    ("client|pause", "timeout=integer [WRITE|ALL]"),
    ("client|reply", "(ON|OFF|SKIP)"),
    ("client|setinfo", "(LIB-NAME libname|LIB-VER libver)"),
    ("client|setname", "connection-name"),
    ("client|tracking", "(ON|OFF) [REDIRECT client-id=integer] [PREFIX prefix...+] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"),
    ("client|unblock", "client-id=integer [TIMEOUT|ERROR]"),
    ("cluster|addslots", "slot=integer..."),
    ("cluster|addslotsrange", "(start-slot=integer end-slot=integer)..."),
    ("cluster|count-failure-reports", "node-id"),
    ("cluster|countkeysinslot", "slot=integer"),
    ("cluster|delslots", "slot=integer..."),
    ("cluster|delslotsrange", "(start-slot=integer end-slot=integer)..."),
    ("cluster|failover", "[FORCE|TAKEOVER]"),
    ("cluster|forget", "node-id"),
    ("cluster|getkeysinslot", "slot=integer count=integer"),
    ("cluster|keyslot", "key"),
    ("cluster|meet", "ip port=integer [cluster_bus_port=integer]"),
    ("cluster|replicas", "node-id"),
    ("cluster|replicate", "node-id"),
    ("cluster|reset", "[HARD|SOFT]"),
    ("cluster|set-config-epoch", "config-epoch=integer"),
    ("cluster|setslot", "slot=integer (IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE)"),
    ("cluster|slaves", "node-id"),
    ("command|docs", "[command-name...]"),
    ("command|info", "[command-name...]"),
    ("command|list", "[FILTERBY (MODULE module-name|ACLCAT category|PATTERN pattern=pattern)]"),
    ("config|get", "(parameter)..."),
    ("config|set", "(parameter value)..."),
    ("copy", "source=key destination=key [DB destination-db=integer] [REPLACE]"),
    ("decr", "key"),
    ("decrby", "key decrement=integer"),
    ("del", "key..."),
    ("echo", "message"),
    ("eval", "script numkeys=integer [key...] [arg...]"),
    ("eval_ro", "script numkeys=integer [key...] [arg...]"),
    ("evalsha", "sha1 numkeys=integer [key...] [arg...]"),
    ("evalsha_ro", "sha1 numkeys=integer [key...] [arg...]"),
    ("exists", "key..."),
    ("expire", "key seconds=integer [NX|XX|GT|LT]"),
    ("expireat", "key unix-time-seconds=unix-time [NX|XX|GT|LT]"),
    ("expiretime", "key"),
    ("flushall", "[ASYNC|SYNC]"),
    ("flushdb", "[ASYNC|SYNC]"),
    ("get", "key"),
    ("getdel", "key"),
    ("getex", "key [EX seconds=integer|PX milliseconds=integer|EXAT unix-time-seconds=unix-time|PXAT unix-time-milliseconds=unix-time|PERSIST]"),
    ("getrange", "key start=integer end=integer"),
    ("getset", "key value"),
    ("hdel", "key field..."),
    ("hello", "[protover=integer [AUTH username password] [SETNAME clientname]]"),
    ("hexists", "key field"),
    ("hget", "key field"),
    ("hgetall", "key"),
    ("hincrby", "key field increment=integer"),
    ("hincrbyfloat", "key field increment=double"),
    ("hkeys", "key"),
    ("hlen", "key"),
    ("hmget", "key field..."),
    ("hmset", "key (field value)..."),
    ("hrandfield", "key [count=integer [WITHVALUES]]"),
    ("hscan", "key cursor=integer [MATCH pattern=pattern] [COUNT count=integer]"),
    ("hset", "key (field value)..."),
    ("hsetnx", "key field value"),
    ("hstrlen", "key field"),
    ("hvals", "key"),
    ("incr", "key"),
    ("incrby", "key increment=integer"),
    ("incrbyfloat", "key increment=double"),
    ("info", "[section...]"),
    ("keys", "pattern=pattern"),
    ("lcs", "key1=key key2=key [LEN] [IDX] [MINMATCHLEN len=integer] [WITHMATCHLEN]"),
    ("memory|usage", "key [SAMPLES count=integer]"),
    ("mget", "key..."),
    ("move", "key db=integer"),
    ("mset", "(key value)..."),
    ("msetnx", "(key value)..."),
    ("object|encoding", "key"),
    ("object|freq", "key"),
    ("object|idletime", "key"),
    ("object|refcount", "key"),
    ("persist", "key"),
    ("pexpire", "key milliseconds=integer [NX|XX|GT|LT]"),
    ("pexpireat", "key unix-time-milliseconds=unix-time [NX|XX|GT|LT]"),
    ("pexpiretime", "key"),
    ("ping", "[message]"),
    ("psetex", "key milliseconds=integer value"),
    ("psubscribe", "(pattern=pattern)..."),
    ("pttl", "key"),
    ("publish", "channel message"),
    ("pubsub|channels", "[pattern=pattern]"),
    ("pubsub|numsub", "[channel...]"),
    ("pubsub|shardchannels", "[pattern=pattern]"),
    ("pubsub|shardnumsub", "[shardchannel...]"),
    ("punsubscribe", "[pattern=pattern...]"),
    ("rename", "key newkey=key"),
    ("renamenx", "key newkey=key"),
    ("sadd", "key member..."),
    ("scan", "cursor=integer [MATCH pattern=pattern] [COUNT count=integer] [TYPE type]"),
    ("scard", "key"),
    ("script|debug", "(YES|SYNC|NO)"),
    ("script|exists", "sha1..."),
    ("script|flush", "[ASYNC|SYNC]"),
    ("script|load", "script"),
    ("sdiff", "key..."),
    ("sdiffstore", "destination=key key..."),
    ("select", "index=integer"),
    ("set", "key value [NX|XX] [GET] [EX seconds=integer|PX milliseconds=integer|EXAT unix-time-seconds=unix-time|PXAT unix-time-milliseconds=unix-time|KEEPTTL]"),
    ("setex", "key seconds=integer value"),
    ("setnx", "key value"),
    ("setrange", "key offset=integer value"),
    ("shutdown", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    ("sinter", "key..."),
    ("sintercard", "numkeys=integer key... [LIMIT limit=integer]"),
    ("sinterstore", "destination=key key..."),
    ("sismember", "key member"),
    ("smembers", "key"),
    ("smismember", "key member..."),
    ("smove", "source=key destination=key member"),
    ("sort", "key [BY pattern=pattern] [LIMIT offset=integer count=integer] [GET pattern=pattern...+] [ASC|DESC] [ALPHA] [STORE destination=key]"),
    ("sort_ro", "key [BY pattern=pattern] [LIMIT offset=integer count=integer] [GET pattern=pattern...+] [ASC|DESC] [ALPHA]"),
    ("spop", "key [count=integer]"),
    ("spublish", "shardchannel message"),
    ("srandmember", "key [count=integer]"),
    ("srem", "key member..."),
    ("sscan", "key cursor=integer [MATCH pattern=pattern] [COUNT count=integer]"),
    ("ssubscribe", "shardchannel..."),
    ("strlen", "key"),
    ("subscribe", "channel..."),
    ("substr", "key start=integer end=integer"),
    ("sunion", "key..."),
    ("sunionstore", "destination=key key..."),
    ("sunsubscribe", "[shardchannel...]"),
    ("swapdb", "index1=integer index2=integer"),
    ("touch", "key..."),
    ("ttl", "key"),
    ("type", "key"),
    ("unlink", "key..."),
    ("unsubscribe", "[channel...]"),
    ("wait", "numreplicas=integer timeout=integer"),
    ("watch", "key..."),
];

// ---------------------------------------------------------------------------------------------
// The keyspace as a whole
// ---------------------------------------------------------------------------------------------

/// DBSIZE: the number of keys in the selected database (keys past their deadline that nothing
/// has removed yet included, as in Redis).
fn dbsize(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Integer(ctx.store().dbsize(ctx.db()) as i64))
}

/// The optional ASYNC|SYNC of FLUSHDB and FLUSHALL. Both free at once: sesame has no background
/// freeing.
fn flush_mode(args: &Args) -> Result<(), CmdError> {
    match args.rest_slice() {
        [] => Ok(()),
        [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
            Ok(())
        }
        _ => Err(CmdError::Syntax),
    }
}

/// FLUSHDB [ASYNC|SYNC]: deletes every key of the selected database; `+OK`.
fn flushdb(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    flush_mode(args)?;
    let store = ctx.store();
    ctx.shared
        .events
        .touch_all_watched(Some(ctx.db()), |db, key| store.contains(db, key));
    store.flush(Some(ctx.db()));
    Ok(Reply::ok())
}

/// FLUSHALL [ASYNC|SYNC]: deletes every key of every database; `+OK`.
fn flushall(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    flush_mode(args)?;
    let store = ctx.store();
    ctx.shared
        .events
        .touch_all_watched(None, |db, key| store.contains(db, key));
    store.flush(None);
    Ok(Reply::ok())
}

/// SWAPDB index1 index2: exchanges two databases at once; `+OK`. Clients keep their selected
/// index and so see the other data from then on.
fn swapdb(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    // Redis reads each index as a C int; anything else is an invalid index, not a range error.
    let index = |word: &[u8], err: &'static str| {
        crate::store::parse_canonical_i64(word)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or(CmdError::Text(err))
    };
    let a = index(&args.next()?, "ERR invalid first DB index")?;
    let b = index(&args.next()?, "ERR invalid second DB index")?;
    let databases = ctx.store().databases() as i64;
    if !(0..databases).contains(&a) || !(0..databases).contains(&b) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if a != b {
        let (a, b) = (a as usize, b as usize);
        // A watched key of either database changes if it exists in either of them.
        let store = ctx.store();
        let either = |_: usize, key: &[u8]| store.contains(a, key) || store.contains(b, key);
        ctx.shared.events.touch_all_watched(Some(a), either);
        ctx.shared.events.touch_all_watched(Some(b), either);
        store.swap_db(a, b);
    }
    Ok(Reply::ok())
}

/// TIME: the system clock as two bulk strings, Unix seconds and the microseconds within them.
fn time(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    let us = unix_us();
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from((us / 1_000_000).to_string())),
        Reply::Bulk(Bytes::from((us % 1_000_000).to_string())),
    ]))
}

/// LASTSAVE: the Unix time of the last successful save. sesame never saves, so like a Redis that
/// has not saved since it started, it answers its start time.
fn lastsave(ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(Reply::Integer(start_unix_secs(ctx.shared) as i64))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server. On success Redis sends no
/// reply and closes the connection; so does sesame. Nothing is shut down in stages, so ABORT
/// always finds nothing to abort. SAVE asks for a save sesame cannot make: it fails as a failed
/// save does in Redis, unless FORCE says to stop anyway.
fn shutdown(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    if args.remaining() > 5 {
        return Err(CmdError::Syntax);
    }
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for word in args.rest() {
        match word.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => now = true,
            b"force" => force = true,
            b"abort" => abort = true,
            _ => return Err(CmdError::Syntax),
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::Text("ERR No shutdown in progress."));
    }
    if save && !force {
        eprintln!("SHUTDOWN SAVE refused: sesame keeps its data in memory only and cannot save it (add FORCE to stop anyway)");
        return Err(CmdError::Text("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.shared.request_shutdown();
    ctx.client.reply_mode = ReplyMode::Off;
    ctx.client.close_after_reply = true;
    Ok(Reply::ok())
}

// ---------------------------------------------------------------------------------------------
// OBJECT and MEMORY
// ---------------------------------------------------------------------------------------------

/// Looks a key up for OBJECT, counting a keyspace hit or miss as Redis does (but never sliding
/// its deadline: OBJECT is a metadata command). Null when the key is missing.
fn object_lookup<T>(
    ctx: &mut Ctx,
    args: &mut Args,
    f: impl FnOnce(&Entry) -> T,
) -> Result<Option<T>, CmdError> {
    let key = args.next()?;
    let mut locked = ctx.store().lock(ctx.db(), [&key]);
    Ok(locked.get(&key).map(|e| f(e)))
}

/// OBJECT ENCODING key: the encoding Redis 7.0 would report for the value (`int`, `embstr`,
/// `raw`; `listpack` or `hashtable` for a hash; `intset` or `hashtable` for a set); null for a
/// missing key.
fn object_encoding(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(object_lookup(ctx, args, |e| e.encoding())?.map_or(Reply::Null, Reply::bulk_static))
}

/// Redis shares one object for each integer value below this (with noeviction, which is always
/// sesame's policy); OBJECT REFCOUNT reports such a shared object as INT_MAX.
const SHARED_INTEGERS: i64 = 10_000;

/// OBJECT REFCOUNT key: 1, or 2147483647 for a small integer that Redis would keep as one
/// shared object; null for a missing key.
fn object_refcount(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let count = object_lookup(ctx, args, |e| match e.value() {
        ValueRef::Str(s) if e.encoding() == "int" => {
            let n = crate::store::parse_canonical_i64(s).unwrap_or(-1);
            if (0..SHARED_INTEGERS).contains(&n) {
                i64::from(i32::MAX)
            } else {
                1
            }
        }
        _ => 1,
    })?;
    Ok(count.map_or(Reply::Null, Reply::Integer))
}

/// OBJECT IDLETIME key: seconds since the key was last used. sesame does not record access
/// times, so this is always 0 for an existing key; null for a missing one.
fn object_idletime(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    Ok(object_lookup(ctx, args, |_| 0)?.map_or(Reply::Null, Reply::Integer))
}

/// OBJECT FREQ key: null for a missing key; otherwise Redis's error for a server without an LFU
/// policy, since sesame's only policy is noeviction.
fn object_freq(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    match object_lookup(ctx, args, |_| ())? {
        None => Ok(Reply::Null),
        Some(()) => Err(CmdError::Text(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
    }
}

fn object_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(help(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the name of the internal representation of the value stored at <key>.",
            "FREQ <key>",
            "    Refused: access frequency is only kept under an LFU eviction policy, and sesame never evicts.",
            "IDLETIME <key>",
            "    Always 0: sesame does not record when a key was last used.",
            "REFCOUNT <key>",
            "    Return how many references point at the value stored at <key>.",
        ],
    ))
}

/// The bytes the system allocator (glibc malloc) takes for a block of `n` bytes: an 8-byte
/// header, rounded up to 16, at least 32.
fn heap_block(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// An estimate of the memory one entry takes: its slot in the shard's table (the entry's pointer
/// plus the table's control byte), its block (header, key, a string's bytes) and a hash's or
/// set's heap. Wheel timers and the table's spare capacity are shared by all keys and not
/// counted.
pub fn entry_usage(entry: &Entry) -> usize {
    let collection = match entry.value() {
        ValueRef::Str(_) => 0,
        ValueRef::Hash(h) => heap_block(std::mem::size_of::<Hash>()) + h.heap_usage(heap_block),
        ValueRef::Set(s) => heap_block(std::mem::size_of::<Set>()) + s.heap_usage(heap_block),
    };
    std::mem::size_of::<Entry>() + 1 + heap_block(entry.block_size()) + collection
}

/// MEMORY USAGE key [SAMPLES count]: an estimate in bytes of what the key and its value occupy
/// (see [`entry_usage`]); null for a missing key. SAMPLES is checked as Redis checks it and has
/// no effect, since sesame's values are not nested.
fn memory_usage(ctx: &mut Ctx, args: &mut Args) -> Result<Reply, CmdError> {
    let key = args.next()?;
    while let Some(word) = args.next_opt() {
        if word.eq_ignore_ascii_case(b"samples") && !args.is_empty() {
            if args.next_i64()? < 0 {
                return Err(CmdError::Syntax);
            }
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // A plain lookup, as Redis's: no keyspace hit or miss is counted.
    let mut locked = ctx.store().lock(ctx.db(), [&key]);
    Ok(locked
        .peek(&key)
        .map_or(Reply::Null, |e| Reply::Integer(entry_usage(e) as i64)))
}

fn memory_help(_ctx: &mut Ctx, _args: &mut Args) -> Result<Reply, CmdError> {
    Ok(help(
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Estimate the bytes that <key> and its value occupy. SAMPLES is accepted for",
            "    compatibility and changes nothing: sesame's values are not nested.",
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::dispatch;
    use crate::protocol::Protocol;
    use crate::server::{ClientState, Config};
    use crate::store::Clock;
    use bytes::BytesMut;

    fn shared() -> Shared {
        let config = Config {
            databases: 16,
            shards: 4,
            ..Config::default()
        };
        Shared::new(config, 6379, Clock::manual(1_700_000_000_000))
    }

    use crate::commands::run_as_new_client as run;

    fn run2(shared: &Shared, words: &[&str]) -> String {
        String::from_utf8(run(shared, Protocol::Resp2, words)).unwrap()
    }

    fn info_of(shared: &Shared, words: &[&str]) -> String {
        let reply = run2(shared, words);
        let (header, body) = reply.split_once("\r\n").unwrap();
        assert_eq!(header, format!("${}", body.len() - 2));
        body[..body.len() - 2].to_string()
    }

    #[test]
    fn info_section_selection() {
        let words = |w: &[&str]| {
            w.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect::<Vec<_>>()
        };
        let all: Vec<usize> = (0..INFO_SECTIONS.len()).collect();
        assert_eq!(info_sections(&[]), all);
        assert_eq!(info_sections(&words(&["default"])), all);
        assert_eq!(info_sections(&words(&["EVERYTHING"])), all);
        assert_eq!(info_sections(&words(&["all", "server"])), all);
        // Output order is INFO's, whatever the argument order.
        assert_eq!(
            info_sections(&words(&["Clients", "server", "clients"])),
            vec![0, 1]
        );
        assert_eq!(info_sections(&words(&["module_list"])), vec![7]);
        assert!(info_sections(&words(&["bogus"])).is_empty());
        assert!(info_sections(&words(&["commandstats"])).is_empty());
    }

    #[test]
    fn info_is_formatted_as_redis_formats_it() {
        let s = shared();
        let text = info_of(&s, &["INFO"]);
        assert!(text.starts_with("# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"));
        for line in [
            "redis_mode:standalone",
            "role:master",
            "loading:0",
            "aof_enabled:0",
            "cluster_enabled:0",
        ] {
            assert!(text.contains(&format!("\r\n{line}\r\n")), "{line}");
        }
        assert!(text.contains(&format!("\r\nrun_id:{}\r\n", s.run_id)));
        assert!(text.contains(&format!("\r\nsesame_version:{}\r\n", crate::SESAME_VERSION)));
        let replid = text
            .split("master_replid:")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        assert!(replid.len() == 40 && replid.bytes().all(|c| c.is_ascii_hexdigit()));
        // Sections are separated by one empty line; every line ends in CRLF.
        assert!(text.ends_with("# Keyspace\r\n"));
        assert!(text.contains("\r\n\r\n# Clients\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));
        let titles: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with('#')).collect();
        let expected: Vec<String> = INFO_SECTIONS
            .iter()
            .map(|(_, t)| format!("# {t}"))
            .collect();
        assert_eq!(titles, expected);
        assert_eq!(run2(&s, &["INFO", "nosuch"]), "$0\r\n\r\n");
        assert_eq!(
            info_of(&s, &["info", "CLUSTER"]),
            "# Cluster\r\ncluster_enabled:0\r\n"
        );
        assert_eq!(
            info_of(&s, &["info", "modules", "errorstats"]),
            "# Modules\r\n\r\n# Errorstats\r\n"
        );
    }

    #[test]
    fn info_is_a_verbatim_string_in_resp3_as_in_redis_7_0() {
        let s = shared();
        let reply = run(&s, Protocol::Resp3, &["INFO", "server"]);
        assert!(
            reply.starts_with(b"="),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        assert!(reply.windows(12).any(|w| w == b"txt:# Server"));
        assert!(run(&s, Protocol::Resp2, &["INFO", "server"]).starts_with(b"$"));
    }

    #[test]
    fn info_keyspace_lists_non_empty_databases() {
        let s = shared();
        s.store.lock(0, [b"a"]).set_string(b"a", b"1", 0);
        let ttl = s.store.now() + 100_000;
        s.store.lock(0, [b"b"]).set_string(b"b", b"1", ttl);
        s.store.lock(3, [b"c"]).set_string(b"c", b"1", 0);
        let text = info_of(&s, &["INFO", "keyspace"]);
        let avg_ttl: u64 = text
            .split("avg_ttl=")
            .nth(1)
            .and_then(|rest| rest.split("\r\n").next())
            .and_then(|n| n.parse().ok())
            .expect("db0 avg_ttl");
        assert!((99_000..=100_000).contains(&avg_ttl), "{text}");
        assert_eq!(
            text.replace(&format!("avg_ttl={avg_ttl}\r\n"), "avg_ttl=T\r\n"),
            "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=T\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
        );
    }

    #[test]
    fn human_bytes_and_proc_parsing() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(916_408), "894.93K");
        assert_eq!(bytes_to_human(12_173_312), "11.61M");
        assert_eq!(bytes_to_human(25_276_514_304), "23.54G");
        assert_eq!(
            kib_field("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234 * 1024)
        );
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 125 3 4 20 0";
        assert_eq!(stat_cpu_ticks(stat), Some([250, 125, 3, 4]));
    }

    #[test]
    fn config_get_globs_and_echoes_exact_names() {
        let s = shared();
        assert_eq!(run2(&s, &["CONFIG", "GET", "*read-only*"]), "*4\r\n$17\r\nreplica-read-only\r\n$3\r\nyes\r\n$15\r\nslave-read-only\r\n$3\r\nyes\r\n");
        assert_eq!(
            run2(&s, &["config", "get", "Port", "port", "p?rt"]),
            "*2\r\n$4\r\nPort\r\n$4\r\n6379\r\n"
        );
        assert_eq!(
            run2(&s, &["config", "get", "save", "appendonly"]),
            "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        assert_eq!(run2(&s, &["config", "get", "nosuch"]), "*0\r\n");
        assert_eq!(
            run(&s, Protocol::Resp3, &["config", "get", "timeout"]),
            b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
        );
        let all = run2(&s, &["config", "get", "*"]);
        assert!(all.starts_with(&format!("*{}\r\n", 2 * PARAMS.len())));
    }

    #[test]
    fn config_set_is_all_or_nothing_with_redis_texts() {
        let s = shared();
        let err = |words: &[&str]| run2(&s, words);
        assert_eq!(
            err(&["config", "set", "timeout", "5", "maxclients", "0"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n"
        );
        assert_eq!(s.idle_timeout(), 0);
        assert_eq!(
            err(&["config", "set", "NOSUCH", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'NOSUCH'\r\n"
        );
        assert_eq!(
            err(&["config", "set", "timeout", "x", "DATABASES", "1", "nosuch", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'DATABASES') - can't set immutable config\r\n"
        );
        assert_eq!(
            err(&["config", "set", "timeout", "1", "TIMEOUT", "2"]),
            "-ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter\r\n"
        );
        assert_eq!(
            err(&["config", "set", "Dir", "/x"]),
            "-ERR CONFIG SET failed (possibly related to argument 'Dir') - can't set protected config\r\n"
        );
        assert_eq!(
            err(&["config", "set", "TIMEOUT", "05"]),
            "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n"
        );
        assert_eq!(
            err(&["config", "set", "SLAVE-READ-ONLY", "maybe"]),
            "-ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'\r\n"
        );
        assert_eq!(
            err(&["config", "set", "save", "0 0"]),
            "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
        );
        assert!(err(&["config", "set", "save", "900 1"]).contains("never saves"));
        assert!(err(&["config", "set", "maxmemory-policy", "foo"]).ends_with(
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
        ));
        assert!(err(&["config", "set", "maxmemory", "1.5gb"])
            .ends_with("- argument must be a memory value\r\n"));
        assert_eq!(
            err(&["config", "set", "timeout", "1", "port"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            err(&["config", "set", "timeout"]),
            "-ERR wrong number of arguments for 'config|set' command\r\n"
        );

        for ok in [
            &[
                "config",
                "set",
                "save",
                "",
                "appendonly",
                "NO",
                "maxmemory",
                "0",
                "maxmemory-policy",
                "NOEVICTION",
            ][..],
            &[
                "config",
                "set",
                "client-output-buffer-limit",
                "normal 0 0 0 replica 0kb 0 0",
            ],
            &["config", "set", "proto-max-bulk-len", "512mb"],
            &[
                "config",
                "set",
                "timeout",
                "30",
                "maxclients",
                "7",
                "requirepass",
                "pw",
            ],
        ] {
            assert_eq!(run2(&s, ok), "+OK\r\n", "{ok:?}");
        }
        let rt = s.runtime.read().clone();
        assert_eq!(
            (s.idle_timeout(), rt.maxclients, rt.requirepass.as_deref()),
            (30, 7, Some("pw"))
        );
        assert_eq!(run2(&s, &["config", "set", "requirepass", ""]), "+OK\r\n");
        assert_eq!(s.runtime.read().requirepass, None);
    }

    #[test]
    fn config_other_subcommands() {
        let s = shared();
        assert_eq!(
            run2(&s, &["config", "rewrite"]),
            "-ERR The server is running without a config file\r\n"
        );
        s.stats.commands_processed.store(10, Ordering::Relaxed);
        assert_eq!(run2(&s, &["config", "resetstat"]), "+OK\r\n");
        assert_eq!(s.stats.commands_processed.load(Ordering::Relaxed), 0);
        assert!(run2(&s, &["config", "help"]).starts_with("*"));
        assert_eq!(
            run2(&s, &["config", "foo"]),
            "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n"
        );
        assert_eq!(
            run2(&s, &["config"]),
            "-ERR wrong number of arguments for 'config' command\r\n"
        );
    }

    /// A row shaped like Redis 7.0's GET.
    static GET_LIKE: Command = Command {
        name: "get",
        arity: 2,
        flags: READONLY | FAST | TOUCHES_VALUE,
        keys: super::super::ONE_KEY,
        acl: &["read", "string", "fast"],
        group: "string",
        since: "1.0.0",
        summary: "",
        handler: container_only,
        subcommands: &[],
    };

    #[test]
    fn command_info_has_redis_shape() {
        let encode = |proto| {
            let mut out = BytesMut::new();
            command_reply(None, &GET_LIKE).encode(&mut out, proto);
            out.to_vec()
        };
        // Captured from redis-server 7.0.15: `COMMAND INFO get` without the outer array.
        let redis_resp2: &[u8] = b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
        assert_eq!(encode(Protocol::Resp2), redis_resp2);
        let redis_resp3: &[u8] = b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n";
        assert_eq!(encode(Protocol::Resp3), redis_resp3);
    }

    #[test]
    fn command_info_of_a_container_nests_its_subcommands() {
        let s = shared();
        let reply = run2(&s, &["COMMAND", "INFO", "config", "nosuch", "CONFIG|GET"]);
        assert!(reply.starts_with("*3\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"));
        assert!(reply.contains("\r\n$-1\r\n*10\r\n$10\r\nconfig|get\r\n"));
        assert_eq!(
            run2(&s, &["COMMAND", "COUNT"]),
            format!(":{}\r\n", table().count())
        );
        let all = run2(&s, &["COMMAND"]);
        assert!(all.starts_with(&format!("*{}\r\n", table().count())));
    }

    #[test]
    fn command_docs_list_and_getkeys() {
        let s = shared();
        assert_eq!(
            run2(&s, &["COMMAND", "DOCS", "dbsize", "nosuch"]),
            "*2\r\n$6\r\ndbsize\r\n*6\r\n$7\r\nsummary\r\n$41\r\nCounts the keys of the selected database.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n"
        );
        let docs = run(&s, Protocol::Resp3, &["COMMAND", "DOCS", "memory"]);
        assert!(docs.starts_with(b"%1\r\n$6\r\nmemory\r\n%4\r\n"));
        assert!(docs
            .windows(40)
            .any(|w| w == b"$11\r\nsubcommands\r\n%2\r\n$11\r\nmemory|help\r\n"));
        assert!(
            docs.ends_with(b"$5\r\ntoken\r\n$7\r\nSAMPLES\r\n$5\r\nflags\r\n~1\r\n+optional\r\n")
        );
        assert_eq!(
            run2(&s, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG|G*"]),
            "*1\r\n$10\r\nconfig|get\r\n"
        );
        let admin = run2(&s, &["command", "list", "filterby", "aclcat", "ADMIN"]);
        assert!(admin.contains("$10\r\nconfig|set\r\n") && !admin.contains("$6\r\nconfig\r\n"));
        assert_eq!(
            run2(&s, &["command", "list", "filterby", "module", "x"]),
            "*0\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "list", "filterby"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "list", "foo", "bar", "baz"]),
            "-ERR syntax error\r\n"
        );

        assert_eq!(
            run2(&s, &["command", "getkeys", "object", "encoding", "k"]),
            "*1\r\n$1\r\nk\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeys", "nosuch", "a"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeys", "config", "nosuch"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeys", "swapdb", "0"]),
            "-ERR The command has no key arguments\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeys", "memory", "usage"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeysandflags", "memory", "usage", "k"]),
            "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n+RO\r\n"
        );
        assert_eq!(
            run2(&s, &["command", "getkeys", "get"]),
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
        );
    }

    #[test]
    fn keyspace_commands() {
        let s = shared();
        s.store.lock(0, [b"a"]).set_string(b"a", b"1", 0);
        assert_eq!(run2(&s, &["dbsize"]), ":1\r\n");
        assert_eq!(run2(&s, &["swapdb", "0", "1"]), "+OK\r\n");
        assert_eq!(run2(&s, &["dbsize"]), ":0\r\n");
        assert_eq!(s.store.dbsize(1), 1);
        assert_eq!(
            run2(&s, &["swapdb", "00", "1"]),
            "-ERR invalid first DB index\r\n"
        );
        assert_eq!(
            run2(&s, &["swapdb", "0", "x"]),
            "-ERR invalid second DB index\r\n"
        );
        assert_eq!(
            run2(&s, &["swapdb", "0", "4294967296"]),
            "-ERR invalid second DB index\r\n"
        );
        assert_eq!(
            run2(&s, &["swapdb", "-1", "0"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            run2(&s, &["swapdb", "0", "16"]),
            "-ERR DB index is out of range\r\n"
        );
        assert_eq!(
            run2(&s, &["flushdb", "async", "sync"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(run2(&s, &["flushdb", "SYNC"]), "+OK\r\n");
        assert_eq!(s.store.dbsize(1), 1);
        assert_eq!(run2(&s, &["flushall", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(run2(&s, &["flushall", "ASYNC"]), "+OK\r\n");
        assert_eq!(s.store.dbsize(1), 0);
        assert!(run2(&s, &["time"]).starts_with("*2\r\n$10\r\n"));
        assert!(run2(&s, &["lastsave"]).starts_with(":1"));
    }

    #[test]
    fn shutdown_options() {
        let s = shared();
        assert_eq!(
            run2(&s, &["shutdown", "abort"]),
            "-ERR No shutdown in progress.\r\n"
        );
        assert_eq!(
            run2(&s, &["shutdown", "abort", "now"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run2(&s, &["shutdown", "nosave", "save"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(run2(&s, &["shutdown", "foo"]), "-ERR syntax error\r\n");
        assert_eq!(
            run2(&s, &["shutdown", "save"]),
            "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        );
        assert!(!*s.shutdown.borrow());

        let addr = "127.0.0.1:5000".parse().unwrap();
        let registration = s.clients.register(addr, addr, 100).unwrap();
        let mut client = ClientState::new(registration.handle.clone(), true);
        dispatch(
            &mut Ctx::new(&s, &mut client),
            vec![Bytes::from_static(b"SHUTDOWN"), Bytes::from_static(b"NOW")],
        );
        assert!(*s.shutdown.borrow());
        assert!(client.close_after_reply && client.reply_mode == ReplyMode::Off);
    }

    #[test]
    fn object_and_memory() {
        let s = shared();
        for (k, v) in [
            ("small", "9999"),
            ("big", "10000"),
            ("neg", "-1"),
            ("text", "hello"),
        ] {
            s.store.lock(0, [k]).insert(
                k.as_bytes(),
                crate::store::Value::Str(Bytes::copy_from_slice(v.as_bytes())),
                0,
            );
        }
        assert_eq!(
            run2(&s, &["object", "refcount", "small"]),
            ":2147483647\r\n"
        );
        assert_eq!(run2(&s, &["object", "refcount", "big"]), ":1\r\n");
        assert_eq!(run2(&s, &["object", "refcount", "neg"]), ":1\r\n");
        assert_eq!(run2(&s, &["object", "refcount", "text"]), ":1\r\n");
        assert_eq!(run2(&s, &["object", "encoding", "small"]), "$3\r\nint\r\n");
        assert_eq!(
            run2(&s, &["object", "encoding", "text"]),
            "$6\r\nembstr\r\n"
        );
        assert_eq!(run2(&s, &["object", "encoding", "nosuch"]), "$-1\r\n");
        assert_eq!(run2(&s, &["object", "idletime", "text"]), ":0\r\n");
        assert_eq!(run2(&s, &["object", "freq", "nosuch"]), "$-1\r\n");
        assert!(run2(&s, &["object", "freq", "text"])
            .starts_with("-ERR An LFU maxmemory policy is not selected"));
        assert_eq!(
            run2(&s, &["object", "foo", "k"]),
            "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
        );
        assert_eq!(
            s.store.stats().keyspace_misses,
            2,
            "OBJECT counts hits and misses"
        );

        let usage = run2(&s, &["memory", "usage", "text", "SAMPLES", "0"]);
        let n: usize = usage[1..usage.len() - 2].parse().unwrap();
        assert!(n > "text".len() + "hello".len() && n < 512, "{n}");
        assert_eq!(run2(&s, &["memory", "usage", "nosuch"]), "$-1\r\n");
        assert_eq!(
            run2(&s, &["memory", "usage", "text", "samples", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            run2(&s, &["memory", "usage", "text", "samples", "-1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            run2(&s, &["memory", "usage", "text", "samples"]),
            "-ERR syntax error\r\n"
        );
    }

    #[test]
    fn cluster_is_refused_as_standalone_redis_refuses_it() {
        let s = shared();
        for words in [
            &["cluster", "info"][..],
            &["CLUSTER", "HELP"],
            &["cluster", "keyslot", "a"],
            &["readonly"],
            &["asking"],
        ] {
            assert_eq!(
                run2(&s, words),
                "-ERR This instance has cluster support disabled\r\n"
            );
        }
        assert_eq!(
            run2(&s, &["cluster", "info", "x"]),
            "-ERR wrong number of arguments for 'cluster|info' command\r\n"
        );
        assert_eq!(
            run2(&s, &["cluster", "foo"]),
            "-ERR unknown subcommand 'foo'. Try CLUSTER HELP.\r\n"
        );
        assert!(run2(&s, &["sentinel", "masters"]).starts_with("-ERR unknown command 'sentinel'"));
        assert!(run2(&s, &["save"]).starts_with("-ERR unknown command"));
    }

    /// redis-cli's rendering of COMMAND DOCS arguments into a hint.
    fn hint(args: &[ArgSpec]) -> String {
        fn one(a: &ArgSpec) -> String {
            let repeat = match a.kind {
                "oneof" => a.args.iter().map(one).collect::<Vec<_>>().join("|"),
                "block" => a.args.iter().map(one).collect::<Vec<_>>().join(" "),
                "pure-token" => String::new(),
                _ => a.name.clone(),
            };
            let mut token = a.token.clone().unwrap_or_default();
            if !token.is_empty() && a.kind != "pure-token" {
                token.push(' ');
            }
            let mut out = format!("{token}{repeat}");
            if a.multiple {
                let again = if a.multiple_token {
                    format!("{token}{repeat}")
                } else {
                    repeat
                };
                out = format!("{out} [{again} ...]");
            }
            if a.optional {
                out = format!("[{out}]");
            }
            out
        }
        args.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn argument_syntax_renders_redis_hints() {
        for (name, syntax) in ARGUMENT_SYNTAX {
            assert!(parse_syntax(syntax).is_ok(), "{name}: {syntax}");
        }
        let cases = [
            (
                "key value [NX|XX] [GET] [EX seconds=integer|PX milliseconds=integer|KEEPTTL]",
                "key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]",
            ),
            ("(key value)...", "key value [key value ...]"),
            ("key...", "key [key ...]"),
            (
                "[protover=integer [AUTH username password] [SETNAME clientname]]",
                "[protover [AUTH username password] [SETNAME clientname]]",
            ),
            (
                "[TYPE (NORMAL|MASTER)] [ID client-id=integer...]",
                "[TYPE NORMAL|MASTER] [ID client-id [client-id ...]]",
            ),
            (
                "(ON|OFF) [PREFIX prefix...+]",
                "ON|OFF [PREFIX prefix [PREFIX prefix ...]]",
            ),
            ("((host port=integer)|(NO ONE))", "host port|NO ONE"),
            (
                "[FILTERBY (MODULE module-name|ACLCAT category|PATTERN pattern=pattern)]",
                "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
            ),
        ];
        for (syntax, expected) in cases {
            assert_eq!(hint(&parse_syntax(syntax).unwrap()), expected, "{syntax}");
        }
        let set = parse_syntax("key [EX seconds=integer|KEEPTTL]").unwrap();
        assert_eq!(set[0].kind, "key");
        assert_eq!(set[1].kind, "oneof");
        assert!(set[1].optional);
        assert_eq!(
            set[1].args[0],
            ArgSpec {
                token: Some("EX".into()),
                ..ArgSpec::leaf("seconds", "integer")
            }
        );
        assert_eq!(set[1].args[1].kind, "pure-token");
        for bad in ["[a", "a]", "a|b", "()", "(a|)"] {
            assert!(parse_syntax(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_docs_carry_arguments() {
        let s = shared();
        let docs = run2(&s, &["COMMAND", "DOCS", "memory|usage"]);
        assert!(docs.ends_with("$9\r\narguments\r\n*2\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n*8\r\n$4\r\nname\r\n$5\r\ncount\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$7\r\nSAMPLES\r\n$5\r\nflags\r\n*1\r\n+optional\r\n"), "{docs}");
    }

    #[test]
    fn memory_values_parse_like_redis() {
        assert_eq!(parse_memory("0"), Some(0));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("512mb"), Some(536_870_912));
        assert_eq!(parse_memory("2g"), Some(2_000_000_000));
        for bad in ["", "-1", "1.5gb", "x", "1tb", "99999999999999999999"] {
            assert_eq!(parse_memory(bad), None, "{bad}");
        }
    }
}
