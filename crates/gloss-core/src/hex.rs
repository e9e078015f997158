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

fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Only ASCII digits and padding reach here; the check is a few instructions for short runs.
    out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
}

/// `{:x}`
pub fn push_hex(out: &mut String, v: u64) {
    let mut buf = [0u8; 16];
    let start = digits(&mut buf, v);
    push_ascii(out, &buf[start..]);
}

/// `{:#x}`
pub fn push_hex_prefixed(out: &mut String, v: u64) {
    out.push_str("0x");
    push_hex(out, v);
}

/// `{:>width$x}`: right-aligned in `width` columns with spaces (never truncated).
pub fn push_hex_right(out: &mut String, v: u64, width: usize) {
    let mut buf = [0u8; 16];
    let start = digits(&mut buf, v);
    let n = 16 - start;
    for _ in n..width {
        out.push(' ');
    }
    push_ascii(out, &buf[start..]);
}

/// `{:0width$x}`: zero-padded to `width` digits (never truncated; `width` at most 16).
pub fn push_hex_zeros(out: &mut String, v: u64, width: usize) {
    let mut buf = [b'0'; 16];
    let start = digits(&mut buf, v).min(16 - width.min(16));
    push_ascii(out, &buf[start..]);
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
