//! Numbers as text (mostly lower-case hexadecimal) without `core::fmt`: listings print tens of millions of
//! addresses, offsets and immediates, and `write!` with `{:x}` was a sixth of `show --all`
//! (docs/PERFORMANCE.md). Each function says which `format!` spec it equals.

/// How many hex digits `{:x}` prints for `v` (1 for zero).
pub fn hex_len(v: u64) -> usize {
    ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1)
}

/// The 16 hex digits of `v` (lower case, most significant first), computed for all nibbles at
/// once: spread each nibble into a byte, then add `'0'`, and `'a' - '0' - 10` more where the
/// nibble is 10 or more.
fn hex16(v: u64) -> [u8; 16] {
    fn eight(x: u64) -> u64 {
        let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
        let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
        let x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        x + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10)
    }
    let hi = eight(v >> 32).to_be_bytes();
    let lo = eight(v & 0xffff_ffff).to_be_bytes();
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hi);
    out[8..].copy_from_slice(&lo);
    out
}

/// The last `n` (1 to 16) hex digits of `v`, moved to the front of the array.
pub(crate) fn digits(v: u64, n: usize) -> [u8; 16] {
    hex16(v << (4 * (16 - n)))
}

/// Where text goes: a `String`, or the byte buffer a listing is assembled in (no UTF-8 checks
/// per piece).
pub trait TextOut {
    fn put_str(&mut self, s: &str);
    /// Appends one ASCII byte.
    fn put_ascii(&mut self, b: u8);
    /// Appends the first `n` bytes of `ascii` (ASCII; `n` at most 16).
    fn put_ascii16(&mut self, ascii: &[u8; 16], n: usize);
}

impl TextOut for String {
    fn put_str(&mut self, s: &str) {
        self.push_str(s);
    }
    fn put_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(b as char);
    }
    fn put_ascii16(&mut self, ascii: &[u8; 16], n: usize) {
        for &b in &ascii[..n] {
            self.put_ascii(b);
        }
    }
}

impl TextOut for Vec<u8> {
    fn put_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn put_ascii(&mut self, b: u8) {
        self.push(b);
    }
    fn put_ascii16(&mut self, ascii: &[u8; 16], n: usize) {
        // A fixed-size copy and a truncation are cheaper than a copy of `n` bytes.
        let len = self.len();
        self.extend_from_slice(ascii);
        self.truncate(len + n.min(16));
    }
}

/// `{:x}`. Never inlined: inlined into a `match` over operand kinds, LLVM computed the
/// digits of every arm's value ahead of the `match`, for every operand (docs/PERFORMANCE.md).
#[inline(never)]
pub fn push_hex<O: TextOut + ?Sized>(out: &mut O, v: u64) {
    let n = hex_len(v);
    out.put_ascii16(&digits(v, n), n);
}

/// `{:#x}`
pub fn push_hex_prefixed<O: TextOut + ?Sized>(out: &mut O, v: u64) {
    out.put_str("0x");
    push_hex(out, v);
}

/// `{:>width$x}`: right-aligned in `width` columns with spaces (never truncated).
pub fn push_hex_right<O: TextOut + ?Sized>(out: &mut O, v: u64, width: usize) {
    let n = hex_len(v);
    for _ in n..width {
        out.put_ascii(b' ');
    }
    out.put_ascii16(&digits(v, n), n);
}

/// `{:0width$x}`: zero-padded to `width` digits (never truncated; `width` at most 16).
pub fn push_hex_zeros<O: TextOut + ?Sized>(out: &mut O, v: u64, width: usize) {
    let n = hex_len(v).max(width.min(16));
    out.put_ascii16(&digits(v, n), n);
}

/// `{}` of an unsigned number.
pub fn push_dec<O: TextOut + ?Sized>(out: &mut O, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.put_ascii(d);
    }
}

/// `{}` of a signed number.
pub fn push_dec_signed<O: TextOut + ?Sized>(out: &mut O, v: i64) {
    if v < 0 {
        out.put_ascii(b'-');
    }
    push_dec(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_equals_core_fmt() {
        for v in [0u64, 1, 9, 10, 99, 100, 12345, u64::MAX, u64::MAX / 10] {
            let mut s = String::new();
            push_dec(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        for v in [0i64, -1, 1, -10, i64::MIN, i64::MAX, -1234567] {
            let mut b: Vec<u8> = Vec::new();
            push_dec_signed(&mut b, v);
            assert_eq!(b, v.to_string().into_bytes());
        }
    }

    #[test]
    fn equals_core_fmt() {
        let values = [
            0u64,
            1,
            9,
            0xa,
            0xf,
            0x10,
            0xff,
            0x100,
            0x1234_5678,
            0xffff_ffff,
            0x1_0000_0000,
            0x7fff_ffff_ffff_ffff,
            u64::MAX,
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let random = (0..4096).map(move |k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (k % 64)
        });
        let powers = (0..64).map(|s| 1u64 << s);
        for v in values.into_iter().chain(powers).chain(random) {
            let mut s = String::new();
            push_hex(&mut s, v);
            assert_eq!(s, format!("{v:x}"));
            assert_eq!(hex_len(v), s.len());
            s.clear();
            push_hex_prefixed(&mut s, v);
            assert_eq!(s, format!("{v:#x}"));
            let mut b: Vec<u8> = Vec::new();
            push_hex_prefixed(&mut b, v);
            assert_eq!(b, format!("{v:#x}").into_bytes());
            for w in [0, 1, 2, 8, 16] {
                s.clear();
                push_hex_right(&mut s, v, w);
                assert_eq!(s, format!("{v:>w$x}"));
                s.clear();
                push_hex_zeros(&mut s, v, w);
                assert_eq!(s, format!("{v:0w$x}"));
            }
        }
    }
}
