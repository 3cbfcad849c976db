//! Emulation of C's x86-64 `long double` for INCRBYFLOAT and HINCRBYFLOAT.
//!
//! Redis does float increments in `long double`, which on x86-64 is the x87 80-bit extended
//! format: a 64-bit mantissa with an explicit integer bit and a 15-bit exponent. Replies are
//! visible to clients byte for byte, and `f64` gives different digits (for example
//! `4999.5 + 5E-3` replies `4999.50499999999999989`, and `9007199254740993` survives
//! unchanged), so this module reproduces the whole pipeline exactly:
//!
//! * parsing is glibc `strtold` (correctly rounded, round-half-even, decimal and hex input,
//!   `inf`/`infinity`, subnormals) wrapped in Redis's `string2ld` checks;
//! * addition rounds the exact sum once to 64 mantissa bits within the extended exponent
//!   range, as the x87 FPU does in its default extended-precision mode;
//! * printing is glibc `%.17Lf` (the exact binary value rounded half-even to 17 fractional
//!   digits) followed by Redis's trailing-zero trimming.
//!
//! Every conversion goes through exact arbitrary-precision integers (`Big`), so results are
//! correct by construction rather than by approximation; values are small enough (at most a
//! few thousand decimal digits) that simple quadratic algorithms are fast enough.

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: inputs this long or longer are rejected.
const MAX_INPUT_LEN: usize = 5 * 1024;

/// Exponent of the lowest mantissa bit of subnormals (and of the smallest normal numbers):
/// every finite value is `mantissa * 2^exponent` with `exponent >= MIN_EXP`.
const MIN_EXP: i64 = -16445;

/// Largest exponent of the lowest mantissa bit of a normal number (biased exponent 32766).
const MAX_EXP: i64 = 16320;

/// Exponent bias of the x87 format, plus 63 because our mantissa is an integer.
const BIAS: i64 = 16383 + 63;

/// Biased exponent of infinities and NaNs.
const SPECIAL_EXP: u16 = 0x7fff;

/// The explicit integer bit of the mantissa.
const INT_BIT: u64 = 1 << 63;

/// A value of C's x86-64 `long double` (x87 80-bit extended precision).
///
/// Stored in the hardware layout: a sign bit plus 15-bit biased exponent, and a 64-bit
/// mantissa with an explicit integer bit. Only canonical encodings are ever built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F80 {
    /// Bit 15 is the sign; bits 0..15 the biased exponent (0 for zeros and subnormals).
    sign_exp: u16,
    /// The significand, integer bit included.
    mantissa: u64,
}

impl F80 {
    /// Builds a finite value (or infinity when `exp` overflows) from a rounded mantissa and
    /// the exponent of its lowest bit, as produced by [`round`].
    fn from_parts(negative: bool, mantissa: u64, exp: i64) -> F80 {
        let sign = if negative { 0x8000 } else { 0 };
        if mantissa & INT_BIT == 0 {
            // Zero or subnormal: `round` only leaves the integer bit clear at MIN_EXP.
            debug_assert!(mantissa == 0 || exp == MIN_EXP);
            return F80 {
                sign_exp: sign,
                mantissa,
            };
        }
        if exp > MAX_EXP {
            return F80::infinity(negative);
        }
        F80 {
            sign_exp: sign | (exp + BIAS) as u16,
            mantissa,
        }
    }

    fn infinity(negative: bool) -> F80 {
        F80 {
            sign_exp: SPECIAL_EXP | if negative { 0x8000 } else { 0 },
            mantissa: INT_BIT,
        }
    }

    /// The x87 "real indefinite" quiet NaN, which is what `inf + -inf` produces.
    fn nan() -> F80 {
        F80 {
            sign_exp: 0x8000 | SPECIAL_EXP,
            mantissa: 0xc000_0000_0000_0000,
        }
    }

    fn zero(negative: bool) -> F80 {
        F80::from_parts(negative, 0, 0)
    }

    fn is_negative(self) -> bool {
        self.sign_exp & 0x8000 != 0
    }

    fn biased_exp(self) -> u16 {
        self.sign_exp & 0x7fff
    }

