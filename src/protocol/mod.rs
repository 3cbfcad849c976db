//! The wire: RESP request decoding and reply encoding.
//!
//! Requests are decoded by [`decode::Decoder`] (RESP multibulk and inline, with Redis's limits and
//! protocol-error texts); replies are built as [`Reply`] values by the commands and encoded for
//! the connection's [`Protocol`] version by [`Reply::encode`]. Nothing in here knows about
//! commands or the store.
//!
//! Why not the `redis-protocol` crate: a server only ever decodes one request shape (an array of
//! bulk strings, or an inline line), must enforce Redis's limits while the bytes arrive and answer
//! Redis's exact error texts, and must encode RESP2/RESP3 replies straight into the connection's
//! write buffer. A general frame codec does all of that only after the fact, with an extra frame
//! tree per request; the two small modules here do it directly.

pub mod decode;
pub mod reply;

pub use decode::{Decoder, ProtocolError};
pub use reply::Reply;

/// The RESP version a connection speaks. `HELLO 3` switches to RESP3; the default is RESP2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}
