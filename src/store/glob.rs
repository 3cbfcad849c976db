//! Redis glob matching, byte for byte the way Redis 7.0's `stringmatchlen` answers.
//!
//! KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and our own `--slide` patterns all go through
//! [`glob_match`]. Clients and operators write patterns against Redis, so every quirk of Redis's
//! matcher is kept on purpose, including the ones that look like bugs:
//!
//! - A pattern is a sequence of *atoms*; every atom but `*` consumes exactly one byte:
//!   `?`, a literal byte, `\x` (the literal `x`), and a class `[...]`.
//! - A class ends at the first unescaped `]` that is not the end of a range. It can be empty
//!   (`[]` matches nothing, `[^]` matches any byte). If the pattern ends inside it (`[abc`), the
//!   class silently takes the rest of the pattern as members.
//! - Inside a class, `\x` is the member `x`, `^` negates only right after `[`, and `a-b` is a
//!   range whenever the byte after `a` is `-` and there is a byte after that, even `]`: `[a-]` is
//!   the range `]`..=`a`, and it leaves the class unterminated. A reversed range is swapped.
//! - Range ends compare as C `char`, which is signed on x86-64, where the reference
//!   redis-server runs: bytes 0x80..=0xFF sort *below* 0x00, so `[a-\xff]` is `\xff`..=`a` and
//!   does not contain `b`. (Redis built for ARM, where `char` is unsigned, answers otherwise; we
//!   follow the x86-64 reference on every platform.)
//! - A lone `\` at the very end of the pattern is the literal byte `\`.
//! - `nocase` folds ASCII `A-Z` only; an escaped member inside a class is still compared exactly,
//!   and a range is folded after it is swapped, as Redis does.
//! - An empty string is matched only by the empty pattern: even `*` does not match it (KEYS and
//!   SCAN special-case the lone pattern `*` before calling the matcher; callers must do the same).
//! - Redis stops recursing after 1000 nested `*` (CVE-2024-31228, backported to the 7.0.15
//!   reference build), so a pattern that needs more than [`MAX_STAR_GROUPS`] runs of `*` followed
//!   by something else never matches.
//!
//! Cost: Redis recurses once per `*`; this matcher walks pattern and string with two cursors and
//! remembers only the last `*`, which gives the same answers (every atom after a `*` has a fixed
//! width, so a later `*` can always absorb what an earlier one would have) in
//! O(pattern × string) time and no allocation, whatever the number of `*`.

/// The deepest `*` nesting Redis follows before it reports "no match": runs of `*` that are
/// followed by more pattern (a run at the very end of the pattern matches without recursing).
pub const MAX_STAR_GROUPS: usize = 1000;

/// Matches `string` against a Redis glob `pattern` as KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET
/// do: `*` any run, `?` one byte, `[abc]`, `[^abc]`, `[a-z]` (a reversed range like `[z-a]`
/// matches as Redis does), `\x` escapes x; byte-wise; `nocase` folds ASCII case.
///
/// This is Redis's `stringmatchlen`: the empty string matches only the empty pattern. KEYS and
/// SCAN MATCH treat the lone pattern `*` as "every key" before matching (so they list the empty
/// key) and must check for it themselves; PSUBSCRIBE does not (`*` misses the empty channel).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    if string.is_empty() {
        // Redis's loop never runs on an empty string, and only an exhausted pattern matches then.
        return pattern.is_empty();
    }
    // The nesting limit can only turn a match into a miss, so it is counted only for matches, and
    // only in patterns long enough to hold that many `*` each followed by an atom.
    match_two_cursors(pattern, string, nocase)
        && (pattern.len() <= 2 * MAX_STAR_GROUPS || nested_star_groups(pattern) <= MAX_STAR_GROUPS)
}

