//! A hierarchical timer wheel: the expiry schedule of one shard.
//!
//! The wheel is a pure data structure. It never reads a clock: every call that needs the time
//! takes `now` in milliseconds since the Unix epoch, so tests drive it with any clock they like.
//! It is a *hint*: the store keeps each key's real deadline in its entry, schedules a timer when a
//! deadline appears or moves earlier, and re-checks the entry when the timer fires (see "Expiry and
//! sliding" in DESIGN.md). The wheel therefore never cancels or moves a timer; stale timers simply
//! fire and are ignored by the store.
//!
//! # Levels
//!
//! Level 0 has millisecond buckets; each level's bucket spans the whole level below it. Every
//! count and span is a power of two, so finding a bucket is a shift and a mask, and bucket indices
//! are taken from the absolute deadline (`(deadline >> shift) & (count - 1)`), never from an
//! offset against a moving origin.
//!
//! | level | buckets | one bucket spans         | the level spans            |
//! |-------|---------|--------------------------|----------------------------|
//! | 0     | 64      | 1 ms                     | 64 ms                      |
//! | 1     | 64      | 64 ms                    | 4.096 s                    |
//! | 2     | 64      | 4.096 s                  | 262.1 s (4.37 min)         |
//! | 3     | 64      | 4.37 min                 | 16 777 s (4.66 h)          |
//! | 4     | 64      | 4.66 h                   | 12.4 days                  |
//! | 5     | 64      | 12.4 days                | 795 days (2.18 years, 2^36 ms) |
//! | over  | 1 list  | —                        | any later 2^36 ms block, up to `u64::MAX` |
//!
//! A timer goes to the level that holds the highest bit in which its deadline differs from the
//! wheel's time. So a timer whose deadline shares the wheel's current level-1 bucket lands in level
//! 0, one that shares the level-2 bucket lands in level 1, and so on. Session TTLs land in levels 3
//! (24 or 30 min), 4 (a day) and 5 (two weeks, a month), and move down at most once per level.
//!
//! # Invariants
//!
//! - The wheel's time `now_ms` never goes backwards.
//! - A timer in bucket `b` of level `l` has a deadline after `now_ms` whose highest bit differing
//!   from `now_ms` lies in level `l`'s bits, and `b` is its level-`l` digit. Hence the occupied
//!   buckets of a level all lie after the wheel's current bucket of that level, within the same
//!   bucket of the level above, and every bucket of level `l` ends before any bucket of level
//!   `l + 1` starts: the next bucket due is always the lowest set bit of the occupancy bitmap of
//!   the lowest non-empty level. No wrap-around, no scan of empty buckets.
//! - The overflow list holds the timers whose deadline differs from `now_ms` above bit 35;
//!   `overflow_min_ms` is at most the earliest of them.
//! - `in_hand` holds timers taken out of a bucket (or the overflow list) whose processing a `limit`
//!   interrupted, plus timers scheduled at or before `now_ms`; `advance` deals with them before
//!   anything else.
//!
//! # Cost
//!
//! `schedule` is O(1). `advance` visits only occupied buckets (found through one `u64` bitmap per
//! level) plus one check per level, however far time jumps. Each timer is handled at most once per
//! level on its way down, and `limit` bounds the timers handled (fired or moved down) in one call,
//! so the shard lock is never held for work proportional to the number of timers.
//!
//! # Memory
//!
//! A timer is 8 bytes in its bucket's `Vec` (plus the `Vec`'s growth slack): its 32-bit token and
//! the 32 low bits of its deadline — the bucket and the wheel's time give the rest, since a timer
//! in a level-`l` bucket has the wheel's time's bits above that level and the bucket's index as
//! its level-`l` digit, and the bits below fit 32 bits up to level 5 (30 of them). That is why
//! there is no level above 5: later deadlines (over two years out) wait in the overflow list as
//! whole [`Timer`]s. A level's table of 64 buckets (1.5 KiB) is allocated only when the level
//! first receives a timer, and a bucket that empties gives back its allocation unless it is small
//! ([`RETAIN_CAPACITY`]).

/// What a timer stands for: opaque to the wheel (the store uses 32 bits from which it recovers
/// the key's hash; several timers may share a token).
pub type Token = u32;

/// One scheduled timer: an absolute deadline (ms since the Unix epoch) and its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    pub deadline_ms: u64,
    pub token: Token,
}

/// A timer as a bucket holds it: the deadline's bits below the bucket (see the module doc).
#[derive(Clone, Copy, Debug)]
struct Slot {
    low_ms: u32,
    token: Token,
}

/// Number of levels below the overflow list.
const LEVELS: usize = 6;

/// Buckets in each level; powers of two, at most 64 so that one `u64` maps a level's occupancy.
const BUCKETS_PER_LEVEL: [usize; LEVELS] = [64, 64, 64, 64, 64, 64];

