//! One key's record: its key, its value and the bookkeeping expiry needs, in one heap block.
//!
//! Why one block: a session store holds millions of small records. Every field kept in the table
//! costs its bytes again at the table's load factor, every separate allocation costs malloc's
//! header and rounding, and every pointer hop is a cache miss on lookup. So an [`Entry`] is a
//! thin owning pointer — 8 bytes in the table — to a block laid out as
//!
//! | offset | bytes | field |
//! |--------|-------|-------|
//! | 0 | 8 | deadline, absolute Unix ms (0 = no TTL) |
//! | 8 | 8 | creation time, Unix ms |
//! | 16 | 4 | timer gap: deadline minus the standing wheel timer's deadline ([`NO_TIMER`] = none) |
//! | 20 | 4 | idle period, see [`encode_idle`] |
//! | 24 | 4 | key length |
//! | 28 | 4 | kind: a string's length and its `raw` flag, or hash / set |
//! | 32 | 8 | hash and set only: the boxed collection |
//! | 32 or 40 | key length | the key |
//! | after the key | string length | a string's bytes |
//!
//! so a string session costs one allocation of 32 bytes plus its key and value.
//!
//! Invariants:
//! - The deadline is the truth: a lookup at or after it treats the key as absent.
//! - At most one wheel timer stands for an entry, at `timer_at()`, which is never after the
//!   deadline. A deadline that moves later leaves the timer alone (it re-schedules itself when it
//!   fires); one that moves earlier, or so far later that the gap does not fit in 32 bits, gets a
//!   new timer, and the old one is recognised as stale when it fires because its deadline no
//!   longer equals `timer_at()`. An entry without a deadline has no standing timer.
//! - The idle period is the TTL most recently set by a write (deadline minus now at that moment;
//!   0 when the key has no TTL): what a sliding read extends the key by. The creation time is when
//!   the key came into existence (an overwrite keeps it), the origin of the sliding lifetime cap.
//! - Strings and keys are at most 512 MiB (`proto-max-bulk-len`), so their lengths fit the 30 bits
//!   the kind word leaves them.

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::{self, NonNull};

use super::value::{Hash, Set, Value};

/// The fixed part of a block.
#[repr(C)]
struct Header {
    expires_at: u64,
    created_ms: u64,
    timer_gap: u32,
    idle: u32,
    key_len: u32,
    kind: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();
/// Size of the collection pointer that follows the header of a hash or set.
const POINTER: usize = std::mem::size_of::<usize>();
/// `kind` bit: the value is a hash or a set, boxed, its pointer after the header.
const COLLECTION: u32 = 1 << 31;
/// `kind` bit, with [`COLLECTION`]: a set (else a hash).
const IS_SET: u32 = 1 << 30;
/// `kind` bit, without [`COLLECTION`]: the string was modified in place (APPEND, SETRANGE), so
/// OBJECT ENCODING says `raw` from then on, as Redis's does.
const RAW: u32 = 1 << 30;
/// `kind` bits of a string's length.
const LEN_MASK: u32 = RAW - 1;
/// `timer_gap` of an entry without a standing timer.
const NO_TIMER: u32 = u32::MAX;
/// `idle` bit: the rest is whole seconds, not ms.
const IDLE_IN_SECONDS: u32 = 1 << 31;

/// Packs an idle period into 32 bits: exact in ms below 2^31 ms (24.8 days), whole seconds above
/// (up to 68 years, saturating). Sliding a key by a period that long to the second is
/// indistinguishable for a session, and it keeps the header at 32 bytes.
fn encode_idle(ms: u64) -> u32 {
    if ms < u64::from(IDLE_IN_SECONDS) {
        ms as u32
    } else {
        IDLE_IN_SECONDS | (ms / 1000).min(u64::from(IDLE_IN_SECONDS - 1)) as u32
    }
}

fn decode_idle(idle: u32) -> u64 {
    if idle & IDLE_IN_SECONDS == 0 {
        u64::from(idle)
    } else {
        u64::from(idle & !IDLE_IN_SECONDS) * 1000
    }
}

/// A key or string length as the header stores it.
fn length(n: usize) -> u32 {
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= LEN_MASK)
        .expect("keys and strings are at most 512 MiB")
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, std::mem::align_of::<Header>()).expect("block layout")
}

