//! Values: what a key holds, and the encodings Redis reports for hashes and sets (a string's,
//! which depends on the entry's `raw` flag, is [`super::Entry::encoding`]).
//!
//! Hashes and sets have two representations each, chosen as Redis 7.0 chooses its encodings,
//! because the encoding is visible to clients: OBJECT ENCODING names it, and for the small
//! encodings it fixes the order of replies (HGETALL, SMEMBERS, …) byte for byte.
//!
//! | type | small form (encoding) | while | then (for good) |
//! |------|-----------------------|-------|-----------------|
//! | hash | [`Hash::Packed`] (`listpack`): one buffer of fields and values in insertion order | ≤ [`HASH_MAX_PACKED_ENTRIES`] fields, every field and value ≤ [`HASH_MAX_PACKED_VALUE`] bytes | [`Hash::Table`] (`hashtable`) |
//! | set | [`Set::Ints`] (`intset`): sorted `i64`s | every member a canonical integer, ≤ [`SET_MAX_INTSET_ENTRIES`] members | [`Set::Table`] (`hashtable`) |
//!
//! Invariants:
//! - A packed hash's buffer is a sequence of `[field length: u8][field][value length: u8][value]`
//!   records in insertion order (an update keeps a field's place, a delete closes the gap), each
//!   length at most [`HASH_MAX_PACKED_VALUE`], at most [`HASH_MAX_PACKED_ENTRIES`] records.
//! - An intset is strictly ascending.
//! - A table never converts back to the small form, as Redis's never does (only a new object —
//!   SINTERSTORE's result, say — starts small again).
//! - Tables only grow by doubling (see [`grow_for_one`]): their elements never move except when
//!   the number of buckets changes, which is what lets a scan cursor be a bucket index (see
//!   [`TableCursor`]). They shrink, like Redis's, when they fall below a tenth full.

use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};

/// `hash-max-listpack-entries`: the most fields a packed hash holds (Redis 7.0's built-in
/// default, as `CONFIG GET` on a `redis-server` started without a config file reports it).
pub const HASH_MAX_PACKED_ENTRIES: usize = 512;
/// `hash-max-listpack-value`: the longest field or value a packed hash holds, in bytes.
pub const HASH_MAX_PACKED_VALUE: usize = 64;
/// `set-max-intset-entries`: the most members an intset holds.
pub const SET_MAX_INTSET_ENTRIES: usize = 512;

/// The value a key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    Str(Bytes),
    /// A hash: fields and their values.
    Hash(Hash),
    /// A set of distinct members.
    Set(Set),
}

/// Parses `s` as Redis's `string2ll` does: optional `-`, decimal digits, no leading zeros (except
/// "0" itself), no `+`, no spaces, within i64.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some(_) => (false, s),
        None => return None,
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared by both tables
// ---------------------------------------------------------------------------------------------

/// The hash of a field or member in the hash and set tables (one random seed per process, as
/// Redis seeds its dict hash).
fn hash_of(bytes: &[u8]) -> u64 {
    static HASHER: OnceLock<DefaultHashBuilder> = OnceLock::new();
    HASHER
        .get_or_init(DefaultHashBuilder::default)
        .hash_one(bytes)
}

/// Makes room for one more element in `table` by doubling it when it is full. `hashbrown` would
/// otherwise sometimes rehash in place (after deletions), moving elements without changing the
/// number of buckets, which would break scan cursors; asking for more than half its full
/// capacity makes it resize instead.
fn grow_for_one<T>(table: &mut HashTable<T>, hasher: impl Fn(&T) -> u64) {
    if table.len() < table.capacity() {
        return;
    }
    let buckets = table.num_buckets();
    let full = if buckets < 8 {
        buckets.saturating_sub(1)
    } else {
        buckets / 8 * 7
    };
    let additional = (full / 2 + 1).saturating_sub(table.len()).max(1);
    table.reserve(additional, hasher);
}

/// Shrinks `table` when it is less than a tenth full (Redis's `htNeedsResize`), so that random
/// picks stay cheap after mass deletions.
fn shrink_if_sparse<T>(table: &mut HashTable<T>, hasher: impl Fn(&T) -> u64) {
    let buckets = table.num_buckets();
    if buckets > 16 && table.len() * 10 < buckets {
        table.shrink_to(table.len(), hasher);
    }
}