    fn is_nan(self) -> bool {
        self.biased_exp() == SPECIAL_EXP && self.mantissa != INT_BIT
    }

    /// For a finite value: `mantissa * 2^exp` is its magnitude.
    fn magnitude(self) -> (u64, i64) {
        match self.biased_exp() {
            0 => (self.mantissa, MIN_EXP),
            e => (self.mantissa, i64::from(e) - BIAS),
        }
    }

    /// Zero: the value of a missing key.
    pub const ZERO: F80 = F80 {
        sign_exp: 0,
        mantissa: 0,
    };

    /// Parses like Redis's `string2ld` (strtold plus Redis's checks below); None if Redis would
    /// say "not a valid float".
    ///
    /// Redis copies the argument into a NUL-terminated buffer, calls `strtold`, and rejects
    /// empty or over-long input, a leading space, input not consumed in full (an embedded NUL
    /// included), NaN, and ERANGE results that overflowed to infinity or underflowed to zero
    /// (subnormals are kept).
    pub fn parse(text: &[u8]) -> Option<F80> {
        if text.is_empty() || text.len() >= MAX_INPUT_LEN {
            return None;
        }
        // Redis checks that `strtold` consumed all `slen` bytes, so an embedded NUL (where the
        // C copy of the argument ends early) makes the input invalid rather than truncated.
        if text.contains(&0) {
            return None;
        }
        if is_c_space(text[0]) {
            return None;
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        // `strtold` stops early on malformed input and Redis then rejects the leftovers, so a
        // number is valid only if the grammar consumes the whole string.
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(F80::infinity(negative));
        }
        let exact = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(&body[2..])?
        } else {
            parse_decimal(body)?
        };
        match exact {
            Exact::Zero => Some(F80::zero(negative)),
            Exact::Overflow | Exact::Underflow => None,
            Exact::Rounded(mantissa, exp) => Some(F80::from_parts(negative, mantissa, exp)),
        }
    }

    /// The sum, rounded to extended precision.
    // A named method rather than `std::ops::Add`: callers mirror Redis's single `value += incr`
    // and the API is fixed to this spelling.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: F80) -> F80 {
        if self.is_nan() || other.is_nan() {
            return F80::nan();
        }
        match (self.is_finite(), other.is_finite()) {
            (false, false) if self.is_negative() != other.is_negative() => return F80::nan(),
            (false, _) => return self,
            (_, false) => return other,
            _ => {}
        }
        let (m1, e1) = self.magnitude();
        let (m2, e2) = other.magnitude();
        // Align both at the smaller exponent: the exact sum is then an integer times 2^low.
        let low = e1.min(e2);
        let a = Big::from_u64(m1).shl((e1 - low) as u64);
        let b = Big::from_u64(m2).shl((e2 - low) as u64);
        let (negative, sum) = if self.is_negative() == other.is_negative() {
            (self.is_negative(), a.add(&b))
        } else {
            match a.cmp(&b) {
                Ordering::Greater => (self.is_negative(), a.sub(&b)),
                Ordering::Less => (other.is_negative(), b.sub(&a)),
                // An exact cancellation is +0 when rounding to nearest.
                Ordering::Equal => return F80::zero(false),
            }
        };
        if sum.is_zero() {
            // Only reachable for zero operands of equal sign: -0 + -0 keeps its sign.
            return F80::zero(negative);
        }
        match round(&sum, low, false) {
            Some((mantissa, exp)) => F80::from_parts(negative, mantissa, exp),
            None => F80::infinity(negative),
        }
    }

    /// False for infinities and NaN.
    pub fn is_finite(self) -> bool {
        self.biased_exp() != SPECIAL_EXP
    }

    /// Redis's human-friendly text: `%.17Lf` with trailing zeros and dot removed, `-0` → `0`.
    /// Only called for finite values.
    pub fn to_human_string(self) -> String {
        debug_assert!(self.is_finite());
        let (mantissa, exp) = self.magnitude();
        let mut text = String::new();
        if self.is_negative() {
            text.push('-');
        }
        if exp >= 0 {
            // An integer: all 17 decimals are zeros, and trimming removes them and the dot.
            text.push_str(&Big::from_u64(mantissa).shl(exp as u64).to_decimal());
        } else {
            // Scale by 10^17 and round the exact quotient by 2^-exp half-even, as glibc does.
            let scaled = Big::from_u64(mantissa).mul_small(100_000_000_000_000_000);
            let shift = exp.unsigned_abs();
            let mut units = scaled.shr(shift);
            let half = scaled.bit(shift - 1);
            let more = scaled.any_bit_below(shift - 1);
            if half && (more || units.bit(0)) {
                units = units.add(&Big::from_u64(1));
            }
            let digits = format!("{:0>18}", units.to_decimal());
            let (int_part, frac_part) = digits.split_at(digits.len() - 17);
            text.push_str(int_part);
            let frac_part = frac_part.trim_end_matches('0');
            if !frac_part.is_empty() {
                text.push('.');
                text.push_str(frac_part);
            }
        }
        if text == "-0" {
            text.remove(0);
        }
        text
    }
}