/// Milliseconds covered by one bucket of each level; powers of two, and each level's bucket spans
/// exactly the whole level below it.
const BUCKET_SPAN_MS: [u64; LEVELS] = [
    1,       // 1 ms
    1 << 6,  // 64 ms
    1 << 12, // 4.096 s
    1 << 18, // 4.37 min
    1 << 24, // 4.66 h
    1 << 30, // 12.4 days
];

/// Milliseconds covered by the whole top level (2^36 ms, 2.18 years): deadlines that differ from
/// the wheel's time at or above this bit go to the overflow list.
const TOP_LEVEL_SPAN_MS: u64 = BUCKET_SPAN_MS[LEVELS - 1] * BUCKETS_PER_LEVEL[LEVELS - 1] as u64;

/// A drained bucket (or the in-hand list) keeps an allocation of at most this many timers for
/// reuse; a larger one is freed, so a burst of expiries does not pin its memory afterwards.
pub const RETAIN_CAPACITY: usize = 16;

/// The tables must describe contiguous power-of-two levels; checked at compile time.
const fn tables_are_consistent() -> bool {
    let mut level = 0;
    while level < LEVELS {
        let count = BUCKETS_PER_LEVEL[level];
        if !count.is_power_of_two() || count > 64 || !BUCKET_SPAN_MS[level].is_power_of_two() {
            return false;
        }
        let expected_span = if level == 0 {
            1
        } else {
            BUCKET_SPAN_MS[level - 1] * BUCKETS_PER_LEVEL[level - 1] as u64
        };
        // A slot keeps the deadline's bits below its bucket in 32 bits.
        if BUCKET_SPAN_MS[level] != expected_span || BUCKET_SPAN_MS[level] > 1 << 32 {
            return false;
        }
        level += 1;
    }
    TOP_LEVEL_SPAN_MS.is_power_of_two()
}
const _: () = assert!(tables_are_consistent());

/// Where a deadline whose highest bit differing from the wheel's time is `bit` belongs: a level,
/// or `LEVELS` for the overflow list. A table so that placement costs no loop.
const LEVEL_OF_BIT: [u8; 64] = {
    let mut table = [LEVELS as u8; 64];
    let mut level = 0;
    while level < LEVELS {
        let low = BUCKET_SPAN_MS[level].trailing_zeros() as usize;
        let high = low + BUCKETS_PER_LEVEL[level].trailing_zeros() as usize;
        let mut bit = low;
        while bit < high {
            table[bit] = level as u8;
            bit += 1;
        }
        level += 1;
    }
    table
};

/// One level: its buckets, allocated on first use, and a bitmap of the non-empty ones.
#[derive(Default)]
struct Level {
    occupied: u64,
    buckets: Box<[Vec<Slot>]>,
}

/// A hierarchical timer wheel with millisecond resolution; see the module documentation.
pub struct TimerWheel {
    /// The wheel's time: every timer still in a level or the overflow list is due after it.
    now_ms: u64,
    levels: [Level; LEVELS],
    /// Deadlines too far out for the top level.
    overflow: Vec<Timer>,
    /// No overflow timer is due before this; `u64::MAX` when the overflow list is empty.
    overflow_min_ms: u64,
    /// Timers to fire or move down before any bucket is visited (see the module invariants).
    in_hand: Vec<Timer>,
    len: usize,
    /// Buckets (and overflow lists) taken by `advance`, so tests can bound the work of a jump.
    #[cfg(test)]
    buckets_taken: u64,
}