/// A position in a table scan: bits 0..6 hold log2 of the number of buckets when the cursor was
/// issued, the rest the next bucket to visit. A cursor from a table of another size (it was
/// resized since, or the cursor is made up) restarts the scan: every element present for the
/// whole scan is still returned at least once. Cursor 0 starts (and ends) a scan.
struct TableCursor;

impl TableCursor {
    const SIZE_BITS: u32 = 6;

    fn start(cursor: u64, buckets: usize) -> usize {
        let log = u64::from(buckets.trailing_zeros());
        if cursor & ((1 << Self::SIZE_BITS) - 1) != log {
            return 0;
        }
        usize::try_from(cursor >> Self::SIZE_BITS).unwrap_or(usize::MAX)
    }

    fn next(pos: usize, buckets: usize) -> u64 {
        if pos >= buckets {
            0
        } else {
            ((pos as u64) << Self::SIZE_BITS) | u64::from(buckets.trailing_zeros())
        }
    }
}

/// Visits buckets of `table` from `cursor` until `count` elements (as counted by `weight`, which
/// is 2 for a field and its value, as Redis counts its reply list) were collected or the table
/// ends. Returns the next cursor.
fn scan_table<T>(
    table: &HashTable<T>,
    cursor: u64,
    count: usize,
    weight: usize,
    mut visit: impl FnMut(&T),
) -> u64 {
    let buckets = table.num_buckets();
    let mut pos = TableCursor::start(cursor, buckets);
    let mut taken = 0;
    while pos < buckets && taken < count {
        if let Some(item) = table.get_bucket(pos) {
            visit(item);
            taken += weight;
        }
        pos += 1;
    }
    TableCursor::next(pos, buckets)
}

/// A random element of a non-empty table: random buckets until a full one, as Redis's
/// `dictGetRandomKey` (the table is kept at least a tenth full, so this ends quickly), with a
/// walk from a random start as the fallback.
fn random_in_table<T>(table: &HashTable<T>) -> &T {
    let buckets = table.num_buckets();
    for _ in 0..64 {
        if let Some(item) = table.get_bucket(random_below(buckets)) {
            return item;
        }
    }
    let start = random_below(buckets);
    (0..buckets)
        .find_map(|i| table.get_bucket((start + i) % buckets))
        .expect("random pick from an empty table")
}

/// A uniformly distributed number in `0..n` (n > 0), from a per-thread xorshift generator.
pub fn random_below(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::hash::RandomState::new().hash_one(std::thread::current().id()) | 1,
        );
    }
    let x = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    ((u128::from(x) * n as u128) >> 64) as usize
}

// ---------------------------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------------------------

/// A hash value (see the module doc for its two forms).
#[derive(Clone, Debug)]
pub enum Hash {
    /// `listpack`: `[len][field][len][value]` records in insertion order.
    Packed(Vec<u8>),
    /// `hashtable`: field and value pairs, hashed by field.
    Table(Box<HashTable<(Bytes, Bytes)>>),
}

impl Default for Hash {
    fn default() -> Hash {
        Hash::Packed(Vec::new())
    }
}

/// One record of a packed hash: where it starts and ends in the buffer, its field and value.
struct Record<'a> {
    start: usize,
    end: usize,
    field: &'a [u8],
    value: &'a [u8],
}

/// The records of a packed hash, in order.
struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let buf = self.buf;
        let start = self.pos;
        if start >= buf.len() {
            return None;
        }
        let flen = usize::from(buf[start]);
        let field = &buf[start + 1..start + 1 + flen];
        let vat = start + 1 + flen;
        let vlen = usize::from(buf[vat]);
        let value = &buf[vat + 1..vat + 1 + vlen];
        self.pos = vat + 1 + vlen;
        Some(Record {
            start,
            end: self.pos,
            field,
            value,
        })
    }
}

fn records(buf: &[u8]) -> Records<'_> {
    Records { buf, pos: 0 }
}

fn pair_hash(pair: &(Bytes, Bytes)) -> u64 {
    hash_of(&pair.0)
}

