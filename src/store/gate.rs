//! The gate that lets one operation run alone against the whole keyspace (EXEC, scripts).
//!
//! Every command holds the gate shared while it runs; an operation that must not be interleaved
//! with anything else takes it exclusively, and then locks shards as usual. So that commands on
//! different threads never touch the same cache line to enter, the gate is a "big reader" lock:
//! one padded reader-writer lock per slot, a thread enters through its own slot, and the
//! exclusive side takes every slot in order.
//!
//! Invariant: no thread re-enters the gate while it holds it (parking_lot read locks are not
//! recursive while a writer waits); the dispatcher enters once per command, and an exclusive
//! operation runs its inner commands without entering again.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Number of slots: threads beyond this share slots, which is correct, only a little slower.
const SLOTS: usize = 64;

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
    _slots: Vec<RwLockWriteGuard<'a, ()>>,
}

thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
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

    /// Waits for every command in progress to finish and keeps others out until dropped.
    pub fn exclusive(&self) -> ExclusiveAccess<'_> {
        ExclusiveAccess {
            _slots: self.slots.iter().map(|s| s.0.write()).collect(),
        }
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
}
