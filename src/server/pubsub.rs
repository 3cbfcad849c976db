//! Pub/sub: channel and pattern subscriptions, and delivery of messages to subscribers.
//!
//! Each subscribed connection registers its [`ClientHandle`]; a published message is queued on
//! the handle's push channel, which the connection's task drains into its socket between
//! requests. Delivery never blocks the publisher: a subscriber that does not read is cut off
//! at Redis's default `client-output-buffer-limit pubsub 32mb 8mb 60` (more than 32 MiB queued,
//! or more than 8 MiB queued for 60 s) instead of growing memory without bound.
//!
//! Lock order: the channel map, then the pattern map; neither is held while taking a shard lock.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use super::clients::ClientHandle;
use crate::protocol::Reply;
use crate::store::glob::glob_match;

/// Queued bytes past which a subscriber is disconnected at once.
pub const HARD_LIMIT_BYTES: usize = 32 * 1024 * 1024;
/// Queued bytes that a subscriber may exceed for at most [`SOFT_LIMIT_SECS`].
pub const SOFT_LIMIT_BYTES: usize = 8 * 1024 * 1024;
/// See [`SOFT_LIMIT_BYTES`].
pub const SOFT_LIMIT_SECS: u64 = 60;

/// A message on its way to one subscriber.
#[derive(Debug)]
pub struct Message {
    /// The pattern that matched, for a `pmessage`.
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
}

impl Message {
    /// Bytes this message counts for in the subscriber's output limit.
    pub fn cost(&self) -> usize {
        self.channel.len() + self.payload.len() + self.pattern.as_ref().map_or(0, |p| p.len()) + 32
    }

    /// The push a subscriber receives: `message channel payload` or `pmessage pattern channel
    /// payload` (an array in RESP2, a push in RESP3: [`Reply::Push`] encodes either).
    pub fn to_reply(&self) -> Reply {
        match &self.pattern {
            None => Reply::Push(vec![
                Reply::bulk_static("message"),
                Reply::Bulk(self.channel.clone()),
                Reply::Bulk(self.payload.clone()),
            ]),
            Some(pattern) => Reply::Push(vec![
                Reply::bulk_static("pmessage"),
                Reply::Bulk(pattern.clone()),
                Reply::Bulk(self.channel.clone()),
                Reply::Bulk(self.payload.clone()),
            ]),
        }
    }
}

type Subscribers = HashMap<u64, Arc<ClientHandle>>;

/// Every subscription of every connection.
#[derive(Default)]
pub struct PubSub {
    channels: Mutex<HashMap<Bytes, Subscribers>>,
    patterns: Mutex<HashMap<Bytes, Subscribers>>,
}

impl PubSub {
    /// Subscribes `client` to `channel` (or to a pattern with `pattern`); false if it already was.
    pub fn subscribe(&self, client: &Arc<ClientHandle>, name: &Bytes, pattern: bool) -> bool {
        let mut map = if pattern {
            self.patterns.lock()
        } else {
            self.channels.lock()
        };
        map.entry(name.clone())
            .or_default()
            .insert(client.id, client.clone())
            .is_none()
    }

    /// Removes one subscription; false if there was none.
    pub fn unsubscribe(&self, client: u64, name: &[u8], pattern: bool) -> bool {
        let mut map = if pattern {
            self.patterns.lock()
        } else {
            self.channels.lock()
        };
        let Some(subscribers) = map.get_mut(name) else {
            return false;
        };
        let removed = subscribers.remove(&client).is_some();
        if subscribers.is_empty() {
            map.remove(name);
        }
        removed
    }

    /// Delivers `payload` to every subscriber of `channel` and of every matching pattern; returns
    /// how many received it (PUBLISH's reply).
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let mut received = 0;
        if let Some(subscribers) = self.channels.lock().get(channel) {
            for client in subscribers.values() {
                let message = Message {
                    pattern: None,
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                received += usize::from(client.push(message));
            }
        }
        for (pattern, subscribers) in self.patterns.lock().iter() {
            if glob_match(pattern, channel, false) {
                for client in subscribers.values() {
                    let message = Message {
                        pattern: Some(pattern.clone()),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    received += usize::from(client.push(message));
                }
            }
        }
        received
    }

    /// True if anyone is subscribed to anything (publishing keyspace events is skipped otherwise).
    pub fn has_subscribers(&self) -> bool {
        !self.channels.lock().is_empty() || !self.patterns.lock().is_empty()
    }

    /// Active channels (with at least one subscriber), optionally matching a glob (PUBSUB CHANNELS).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Number of subscribers of `channel` (PUBSUB NUMSUB).
    pub fn subscriber_count(&self, channel: &[u8]) -> usize {
        self.channels.lock().get(channel).map_or(0, |s| s.len())
    }

    /// Number of distinct patterns subscribed to (PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.lock().len()
    }
}