/// C's `isspace` in the "C" locale (Redis never switches LC_CTYPE).
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The outcome of converting an exact magnitude to extended precision.
enum Exact {
    /// The input was exactly zero (no range error).
    Zero,
    /// Nonzero but rounded past the largest finite value: ERANGE with HUGE_VAL.
    Overflow,
    /// Nonzero but rounded to zero: ERANGE with zero.
    Underflow,
    /// A finite nonzero result: mantissa and exponent of its lowest bit.
    Rounded(u64, i64),
}

impl Exact {
    fn from_round(result: Option<(u64, i64)>) -> Exact {
        match result {
            None => Exact::Overflow,
            Some((0, _)) => Exact::Underflow,
            Some((mantissa, exp)) => Exact::Rounded(mantissa, exp),
        }
    }
}

/// Parses an unsigned decimal exponent, saturating far beyond any meaningful magnitude so
/// that absurd exponents still classify as overflow or underflow.
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |acc, &d| {
        (acc * 10 + i64::from(d - b'0')).min(1_000_000_000)
    });
    Some(if negative { -value } else { value })
}

/// Splits `digits[.digits]` off the front of `text`, returning the integer part, the
/// fractional part and the rest; None unless at least one digit is present.
fn split_mantissa(text: &[u8], is_digit: fn(&u8) -> bool) -> Option<(&[u8], &[u8], &[u8])> {
    let int_len = text.iter().take_while(|b| is_digit(b)).count();
    let (int_part, rest) = text.split_at(int_len);
    let (frac_part, rest) = match rest.split_first() {
        Some((b'.', after)) => {
            let frac_len = after.iter().take_while(|b| is_digit(b)).count();
            after.split_at(frac_len)
        }
        _ => (&rest[..0], rest),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    Some((int_part, frac_part, rest))
}

/// Converts an unsigned decimal number (`strtold`'s decimal form) with correct rounding.
fn parse_decimal(text: &[u8]) -> Option<Exact> {
    let (int_part, frac_part, rest) = split_mantissa(text, u8::is_ascii_digit)?;
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', exp)) => parse_exponent(exp)?,
        Some(_) => return None,
    };
    // The value is `digits * 10^scale` with `digits` the concatenated integer string.
    let all: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let start = all.iter().position(|&d| d != b'0');
    let Some(start) = start else {
        return Some(Exact::Zero);
    };
    let end = all
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(all.len(), |i| i + 1);
    let digits = &all[start..end];
    let scale = exponent - frac_part.len() as i64 + (all.len() - end) as i64;
    // The value lies in [10^(top-1), 10^top). Outside roughly 1e-4951..1.19e4932 the result
    // is certain; deciding that early keeps the exact arithmetic bounded.
    let top = scale + digits.len() as i64;
    if top - 1 > 4933 {
        return Some(Exact::Overflow);
    }
    if top < -4960 {
        return Some(Exact::Underflow);
    }
    let mut value = Big::zero();
    for chunk in digits.chunks(19) {
        let chunk_value = chunk
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        value = value.mul_small(10u64.pow(chunk.len() as u32));
        value = value.add(&Big::from_u64(chunk_value));
    }
    if scale >= 0 {
        let value = value.mul(&Big::pow10(scale as u64));
        return Some(Exact::from_round(round(&value, 0, false)));
    }
    // value / 10^-scale: scale the quotient to 66-67 bits so that rounding to 64 bits (or
    // fewer, for subnormals) happens strictly above the bits it covers, and let the
    // remainder act as a sticky bit.
    let divisor = Big::pow10(scale.unsigned_abs());
    let shift = divisor.bit_len() as i64 - value.bit_len() as i64 + 66;
    let numerator = value.shl(shift.max(0) as u64);
    let denominator = divisor.shl((-shift).max(0) as u64);
    let (quotient, inexact) = divide_to_68_bits(&numerator, &denominator);
    Some(Exact::from_round(round(&quotient, -shift, inexact)))
}