/// Appends one packed record (both parts at most [`HASH_MAX_PACKED_VALUE`] bytes).
fn push_record(buf: &mut Vec<u8>, field: &[u8], value: &[u8]) {
    buf.reserve_exact(2 + field.len() + value.len());
    buf.push(field.len() as u8);
    buf.extend_from_slice(field);
    buf.push(value.len() as u8);
    buf.extend_from_slice(value);
}

impl Hash {
    /// OBJECT ENCODING: `listpack` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(buf) => records(buf).count(),
            Hash::Table(t) => t.len(),
        }
    }

    /// True when the hash has no field (such a hash is never stored under a key).
    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Packed(buf) => buf.is_empty(),
            Hash::Table(t) => t.is_empty(),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(buf) => records(buf).find(|r| r.field == field).map(|r| r.value),
            Hash::Table(t) => t
                .find(hash_of(field), |(f, _)| f == field)
                .map(|(_, v)| &v[..]),
        }
    }

    /// True if `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value` (copies of both are stored); true if the field is new. Converts
    /// to a table first when either is too long for the packed form, and after adding a field
    /// beyond [`HASH_MAX_PACKED_ENTRIES`], as Redis does.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Hash::Packed(_) = self {
            if field.len() > HASH_MAX_PACKED_VALUE || value.len() > HASH_MAX_PACKED_VALUE {
                self.convert();
            }
        }
        match self {
            Hash::Packed(buf) => {
                let found = records(buf)
                    .find(|r| r.field == field)
                    .map(|r| (r.start, r.end));
                match found {
                    Some((start, end)) => {
                        let mut record = Vec::with_capacity(2 + field.len() + value.len());
                        push_record(&mut record, field, value);
                        buf.splice(start..end, record);
                        false
                    }
                    None => {
                        push_record(buf, field, value);
                        if records(buf).count() > HASH_MAX_PACKED_ENTRIES {
                            self.convert();
                        }
                        true
                    }
                }
            }
            Hash::Table(t) => {
                let hash = hash_of(field);
                if let Some((_, v)) = t.find_mut(hash, |(f, _)| f == field) {
                    *v = Bytes::copy_from_slice(value);
                    return false;
                }
                grow_for_one(t, pair_hash);
                t.insert_unique(
                    hash,
                    (Bytes::copy_from_slice(field), Bytes::copy_from_slice(value)),
                    pair_hash,
                );
                true
            }
        }
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(buf) => {
                let found = records(buf)
                    .find(|r| r.field == field)
                    .map(|r| (r.start, r.end));
                match found {
                    Some((start, end)) => {
                        buf.drain(start..end);
                        true
                    }
                    None => false,
                }
            }
            Hash::Table(t) => match t.find_entry(hash_of(field), |(f, _)| f == field) {
                Ok(entry) => {
                    entry.remove();
                    shrink_if_sparse(t, pair_hash);
                    true
                }
                Err(_) => false,
            },
        }
    }

    /// Every field and value: in insertion order when packed, in table order otherwise.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Packed(buf) => HashIter(HashIterInner::Packed(records(buf))),
            Hash::Table(t) => HashIter(HashIterInner::Table(t.iter())),
        }
    }

    /// One HSCAN step from `cursor`: a packed hash is returned whole with cursor 0 (as Redis
    /// returns a listpack); a table gives about `count` reply items (two per field).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Packed(_) => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Hash::Table(t) => scan_table(t, cursor, count, 2, |(f, v)| visit(f, v)),
        }
    }

    /// A random field and its value (the hash must not be empty).
    pub fn random(&self) -> (&[u8], &[u8]) {
        match self {
            Hash::Packed(buf) => {
                let n = random_below(records(buf).count());
                let r = records(buf).nth(n).expect("random pick from an empty hash");
                (r.field, r.value)
            }
            Hash::Table(t) => {
                let (f, v) = random_in_table(t);
                (f, v)
            }
        }
    }

    /// Converts a packed hash to a table (a table stays as it is).
    fn convert(&mut self) {
        if let Hash::Packed(buf) = self {
            let mut table = HashTable::with_capacity(records(buf).count() + 1);
            for r in records(buf) {
                table.insert_unique(
                    hash_of(r.field),
                    (
                        Bytes::copy_from_slice(r.field),
                        Bytes::copy_from_slice(r.value),
                    ),
                    pair_hash,
                );
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Heap bytes held, given the allocator's size for a block of n bytes (MEMORY USAGE).
    pub fn heap_usage(&self, block: impl Fn(usize) -> usize) -> usize {
        match self {
            Hash::Packed(buf) => block(buf.capacity()),
            Hash::Table(t) => {
                let slots = t.num_buckets() * (std::mem::size_of::<(Bytes, Bytes)>() + 1);
                let strings: usize = t.iter().map(|(f, v)| block(f.len()) + block(v.len())).sum();
                block(std::mem::size_of::<HashTable<(Bytes, Bytes)>>()) + block(slots) + strings
            }
        }
    }
}

impl PartialEq for Hash {
    /// Same fields with the same values (in any order and encoding).
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Eq for Hash {}

/// The fields and values of a hash (see [`Hash::iter`]).
pub struct HashIter<'a>(HashIterInner<'a>);

enum HashIterInner<'a> {
    Packed(Records<'a>),
    Table(hashbrown::hash_table::Iter<'a, (Bytes, Bytes)>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            HashIterInner::Packed(r) => r.next().map(|r| (r.field, r.value)),
            HashIterInner::Table(t) => t.next().map(|(f, v)| (&f[..], &v[..])),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------------------------

/// A set value (see the module doc for its two forms).
#[derive(Clone, Debug)]
pub enum Set {
    /// `intset`: ascending integers.
    Ints(Vec<i64>),
    /// `hashtable`: members as strings.
    Table(Box<HashTable<Bytes>>),
}

impl Default for Set {
    /// An empty intset: what Redis starts a set as when its first member is an integer, and
    /// what a member that is not converts away from.
    fn default() -> Set {
        Set::Ints(Vec::new())
    }
}

/// One member of a set as stored: an intset's integer or a table's string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes, as replies carry them.
    pub fn to_bytes(self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::from(n.to_string()),
            Member::Str(s) => Bytes::copy_from_slice(s),
        }
    }
}

fn member_hash(m: &Bytes) -> u64 {
    hash_of(m)
}

impl Set {
    /// OBJECT ENCODING: `intset` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    /// True when the set has no member (such a set is never stored under a key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => {
                parse_canonical_i64(member).is_some_and(|n| v.binary_search(&n).is_ok())
            }
            Set::Table(t) => t.find(hash_of(member), |m| m == member).is_some(),
        }
    }

    /// True if `member` (from another set) is in this one.
    pub fn contains_member(&self, member: Member) -> bool {
        match (self, member) {
            (Set::Ints(v), Member::Int(n)) => v.binary_search(&n).is_ok(),
            (_, Member::Str(s)) => self.contains(s),
            (Set::Table(_), Member::Int(n)) => self.contains(n.to_string().as_bytes()),
        }
    }

    /// Adds `member` (a copy is stored); true if it is new. An intset converts to a table for a
    /// member that is not a canonical integer, or when it grows beyond
    /// [`SET_MAX_INTSET_ENTRIES`], as Redis's does.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if let Set::Ints(v) = self {
            match parse_canonical_i64(member) {
                Some(n) => {
                    return match v.binary_search(&n) {
                        Ok(_) => false,
                        Err(at) => {
                            v.insert(at, n);
                            if v.len() > SET_MAX_INTSET_ENTRIES {
                                self.convert();
                            }
                            true
                        }
                    };
                }
                None => self.convert(),
            }
        }
        let Set::Table(t) = self else {
            unreachable!("converted above")
        };
        let hash = hash_of(member);
        if t.find(hash, |m| m == member).is_some() {
            return false;
        }
        grow_for_one(t, member_hash);
        t.insert_unique(hash, Bytes::copy_from_slice(member), member_hash);
        true
    }

    /// Adds a member taken from another set.
    pub fn insert_member(&mut self, member: Member) -> bool {
        match (&mut *self, member) {
            (Set::Ints(v), Member::Int(n)) => match v.binary_search(&n) {
                Ok(_) => false,
                Err(at) => {
                    v.insert(at, n);
                    if v.len() > SET_MAX_INTSET_ENTRIES {
                        self.convert();
                    }
                    true
                }
            },
            (_, Member::Int(n)) => self.insert(n.to_string().as_bytes()),
            (_, Member::Str(s)) => self.insert(s),
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_canonical_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Set::Table(t) => match t.find_entry(hash_of(member), |m| m == member) {
                Ok(entry) => {
                    entry.remove();
                    shrink_if_sparse(t, member_hash);
                    true
                }
                Err(_) => false,
            },
        }
    }

    /// Every member: ascending for an intset, in table order otherwise.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Ints(v) => SetIter::Ints(v.iter()),
            Set::Table(t) => SetIter::Table(t.iter()),
        }
    }

    /// One SSCAN step from `cursor`: an intset is returned whole with cursor 0 (as Redis does);
    /// a table gives about `count` members.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member)) -> u64 {
        match self {
            Set::Ints(v) => {
                for &n in v {
                    visit(Member::Int(n));
                }
                0
            }
            Set::Table(t) => scan_table(t, cursor, count, 1, |m| visit(Member::Str(m))),
        }
    }

    /// A random member (the set must not be empty).
    pub fn random(&self) -> Member<'_> {
        match self {
            Set::Ints(v) => Member::Int(v[random_below(v.len())]),
            Set::Table(t) => Member::Str(&random_in_table(t)[..]),
        }
    }

    /// Removes and returns a random member (the set must not be empty).
    pub fn pop_random(&mut self) -> Bytes {
        match self {
            Set::Ints(v) => Bytes::from(v.remove(random_below(v.len())).to_string()),
            Set::Table(t) => {
                let picked = random_in_table(t).clone();
                self.remove(&picked);
                picked
            }
        }
    }

    /// Converts an intset to a table (a table stays as it is).
    fn convert(&mut self) {
        if let Set::Ints(v) = self {
            let mut table = HashTable::with_capacity(v.len() + 1);
            for n in v.iter() {
                let s = Bytes::from(n.to_string());
                table.insert_unique(hash_of(&s), s, member_hash);
            }
            *self = Set::Table(Box::new(table));
        }
    }

    /// Heap bytes held, given the allocator's size for a block of n bytes (MEMORY USAGE).
    pub fn heap_usage(&self, block: impl Fn(usize) -> usize) -> usize {
        match self {
            Set::Ints(v) => block(v.capacity() * std::mem::size_of::<i64>()),
            Set::Table(t) => {
                let slots = t.num_buckets() * (std::mem::size_of::<Bytes>() + 1);
                let strings: usize = t.iter().map(|m| block(m.len())).sum();
                block(std::mem::size_of::<HashTable<Bytes>>()) + block(slots) + strings
            }
        }
    }
}