/// Allocates an uninitialised block of `size` bytes.
fn allocate(size: usize) -> NonNull<Header> {
    let layout = layout(size);
    // SAFETY: the layout is never zero-sized (it holds at least the header).
    let block = unsafe { alloc::alloc(layout) };
    NonNull::new(block.cast()).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Asks the CPU to start loading the cache line at `p`.
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A borrowed view of an entry's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Hash(&'a Hash),
    Set(&'a Set),
}

impl ValueRef<'_> {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
            ValueRef::Hash(_) => "hash",
            ValueRef::Set(_) => "set",
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::Str(s) => Value::Str(bytes::Bytes::copy_from_slice(s)),
            ValueRef::Hash(h) => Value::Hash(h.clone()),
            ValueRef::Set(s) => Value::Set(s.clone()),
        }
    }
}

/// A key and its value, as stored in a shard's table: an owning pointer to one block (see the
/// module doc).
pub struct Entry {
    block: NonNull<Header>,
}

// SAFETY: an Entry owns its block and the collection it points to exclusively, like a Box; Hash
// and Set are Send and Sync.
unsafe impl Send for Entry {}
// SAFETY: as above; shared references only read.
unsafe impl Sync for Entry {}

impl Entry {
    /// A new entry without TTL.
    pub fn new(key: &[u8], value: Value) -> Entry {
        match value {
            Value::Str(s) => Entry::string(key, &s),
            Value::Hash(h) => Entry::collection(key, 0, Box::into_raw(Box::new(h)).cast()),
            Value::Set(s) => Entry::collection(key, IS_SET, Box::into_raw(Box::new(s)).cast()),
        }
    }

    /// A new string entry without TTL.
    pub fn string(key: &[u8], value: &[u8]) -> Entry {
        let kind = length(value.len());
        let block = Entry::with_header(key, kind, value.len());
        // SAFETY: the block has room for the header, the key and the value, at these offsets.
        unsafe {
            let base = block.as_ptr().cast::<u8>();
            ptr::copy_nonoverlapping(value.as_ptr(), base.add(HEADER + key.len()), value.len());
        }
        Entry { block }
    }

    fn collection(key: &[u8], set: u32, boxed: *mut u8) -> Entry {
        let block = Entry::with_header(key, COLLECTION | set, 0);
        // SAFETY: a collection's block has its pointer right after the header, 8-aligned.
        unsafe {
            block
                .as_ptr()
                .cast::<u8>()
                .add(HEADER)
                .cast::<*mut u8>()
                .write(boxed)
        };
        Entry { block }
    }

    /// Allocates a block for `key` and a value of `kind` with `tail` bytes after the key, and
    /// writes the header (no TTL, no timer) and the key.
    fn with_header(key: &[u8], kind: u32, tail: usize) -> NonNull<Header> {
        let key_at = Entry::key_offset_of(kind);
        let block = allocate(key_at + key.len() + tail);
        // SAFETY: the block is fresh and large enough for the header and the key.
        unsafe {
            block.as_ptr().write(Header {
                expires_at: 0,
                created_ms: 0,
                timer_gap: NO_TIMER,
                idle: 0,
                key_len: length(key.len()),
                kind,
            });
            let base = block.as_ptr().cast::<u8>();
            ptr::copy_nonoverlapping(key.as_ptr(), base.add(key_at), key.len());
        }
        block
    }

    fn header(&self) -> &Header {
        // SAFETY: the block is live and its header initialised for as long as the Entry.
        unsafe { self.block.as_ref() }
    }

    fn header_mut(&mut self) -> &mut Header {
        // SAFETY: as for `header`, and `&mut self` makes the access exclusive.
        unsafe { self.block.as_mut() }
    }

