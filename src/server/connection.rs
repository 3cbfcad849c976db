//! One client connection: read, decode every complete request, execute, flush once.
//!
//! Pipelining falls out of the loop: all requests already in the read buffer are executed in
//! order and their replies collected in one write buffer, written with one syscall (or more
//! only when the buffer grows past [`FLUSH_AT`] in a long batch). Requests are decoded up to
//! [`LOOKAHEAD`] ahead of execution so that the keys of a pipeline are prefetched together (see
//! [`crate::store::Store::prefetch`]); they still run one by one, in order. A protocol error is
//! answered, then the connection is closed; a command error is just a reply. The connection also ends on
//! QUIT, CLIENT KILL, the idle timeout, and shutdown (after writing what it has).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::pubsub::Message;
use super::{ClientState, ReplyMode, Shared};
use crate::commands::{self, Ctx};
use crate::error::CmdError;
use crate::protocol::{Decoder, ProtocolError, Reply};

/// Write the reply buffer out once it holds this much, even in the middle of a batch.
const FLUSH_AT: usize = 64 * 1024;
/// Room made in the read buffer before a read, at first.
const READ_CHUNK: usize = 16 * 1024;
/// The most room made before one read. A client whose reads keep filling the buffer (a pipeline
/// of 1 KiB SETs is 17 KiB) gets twice the room on each, up to this, so that one read takes its
/// whole batch and one write answers it, instead of two of each. Reads that use little of it
/// halve it again, and an emptied buffer far larger than that is given back.
const MAX_READ_CHUNK: usize = 64 * 1024;
/// How many requests are decoded ahead of execution, for prefetching their keys.
const LOOKAHEAD: usize = crate::store::PREFETCH_MAX;

/// A request decoded ahead, or the protocol error that ends the connection after the requests
/// before it ran.
type Decoded = Result<Vec<Bytes>, ProtocolError>;

/// Redis's `client-query-buffer-limit`: a client that sends more than this without completing a
/// request is disconnected.
const MAX_QUERY_BUFFER: usize = 1024 * 1024 * 1024;

/// Serves one connection until it closes.
pub async fn serve(mut stream: TcpStream, addr: SocketAddr, shared: Arc<Shared>) {
    let local = stream.local_addr().unwrap_or(addr);
    let maxclients = shared.runtime.read().maxclients;
    let Some(mut registration) = shared.clients.register(addr, local, maxclients) else {
        let _ = stream
            .write_all(format!("-{}\r\n", CmdError::MaxClients).as_bytes())
            .await;
        return;
    };
    let _ = stream.set_nodelay(true);
    let authenticated = shared.runtime.read().requirepass.is_none();
    let mut client = ClientState::new(registration.handle.clone(), authenticated);
    serve_client(&mut stream, &shared, &mut client, &mut registration.pushes).await;
    // Whatever ended the connection, its subscriptions and watches end with it.
    let mut ctx = Ctx::new(&shared, &mut client);
    crate::commands::pubsub::unsubscribe_all(&mut ctx);
    crate::commands::transactions::discard_transaction(&mut ctx);
}

async fn serve_client(
    stream: &mut TcpStream,
    shared: &Shared,
    client: &mut ClientState,
    pushes: &mut mpsc::UnboundedReceiver<Message>,
) {
    let mut stop = shared.shutdown.subscribe();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut decoder = Decoder::default();
    let mut ahead = VecDeque::with_capacity(LOOKAHEAD);
    let mut read_chunk = READ_CHUNK;
    // Made once, not per request: each of these registers a waiter under a lock when first
    // polled, and deregisters when dropped.
    let handle = client.handle.clone();
    let killed = handle.killed();
    tokio::pin!(killed);
    let stopped = async {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);

    loop {
        let outcome = execute_buffered(
            shared,
            client,
            &mut decoder,
            &mut input,
            &mut ahead,
            &mut output,
        );
        if !output.is_empty() {
            shared
                .stats
                .net_output_bytes
                .fetch_add(output.len() as u64, Ordering::Relaxed);
            // A subscriber that stopped reading must not hold its task forever: being cut off
            // at the output limit (CLIENT KILL likewise) interrupts the write.
            let written = tokio::select! {
                r = stream.write_all(&output) => r.is_ok(),
                _ = &mut killed => false,
            };
            if !written {
                return;
            }
            output.clear();
        }
        match outcome {
            Batch::Continue => {}
            Batch::FlushAndContinue => continue,
            Batch::Close => {
                let _ = stream.shutdown().await;
                return;
            }
        }
        if shared.is_shutting_down() || handle.is_killed() || input.len() > MAX_QUERY_BUFFER {
            return;
        }
        if input.is_empty() && input.capacity() > 4 * read_chunk {
            input = BytesMut::with_capacity(read_chunk);
        }
        if input.capacity() - input.len() < read_chunk / 4 {
            decoder.release_buffer();
            input.reserve(read_chunk);
        }
        let room = input.capacity() - input.len();
        let idle = shared.idle_timeout();
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if n == room {
                        read_chunk = (read_chunk * 2).min(MAX_READ_CHUNK);
                    } else if n < read_chunk / 8 {
                        read_chunk = (read_chunk / 2).max(READ_CHUNK);
                    }
                }
            },
            Some(message) = pushes.recv() => {
                deliver(client, message, &mut output);
                while output.len() < FLUSH_AT {
                    match pushes.try_recv() {
                        Ok(message) => deliver(client, message, &mut output),
                        Err(_) => break,
                    }
                }
            }
            _ = &mut killed => return,
            _ = &mut stopped => return,
            // Subscribers wait for messages, not requests: the idle timeout spares them.
            _ = idle_timer(idle), if client.subscriptions() == 0 => return,
        }
    }
}

