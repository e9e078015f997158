//! Short texts (mnemonics, register names) kept in fixed-size arrays: appending one is a
//! fixed-size copy and a truncation instead of a `memcpy` call of a computed length, which is
//! what most of a listing's text is made of.

/// At most `N` (below 256) bytes of text; 24 unless said otherwise (mnemonics, registers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Short<const N: usize = 24> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> Short<N> {
    /// `None` when `text` is longer than `N` bytes.
    pub(crate) fn new(text: &[u8]) -> Option<Short<N>> {
        let mut bytes = [0u8; N];
        bytes.get_mut(..text.len())?.copy_from_slice(text);
        Some(Short {
            bytes,
            len: text.len() as u8,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub(crate) fn append_to(&self, out: &mut Vec<u8>) {
        let len = out.len();
        out.extend_from_slice(&self.bytes);
        out.truncate(len + usize::from(self.len));
    }
}

#[cfg(test)]
mod tests {
    use super::Short;

    #[test]
    fn appends_exactly_its_text() {
        let mut out = b"mov".to_vec();
        Short::<24>::new(b" %rax").unwrap().append_to(&mut out);
        Short::<24>::new(b"").unwrap().append_to(&mut out);
        assert_eq!(out, b"mov %rax");
        assert_eq!(Short::<24>::new(b"x29").unwrap().as_bytes(), b"x29");
        assert!(Short::<24>::new(&[b'a'; 24]).is_some());
        assert!(Short::<24>::new(&[b'a'; 25]).is_none());
        let mut out = Vec::new();
        Short::<64>::new(&[b'b'; 64]).unwrap().append_to(&mut out);
        assert_eq!(out, [b'b'; 64]);
    }
}
