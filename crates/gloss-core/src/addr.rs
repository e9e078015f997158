use std::fmt;

/// A link-time virtual address, as the file states it (no ASLR slide, no rebasing).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Addr(pub u64);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl serde::Serialize for Addr {
    /// Addresses travel as `"0x..."` strings: JSON numbers lose precision above 2^53. The
    /// text is made in a stack buffer (not through `Display`: serde_json then escapes the
    /// formatter's output piece by piece, and a report has millions of addresses).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 18];
        let n = crate::hex::hex_len(self.0);
        text[..2].copy_from_slice(b"0x");
        text[2..2 + n].copy_from_slice(&crate::hex::digits(self.0, n)[..n]);
        // hex digits are ASCII
        s.serialize_str(std::str::from_utf8(&text[..2 + n]).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::Addr;

    /// The JSON text is `Display`'s, `"0x..."`, for every width of value.
    #[test]
    fn serializes_as_display_does() {
        let mut values = vec![0, 1, 0xf, 0x10, 0x4005d0, u64::MAX, u64::MAX >> 4];
        values.extend((0..64).map(|k| 1u64 << k));
        values.extend((0..64).map(|k| (1u64 << k).wrapping_sub(1)));
        for v in values {
            let json = serde_json::to_string(&Addr(v)).expect("serializes");
            assert_eq!(json, format!("\"{:#x}\"", v), "{v:#x}");
        }
    }
}
