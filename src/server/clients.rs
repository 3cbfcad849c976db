//! The client registry: what CLIENT LIST, CLIENT KILL and INFO clients see of every connection.
//!
//! Each connection owns its [`ClientState`] (touched only by its own task) and registers a
//! shared [`ClientHandle`] here, through which other connections read its description and ask it
//! to close. The registry holds the handles by id; a connection removes its own handle when it
//! ends (the [`Registration`] guard does it on drop, so no path can leak one).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use super::pubsub::{Message, HARD_LIMIT_BYTES, SOFT_LIMIT_BYTES, SOFT_LIMIT_SECS};
use crate::protocol::Protocol;

/// What CLIENT REPLY asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Skip the reply to the next command only.
    SkipNext,
    /// Skipping the reply of the command being run now.
    Skipping,
}

/// A connection's own state, touched only by its task.
pub struct ClientState {
    pub id: u64,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// The last command: its container's name if it is a subcommand, and its own name
    /// (CLIENT LIST's `cmd`, e.g. `client|list`).
    pub last_command: (Option<&'static str>, &'static str),
    pub reply_mode: ReplyMode,
    /// Close the connection once the current reply is written (QUIT).
    pub close_after_reply: bool,
    /// Channels and patterns this connection is subscribed to.
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// Commands queued since MULTI (None outside a transaction).
    pub multi: Option<Multi>,
    /// Keys this connection WATCHes, by database.
    pub watched: Vec<(usize, Bytes)>,
    pub handle: Arc<ClientHandle>,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    /// The queued requests, in order.
    pub queue: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC answers EXECABORT.
    pub failed: bool,
}

impl ClientState {
    /// Copies what CLIENT LIST shows of this connection into its shared handle (after each batch
    /// of requests, and before the connection describes itself).
    pub fn publish_info(&self) {
        let mut info = self.handle.info.lock();
        info.db = self.db;
        info.last_command = self.last_command;
        info.resp = if self.protocol == Protocol::Resp3 {
            3
        } else {
            2
        };
    }

    /// Number of channels and patterns subscribed to.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// A new connection's state.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            id: handle.id,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            last_command: (None, "NULL"),
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            multi: None,
            watched: Vec::new(),
            handle,
        }
    }
}

/// The part of a connection's description that changes while it runs.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub db: usize,
    pub resp: u8,
    pub last_command: (Option<&'static str>, &'static str),
}

/// A connection as other connections see it.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created: Instant,
    /// Milliseconds since `created` of the last command.
    last_interaction_ms: AtomicU64,
    pub info: Mutex<ClientInfo>,
    killed: AtomicBool,
    kill: Notify,
    /// Pub/sub messages on their way to the connection.
    pushes: mpsc::UnboundedSender<Message>,
    /// Bytes of messages queued and not yet written (for the output buffer limit).
    queued_bytes: AtomicUsize,
    /// Since when (ms after `created`) more than the soft limit is queued; 0 = not over it.
    over_soft_limit_since: AtomicU64,
    /// A WATCHed key was modified: EXEC must fail.
    dirty: AtomicBool,
}

impl ClientHandle {
    /// Records that a command is being run now.
    pub fn touch(&self) {
        self.last_interaction_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Queues a pub/sub message for the connection; false if it was not delivered because the
    /// connection is closing or went over its output buffer limit (which closes it).
    pub fn push(&self, message: Message) -> bool {
        if self.is_killed() {
            return false;
        }
        let cost = message.cost();
        let queued = self.queued_bytes.fetch_add(cost, Ordering::Relaxed) + cost;
        let over = if queued > HARD_LIMIT_BYTES {
            true
        } else if queued > SOFT_LIMIT_BYTES {
            // Time since creation +1, so that 0 can mean "not over".
            let now = self.created.elapsed().as_millis() as u64 + 1;
            match self.over_soft_limit_since.compare_exchange(
                0,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => false,
                Err(since) => now - since > SOFT_LIMIT_SECS * 1000,
            }
        } else {
            self.over_soft_limit_since.store(0, Ordering::Relaxed);
            false
        };
        if over {
            self.kill();
            return false;
        }
        self.pushes.send(message).is_ok()
    }

    /// The connection wrote a message of `cost` bytes out.
    pub fn delivered(&self, cost: usize) {
        self.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
    }

    /// Marks the connection's transaction as failed (a WATCHed key changed).
    pub fn set_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Reads and clears the dirty mark.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    /// Asks the connection to close (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// True once [`ClientHandle::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when the connection is asked to close.
    pub async fn killed(&self) {
        self.kill.notified().await
    }

    /// The CLIENT LIST / CLIENT INFO line for this client (without the trailing newline),
    /// with the fields Redis 7.0 prints.
    pub fn describe(&self) -> String {
        let info = self.info.lock().clone();
        let command = match info.last_command {
            (Some(container), name) => format!("{container}|{name}"),
            (None, name) => name.to_string(),
        };
        let name = info
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 \
             multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 \
             tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.local_addr,
            name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            info.db,
            command,
            info.resp,
        )
    }
}

/// Every connected client.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// Connections accepted since start (INFO stats `total_connections_received`).
    pub total_received: AtomicU64,
    /// Connections refused at maxclients (INFO stats `rejected_connections`).
    pub rejected: AtomicU64,
}

/// Removes a client from the registry when dropped.
pub struct Registration<'a> {
    clients: &'a Clients,
    pub handle: Arc<ClientHandle>,
    /// The connection's end of its push channel.
    pub pushes: mpsc::UnboundedReceiver<Message>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.clients.by_id.lock().remove(&self.handle.id);
    }
}

impl Clients {
    /// Registers a new connection, or returns None if `max` clients are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        max: usize,
    ) -> Option<Registration<'_>> {
        self.total_received.fetch_add(1, Ordering::Relaxed);
        let mut by_id = self.by_id.lock();
        if by_id.len() >= max {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (push_tx, pushes) = mpsc::unbounded_channel();
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(0),
            info: Mutex::new(ClientInfo {
                resp: 2,
                last_command: (None, "NULL"),
                ..ClientInfo::default()
            }),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            pushes: push_tx,
            queued_bytes: AtomicUsize::new(0),
            over_soft_limit_since: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
        });
        by_id.insert(id, handle.clone());
        Some(Registration {
            clients: self,
            handle,
            pushes,
        })
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.by_id.lock().len()
    }

    /// True if no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every connected client, by ascending id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.by_id.lock().values().cloned().collect()
    }

    /// The client with this id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.lock().get(&id).cloned()
    }
}