impl PartialEq for Set {
    /// Same members (in any encoding).
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl Eq for Set {}

/// The members of a set (see [`Set::iter`]).
pub enum SetIter<'a> {
    Ints(std::slice::Iter<'a, i64>),
    Table(hashbrown::hash_table::Iter<'a, Bytes>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Ints(v) => v.next().map(|&n| Member::Int(n)),
            SetIter::Table(t) => t.next().map(|m| Member::Str(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        for (s, v) in [("0", Some(0)), ("-1", Some(-1)), ("123", Some(123))] {
            assert_eq!(parse_canonical_i64(s.as_bytes()), v);
        }
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1a",
            "-01",
        ] {
            assert_eq!(parse_canonical_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn value_sizes() {
        // A hash or a set fits in three words; the enum needs a separate tag (8 bytes with
        // padding), because a `Bytes` has a single niche and three variants need two.
        assert_eq!(std::mem::size_of::<Hash>(), 24);
        assert_eq!(std::mem::size_of::<Set>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 40);
    }

    fn fields(h: &Hash) -> Vec<String> {
        h.iter()
            .map(|(f, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(f),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    #[test]
    fn packed_hash_keeps_insertion_order_through_updates_and_deletes() {
        let mut h = Hash::default();
        assert!(h.insert(b"b", b"1"));
        assert!(h.insert(b"a", b"2"));
        assert!(h.insert(b"c", b"3"));
        assert!(!h.insert(b"a", b"two"));
        assert_eq!(fields(&h), ["b=1", "a=two", "c=3"]);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert!(h.insert(b"b", b""));
        assert_eq!(fields(&h), ["a=two", "c=3", "b="]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(b"c"), Some(&b"3"[..]));
        assert_eq!(h.get(b"x"), None);
        assert_eq!(h.encoding(), "listpack");
        for f in [b"a", b"b", b"c"] {
            h.remove(f);
        }
        assert!(h.is_empty());
    }

    #[test]
    fn hash_converts_on_a_long_field_or_value_and_never_back() {
        let long = [b'x'; HASH_MAX_PACKED_VALUE + 1];
        let edge = [b'x'; HASH_MAX_PACKED_VALUE];
        let mut h = Hash::default();
        h.insert(&edge, &edge);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f", &long);
        assert_eq!(h.encoding(), "hashtable");
        h.insert(b"f", b"short");
        h.remove(&edge);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"short"[..]));
        let mut h = Hash::default();
        h.insert(&long, b"v");
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn hash_converts_beyond_512_fields() {
        let mut h = Hash::default();
        for i in 0..HASH_MAX_PACKED_ENTRIES {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f0", b"w");
        assert_eq!(h.encoding(), "listpack", "an update adds no field");
        h.insert(b"one-more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), HASH_MAX_PACKED_ENTRIES + 1);
        assert_eq!(h.get(b"f0"), Some(&b"w"[..]));
        assert_eq!(h.get(b"f511"), Some(&b"v"[..]));
    }

    fn members(s: &Set) -> Vec<Bytes> {
        s.iter().map(Member::to_bytes).collect()
    }

    #[test]
    fn intset_is_sorted_and_converts_on_a_non_integer() {
        let mut s = Set::default();
        for m in ["5", "-3", "10", "0", "5"] {
            s.insert(m.as_bytes());
        }
        assert_eq!(members(&s), ["-3", "0", "5", "10"]);
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"10") && !s.contains(b"010") && !s.contains(b"x"));
        assert!(!s.insert(b"0"));
        s.insert(b"01");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        assert!(s.contains(b"01") && s.contains(b"-3"));
        s.remove(b"01");
        assert_eq!(s.encoding(), "hashtable", "never back");
        assert!(s.contains_member(Member::Int(10)));
    }

    #[test]
    fn intset_converts_beyond_512_members() {
        let mut s = Set::default();
        for i in 0..SET_MAX_INTSET_ENTRIES as i64 {
            s.insert_member(Member::Int(i * 2));
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"1");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), SET_MAX_INTSET_ENTRIES + 1);
        assert!(s.contains(b"1022") && s.contains(b"1"));
    }

    #[test]
    fn table_scans_return_every_member_once_while_nothing_changes() {
        let mut s = Set::default();
        for i in 0..1000 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| assert!(seen.insert(m.to_bytes())));
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(steps > 50);
    }

    #[test]
    fn table_scans_survive_growth_and_deletions() {
        let mut s = Set::default();
        for i in 0..300 {
            s.insert(format!("keep{i}").as_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut added = 0;
        loop {
            cursor = s.scan(cursor, 5, |m| {
                seen.insert(m.to_bytes());
            });
            for _ in 0..3 {
                s.insert(format!("new{added}").as_bytes());
                s.remove(format!("new{}", added / 2).as_bytes());
                added += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..300 {
            assert!(
                seen.contains(format!("keep{i}").as_bytes()),
                "keep{i} missed"
            );
        }
    }

    #[test]
    fn random_picks_cover_the_set_and_pops_empty_it() {
        let mut s = Set::default();
        for i in 0..20 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.insert(s.random().to_bytes());
        }
        assert_eq!(seen.len(), 20);
        let mut popped = std::collections::HashSet::new();
        while !s.is_empty() {
            assert!(popped.insert(s.pop_random()));
        }
        assert_eq!(popped.len(), 20);
        let mut h = Hash::default();
        h.insert(b"a", b"1");
        h.insert(b"b", b"2");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(h.random().0.to_vec());
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn equality_ignores_encoding_and_order() {
        let mut a = Set::default();
        let mut b = Set::default();
        a.insert(b"1");
        a.insert(b"x");
        b.insert(b"x");
        b.insert(b"1");
        assert_eq!(a, b);
        b.remove(b"1");
        assert_ne!(a, b);
        let mut h = Hash::default();
        let mut g = Hash::default();
        h.insert(b"a", b"1");
        h.insert(b"b", b"2");
        g.insert(b"b", b"2");
        g.insert(b"a", b"1");
        assert_eq!(h, g);
    }
}