impl TimerWheel {
    /// A wheel whose clock starts at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ms,
            levels: Default::default(),
            overflow: Vec::new(),
            overflow_min_ms: u64::MAX,
            in_hand: Vec::new(),
            len: 0,
            #[cfg(test)]
            buckets_taken: 0,
        }
    }

    /// Adds a timer. A deadline at or before the wheel's current time fires on the next advance.
    pub fn schedule(&mut self, deadline_ms: u64, token: Token) {
        self.len += 1;
        self.place(Timer { deadline_ms, token });
    }

    /// Moves the wheel's time to `now_ms` and appends to `fired` every timer whose deadline is
    /// <= now_ms, at most `limit` of them per call (remaining due timers stay and come out on the
    /// next call, even if now_ms has not moved). Returns true if it stopped because of the limit.
    ///
    /// `limit` bounds every timer the call handles: the ones it fires and the ones it moves down
    /// to a finer level, so a call that returns true may have fired fewer than `limit` (even none,
    /// when a large coarse bucket was being spread out); call again until it returns false.
    ///
    /// Timers come out bucket by bucket, earliest bucket first, which is finest level first;
    /// inside one bucket the order is unspecified. A bucket that is due as a whole fires as a
    /// whole, without being spread over finer levels first, so after a long jump the order is
    /// exact only to the width of the buckets that were overdue; in steady state (advancing every
    /// few milliseconds) it is exact to the advance step. Never fires a timer before its deadline.
    /// A `now_ms` earlier than the wheel's time counts as the wheel's time.
    pub fn advance(&mut self, now_ms: u64, limit: usize, fired: &mut Vec<Timer>) -> bool {
        let now_ms = now_ms.max(self.now_ms);
        let mut budget = limit;
        loop {
            // Finish what is in hand first: it is due no later than any bucket still in a level.
            while let Some(timer) = self.in_hand.pop() {
                if budget == 0 {
                    // The next call starts with it.
                    self.in_hand.push(timer);
                    return true;
                }
                budget -= 1;
                if timer.deadline_ms <= now_ms {
                    self.len -= 1;
                    fired.push(timer);
                } else {
                    // Only reached for a bucket that straddles `now_ms`; the wheel's time is that
                    // bucket's start, so the timer drops to a finer level (never back in hand).
                    self.place(timer);
                }
            }
            release_if_large(&mut self.in_hand);
            match self.next_bucket() {
                Some((start_ms, source)) if start_ms <= now_ms => self.take(start_ms, source),
                _ => break,
            }
        }
        // Every remaining bucket starts after `now_ms`, so the placement invariant still holds.
        self.now_ms = now_ms;
        false
    }

    /// Number of timers held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the wheel holds no timer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of heap the wheel holds (capacity of its buckets), for INFO/memory measurement.
    /// Walks every allocated bucket, so it costs O(buckets), not O(1): call it for INFO, not per
    /// command.
    pub fn heap_bytes(&self) -> usize {
        let timer = std::mem::size_of::<Timer>();
        let tables: usize = self
            .levels
            .iter()
            .map(|level| {
                let table = level.buckets.len() * std::mem::size_of::<Vec<Slot>>();
                let timers: usize = level
                    .buckets
                    .iter()
                    .map(|bucket| bucket.capacity() * std::mem::size_of::<Slot>())
                    .sum();
                table + timers
            })
            .sum();
        tables + (self.overflow.capacity() + self.in_hand.capacity()) * timer
    }

    /// Puts a timer where the invariants want it, relative to the wheel's time.
    fn place(&mut self, timer: Timer) {
        if timer.deadline_ms <= self.now_ms {
            self.in_hand.push(timer);
            return;
        }
        let highest_differing_bit = 63 - (timer.deadline_ms ^ self.now_ms).leading_zeros();
        let level_index = usize::from(LEVEL_OF_BIT[highest_differing_bit as usize]);
        if level_index == LEVELS {
            self.overflow_min_ms = self.overflow_min_ms.min(timer.deadline_ms);
            self.overflow.push(timer);
            return;
        }
        let count = BUCKETS_PER_LEVEL[level_index];
        let span = BUCKET_SPAN_MS[level_index];
        let index = ((timer.deadline_ms >> span.trailing_zeros()) as usize) & (count - 1);
        let level = &mut self.levels[level_index];
        if level.buckets.is_empty() {
            level.buckets = (0..count).map(|_| Vec::new()).collect();
        }
        level.buckets[index].push(Slot {
            // At most 30 bits (checked at compile time): the cast keeps them all.
            low_ms: (timer.deadline_ms & (span - 1)) as u32,
            token: timer.token,
        });
        level.occupied |= 1 << index;
    }

    /// The earliest non-empty bucket (or the overflow list) and the time it starts.
    fn next_bucket(&self) -> Option<(u64, Source)> {
        for (level_index, level) in self.levels.iter().enumerate() {
            if level.occupied != 0 {
                let index = level.occupied.trailing_zeros() as usize;
                let span = BUCKET_SPAN_MS[level_index];
                let parent_span = span * BUCKETS_PER_LEVEL[level_index] as u64;
                let start_ms = (self.now_ms & !(parent_span - 1)) | (index as u64 * span);
                return Some((start_ms, Source::Bucket(level_index, index)));
            }
        }
        if self.overflow.is_empty() {
            return None;
        }
        // The earliest overflow timer's 2^36 ms block starts after the wheel's time.
        Some((
            self.overflow_min_ms & !(TOP_LEVEL_SPAN_MS - 1),
            Source::Overflow,
        ))
    }

    /// Moves the wheel's time to the start of `source` and takes its timers in hand, whole again
    /// (the bucket's start plus each slot's low bits). `in_hand` is empty here.
    fn take(&mut self, start_ms: u64, source: Source) {
        debug_assert!(self.in_hand.is_empty() && start_ms > self.now_ms);
        #[cfg(test)]
        {
            self.buckets_taken += 1;
        }
        self.now_ms = start_ms;
        match source {
            Source::Bucket(level_index, index) => {
                let level = &mut self.levels[level_index];
                level.occupied &= !(1 << index);
                let bucket = &mut level.buckets[index];
                self.in_hand.extend(bucket.drain(..).map(|slot| Timer {
                    deadline_ms: start_ms + u64::from(slot.low_ms),
                    token: slot.token,
                }));
                release_if_large(bucket);
            }
            Source::Overflow => {
                // Timers of later blocks go back to the overflow list as they are re-placed,
                // which recomputes its minimum.
                std::mem::swap(&mut self.in_hand, &mut self.overflow);
                release_if_large(&mut self.overflow);
                self.overflow_min_ms = u64::MAX;
            }
        }
    }
}