/// The glob match proper, without Redis's nesting limit. `string` is not empty.
fn match_two_cursors(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let (mut p, mut s) = (0, 0);
    // Where to resume when the atoms after the last `*` fail: the pattern index just after that
    // `*`, and the string index where the `*`'s run currently ends.
    let mut resume: Option<(usize, usize)> = None;
    while s < string.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            resume = Some((p, s));
            continue;
        }
        if p < pattern.len() {
            let (matched, next) = match_atom(pattern, p, string[s], nocase);
            if matched {
                p = next;
                s += 1;
                continue;
            }
        }
        // Mismatch, or pattern used up with string left: let the last `*` take one more byte.
        // Earlier `*` never need to grow: the fixed-width atoms between two `*` would only move
        // later, and the later `*` already tries every later position.
        match resume {
            Some((after_star, run_end)) => {
                p = after_star;
                s = run_end + 1;
                resume = Some((after_star, s));
            }
            None => return false,
        }
    }
    // The string is used up; what is left of the pattern must be able to match nothing.
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Matches the one-byte atom starting at `pattern[p]` (anything but `*`) against `c`.
/// Returns whether it matched and the index of the next atom.
fn match_atom(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match_class(pattern, p + 1, c, nocase),
        // An escape needs a byte after it; a trailing `\` is itself the literal.
        b'\\' if p + 1 < pattern.len() => (same_byte(pattern[p + 1], c, nocase), p + 2),
        literal => (same_byte(literal, c, nocase), p + 1),
    }
}

/// Parses the class whose body starts at `pattern[i]` (just after its `[`) and tests `c` against
/// it. Returns whether `c` matched and the index just past the class. The parse depends only on
/// the pattern, never on `c`, which is what lets [`nested_star_groups`] reuse it.
fn match_class(pattern: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut member = false;
    loop {
        let rest = pattern.len() - i;
        if rest >= 2 && pattern[i] == b'\\' {
            // Escaped members compare exactly, even under `nocase`: Redis does not fold them.
            member |= pattern[i + 1] == c;
            i += 2;
        } else if rest >= 1 && pattern[i] == b']' {
            i += 1;
            break;
        } else if rest == 0 {
            // Unterminated: the class has taken the rest of the pattern.
            break;
        } else if rest >= 3 && pattern[i + 1] == b'-' {
            member |= in_range(pattern[i], pattern[i + 2], c, nocase);
            i += 3;
        } else {
            member |= same_byte(pattern[i], c, nocase);
            i += 1;
        }
    }
    (member != negated, i)
}

/// Redis compares range ends as C `char` (signed on the x86-64 reference), swaps a reversed range,
/// then folds case of the already-ordered ends.
fn in_range(start: u8, end: u8, c: u8, nocase: bool) -> bool {
    let (mut lo, mut hi, mut c) = (signed(start), signed(end), signed(c));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    if nocase {
        lo = fold_signed(lo);
        hi = fold_signed(hi);
        c = fold_signed(c);
    }
    lo <= c && c <= hi
}

/// The value a byte has when C reads it through a signed `char`.
fn signed(b: u8) -> i16 {
    i16::from(b as i8)
}

/// C `tolower` in the "C" locale on a `char` value: only `A-Z` change.
fn fold_signed(v: i16) -> i16 {
    if (i16::from(b'A')..=i16::from(b'Z')).contains(&v) {
        v + 32
    } else {
        v
    }
}