/// Converts the part of a hex float after `0x` (`strtold`'s hex form), exactly rounded.
fn parse_hex(text: &[u8]) -> Option<Exact> {
    let (int_part, frac_part, rest) = split_mantissa(text, u8::is_ascii_hexdigit)?;
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'p' | b'P', exp)) => parse_exponent(exp)?,
        Some(_) => return None,
    };
    // Sixteen hex digits fill one limb, starting from the least significant end.
    let nibbles: Vec<u64> = int_part
        .iter()
        .chain(frac_part)
        .map(|&digit| u64::from((digit as char).to_digit(16).unwrap_or(0)))
        .collect();
    let limbs = nibbles
        .rchunks(16)
        .map(|chunk| chunk.iter().fold(0, |acc, &nibble| (acc << 4) | nibble))
        .collect();
    let value = Big { limbs }.normalized();
    if value.is_zero() {
        return Some(Exact::Zero);
    }
    let exp = exponent - 4 * frac_part.len() as i64;
    // The value lies in [2^(top-1), 2^top): the largest finite value is below 2^16384 and
    // anything below 2^-16447 is under half the smallest subnormal.
    let top = exp + value.bit_len() as i64;
    if top - 1 > 16384 {
        return Some(Exact::Overflow);
    }
    if top < -16447 {
        return Some(Exact::Underflow);
    }
    Some(Exact::from_round(round(&value, exp, false)))
}

/// Long division whose quotient is known to fit in 68 bits; also reports a nonzero
/// remainder.
fn divide_to_68_bits(numerator: &Big, denominator: &Big) -> (Big, bool) {
    let mut remainder = numerator.clone();
    let mut quotient = 0u128;
    for bit in (0..68).rev() {
        let step = denominator.shl(bit);
        if remainder.cmp(&step) != Ordering::Less {
            remainder = remainder.sub(&step);
            quotient |= 1 << bit;
        }
    }
    debug_assert!(remainder.cmp(denominator) == Ordering::Less);
    let quotient =
        Big::from_u64(quotient as u64).add(&Big::from_u64((quotient >> 64) as u64).shl(64));
    (quotient, !remainder.is_zero())
}

/// Rounds the positive value `value * 2^exp` (plus a sliver below its lowest bit when
/// `sticky`) to nearest-even extended precision: 64 significant bits, lowest bit no lower
/// than 2^MIN_EXP. Returns the mantissa and the exponent of its lowest bit — a zero mantissa
/// when it underflowed — or None when it overflowed.
///
/// With `sticky`, callers must provide at least two bits more than the 64 kept, so the
/// rounding point is always above the bits the sliver belongs to.
fn round(value: &Big, exp: i64, sticky: bool) -> Option<(u64, i64)> {
    let len = value.bit_len() as i64;
    let shift = (len - 64).max(MIN_EXP - exp);
    let mut mantissa;
    let mut exp = exp + shift;
    if shift <= 0 {
        debug_assert!(!sticky);
        mantissa = value.shl(shift.unsigned_abs()).low_u64();
    } else {
        let shift = shift as u64;
        mantissa = value.shr(shift).low_u64();
        let half = value.bit(shift - 1);
        let more = sticky || value.any_bit_below(shift - 1);
        if half && (more || mantissa & 1 == 1) {
            mantissa = mantissa.wrapping_add(1);
            if mantissa == 0 {
                // Carried out of 64 bits: 2^64 is 2^63 one exponent up.
                mantissa = INT_BIT;
                exp += 1;
            }
        }
    }
    if mantissa & INT_BIT != 0 && exp > MAX_EXP {
        return None;
    }
    Some((mantissa, exp))
}