/// Where the next timers come from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// (level, bucket index).
    Bucket(usize, usize),
    Overflow,
}

/// Frees an empty list's allocation if it is large enough to matter.
fn release_if_large<T>(list: &mut Vec<T>) {
    debug_assert!(list.is_empty());
    if list.capacity() > RETAIN_CAPACITY {
        *list = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plausible wall-clock time (2026-01-01T00:00:00Z), so tests see real bit patterns.
    const EPOCH_2026_MS: u64 = 1_767_225_600_000;

    /// Advances without a limit and returns the fired tokens, sorted.
    fn fire(wheel: &mut TimerWheel, now_ms: u64) -> Vec<Token> {
        // The wheel's time never goes back, so that is the time to compare deadlines with.
        let effective_ms = now_ms.max(wheel.now_ms);
        let mut fired = Vec::new();
        assert!(!wheel.advance(now_ms, usize::MAX, &mut fired));
        for timer in &fired {
            assert!(
                timer.deadline_ms <= effective_ms,
                "{timer:?} fired early at {effective_ms}"
            );
        }
        let mut tokens: Vec<Token> = fired.iter().map(|timer| timer.token).collect();
        tokens.sort_unstable();
        tokens
    }

    /// Checks the module invariants on every timer the wheel holds.
    fn check_invariants(wheel: &TimerWheel) {
        let mut held = wheel.in_hand.len() + wheel.overflow.len();
        for (level_index, level) in wheel.levels.iter().enumerate() {
            let shift = BUCKET_SPAN_MS[level_index].trailing_zeros();
            for (index, bucket) in level.buckets.iter().enumerate() {
                assert_eq!(level.occupied & (1 << index) != 0, !bucket.is_empty());
                let span = BUCKET_SPAN_MS[level_index];
                let parent_span = span * BUCKETS_PER_LEVEL[level_index] as u64;
                for slot in bucket {
                    // The deadline, whole again as `take` rebuilds it.
                    let deadline_ms = (wheel.now_ms & !(parent_span - 1))
                        | (index as u64 * span)
                        | u64::from(slot.low_ms);
                    assert!(u64::from(slot.low_ms) < span);
                    assert!(deadline_ms > wheel.now_ms);
                    let bit = 63 - (deadline_ms ^ wheel.now_ms).leading_zeros();
                    assert_eq!(usize::from(LEVEL_OF_BIT[bit as usize]), level_index);
                    assert_eq!(
                        (deadline_ms >> shift) as usize & (BUCKETS_PER_LEVEL[level_index] - 1),
                        index
                    );
                }
                held += bucket.len();
            }
        }
        for timer in &wheel.overflow {
            assert!(timer.deadline_ms > wheel.now_ms);
            assert!(timer.deadline_ms >= wheel.overflow_min_ms);
            assert!(timer.deadline_ms ^ wheel.now_ms >= TOP_LEVEL_SPAN_MS);
        }
        assert_eq!(held, wheel.len());
    }

    #[test]
    fn level_table_is_contiguous() {
        assert_eq!(LEVEL_OF_BIT[0], 0);
        assert_eq!(LEVEL_OF_BIT[5], 0);
        assert_eq!(LEVEL_OF_BIT[6], 1);
        assert_eq!(LEVEL_OF_BIT[35], 5);
        assert_eq!(LEVEL_OF_BIT[36], LEVELS as u8);
        assert_eq!(TOP_LEVEL_SPAN_MS, 1 << 36);
        assert_eq!(std::mem::size_of::<Slot>(), 8);
    }

    /// Where a deadline lands in a fresh wheel at `now_ms`: (level, bucket), (LEVELS, 0) for
    /// the overflow list, or None when it is already due.
    fn location(now_ms: u64, deadline_ms: u64) -> Option<(usize, usize)> {
        let mut wheel = TimerWheel::new(now_ms);
        wheel.schedule(deadline_ms, 0);
        check_invariants(&wheel);
        if !wheel.overflow.is_empty() {
            return Some((LEVELS, 0));
        }
        wheel
            .levels
            .iter()
            .enumerate()
            .find_map(|(level_index, level)| {
                (level.occupied != 0)
                    .then(|| (level_index, level.occupied.trailing_zeros() as usize))
            })
    }

    #[test]
    fn placement_at_bucket_and_level_boundaries() {
        // A wheel time aligned on a top-level block: every digit of `now` is 0.
        let now = 7 * TOP_LEVEL_SPAN_MS;
        assert_eq!(location(now, now - 1), None);
        assert_eq!(location(now, now), None);
        for (level_index, &span) in BUCKET_SPAN_MS.iter().enumerate() {
            let level_span = span * 64;
            // First ms of bucket 1, last ms of bucket 1, first ms of bucket 2.
            assert_eq!(
                location(now, now + span),
                Some((level_index, 1)),
                "level {level_index}"
            );
            assert_eq!(
                location(now, now + 2 * span - 1),
                Some((level_index, 1)),
                "level {level_index}"
            );
            assert_eq!(
                location(now, now + 2 * span),
                Some((level_index, 2)),
                "level {level_index}"
            );
            // Last ms of the level, then the first ms beyond it goes one level up.
            assert_eq!(
                location(now, now + level_span - 1),
                Some((level_index, 63)),
                "level {level_index}"
            );
            let one_level_up = if level_index + 1 == LEVELS {
                (LEVELS, 0) // the overflow list
            } else {
                (level_index + 1, 1)
            };
            assert_eq!(location(now, now + level_span), Some(one_level_up));
        }
        // A wheel time in the middle of buckets: base + 100 has level-0 digit 36, level-1 digit 1.
        let base = now;
        let now = base + 100;
        assert_eq!(location(now, base + 101), Some((0, 37)));
        assert_eq!(location(now, base + 127), Some((0, 63)));
        // Same level-1 digit as now is level 0; the next level-1 bucket is level 1 digit 2.
        assert_eq!(location(now, base + 128), Some((1, 2)));
        assert_eq!(location(now, base + 4095), Some((1, 63)));
        assert_eq!(location(now, base + 4096), Some((2, 1)));
        // The top level ends where the wheel's 2^36 ms block ends, not 2^36 ms after now.
        assert_eq!(
            location(now, base + TOP_LEVEL_SPAN_MS - 1),
            Some((LEVELS - 1, 63))
        );
        assert_eq!(location(now, base + TOP_LEVEL_SPAN_MS), Some((LEVELS, 0)));
    }

    /// For every level, a timer at the last ms of a bucket and one at the first ms of the next
    /// bucket: each fires exactly at its deadline, not a millisecond before, from a wheel time that
    /// is aligned and from one that is not.
    #[test]
    fn bucket_boundaries_fire_exactly_at_every_level() {
        for offset in [0, 12_345] {
            for (level_index, &span) in BUCKET_SPAN_MS.iter().enumerate() {
                let start = 3 * TOP_LEVEL_SPAN_MS + offset;
                let mut wheel = TimerWheel::new(start);
                // Bucket boundaries are absolute: pick the boundary after `start` two buckets on.
                let boundary = (start / span + 2) * span;
                wheel.schedule(boundary - 1, 1);
                wheel.schedule(boundary, 2);
                check_invariants(&wheel);
                let level = &wheel.levels[level_index];
                assert_eq!(level.occupied.count_ones(), 2, "level {level_index}");
                assert_eq!(
                    fire(&mut wheel, boundary - 2),
                    Vec::<Token>::new(),
                    "level {level_index}"
                );
                check_invariants(&wheel);
                assert_eq!(
                    fire(&mut wheel, boundary - 1),
                    vec![1],
                    "level {level_index}"
                );
                check_invariants(&wheel);
                assert_eq!(fire(&mut wheel, boundary - 1), Vec::<Token>::new());
                assert_eq!(fire(&mut wheel, boundary), vec![2], "level {level_index}");
                assert!(wheel.is_empty());
                check_invariants(&wheel);
            }
        }
    }

    /// One timer per level, advanced deadline by deadline: each call fires exactly its timer.
    #[test]
    fn fires_in_deadline_order_across_levels() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        let deadlines: Vec<u64> = (0..LEVELS)
            .map(|level| now + BUCKET_SPAN_MS[level] * 40 + 7)
            .collect();
        // Scheduled out of order, on purpose.
        for (token, &deadline) in deadlines.iter().enumerate().rev() {
            wheel.schedule(deadline, token as Token);
        }
        for (token, &deadline) in deadlines.iter().enumerate() {
            assert_eq!(fire(&mut wheel, deadline - 1), Vec::<Token>::new());
            assert_eq!(fire(&mut wheel, deadline), vec![token as Token]);
            check_invariants(&wheel);
        }
        assert!(wheel.is_empty());
    }

    /// One big jump over timers in distinct buckets of every level: they come out earliest first.
    #[test]
    fn a_jump_fires_earliest_buckets_first() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        let mut deadlines: Vec<u64> = (0..LEVELS)
            .map(|level| now + BUCKET_SPAN_MS[level] * 3)
            .collect();
        deadlines.push(now + 2); // same level as the first, earlier
        for &deadline in deadlines.iter().rev() {
            wheel.schedule(deadline, 0);
        }
        let mut fired = Vec::new();
        assert!(!wheel.advance(now + TOP_LEVEL_SPAN_MS, usize::MAX, &mut fired));
        let order: Vec<u64> = fired.iter().map(|timer| timer.deadline_ms).collect();
        deadlines.sort_unstable();
        assert_eq!(order, deadlines);
    }

    /// A coarse timer moves down level by level as the wheel reaches its buckets.
    #[test]
    fn cascades_down_to_level_zero() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        let deadline = now + 30 * 60 * 1000 + 17; // a 30-minute session
        wheel.schedule(deadline, 9);
        let level_of =
            |wheel: &TimerWheel| wheel.levels.iter().position(|level| level.occupied != 0);
        let start_level = level_of(&wheel).unwrap();
        assert_eq!(start_level, 3);
        let mut seen = vec![start_level];
        // Walk time forward in big steps that stay before the deadline.
        for before in [60_000, 5_000, 100, 1] {
            assert_eq!(fire(&mut wheel, deadline - before), Vec::<Token>::new());
            check_invariants(&wheel);
            seen.push(level_of(&wheel).unwrap());
        }
        // Which step crosses which level depends on the deadline's digits; the path goes down.
        assert!(seen.windows(2).all(|pair| pair[0] >= pair[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&0), "{seen:?}");
        seen.dedup();
        assert!(seen.len() >= 3, "went through a middle level: {seen:?}");
        assert_eq!(fire(&mut wheel, deadline), vec![9]);
    }

    #[test]
    fn deadlines_in_the_past_fire_on_the_next_advance() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        wheel.schedule(0, 1);
        wheel.schedule(now - 1, 2);
        wheel.schedule(now, 3);
        assert_eq!(wheel.len(), 3);
        // The time has not moved, and even goes back: they still fire.
        assert_eq!(fire(&mut wheel, now - 1000), vec![1, 2, 3]);
        assert!(wheel.is_empty());
        // After the wheel moved on, a deadline between the old and new time is in the past too.
        assert_eq!(fire(&mut wheel, now + 5000), Vec::<Token>::new());
        wheel.schedule(now + 10, 4);
        assert_eq!(fire(&mut wheel, now + 5000), vec![4]);
        // A clock that goes backwards does not un-fire or re-place anything.
        wheel.schedule(now + 6000, 5);
        assert_eq!(fire(&mut wheel, now), Vec::<Token>::new());
        assert_eq!(fire(&mut wheel, now + 6000), vec![5]);
    }

    #[test]
    fn far_future_deadlines_years_and_overflow() {
        const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        let five_years = now + 5 * YEAR_MS;
        let two_centuries = now + 200 * YEAR_MS;
        let i64_max = i64::MAX as u64;
        let half_u64 = u64::MAX / 2;
        wheel.schedule(five_years, 1);
        wheel.schedule(two_centuries, 2);
        wheel.schedule(i64_max, 3);
        wheel.schedule(half_u64, 4);
        wheel.schedule(u64::MAX, 5);
        // Five years out is past the top level (2.18 years): all wait in the overflow list.
        assert_eq!(wheel.overflow.len(), 5);
        check_invariants(&wheel);
        assert_eq!(fire(&mut wheel, five_years - 1), Vec::<Token>::new());
        assert_eq!(fire(&mut wheel, five_years), vec![1]);
        assert_eq!(fire(&mut wheel, two_centuries - 1), Vec::<Token>::new());
        check_invariants(&wheel);
        assert_eq!(fire(&mut wheel, two_centuries), vec![2]);
        check_invariants(&wheel);
        // i64::MAX and u64::MAX / 2 are the same instant.
        assert_eq!(fire(&mut wheel, half_u64 - 1), Vec::<Token>::new());
        assert_eq!(fire(&mut wheel, half_u64), vec![3, 4]);
        assert_eq!(fire(&mut wheel, u64::MAX - 1), Vec::<Token>::new());
        assert_eq!(fire(&mut wheel, u64::MAX), vec![5]);
        assert!(wheel.is_empty());
        // Each jump visited a handful of buckets, never the milliseconds in between.
        assert!(
            wheel.buckets_taken < 40,
            "{} buckets taken",
            wheel.buckets_taken
        );
    }

    /// A million timers due in the same millisecond come out in slices of `limit`, each exactly
    /// once, even though the time does not move between calls.
    #[test]
    fn limit_slices_a_million_timers() {
        const COUNT: usize = 1_000_000;
        const LIMIT: usize = 4096;
        let now = EPOCH_2026_MS;
        let deadline = now + 1500; // level 1: the bucket straddles `deadline` when reached
        let mut wheel = TimerWheel::new(now);
        for token in 0..COUNT as Token {
            wheel.schedule(deadline, token);
        }
        wheel.schedule(deadline + 1, COUNT as Token); // same bucket, not due: moved, not fired
        let mut seen = vec![false; COUNT + 1];
        let mut fired = Vec::with_capacity(LIMIT);
        let mut calls = 0;
        loop {
            fired.clear();
            let more = wheel.advance(deadline, LIMIT, &mut fired);
            calls += 1;
            assert!(fired.len() <= LIMIT);
            for timer in &fired {
                assert_eq!(timer.deadline_ms, deadline);
                assert!(
                    !std::mem::replace(&mut seen[timer.token as usize], true),
                    "{timer:?} twice"
                );
            }
            if !more {
                break;
            }
            assert!(
                !fired.is_empty() || calls == 1,
                "call {calls} made no progress"
            );
        }
        assert!(seen[..COUNT].iter().all(|&fired| fired));
        assert!(!seen[COUNT]);
        assert_eq!(calls, COUNT.div_ceil(LIMIT));
        assert_eq!(wheel.len(), 1);
        check_invariants(&wheel);
        assert_eq!(fire(&mut wheel, deadline + 1), vec![COUNT as Token]);
        // The big bucket's allocation was given back once it emptied.
        assert!(
            wheel.heap_bytes() < 64 * 1024,
            "{} bytes held",
            wheel.heap_bytes()
        );
    }

    /// `limit` counts timers moved down as well as timers fired, so a huge coarse bucket that is
    /// not yet due is spread out over several calls too.
    #[test]
    fn limit_bounds_cascading_work() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        let deadline = now + 600_000; // 10 minutes: level 3
        for token in 0..10_000 {
            wheel.schedule(deadline, token);
        }
        let mut fired = Vec::new();
        let mut calls = 0;
        while wheel.advance(deadline - 1, 1000, &mut fired) {
            calls += 1;
            check_invariants(&wheel);
        }
        assert!(fired.is_empty());
        // Every timer moved down at least once, at most 1000 moves per call.
        assert!(calls >= 10, "{calls} calls");
        assert_eq!(wheel.len(), 10_000);
        // With a limit of 0 nothing happens, and the call says there is work left.
        assert!(wheel.advance(deadline, 0, &mut fired));
        assert!(fired.is_empty());
        assert!(!wheel.advance(deadline, usize::MAX, &mut fired));
        assert_eq!(fired.len(), 10_000);
        assert!(!wheel.advance(deadline, 0, &mut fired));
    }

    /// Timers scheduled while a sliced advance is under way are neither lost nor fired early.
    #[test]
    fn schedule_between_slices() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        for token in 0..100 {
            wheel.schedule(now + 70, token);
        }
        let mut fired = Vec::new();
        assert!(wheel.advance(now + 80, 10, &mut fired));
        wheel.schedule(now + 75, 1000); // due, in the past of the interrupted advance
        wheel.schedule(now + 81, 1001); // not due yet
        wheel.schedule(now, 1002); // long due
        while wheel.advance(now + 80, 10, &mut fired) {}
        let mut tokens: Vec<Token> = fired.iter().map(|timer| timer.token).collect();
        tokens.sort_unstable();
        let mut expected: Vec<Token> = (0..100).collect();
        expected.extend([1000, 1002]);
        assert_eq!(tokens, expected);
        assert_eq!(fire(&mut wheel, now + 81), vec![1001]);
    }

    /// Long idle periods cost the occupied buckets plus the levels, not the elapsed time.
    #[test]
    fn long_idle_jumps_skip_empty_buckets() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        // An hour of nothing.
        assert_eq!(fire(&mut wheel, now + 3_600_000), Vec::<Token>::new());
        assert_eq!(wheel.buckets_taken, 0);
        // One timer ten days out, then one jump of ten days.
        let now = now + 3_600_000;
        wheel.schedule(now + 10 * 86_400_000, 1);
        assert_eq!(fire(&mut wheel, now + 10 * 86_400_000), vec![1]);
        assert!(
            wheel.buckets_taken <= 2,
            "{} buckets taken",
            wheel.buckets_taken
        );
        // A thousand timers spread over a day, then one jump over all of them.
        let now = now + 10 * 86_400_000;
        for token in 0..1000 {
            wheel.schedule(now + u64::from(token) * 86_400 + 1, token);
        }
        let taken_before = wheel.buckets_taken;
        assert_eq!(fire(&mut wheel, now + 86_400_000).len(), 1000);
        let taken = wheel.buckets_taken - taken_before;
        assert!(
            taken <= 40,
            "{taken} buckets taken for 1000 timers over a day"
        );
        // An idle hour in steps of one second visits nothing.
        let now = now + 86_400_000;
        let taken_before = wheel.buckets_taken;
        for second in 1..=3600 {
            assert_eq!(fire(&mut wheel, now + second * 1000), Vec::<Token>::new());
        }
        assert_eq!(wheel.buckets_taken, taken_before);
    }

    #[test]
    fn heap_bytes_grows_and_is_given_back() {
        let now = EPOCH_2026_MS;
        let mut wheel = TimerWheel::new(now);
        assert_eq!(wheel.heap_bytes(), 0);
        for token in 0..10_000 {
            wheel.schedule(now + 20, token);
        }
        // Timers in a bucket take 8 bytes each.
        let table = 64 * std::mem::size_of::<Vec<Slot>>();
        assert!(wheel.heap_bytes() >= table + 10_000 * 8);
        assert!(wheel.heap_bytes() < table + 10_000 * 16);
        assert_eq!(fire(&mut wheel, now + 20).len(), 10_000);
        assert!(
            wheel.heap_bytes() <= table + RETAIN_CAPACITY * 16 * 2,
            "{}",
            wheel.heap_bytes()
        );
    }

    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        #[derive(Clone, Debug)]
        enum Op {
            /// Schedule at the current time plus this offset (negative: in the past).
            Schedule(i64),
            /// Advance by this many ms (0: same time; negative: a clock going back).
            Advance(i64),
            /// Advance in slices of `limit`, scheduling a timer at `now + offset` after the
            /// first slice when there is more than one.
            Sliced {
                step: i64,
                limit: usize,
                offset: i64,
            },
        }

        /// Offsets that reach every level, the overflow list and the past.
        fn offset() -> impl Strategy<Value = i64> {
            prop_oneof![
                -100i64..=100,
                -5_000i64..=5_000,
                0i64..=300_000,
                0i64..=20_000_000,
                0i64..=2_000_000_000,
                0i64..=(1i64 << 42),
                Just(1i64 << 50),
            ]
        }

        fn step() -> impl Strategy<Value = i64> {
            prop_oneof![
                0i64..=10,
                0i64..=5_000,
                0i64..=500_000,
                0i64..=(1i64 << 40),
                -50i64..=0,
            ]
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => offset().prop_map(Op::Schedule),
                2 => step().prop_map(Op::Advance),
                1 => (step(), 0usize..8, offset())
                    .prop_map(|(step, limit, offset)| Op::Sliced { step, limit, offset }),
            ]
        }

        /// Removes and returns the model's timers due at `now`, as sorted (deadline, token).
        fn take_due(model: &mut BTreeMap<(u64, u64), Token>, now: u64) -> Vec<(u64, Token)> {
            let later = model.split_off(&(now + 1, 0));
            let due = std::mem::replace(model, later);
            let mut due: Vec<(u64, Token)> = due
                .into_iter()
                .map(|((deadline, _), token)| (deadline, token))
                .collect();
            due.sort_unstable();
            due
        }

        fn sorted(fired: &[Timer]) -> Vec<(u64, Token)> {
            let mut got: Vec<(u64, Token)> = fired
                .iter()
                .map(|timer| (timer.deadline_ms, timer.token))
                .collect();
            got.sort_unstable();
            got
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// After each advance(now, usize::MAX), or each run of limited advances until one
            /// returns false, the wheel fired exactly the model's timers with deadline <= now.
            #[test]
            fn wheel_agrees_with_a_sorted_map(
                start in 0u64..(1 << 45),
                ops in prop::collection::vec(op(), 1..200),
            ) {
                let mut wheel = TimerWheel::new(start);
                // (deadline, sequence number) -> token; tokens repeat on purpose.
                let mut model: BTreeMap<(u64, u64), Token> = BTreeMap::new();
                let (mut now, mut seq) = (start, 0u64);
                let mut schedule = |wheel: &mut TimerWheel, model: &mut BTreeMap<_, _>, at: u64| {
                    let token = (seq % 5) as Token;
                    wheel.schedule(at, token);
                    model.insert((at, seq), token);
                    seq += 1;
                };
                for op in ops {
                    match op {
                        Op::Schedule(offset) => {
                            schedule(&mut wheel, &mut model, now.saturating_add_signed(offset));
                        }
                        Op::Advance(step) => {
                            let target = now.saturating_add_signed(step);
                            now = now.max(target);
                            let mut fired = Vec::new();
                            prop_assert!(!wheel.advance(target, usize::MAX, &mut fired));
                            prop_assert_eq!(sorted(&fired), take_due(&mut model, now));
                        }
                        Op::Sliced { step, limit, offset } => {
                            let target = now.saturating_add_signed(step);
                            now = now.max(target);
                            let mut fired = Vec::new();
                            let mut extra = Some(offset);
                            loop {
                                let before = fired.len();
                                let more = wheel.advance(target, limit, &mut fired);
                                prop_assert!(fired.len() - before <= limit);
                                prop_assert!(fired[before..].iter().all(|t| t.deadline_ms <= now));
                                if !more {
                                    break;
                                }
                                if let Some(offset) = extra.take() {
                                    let at = now.saturating_add_signed(offset);
                                    schedule(&mut wheel, &mut model, at);
                                }
                                if limit == 0 {
                                    // A zero limit never makes progress: finish unlimited.
                                    prop_assert!(!wheel.advance(target, usize::MAX, &mut fired));
                                    break;
                                }
                            }
                            prop_assert_eq!(sorted(&fired), take_due(&mut model, now));
                        }
                    }
                    prop_assert_eq!(wheel.len(), model.len());
                    check_invariants(&wheel);
                }
            }
        }
    }
}