    fn base(&self) -> *mut u8 {
        self.block.as_ptr().cast()
    }

    fn key_offset_of(kind: u32) -> usize {
        if kind & COLLECTION != 0 {
            HEADER + POINTER
        } else {
            HEADER
        }
    }

    fn key_offset(&self) -> usize {
        Entry::key_offset_of(self.header().kind)
    }

    fn string_len(&self) -> usize {
        let kind = self.header().kind;
        if kind & COLLECTION != 0 {
            0
        } else {
            (kind & LEN_MASK) as usize
        }
    }

    /// Starts loading the block's first two cache lines: the header, the key, and the start of a
    /// string (the hardware prefetcher follows a longer one).
    pub(crate) fn prefetch(&self) {
        prefetch(self.base());
        prefetch(self.base().wrapping_add(64));
    }

    /// Bytes of the block (what MEMORY USAGE asks malloc about).
    pub fn block_size(&self) -> usize {
        self.key_offset() + self.header().key_len as usize + self.string_len()
    }

    /// The collection pointer of a hash or set.
    fn boxed(&self) -> *mut u8 {
        debug_assert!(self.header().kind & COLLECTION != 0);
        // SAFETY: a collection's block holds the pointer right after the header.
        unsafe { self.base().add(HEADER).cast::<*mut u8>().read() }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let len = self.header().key_len as usize;
        // SAFETY: the key's bytes are initialised at this offset for the block's lifetime.
        unsafe { std::slice::from_raw_parts(self.base().add(self.key_offset()), len) }
    }

