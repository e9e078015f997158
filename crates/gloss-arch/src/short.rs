//! Short texts (mnemonics, register names) kept in fixed-size arrays: appending one is a
//! fixed-size copy and a truncation instead of a `memcpy` call of a computed length, which is
//! what most of a listing's text is made of.

/// At most [`Short::MAX`] bytes of text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Short {
    bytes: [u8; Short::MAX],
    len: u8,
}

impl Short {
    pub(crate) const MAX: usize = 24;

    /// `None` when `text` is longer than [`Short::MAX`].
    pub(crate) fn new(text: &[u8]) -> Option<Short> {
        let mut bytes = [0u8; Short::MAX];
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
        Short::new(b" %rax").unwrap().append_to(&mut out);
        Short::new(b"").unwrap().append_to(&mut out);
        assert_eq!(out, b"mov %rax");
        assert_eq!(Short::new(b"x29").unwrap().as_bytes(), b"x29");
        assert!(Short::new(&[b'a'; Short::MAX]).is_some());
        assert!(Short::new(&[b'a'; Short::MAX + 1]).is_none());
    }
}
