//! The gate that lets one operation run alone against the whole keyspace (EXEC, scripts).
//!
//! Every command holds the gate shared while it runs; an operation that must not be interleaved
//! with anything else takes it exclusively, and then locks shards as usual. So that commands on
//! different threads never touch the same cache line to enter, the gate is a "big reader" lock:
//! one padded reader-writer lock per slot, a thread enters through its own slot, and the
//! exclusive side takes every slot in order.
//!
//! Invariant: no thread re-enters the gate shared while it holds it (parking_lot read locks are
//! not recursive while a writer waits); the dispatcher enters once per command, and an exclusive
//! operation runs its inner commands without entering again. Exclusive entry is re-entrant: a
//! thread that already holds the gate exclusively (EXEC running a queued EVAL) gets a guard that
//! holds nothing.
//!
//! While a long script runs, waiting forever is not an option: the `*_unless` entries wait in
//! short slices and give up as soon as their caller says so (the dispatcher gives up once the
//! script is past `busy-reply-threshold`, and answers BUSY).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Number of slots: threads beyond this share slots, which is correct, only a little slower.
const SLOTS: usize = 64;
/// How long a `*_unless` entry waits before asking its caller again whether to give up.
const POLL: Duration = Duration::from_millis(5);

/// One slot, on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Slot(RwLock<()>);

/// The keyspace gate (see the module doc).
pub struct Gate {
    slots: Box<[Slot]>,
}

/// Held while a command runs.
pub type SharedAccess<'a> = RwLockReadGuard<'a, ()>;

/// Held while an operation runs alone.
pub struct ExclusiveAccess<'a> {
    /// Empty for a re-entrant guard (the thread already held the gate exclusively).
    slots: Vec<RwLockWriteGuard<'a, ()>>,
}

impl Drop for ExclusiveAccess<'_> {
    fn drop(&mut self) {
        if !self.slots.is_empty() {
            HOLDS_EXCLUSIVE.with(|held| held.set(false));
        }
    }
}

thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// This thread holds the gate exclusively.
    static HOLDS_EXCLUSIVE: Cell<bool> = const { Cell::new(false) };
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

fn thread_slot() -> usize {
    THREAD_SLOT.with(|slot| {
        if slot.get() == usize::MAX {
            slot.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS);
        }
        slot.get()
    })
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }
}

impl Gate {
    /// Enters for one command.
    pub fn shared(&self) -> SharedAccess<'_> {
        self.slots[thread_slot()].0.read()
    }

    /// Enters without waiting: None while an exclusive operation holds or waits for the gate.
    pub fn try_shared(&self) -> Option<SharedAccess<'_>> {
        self.slots[thread_slot()].0.try_read()
    }

    /// Enters for one command, unless `give_up` says to stop waiting (it is asked after each
    /// short wait): None then.
    pub fn shared_unless(&self, mut give_up: impl FnMut() -> bool) -> Option<SharedAccess<'_>> {
        let slot = &self.slots[thread_slot()].0;
        if let Some(access) = slot.try_read() {
            return Some(access);
        }
        loop {
            if let Some(access) = slot.try_read_for(POLL) {
                return Some(access);
            }
            if give_up() {
                return None;
            }
        }
    }

    /// Waits for every command in progress to finish and keeps others out until dropped.
    pub fn exclusive(&self) -> ExclusiveAccess<'_> {
        self.exclusive_unless(|| false).expect("never gives up")
    }

    /// As [`Gate::exclusive`], unless `give_up` says to stop waiting: None then, holding
    /// nothing.
    pub fn exclusive_unless(
        &self,
        mut give_up: impl FnMut() -> bool,
    ) -> Option<ExclusiveAccess<'_>> {
        if HOLDS_EXCLUSIVE.with(Cell::get) {
            return Some(ExclusiveAccess { slots: Vec::new() });
        }
        let mut slots = Vec::with_capacity(self.slots.len());
        for slot in self.slots.iter() {
            let guard = loop {
                if let Some(guard) = slot.0.try_write_for(POLL) {
                    break guard;
                }
                if give_up() {
                    return None;
                }
            };
            slots.push(guard);
        }
        HOLDS_EXCLUSIVE.with(|held| held.set(true));
        Some(ExclusiveAccess { slots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn exclusive_waits_for_shared_and_keeps_it_out() {
        let gate = Arc::new(Gate::default());
        let inside = Arc::new(AtomicBool::new(false));
        let shared = gate.shared();
        let (g, i) = (gate.clone(), inside.clone());
        let t = std::thread::spawn(move || {
            let _x = g.exclusive();
            i.store(true, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            i.store(false, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !inside.load(Ordering::SeqCst),
            "exclusive entered while a command ran"
        );
        drop(shared);
        while !inside.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let _again = gate.shared();
        assert!(
            !inside.load(Ordering::SeqCst),
            "a command entered during the exclusive section"
        );
        t.join().unwrap();
    }

    #[test]
    fn exclusive_is_reentrant_on_its_thread() {
        let gate = Gate::default();
        let outer = gate.exclusive();
        let inner = gate.exclusive();
        drop(inner);
        // Still held: another thread cannot enter.
        std::thread::scope(|s| {
            s.spawn(|| assert!(gate.shared_unless(|| true).is_none()));
        });
        drop(outer);
        std::thread::scope(|s| {
            s.spawn(|| assert!(gate.shared_unless(|| true).is_some()));
        });
    }

    #[test]
    fn waiting_entries_give_up_when_told() {
        let gate = Gate::default();
        let _alone = gate.exclusive();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut asked = 0;
                assert!(gate
                    .shared_unless(|| {
                        asked += 1;
                        asked == 3
                    })
                    .is_none());
                assert_eq!(asked, 3);
                assert!(gate.exclusive_unless(|| true).is_none());
            });
        });
    }
}