    /// The value.
    pub fn value(&self) -> ValueRef<'_> {
        let kind = self.header().kind;
        if kind & COLLECTION == 0 {
            let at = HEADER + self.header().key_len as usize;
            // SAFETY: a string's bytes follow the key, `string_len` of them.
            ValueRef::Str(unsafe {
                std::slice::from_raw_parts(self.base().add(at), self.string_len())
            })
        } else if kind & IS_SET != 0 {
            // SAFETY: the pointer is a live Box<Set> owned by this entry.
            ValueRef::Set(unsafe { &*self.boxed().cast::<Set>() })
        } else {
            // SAFETY: the pointer is a live Box<Hash> owned by this entry.
            ValueRef::Hash(unsafe { &*self.boxed().cast::<Hash>() })
        }
    }

    /// The string value, if the value is one.
    pub fn str(&self) -> Option<&[u8]> {
        match self.value() {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The hash, for changing it, if the value is one.
    pub fn hash_mut(&mut self) -> Option<&mut Hash> {
        let kind = self.header().kind;
        // SAFETY: the pointer is a live Box<Hash> owned by this entry; `&mut self` is exclusive.
        (kind & (COLLECTION | IS_SET) == COLLECTION)
            .then(|| unsafe { &mut *self.boxed().cast::<Hash>() })
    }

    /// The set, for changing it, if the value is one.
    pub fn set_mut(&mut self) -> Option<&mut Set> {
        let kind = self.header().kind;
        // SAFETY: the pointer is a live Box<Set> owned by this entry; `&mut self` is exclusive.
        (kind & (COLLECTION | IS_SET) == COLLECTION | IS_SET)
            .then(|| unsafe { &mut *self.boxed().cast::<Set>() })
    }

    /// Replaces the value, keeping the key, the deadline, the idle period and the creation time.
    /// A string stored this way is not `raw`.
    pub fn set_value(&mut self, value: Value) {
        if let Value::Str(s) = &value {
            self.set_string(s, false);
            return;
        }
        let mut next = Entry::new(self.key(), value);
        next.take_times(self);
        *self = next;
    }

    /// Replaces the value with the string `value`, keeping the key and the times; `raw` marks a
    /// string modified in place (APPEND, SETRANGE).
    pub fn set_string(&mut self, value: &[u8], raw: bool) {
        let flag = if raw { RAW } else { 0 };
        if self.header().kind & COLLECTION == 0 && self.string_len() == value.len() {
            // Same length (INCR 10 → 11, SET of a same-sized session): overwrite in place.
            let at = HEADER + self.header().key_len as usize;
            // SAFETY: the string's bytes are at `at`, `value.len()` of them.
            unsafe { ptr::copy_nonoverlapping(value.as_ptr(), self.base().add(at), value.len()) };
            self.header_mut().kind = length(value.len()) | flag;
            return;
        }
        let mut next = Entry::string(self.key(), value);
        next.header_mut().kind |= flag;
        next.take_times(self);
        *self = next;
    }

    /// Appends `tail` to the string value (which must be one) and marks it `raw`; returns the new
    /// length.
    pub fn append(&mut self, tail: &[u8]) -> usize {
        assert!(self.header().kind & COLLECTION == 0, "append to a string");
        let old_size = self.block_size();
        let len = self.string_len() + tail.len();
        let kind = length(len) | RAW;
        // SAFETY: the block was allocated with `layout(old_size)`; realloc keeps its prefix
        // (header, key, string) and the new room at its end takes `tail`.
        unsafe {
            let grown = alloc::realloc(self.base(), layout(old_size), old_size + tail.len());
            let Some(grown) = NonNull::new(grown.cast::<Header>()) else {
                alloc::handle_alloc_error(layout(old_size + tail.len()))
            };
            self.block = grown;
            ptr::copy_nonoverlapping(tail.as_ptr(), self.base().add(old_size), tail.len());
        }
        self.header_mut().kind = kind;
        len
    }

    /// The same record under another key (RENAME, COPY).
    pub fn renamed(self, key: &[u8]) -> Entry {
        let kind = self.header().kind;
        let tail = self.string_len();
        let mut next = Entry {
            block: Entry::with_header(key, kind, tail),
        };
        next.take_times(&self);
        let old_at = self.key_offset() + self.header().key_len as usize;
        // SAFETY: both blocks have the same kind, so the same layout apart from the key: the
        // collection pointer moves over (ownership passes to the new block, the old one is
        // freed without dropping it) and a string's bytes are copied after the new key.
        unsafe {
            let base = next.base();
            if kind & COLLECTION != 0 {
                base.add(HEADER).cast::<*mut u8>().write(self.boxed());
            }
            ptr::copy_nonoverlapping(
                self.base().add(old_at),
                base.add(Entry::key_offset_of(kind) + key.len()),
                tail,
            );
            let old = std::mem::ManuallyDrop::new(self);
            alloc::dealloc(old.base(), layout(old.block_size()));
        }
        next
    }

    /// Copies the deadline, timer, idle period and creation time of `from`.
    fn take_times(&mut self, from: &Entry) {
        let (expires_at, created_ms, timer_gap, idle) = {
            let h = from.header();
            (h.expires_at, h.created_ms, h.timer_gap, h.idle)
        };
        let h = self.header_mut();
        h.expires_at = expires_at;
        h.created_ms = created_ms;
        h.timer_gap = timer_gap;
        h.idle = idle;
    }

    /// Absolute deadline in Unix ms; 0 = no TTL.
    pub fn expires_at(&self) -> u64 {
        self.header().expires_at
    }

    /// The TTL last set by a write, in ms (0 = none): what a sliding read extends the key by.
    pub fn idle_ms(&self) -> u64 {
        decode_idle(self.header().idle)
    }

    /// When the key was created, in Unix ms (0 until stored).
    pub fn created_ms(&self) -> u64 {
        self.header().created_ms
    }

    /// True if the string was modified in place (OBJECT ENCODING `raw`).
    pub fn is_raw(&self) -> bool {
        self.header().kind & (COLLECTION | RAW) == RAW
    }

    /// Deadline of the wheel timer standing for this entry; 0 = none.
    pub(crate) fn timer_at(&self) -> u64 {
        let h = self.header();
        if h.expires_at == 0 || h.timer_gap == NO_TIMER {
            0
        } else {
            h.expires_at - u64::from(h.timer_gap)
        }
    }

    /// Moves the deadline (0 = no TTL). Returns true if a new timer must be scheduled at it: the
    /// standing one (if any) is later than the new deadline, or too far before it.
    pub(crate) fn move_deadline(&mut self, deadline: u64) -> bool {
        let timer = self.timer_at();
        self.place_timer(timer, deadline)
    }

    /// Takes over the standing timer at `timer` (0 = none) of the entry this one replaces, if it
    /// can stand for this entry's deadline. Returns true if a new timer must be scheduled at the
    /// deadline.
    pub(crate) fn adopt_timer(&mut self, timer: u64) -> bool {
        let deadline = self.expires_at();
        self.place_timer(timer, deadline)
    }

    fn place_timer(&mut self, timer: u64, deadline: u64) -> bool {
        let h = self.header_mut();
        h.expires_at = deadline;
        if deadline == 0 {
            h.timer_gap = NO_TIMER;
            return false;
        }
        match deadline.checked_sub(timer) {
            Some(gap) if timer != 0 && gap < u64::from(NO_TIMER) => {
                h.timer_gap = gap as u32;
                false
            }
            _ => {
                h.timer_gap = 0;
                true
            }
        }
    }

    /// Records that a timer now stands at the deadline itself.
    pub(crate) fn timer_at_deadline(&mut self) {
        self.header_mut().timer_gap = 0;
    }

    pub(crate) fn set_idle_ms(&mut self, ms: u64) {
        self.header_mut().idle = encode_idle(ms);
    }

    pub(crate) fn set_created_ms(&mut self, ms: u64) {
        self.header_mut().created_ms = ms;
    }

    /// Sets the deadline of an entry not yet stored (no timer stands for it yet).
    pub fn with_deadline(mut self, deadline: u64) -> Entry {
        let h = self.header_mut();
        h.expires_at = deadline;
        h.timer_gap = NO_TIMER;
        self
    }

    /// Marks a string not yet stored as modified in place (see [`Entry::is_raw`]).
    pub fn with_raw(mut self) -> Entry {
        if self.header().kind & COLLECTION == 0 {
            self.header_mut().kind |= RAW;
        }
        self
    }

    /// True if the entry's deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        let at = self.expires_at();
        at != 0 && at <= now
    }

    /// OBJECT ENCODING of the value, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        match self.value() {
            ValueRef::Str(s) => {
                if self.is_raw() {
                    "raw"
                } else if s.len() <= 20 && super::value::parse_canonical_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            ValueRef::Hash(h) => h.encoding(),
            ValueRef::Set(s) => s.encoding(),
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let kind = self.header().kind;
        // SAFETY: the collection pointer is a live Box owned by this entry, of the type its kind
        // says; the block was allocated with `layout(block_size)`.
        unsafe {
            if kind & COLLECTION != 0 {
                if kind & IS_SET != 0 {
                    drop(Box::from_raw(self.boxed().cast::<Set>()));
                } else {
                    drop(Box::from_raw(self.boxed().cast::<Hash>()));
                }
            }
            alloc::dealloc(self.base(), layout(self.block_size()));
        }
    }
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        let size = self.block_size();
        let block = allocate(size);
        // SAFETY: same size; a collection gets its own copy instead of sharing the pointer.
        unsafe {
            ptr::copy_nonoverlapping(self.base(), block.as_ptr().cast::<u8>(), size);
            let copy = block.as_ptr().cast::<u8>().add(HEADER).cast::<*mut u8>();
            match self.value() {
                ValueRef::Hash(h) => copy.write(Box::into_raw(Box::new(h.clone())).cast()),
                ValueRef::Set(s) => copy.write(Box::into_raw(Box::new(s.clone())).cast()),
                ValueRef::Str(_) => {}
            }
        }
        Entry { block }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value())
            .field("expires_at", &self.expires_at())
            .field("timer_at", &self.timer_at())
            .field("idle_ms", &self.idle_ms())
            .field("created_ms", &self.created_ms())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::value::{Hash, Set};

    fn e(s: &str) -> Entry {
        Entry::string(b"k", s.as_bytes())
    }

    #[test]
    fn encodings() {
        assert_eq!(e("12").encoding(), "int");
        assert_eq!(e("hello").encoding(), "embstr");
        assert_eq!(e(&"x".repeat(44)).encoding(), "embstr");
        assert_eq!(e(&"x".repeat(45)).encoding(), "raw");
        assert_eq!(e("12").with_raw().encoding(), "raw");
    }

    #[test]
    fn a_string_session_is_one_block_of_header_key_and_value() {
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        let entry = Entry::string(b"sess:abc", &[7; 100]);
        assert_eq!(entry.block_size(), 32 + 8 + 100);
        assert_eq!(entry.key(), b"sess:abc");
        assert_eq!(entry.str(), Some(&[7u8; 100][..]));
    }

    #[test]
    fn values_change_and_keep_key_and_times() {
        let mut entry = Entry::string(b"key", b"10").with_deadline(5_000);
        entry.set_idle_ms(4_000);
        entry.set_created_ms(1_000);
        entry.set_string(b"11", false);
        assert_eq!(entry.str(), Some(&b"11"[..]));
        entry.set_string(b"a longer value", false);
        assert_eq!(entry.append(b"!"), 15);
        assert!(entry.is_raw());
        assert_eq!(entry.str(), Some(&b"a longer value!"[..]));
        let mut hash = Hash::default();
        hash.insert(b"f", b"v");
        entry.set_value(Value::Hash(hash));
        assert_eq!(entry.value().type_name(), "hash");
        assert!(entry.hash_mut().is_some() && entry.set_mut().is_none());
        let copy = entry.clone().renamed(b"other key");
        entry.set_value(Value::Set(Set::default()));
        assert!(entry.set_mut().is_some() && entry.hash_mut().is_none());
        for e in [&entry, &copy] {
            assert_eq!(
                (e.expires_at(), e.idle_ms(), e.created_ms()),
                (5_000, 4_000, 1_000)
            );
        }
        assert_eq!(entry.key(), b"key");
        assert_eq!(copy.key(), b"other key");
        assert_eq!(copy.value().type_name(), "hash");
        let renamed = Entry::string(b"a", b"xyz").with_raw().renamed(b"bcd");
        assert_eq!(
            (renamed.key(), renamed.str()),
            (&b"bcd"[..], Some(&b"xyz"[..]))
        );
        assert!(renamed.is_raw());
    }

    #[test]
    fn the_timer_follows_later_deadlines_and_earlier_ones_need_a_new_one() {
        let mut entry = e("v");
        assert!(entry.move_deadline(1_000), "first deadline: schedule");
        assert_eq!(entry.timer_at(), 1_000);
        assert!(
            !entry.move_deadline(5_000),
            "later: the timer follows when it fires"
        );
        assert_eq!(entry.timer_at(), 1_000);
        assert!(entry.move_deadline(500), "earlier: a new timer");
        assert_eq!(entry.timer_at(), 500);
        assert!(
            entry.move_deadline(500 + u64::from(u32::MAX)),
            "gap too wide: a new timer"
        );
        assert!(!entry.move_deadline(0));
        assert_eq!(entry.timer_at(), 0);
        assert!(
            entry.move_deadline(7),
            "after PERSIST, a TTL needs a timer again"
        );
    }

    #[test]
    fn idle_periods_are_exact_below_24_days_and_to_the_second_above() {
        for ms in [0, 1, 1_800_000, (1 << 31) - 1] {
            assert_eq!(decode_idle(encode_idle(ms)), ms);
        }
        let long = 100 * 86_400_000 + 999;
        assert_eq!(decode_idle(encode_idle(long)), 100 * 86_400_000);
    }
}