/// A minimal arbitrary-precision unsigned integer: little-endian 64-bit limbs without high
/// zero limbs. Only what exact float conversion needs, with simple quadratic algorithms.
#[derive(Clone, Debug)]
struct Big {
    limbs: Vec<u64>,
}

impl Big {
    fn zero() -> Big {
        Big { limbs: Vec::new() }
    }

    fn from_u64(value: u64) -> Big {
        Big { limbs: vec![value] }.normalized()
    }

    fn pow10(exp: u64) -> Big {
        let mut value = Big::from_u64(1);
        let mut left = exp;
        while left > 0 {
            let step = left.min(19);
            value = value.mul_small(10u64.pow(step as u32));
            left -= step;
        }
        value
    }

    fn normalized(mut self) -> Big {
        self.trim();
        self
    }

    /// Drops high zero limbs, keeping the representation canonical.
    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => 64 * self.limbs.len() as u64 - u64::from(top.leading_zeros()),
        }
    }

    fn bit(&self, index: u64) -> bool {
        let limb = (index / 64) as usize;
        limb < self.limbs.len() && (self.limbs[limb] >> (index % 64)) & 1 == 1
    }

    /// Whether any of the bits below `index` is set.
    fn any_bit_below(&self, index: u64) -> bool {
        let whole = ((index / 64) as usize).min(self.limbs.len());
        if self.limbs[..whole].iter().any(|&limb| limb != 0) {
            return true;
        }
        let partial = index % 64;
        whole < self.limbs.len() && partial > 0 && self.limbs[whole] << (64 - partial) != 0
    }

    fn low_u64(&self) -> u64 {
        self.limbs.first().copied().unwrap_or(0)
    }

    fn shl(&self, bits: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let whole = (bits / 64) as usize;
        let partial = bits % 64;
        let mut limbs = vec![0u64; whole];
        let mut carry = 0u64;
        for &limb in &self.limbs {
            if partial == 0 {
                limbs.push(limb);
            } else {
                limbs.push((limb << partial) | carry);
                carry = limb >> (64 - partial);
            }
        }
        limbs.push(carry);
        Big { limbs }.normalized()
    }

    fn shr(&self, bits: u64) -> Big {
        let whole = (bits / 64) as usize;
        if whole >= self.limbs.len() {
            return Big::zero();
        }
        let partial = bits % 64;
        let source = &self.limbs[whole..];
        let limbs = (0..source.len())
            .map(|i| {
                let high = source.get(i + 1).copied().unwrap_or(0);
                if partial == 0 {
                    source[i]
                } else {
                    (source[i] >> partial) | (high << (64 - partial))
                }
            })
            .collect();
        Big { limbs }.normalized()
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = false;
        for (i, &limb) in long.limbs.iter().enumerate() {
            let (sum, c1) = limb.overflowing_add(short.limbs.get(i).copied().unwrap_or(0));
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            limbs.push(sum);
            carry = c1 || c2;
        }
        limbs.push(u64::from(carry));
        Big { limbs }.normalized()
    }

    /// `self - other`; requires `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        debug_assert!(self.cmp(other) != Ordering::Less);
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = false;
        for (i, &limb) in self.limbs.iter().enumerate() {
            let (diff, b1) = limb.overflowing_sub(other.limbs.get(i).copied().unwrap_or(0));
            let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
            limbs.push(diff);
            borrow = b1 || b2;
        }
        debug_assert!(!borrow);
        Big { limbs }.normalized()
    }

    fn mul_small(&self, factor: u64) -> Big {
        let mut limbs = Vec::with_capacity(self.limbs.len() + 1);
        let mut carry = 0u128;
        for &limb in &self.limbs {
            let product = u128::from(limb) * u128::from(factor) + carry;
            limbs.push(product as u64);
            carry = product >> 64;
        }
        limbs.push(carry as u64);
        Big { limbs }.normalized()
    }

    fn mul(&self, other: &Big) -> Big {
        let mut limbs = vec![0u64; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in other.limbs.iter().enumerate() {
                let total = u128::from(a) * u128::from(b) + u128::from(limbs[i + j]) + carry;
                limbs[i + j] = total as u64;
                carry = total >> 64;
            }
            limbs[i + other.limbs.len()] = carry as u64;
        }
        Big { limbs }.normalized()
    }

    /// Divides in place by a nonzero `divisor`, returning the remainder.
    fn div_rem_small(&mut self, divisor: u64) -> u64 {
        let mut remainder = 0u128;
        for limb in self.limbs.iter_mut().rev() {
            let current = (remainder << 64) | u128::from(*limb);
            *limb = (current / u128::from(divisor)) as u64;
            remainder = current % u128::from(divisor);
        }
        self.trim();
        remainder as u64
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 10_000_000_000_000_000_000;
        let mut rest = self.clone();
        let mut chunks = Vec::new();
        while !rest.is_zero() {
            chunks.push(rest.div_rem_small(CHUNK));
        }
        let mut text = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |top| top.to_string());
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:019}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_FLOAT: &str = "-ERR value is not a valid float";
    const NAN_OR_INF: &str = "-ERR increment would produce NaN or Infinity";

    /// Replies from redis-server 7.0.15 (x86-64, glibc) to `DEL k`, `SET k <stored>` (skipped
    /// for None) and `INCRBYFLOAT k <increment>`, errors written as `-ERR ...`.
    const REDIS_INCRBYFLOAT: &[(Option<&str>, &str, &str)] = &[
    (None, "0.1", "0.1"),
    (Some("0.1"), "0.2", "0.3"),
    (Some("4999.5"), "5E-3", "4999.50499999999999989"),
    (Some("10.5"), "0.1", "10.6"),
    (None, "1.5e308", "149999999999999999999901476489468468031016840965060944967133685421180106066691046036756664728216022031902928370522024964340854582506645209487860806577896175175227643677561112877760303256738896516844124921428435196017215141331511736789270744288327321353040504243421434090049846615188904452633296864511849922560"),
    (Some("1.5e308"), "1.5e308", "299999999999999999999802952978936936062033681930121889934267370842360212133382092073513329456432044063805856741044049928681709165013290418975721613155792350350455287355122225755520606513477793033688249842856870392034430282663023473578541488576654642706081008486842868180099693230377808905266593729023699845120"),
    (None, "0x10", "16"),
    (None, "1e400", "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"),
    (None, "9007199254740993", "9007199254740993"),
    (None, "123456789012345678", "123456789012345678"),
    (Some("1.1e4932"), "1.1e4932", "-ERR increment would produce NaN or Infinity"),
    (Some("1e5000"), "1", "-ERR value is not a valid float"),
    (Some("0.1"), "-0.1", "0"),
    (Some("1"), "-1", "0"),
    (None, "-1e-30", "0"),
    (None, "-0", "0"),
    (Some("-0"), "-0", "0"),
    (Some("-5"), "4.99999999999999999999", "0"),
    (None, "0.000003814697265625", "0.00000381469726562"),
    (None, "0.000011444091796875", "0.00001144409179688"),
    (None, "1.000003814697265625", "1.00000381469726562"),
    (None, "-1.000011444091796875", "-1.00001144409179688"),
    (Some("18446744073709551615"), "1", "18446744073709551616"),
    (None, "18446744073709551617", "18446744073709551616"),
    (None, "18446744073709551619", "18446744073709551620"),
    (Some("1e19"), "0.5", "10000000000000000000"),
    (Some("1e19"), "1.5", "10000000000000000002"),
    (Some("1e20"), "1", "100000000000000000000"),
    (None, "0x1.8p3", "12"),
    (None, "0X1P-3", "0.125"),
    (None, "0x.8", "0.5"),
    (None, "-0xA.8p-1", "-5.25"),
    (None, "0x1p63", "9223372036854775808"),
    (None, "inf", "-ERR increment would produce NaN or Infinity"),
    (Some("inf"), "-inf", "-ERR increment would produce NaN or Infinity"),
    (Some("Infinity"), "1", "-ERR increment would produce NaN or Infinity"),
    (None, "-INF", "-ERR increment would produce NaN or Infinity"),
    (None, "nan", "-ERR value is not a valid float"),
    (None, "NaN", "-ERR value is not a valid float"),
    (Some("nan"), "1", "-ERR value is not a valid float"),
    (None, "1.", "1"),
    (None, ".5", "0.5"),
    (None, "+.5e1", "5"),
    (None, "1e+2", "100"),
    (None, "1E-2", "0.01"),
    (None, "007", "7"),
    (Some("0012.50"), "-.5", "12"),
    (None, "1e", "-ERR value is not a valid float"),
    (None, "1e+", "-ERR value is not a valid float"),
    (None, ".", "-ERR value is not a valid float"),
    (None, "e5", "-ERR value is not a valid float"),
    (None, "0x", "-ERR value is not a valid float"),
    (None, "0x1p", "-ERR value is not a valid float"),
    (None, "0xg", "-ERR value is not a valid float"),
    (None, " 1", "-ERR value is not a valid float"),
    (None, "1 ", "-ERR value is not a valid float"),
    (None, "\t1", "-ERR value is not a valid float"),
    (None, "\x0b1", "-ERR value is not a valid float"),
    (None, "", "-ERR value is not a valid float"),
    (Some(""), "1", "-ERR value is not a valid float"),
    (None, "1\0abc", "-ERR value is not a valid float"),
    (Some("1\0"), "1", "-ERR value is not a valid float"),
    (None, "\0", "-ERR value is not a valid float"),
    (Some("abc"), "1", "-ERR value is not a valid float"),
    (None, "--1", "-ERR value is not a valid float"),
    (None, "+-1", "-ERR value is not a valid float"),
    (None, "infin", "-ERR value is not a valid float"),
    (None, "infinityy", "-ERR value is not a valid float"),
    (None, "nan(123)", "-ERR value is not a valid float"),
    (None, "1,5", "-ERR value is not a valid float"),
    (None, "1_000", "-ERR value is not a valid float"),
    (None, "1e-4960", "-ERR value is not a valid float"),
    (None, "-1e-5000", "-ERR value is not a valid float"),
    (None, "0x1p-16445", "0"),
    (None, "0x1p-16446", "-ERR value is not a valid float"),
    (None, "0x1.0000001p-16446", "0"),
    (Some("0e999999999999999999"), "5", "5"),
    (None, "0e-99999", "0"),
    (Some("3.6451995318824746025e-4951"), "3.6451995318824746025e-4951", "0"),
    (Some("0x1p-16382"), "-0x1p-16445", "0"),
    (Some("0x1.fffffffffffffffep16383"), "-0x1.fffffffffffffffep16383", "0"),
    (Some("0x1.ffffffffffffffffp16383"), "1", "-ERR value is not a valid float"),
    (Some("0x1.fffffffffffffffep16383"), "0x1p16319", "-ERR increment would produce NaN or Infinity"),
    (Some("1.18973149535723176502e4932"), "-1.18973149535723176502e4932", "0"),
    (Some("1.18973149535723176509e4932"), "0", "-ERR value is not a valid float"),
    (Some("-1e4932"), "-1e4932", "-ERR increment would produce NaN or Infinity"),
    (Some("1.5"), "-1.4", "0.1"),
    (Some("0.3"), "-0.1", "0.2"),
    (Some("123.456"), "-0.456", "123"),
    (Some("1e-17"), "1e-17", "0.00000000000000002"),
    (Some("5e-18"), "0", "0"),
    (Some("5.000000000000000001e-18"), "0", "0.00000000000000001"),
    (Some("-5e-18"), "0", "0"),
    (Some("99999999999999999.5"), "0.5", "100000000000000000"),
    (Some("0.99999999999999999"), "0.000000000000000005", "1"),
    (Some("1e300"), "-1e-300", "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
    (Some("3.14159265358979323846264338327950288"), "2.71828182845904523536028747135266249", "5.85987448204883847"),
    (Some("-273.15"), "1e-10", "-273.14999999989999999"),
    (Some("1e-10"), "1e-20", "0.0000000001"),
    (Some("2.5"), "-2.5000000000000000001", "0"),
    (Some("1e18"), "-1e-18", "1000000000000000000"),
    (Some("0.1"), "0.7", "0.8"),
    (Some("1.0000000000000000000001"), "0", "1"),
    (Some("-9.87654321e-5"), "1.23456789e-6", "-0.00009753086421"),
    ];

    /// INCRBYFLOAT's pipeline as Redis runs it: parse both, add, refuse NaN/infinity, print.
    fn incrbyfloat(stored: Option<&str>, increment: &str) -> String {
        let base = match stored {
            None => Some(F80::zero(false)),
            Some(text) => F80::parse(text.as_bytes()),
        };
        let (Some(base), Some(increment)) = (base, F80::parse(increment.as_bytes())) else {
            return NOT_FLOAT.to_string();
        };
        let sum = base.add(increment);
        if sum.is_finite() {
            sum.to_human_string()
        } else {
            NAN_OR_INF.to_string()
        }
    }

    #[test]
    fn matches_redis_incrbyfloat() {
        for &(stored, increment, expected) in REDIS_INCRBYFLOAT {
            assert_eq!(
                incrbyfloat(stored, increment),
                expected,
                "SET k {stored:?}; INCRBYFLOAT k {increment:?}"
            );
        }
    }

    #[test]
    fn parse_rejections() {
        let rejected: &[&[u8]] = &[
            b"",
            b" 1",
            b"\n1",
            b"\r1",
            b"\x0c1",
            b"1 ",
            b"1\0",
            b"\0",
            b"nan",
            b"-nan",
            b"nan()",
            b"inf ",
            b"infinit",
            b"+",
            b"-",
            b".",
            b"e1",
            b"1e",
            b"1e-",
            b"1.5.",
            b"0x",
            b"0x.",
            b"0x.p1",
            b"0x1p",
            b"0x1p+",
            b"0x1g",
            b"1e5000",
            b"-1e5000",
            b"1e-5000",
            b"0x1p16384",
            b"0x1p-16447",
            b"\xff",
        ];
        for &text in rejected {
            assert_eq!(
                F80::parse(text),
                None,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        // Redis's buffer holds 5 KiB including the NUL terminator.
        let one = F80::parse(b"1");
        assert_eq!(
            F80::parse(format!("1.{}", "0".repeat(5117)).as_bytes()),
            one
        );
        assert_eq!(
            F80::parse(format!("1.{}", "0".repeat(5118)).as_bytes()),
            None
        );
    }

    #[test]
    fn parse_specials() {
        let inf = F80::parse(b"InFiNiTy").unwrap();
        assert!(!inf.is_finite());
        assert_eq!(F80::parse(b"+inf"), Some(inf));
        assert!(!inf.add(F80::parse(b"-inf").unwrap()).is_finite());
        // A subnormal result comes with ERANGE but Redis keeps it.
        let tiny = F80::parse(b"0x1p-16445").unwrap();
        assert!(tiny.is_finite() && tiny != F80::zero(false));
        assert_eq!(
            F80::parse(b"0e99999999999999999999"),
            Some(F80::zero(false))
        );
        assert_eq!(F80::parse(b"-0x0p0"), Some(F80::zero(true)));
    }

    #[test]
    fn extremes_print_in_full() {
        let max = F80::parse(b"0x1.fffffffffffffffep16383").unwrap();
        let text = max.to_human_string();
        assert_eq!(text.len(), 4933);
        assert!(text.starts_with("118973149535723176502126385303097020516906"));
        assert_eq!(F80::parse(text.as_bytes()), Some(max));
        assert_eq!(F80::parse(b"-1e-4950").unwrap().to_human_string(), "0");
    }
}