fn same_byte(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Counts the runs of `*` that Redis would recurse into on a successful match: every run except
/// one that ends the pattern. Stops counting once past the limit.
fn nested_star_groups(pattern: &[u8]) -> usize {
    let mut groups = 0;
    let mut p = 0;
    while p < pattern.len() && groups <= MAX_STAR_GROUPS {
        if pattern[p] == b'*' {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p < pattern.len() {
                groups += 1;
            }
        } else {
            p = match_atom(pattern, p, 0, false).1;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (pattern, string, matches) for the case-sensitive matcher (KEYS, SCAN MATCH, PSUBSCRIBE).
    /// Every row was checked against redis-server 7.0.15 (Debian 5:7.0.15-1~deb12u10): `SET
    /// <string> x` then `KEYS <pattern>`, or for the empty string `PSUBSCRIBE <pattern>` then
    /// `PUBLISH "" m`.
    const CASES: &[(&[u8], &[u8], bool)] = &[
        // Literals and `?`, byte-wise (NUL and UTF-8 are plain bytes).
        (b"", b"", true),
        (b"abc", b"abc", true),
        (b"abc", b"abd", false),
        (b"abc", b"ab", false),
        (b"ab", b"abc", false),
        (b"a?c", b"abc", true),
        (b"a?c", b"ac", false),
        (b"Abc", b"abc", false),
        (b"a\0c", b"a\0c", true),
        (b"a?c", b"a\0c", true),
        (b"\xc3\xa9", b"\xc3\xa9", true),
        (b"?", b"\xc3\xa9", false),
        (b"??", b"\xc3\xa9", true),
        // Classes, negation, ranges; `^` is only special first.
        (b"[abc]", b"b", true),
        (b"[abc]", b"d", false),
        (b"[^abc]", b"d", true),
        (b"[^abc]", b"a", false),
        (b"[a^]", b"^", true),
        (b"[a^]", b"b", false),
        (b"[a-c]", b"b", true),
        (b"h[^e]llo", b"hallo", true),
        (b"h[^e]llo", b"hello", false),
        // A reversed range is swapped, ends included.
        (b"[c-a]", b"b", true),
        (b"[c-a]", b"c", true),
        (b"[c-a]", b"d", false),
        (b"[^c-a]", b"b", false),
        // `]` right after `[` closes an empty class: `[]` never matches, `[^]` matches any byte.
        (b"[]", b"]", false),
        (b"[]", b"a", false),
        (b"x[]", b"x", false),
        (b"[]a]", b"a", false),
        (b"[]a]", b"]", false),
        (b"[]a]", b"]a]", false),
        (b"[]-a]", b"-", false),
        (b"[]-a]", b"]-a]", false),
        (b"[^]", b"x", true),
        (b"[^]", b"]", true),
        (b"[^]", b"xy", false),
        (b"[^]a", b"xa", true),
        (b"[^]]", b"x]", true),
        (b"[^]]", b"x", false),
        // Unterminated class: the rest of the pattern is its members; a lone `[` matches nothing.
        (b"[abc", b"b", true),
        (b"[abc", b"d", false),
        (b"[abc", b"[abc", false),
        (b"x[abc", b"xc", true),
        (b"[", b"[", false),
        (b"[", b"a", false),
        (b"[^", b"x", true),
        (b"[^", b"^", true),
        (b"*[", b"x[", false),
        (b"*[ab", b"xb", true),
        // `-` first is literal; `-` before the last byte makes a range even with `]` as its end,
        // which then leaves the class unterminated.
        (b"[-a]", b"-", true),
        (b"[-a]", b"a", true),
        (b"[-a]", b"b", false),
        (b"[a-]", b"-", false),
        (b"[a-]", b"]", true),
        (b"[a-]", b"_", true),
        (b"[a-]", b"a", true),
        (b"[a-]", b"b", false),
        (b"[a-]x", b"x", true),
        (b"[a-]x", b"ax", false),
        (b"[a-", b"a", true),
        (b"[a-", b"-", true),
        (b"[a-", b"b", false),
        (b"[--a]", b"-", true),
        (b"[--a]", b"0", true),
        (b"[--a]", b"b", false),
        (b"[a-c-e]", b"b", true),
        (b"[a-c-e]", b"-", true),
        (b"[a-c-e]", b"e", true),
        (b"[a-c-e]", b"d", false),
        // `\` inside a class escapes one member; it never escapes a range end.
        (b"[\\]]", b"]", true),
        (b"[\\]]", b"\\", false),
        (b"[\\]", b"]", true),
        (b"[\\]", b"\\", false),
        (b"[a\\]", b"]", true),
        (b"[a\\]", b"a", true),
        (b"[a\\]", b"\\", false),
        (b"[\\\\]", b"\\", true),
        (b"[\\", b"\\", true),
        (b"[a\\", b"\\", true),
        (b"[\\a-c]", b"b", false),
        (b"[\\a-c]", b"-", true),
        (b"[\\a-c]", b"a", true),
        (b"[a-\\]", b"]", true),
        (b"[a-\\]", b"\\", true),
        (b"[a-\\]", b"_", true),
        (b"[a-\\]", b"b", false),
        // Range ends compare as signed `char`: 0x80..=0xFF sort below 0x00.
        (b"[a-\xff]", b"\xff", true),
        (b"[a-\xff]", b"\0", true),
        (b"[a-\xff]", b"A", true),
        (b"[a-\xff]", b"b", false),
        (b"[a-\xff]", b"\x80", false),
        (b"[\x80-\xff]", b"\x90", true),
        (b"[\x80-\xff]", b"a", false),
        (b"[\x01-\x80]", b"\xc0", true),
        (b"[\x01-\x80]", b"\0", true),
        (b"[\x01-\x80]", b"a", false),
        (b"[\xe9]", b"\xe9", true),
        // Escapes outside classes; a trailing lone `\` is a literal `\`.
        (b"\\*", b"*", true),
        (b"\\*", b"a", false),
        (b"\\?", b"?", true),
        (b"\\?", b"x", false),
        (b"\\[a]", b"[a]", true),
        (b"\\[a]", b"a", false),
        (b"\\a", b"a", true),
        (b"\\a", b"\\a", false),
        (b"\\\\", b"\\", true),
        (b"\\", b"\\", true),
        (b"a\\", b"a\\", true),
        (b"a\\", b"a", false),
        (b"*\\", b"x\\", true),
        // Stars.
        (b"a*", b"a", true),
        (b"*a", b"a", true),
        (b"a*b", b"ab", true),
        (b"a**b", b"ab", true),
        (b"a*b*c", b"abc", true),
        (b"a*b*c", b"axxbyyc", true),
        (b"a*b*c", b"axxbyycz", false),
        (b"*?", b"a", true),
        (b"?*", b"a", true),
        (b"*??", b"a", false),
        (b"*a*", b"bab", true),
        (b"*a*", b"bbb", false),
        (b"h*llo", b"heeeello", true),
        // The empty string matches only the empty pattern (KEYS/SCAN special-case a lone `*`).
        (b"*", b"", false),
        (b"**", b"", false),
        (b"?", b"", false),
        (b"[^]", b"", false),
    ];

    /// Rows for `nocase` (CONFIG GET), checked against redis-server 7.0.15 with
    /// `CONFIG GET <pattern>`: ASCII folding, but not of escaped class members, and ranges fold
    /// after they are swapped (`[Z-a]` becomes `z`..=`a`, which is empty).
    const NOCASE_CASES: &[(&[u8], &[u8], bool)] = &[
        (b"MAXMEMOR?", b"maxmemory", true),
        (b"\\Maxmemor?", b"maxmemory", true),
        (b"[M]axmemory", b"maxmemory", true),
        (b"[^M]axmemory", b"maxmemory", false),
        (b"[\\M]axmemory", b"maxmemory", false),
        (b"[\\m]axmemory", b"maxmemory", true),
        (b"[L-N]axmemory", b"maxmemory", true),
        (b"m[A-C]xmemory", b"maxmemory", true),
        (b"m[B-A]xmemory", b"maxmemory", true),
        (b"m[^A]xmemory", b"maxmemory", false),
        (b"m[Z-a]xmemory", b"maxmemory", false),
        (b"m[a-Z]xmemory", b"maxmemory", false),
    ];

    fn show(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn verified_rows() {
        for &(pattern, string, expected) in CASES {
            let got = glob_match(pattern, string, false);
            assert_eq!(
                got,
                expected,
                "pattern {:?} string {:?}",
                show(pattern),
                show(string)
            );
        }
        for &(pattern, string, expected) in NOCASE_CASES {
            let got = glob_match(pattern, string, true);
            assert_eq!(
                got,
                expected,
                "nocase pattern {:?} string {:?}",
                show(pattern),
                show(string)
            );
        }
    }

    #[test]
    fn nocase_folds_literals_only_in_ascii() {
        assert!(glob_match(b"SESS:*", b"sess:abc", true));
        assert!(!glob_match(b"SESS:*", b"sess:abc", false));
        assert!(glob_match(b"[a-c]", b"B", true));
        assert!(!glob_match(b"\xc9", b"\xe9", true));
    }

    /// Redis gives up past 1000 nested `*` (checked against redis-server 7.0.15 with KEYS).
    #[test]
    fn star_nesting_limit() {
        let a = |n: usize| vec![b'a'; n];
        let star_a = |n: usize| b"*a".repeat(n);
        assert!(glob_match(&star_a(1000), &a(1000), false));
        assert!(!glob_match(&star_a(1001), &a(1001), false));
        assert!(!glob_match(&star_a(1001), &a(1500), false));
        assert!(!glob_match(&b"*?".repeat(1001), &a(1001), false));
        assert!(!glob_match(&b"**a".repeat(1001), &a(1001), false));
        // A run of `*` that ends the pattern does not recurse, so it does not count.
        let mut trailing = star_a(1000);
        trailing.push(b'*');
        assert!(glob_match(&trailing, &a(1000), false));
        assert!(glob_match(&b"a*".repeat(1001), &a(1001), false));
        let mut mismatch = star_a(1000);
        mismatch.push(b'b');
        assert!(!glob_match(&mismatch, &a(1000), false));
    }

    /// Patterns that make a naive backtracking matcher exponential stay fast here.
    #[test]
    fn many_stars_stay_polynomial() {
        let mut pattern = b"a*".repeat(200);
        pattern.push(b'b');
        assert!(!glob_match(&pattern, &[b'a'; 4000], false));
        let mut string = vec![b'a'; 4000];
        string.push(b'b');
        assert!(glob_match(&pattern, &string, false));
        let mut pattern = b"*a".repeat(50);
        pattern.push(b'b');
        assert!(!glob_match(&pattern, &[b'a'; 5000], false));
    }

    /// Plain exhaustive backtracking over the same atoms: exponential, only for small inputs.
    fn reference(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
        match pattern.first() {
            None => string.is_empty(),
            Some(b'*') => {
                (0..=string.len()).any(|k| reference(&pattern[1..], &string[k..], nocase))
            }
            Some(_) => match string.split_first() {
                None => false,
                Some((&c, rest)) => {
                    let (matched, next) = match_atom(pattern, 0, c, nocase);
                    matched && reference(&pattern[next..], rest, nocase)
                }
            },
        }
    }

    fn pattern_bytes() -> impl Strategy<Value = Vec<u8>> {
        let atom = prop::sample::select(&b"ab*?[]^-\\A\xff"[..]);
        prop::collection::vec(atom, 0..10)
    }

    fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(&b"abAB]-^\\\xff\x80"[..]);
        prop::collection::vec(byte, 0..8)
    }

    proptest! {
        #[test]
        fn agrees_with_exhaustive_backtracking(
            pattern in pattern_bytes(),
            string in string_bytes(),
            nocase in any::<bool>(),
        ) {
            let expected = if string.is_empty() {
                pattern.is_empty()
            } else {
                reference(&pattern, &string, nocase)
            };
            prop_assert_eq!(glob_match(&pattern, &string, nocase), expected);
        }
    }
}
