//! Time for the store, in milliseconds since the Unix epoch.
//!
//! Deadlines are absolute Unix milliseconds (EXPIREAT and EXPIRETIME speak Unix time), so the
//! clock is the system clock; tests substitute a [`Clock::manual`] clock that moves only when
//! told, so anything timed can be tested without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix milliseconds.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that only moves when [`Clock::set`] or [`Clock::advance`] is called.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ms`.
    pub fn manual(start_ms: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => unix_ms(),
            Clock::Manual(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Sets a manual clock; ignored by the system clock.
    pub fn set(&self, ms: u64) {
        if let Clock::Manual(t) = self {
            t.store(ms, Ordering::Relaxed);
        }
    }

    /// Moves a manual clock forward; ignored by the system clock.
    pub fn advance(&self, ms: u64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(ms, Ordering::Relaxed);
        }
    }
}

/// The system time in Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The system time in Unix microseconds (for TIME).
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
