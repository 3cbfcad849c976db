//! The process: shared state, the listeners, the connections, the sweeper and shutdown.
//!
//! [`run`] takes already-bound listeners (so tests can bind port 0 and read the port back) and a
//! shutdown future. Each accepted connection is one tokio task ([`connection`]); the store's
//! sweeper is one more task that advances every shard's timer wheel every
//! [`SWEEP_INTERVAL_MS`]. Shutdown (the future resolving, or the SHUTDOWN command) stops the
//! accept loops, tells every connection to finish the replies it is writing and close, and waits
//! for them, at most [`SHUTDOWN_GRACE`].

pub mod clients;
pub mod config;
mod connection;
pub mod notify;
pub mod pubsub;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use clients::{ClientHandle, ClientState, Clients, ReplyMode};
pub use config::Config;

use crate::store::{Clock, Store};

/// How often the sweeper advances the wheels.
pub const SWEEP_INTERVAL_MS: u64 = 10;
/// How long shutdown waits for connections to flush their replies.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct Stats {
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

/// The settings that CONFIG SET may change while running.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub requirepass: Option<String>,
    pub maxclients: usize,
}

/// State shared by every connection.
pub struct Shared {
    pub store: Store,
    /// The configuration the server started with.
    pub config: Config,
    /// The settings CONFIG SET changes.
    pub runtime: RwLock<Runtime>,
    /// The idle timeout in seconds (0 = none), which CONFIG SET changes too: an atomic, since
    /// every connection reads it before every read.
    pub timeout: AtomicU64,
    pub clients: Clients,
    pub stats: Stats,
    /// 40 hex digits, new at every start (INFO `run_id`).
    pub run_id: String,
    pub started: Instant,
    /// The port actually bound (INFO `tcp_port`).
    pub port: u16,
    /// Set to true to shut the server down.
    pub shutdown: watch::Sender<bool>,
    /// Pub/sub, keyspace notifications and WATCH.
    pub events: Arc<notify::Events>,
    /// The Lua interpreter, its script cache and the running script's state.
    pub scripts: crate::commands::scripting::Scripts,
}

impl Shared {
    /// Shared state for a server with this configuration, listening on `port`.
    pub fn new(config: Config, port: u16, clock: Clock) -> Shared {
        let runtime = Runtime {
            requirepass: config.requirepass.clone(),
            maxclients: config.maxclients,
        };
        let store = Store::new(config.shards, config.databases, clock);
        store.set_slide_rules(crate::store::SlideRules {
            patterns: config
                .slide
                .iter()
                .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()))
                .collect(),
            max_lifetime_ms: config.slide_max_lifetime * 1000,
        });
        let events = Arc::new(notify::Events::default());
        events.set_flags(config.notify_keyspace_events);
        store.set_expiry_listener(events.clone());
        Shared {
            events,
            store,
            timeout: AtomicU64::new(config.timeout),
            config,
            runtime: RwLock::new(runtime),
            clients: Clients::default(),
            stats: Stats::default(),
            run_id: new_run_id(),
            started: Instant::now(),
            port,
            shutdown: watch::channel(false).0,
            scripts: Default::default(),
        }
    }

    /// A command modified `key` in database `db` (see [`crate::commands::Ctx::modified`]).
    pub fn key_modified(&self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        self.events.modified(db, class, event, key);
    }

    /// Seconds a client may stay idle before it is disconnected (0 = forever).
    pub fn idle_timeout(&self) -> u64 {
        self.timeout.load(Ordering::Relaxed)
    }

    /// True once the server was asked to stop.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Asks the server to stop (SHUTDOWN).
    pub fn request_shutdown(&self) {
        // A running script stops too, written or not, so that shutdown never waits on it.
        self.scripts.abort_all();
        self.shutdown.send_replace(true);
    }
}

fn new_run_id() -> String {
    use std::hash::BuildHasher;
    let state = hashbrown::DefaultHashBuilder::default();
    let seed = crate::store::unix_us() ^ u64::from(std::process::id());
    (0..3u64)
        .map(|i| format!("{:016x}", state.hash_one((seed, i))))
        .collect::<String>()[..40]
        .to_string()
}

/// Serves clients on `listeners` until `shutdown` resolves or a client sends SHUTDOWN.
pub async fn run(listeners: Vec<TcpListener>, config: Config, shutdown: impl Future<Output = ()>) {
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(config.port, |a| a.port());
    let shared = Arc::new(Shared::new(config, port, Clock::System));
    // Every connection task holds a clone of `done_tx`; when all are gone `done_rx` closes.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut stop = shared.shutdown.subscribe();

    for listener in listeners {
        tokio::spawn(accept_loop(listener, shared.clone(), done_tx.clone()));
    }
    tokio::spawn(sweeper(shared.clone()));

    tokio::select! {
        _ = shutdown => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    shared.request_shutdown();
    drop(done_tx);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv()).await;
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, done: mpsc::Sender<()>) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                let shared = shared.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    connection::serve(stream, addr, shared).await;
                    drop(done);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Removes expired keys on time: every [`SWEEP_INTERVAL_MS`] it walks every shard's wheels and
/// removes what is due. It is one more task among the connections, not a thread of its own, and
/// it yields to them after every slice of removals: a burst of a million keys expiring at once
/// is then interleaved with client requests slice by slice (tens of microseconds each) instead of
/// preempting them for whole scheduler time slices, as a separate thread on a busy core would.
async fn sweeper(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(SWEEP_INTERVAL_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (shards, databases) = (shared.store.shard_count(), shared.store.databases());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut worst_lag = None;
        for shard in 0..shards {
            for db in 0..databases {
                loop {
                    let (removed, more, lag) = shared.store.sweep_slice(shard, db);
                    if removed > 0 {
                        worst_lag = Some(worst_lag.unwrap_or(0).max(lag));
                        tokio::task::yield_now().await;
                    }
                    if !more {
                        break;
                    }
                }
            }
        }
        if let Some(lag) = worst_lag {
            shared.store.record_sweep_lag(lag);
        }
    }
}
