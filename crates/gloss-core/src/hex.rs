//! Lower-case hexadecimal text without `core::fmt`: listings print tens of millions of
//! addresses, offsets and immediates, and `write!` with `{:x}` was a sixth of `show --all`
//! (docs/PERFORMANCE.md). Each function says which `format!` spec it equals.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// How many hex digits `{:x}` prints for `v` (1 for zero).
pub fn hex_len(v: u64) -> usize {
    ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1)
}

/// Writes the `hex_len(v)` digits of `v` to the end of `buf` and returns where they start.
fn digits(buf: &mut [u8; 16], v: u64) -> usize {
    let n = hex_len(v);
    for k in 0..n {
        buf[15 - k] = DIGITS[((v >> (4 * k)) & 15) as usize];
    }
    16 - n
}

/// Where text goes: a `String`, or the byte buffer a listing is assembled in (no UTF-8 checks
/// per piece).
pub trait TextOut {
    fn put_str(&mut self, s: &str);
    /// Appends one ASCII byte.
    fn put_ascii(&mut self, b: u8);
}

impl TextOut for String {
    fn put_str(&mut self, s: &str) {
        self.push_str(s);
    }
    fn put_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(b as char);
    }
}

impl TextOut for Vec<u8> {
    fn put_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn put_ascii(&mut self, b: u8) {
        self.push(b);
    }
}

fn put_digits<O: TextOut + ?Sized>(out: &mut O, digits: &[u8]) {
    for &d in digits {
        out.put_ascii(d);
    }
}

/// `{:x}`
pub fn push_hex<O: TextOut + ?Sized>(out: &mut O, v: u64) {
    let mut buf = [0u8; 16];
    let start = digits(&mut buf, v);
    put_digits(out, &buf[start..]);
}

/// `{:#x}`
pub fn push_hex_prefixed<O: TextOut + ?Sized>(out: &mut O, v: u64) {
    out.put_str("0x");
    push_hex(out, v);
}

/// `{:>width$x}`: right-aligned in `width` columns with spaces (never truncated).
pub fn push_hex_right<O: TextOut + ?Sized>(out: &mut O, v: u64, width: usize) {
    let mut buf = [0u8; 16];
    let start = digits(&mut buf, v);
    for _ in 16 - start..width {
        out.put_ascii(b' ');
    }
    put_digits(out, &buf[start..]);
}

/// `{:0width$x}`: zero-padded to `width` digits (never truncated; `width` at most 16).
pub fn push_hex_zeros<O: TextOut + ?Sized>(out: &mut O, v: u64, width: usize) {
    let mut buf = [b'0'; 16];
    let start = digits(&mut buf, v).min(16 - width.min(16));
    put_digits(out, &buf[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for v in values.into_iter().chain((0..64).map(|s| 1u64 << s)) {
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
