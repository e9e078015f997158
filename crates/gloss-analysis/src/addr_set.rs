//! A set of code addresses kept as one bit per byte of the code sections. The traversal asks
//! whether each instruction it decodes starts another function: a bit next to the previous
//! one's answers from the same cache line, where a hash set would miss the cache every time.
use crate::code::CodeMap;
use rustc_hash::FxHashSet;

pub struct AddrSet {
    /// (start, end, bits) per code section, sorted.
    sections: Vec<(u64, u64, Vec<u64>)>,
    /// Addresses outside the code sections.
    other: FxHashSet<u64>,
    len: usize,
}

impl AddrSet {
    pub fn new(code: &CodeMap) -> AddrSet {
        AddrSet {
            sections: code
                .sections()
                .map(|(s, e)| (s, e, vec![0u64; (e - s).div_ceil(64) as usize]))
                .collect(),
            other: FxHashSet::default(),
            len: 0,
        }
    }

    /// The word and bit of `a`, when it lies in a code section.
    #[inline]
    fn slot(&self, a: u64) -> Option<(usize, usize, u64)> {
        let i = self.sections.partition_point(|s| s.0 <= a).checked_sub(1)?;
        let (start, end, _) = self.sections[i];
        (a < end).then(|| {
            let off = a - start;
            (i, (off / 64) as usize, 1u64 << (off % 64))
        })
    }

    #[inline]
    pub fn contains(&self, a: u64) -> bool {
        match self.slot(a) {
            Some((i, w, bit)) => self.sections[i].2[w] & bit != 0,
            None => self.other.contains(&a),
        }
    }

    /// Adds `a`; true if it was not there.
    pub fn insert(&mut self, a: u64) -> bool {
        let new = match self.slot(a) {
            Some((i, w, bit)) => {
                let word = &mut self.sections[i].2[w];
                let new = *word & bit == 0;
                *word |= bit;
                new
            }
            None => self.other.insert(a),
        };
        self.len += new as usize;
        new
    }

    /// Removes `a`; true if it was there.
    pub fn remove(&mut self, a: u64) -> bool {
        let was = match self.slot(a) {
            Some((i, w, bit)) => {
                let word = &mut self.sections[i].2[w];
                let was = *word & bit != 0;
                *word &= !bit;
                was
            }
            None => self.other.remove(&a),
        };
        self.len -= was as usize;
        was
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The addresses in ascending order.
    pub fn sorted(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::with_capacity(self.len);
        for (start, _, bits) in &self.sections {
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let b = word.trailing_zeros() as u64;
                    out.push(start + w as u64 * 64 + b);
                    word &= word - 1;
                }
            }
        }
        out.extend(self.other.iter().copied());
        out.sort_unstable();
        out
    }
}

impl Extend<u64> for AddrSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, iter: I) {
        for a in iter {
            self.insert(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sections(v: Vec<(u64, u64)>) -> AddrSet {
        AddrSet {
            sections: v
                .into_iter()
                .map(|(s, e)| (s, e, vec![0u64; (e - s).div_ceil(64) as usize]))
                .collect(),
            other: FxHashSet::default(),
            len: 0,
        }
    }

    proptest! {
        /// Behaves as a hash set of the same operations, inside and outside the sections.
        #[test]
        fn same_as_a_hash_set(ops in proptest::collection::vec((any::<bool>(), 0u64..600), 0..300)) {
            let mut set = sections(vec![(100, 229), (300, 301), (400, 500)]);
            let mut model = std::collections::BTreeSet::new();
            for (add, a) in ops {
                if add {
                    prop_assert_eq!(set.insert(a), model.insert(a));
                } else {
                    prop_assert_eq!(set.remove(a), model.remove(&a));
                }
                prop_assert_eq!(set.len(), model.len());
            }
            for a in 0..600 {
                prop_assert_eq!(set.contains(a), model.contains(&a));
            }
            prop_assert_eq!(set.sorted(), model.into_iter().collect::<Vec<_>>());
        }
    }
}