/// Encodes a pub/sub message for the connection's protocol.
fn deliver(client: &ClientState, message: Message, output: &mut BytesMut) {
    message.to_reply().encode(output, client.protocol);
    client.handle.delivered(message.cost());
}

async fn idle_timer(secs: u64) {
    if secs == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

enum Batch {
    /// Every complete request was executed; read more.
    Continue,
    /// The write buffer filled up mid-batch; write it and go on executing.
    FlushAndContinue,
    /// Write what is buffered, then close.
    Close,
}

/// Executes every complete request in `input` (after those left in `ahead`), appending the
/// replies to `output`.
fn execute_buffered(
    shared: &Shared,
    client: &mut ClientState,
    decoder: &mut Decoder,
    input: &mut BytesMut,
    ahead: &mut VecDeque<Decoded>,
    output: &mut BytesMut,
) -> Batch {
    let mut executed = 0u64;
    let outcome = loop {
        if ahead.is_empty() {
            decode_ahead(decoder, input, client.authenticated, ahead);
            prefetch_keys(shared, client.db, ahead);
        }
        let argv = match ahead.pop_front() {
            Some(Ok(argv)) => argv,
            None => break Batch::Continue,
            Some(Err(e)) => {
                // error_line, not Display: the offending byte goes out raw, as Redis sends it.
                Reply::Error(e.error_line()).encode(output, client.protocol);
                break Batch::Close;
            }
        };
        executed += 1;
        if client.reply_mode == ReplyMode::SkipNext {
            client.reply_mode = ReplyMode::Skipping;
        }
        let reply = commands::dispatch(&mut Ctx::new(shared, client), argv);
        match client.reply_mode {
            ReplyMode::On => reply.encode(output, client.protocol),
            ReplyMode::Off | ReplyMode::SkipNext => {}
            ReplyMode::Skipping => client.reply_mode = ReplyMode::On,
        }
        if client.close_after_reply {
            break Batch::Close;
        }
        if output.len() >= FLUSH_AT {
            break Batch::FlushAndContinue;
        }
    };
    if executed > 0 {
        // Once per batch, not per command: it reads the clock.
        client.handle.touch();
        shared
            .stats
            .commands_processed
            .fetch_add(executed, Ordering::Relaxed);
        client.publish_info();
    }
    outcome
}

/// Decodes up to [`LOOKAHEAD`] complete requests from `input` into `ahead`, stopping after a
/// protocol error. A connection that has not authenticated decodes one at a time: until AUTH
/// succeeds Redis's tighter limits apply, and the next request may be that AUTH.
fn decode_ahead(
    decoder: &mut Decoder,
    input: &mut BytesMut,
    authenticated: bool,
    ahead: &mut VecDeque<Decoded>,
) {
    let limit = if authenticated { LOOKAHEAD } else { 1 };
    while ahead.len() < limit {
        match decoder.decode(input, authenticated) {
            Ok(Some(argv)) if argv.is_empty() => {}
            Ok(Some(argv)) => ahead.push_back(Ok(argv)),
            Ok(None) => return,
            Err(e) => {
                ahead.push_back(Err(e));
                return;
            }
        }
    }
}

/// Prefetches the first key of each request in `ahead` whose command takes one there (GET, SET,
/// HGETALL, …), when there are several: one request has nothing to overlap with.
fn prefetch_keys(shared: &Shared, db: usize, ahead: &VecDeque<Decoded>) {
    if ahead.len() < 2 {
        return;
    }
    let keys: SmallVec<[&[u8]; LOOKAHEAD]> = ahead
        .iter()
        .filter_map(|request| {
            let argv = request.as_ref().ok()?;
            let cmd = commands::lookup(argv.first()?)?;
            (cmd.keys.first == 1 && cmd.subcommands.is_empty())
                .then(|| argv.get(1).map(|k| &k[..]))
                .flatten()
        })
        .collect();
    if keys.len() >= 2 {
        shared.store.prefetch(db, &keys);
    }
}
