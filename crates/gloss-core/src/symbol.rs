use crate::Addr;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    Function,
    Object,
    /// Import slots (`__imp_X`, `X@got`) and stubs (`X@plt`).
    Import,
    Unknown,
}

/// Where a symbol's name came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolSource {
    Symtab,
    Dynsym,
    Export,
    Coff,
    MachO,
    /// Made by gloss from import tables: `puts@plt`, `puts@got`, `__imp_CreateWidget`.
    Synthetic,
    /// A function gloss's analysis found where the file names none (`sub_<addr>`).
    Analysis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub addr: Addr,
    /// 0 when the file does not say.
    pub size: u64,
    /// The name as stored in the file.
    pub name: String,
    /// The demangled name, when `name` is mangled (Itanium, Rust, MSVC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demangled: Option<String>,
    pub kind: SymbolKind,
    pub source: SymbolSource,
    pub global: bool,
}

impl Symbol {
    /// The name to show a reader: demangled when available.
    pub fn display_name(&self) -> &str {
        self.demangled.as_deref().unwrap_or(&self.name)
    }
    pub fn contains(&self, addr: u64) -> bool {
        addr == self.addr.0 || (addr > self.addr.0 && addr - self.addr.0 < self.size)
    }
    /// What a PLT entry the loader named (`memcpy@plt`) jumps to: an import's, or the
    /// library's own ifunc's name.
    pub fn plt_of(&self) -> Option<&str> {
        if self.source != SymbolSource::Synthetic {
            return None;
        }
        self.name.strip_suffix("@plt")
    }
}

/// A resolved reference: a symbol and the offset into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    pub name: &'a str,
    pub offset: u64,
}

/// Symbols sorted by address, with the lookups symbolization needs.
#[derive(Default, Debug)]
pub struct SymbolTable {
    syms: Vec<Symbol>,
    /// Raw and demangled names, built on the first lookup by name (a full listing never asks).
    by_name: OnceLock<HashMap<String, usize>>,
    /// For each index, the largest end (`addr + size`) among symbols up to and including it, so
    /// containment queries can stop early.
    max_end: Vec<u64>,
    /// [`SymbolTable::containing`] precomputed: every address in
    /// `cover_start[i]..cover_start[i + 1]` is covered by the same symbols, so it resolves to
    /// `cover[i]` (an index into `syms`, or [`NO_SYMBOL`]). A listing asks for millions of labels;
    /// this is one search over a flat array instead of a walk over symbols.
    cover_start: Vec<u64>,
    cover: Vec<u32>,
    /// The intervals of the last two lookups, most recent first: a listing asks about branch
    /// targets near the code it lists and about data elsewhere, so the next answer is often one
    /// of them.
    last: [AtomicUsize; 2],
}

const NO_SYMBOL: u32 = u32::MAX;

impl Clone for SymbolTable {
    fn clone(&self) -> SymbolTable {
        SymbolTable {
            syms: self.syms.clone(),
            by_name: self.by_name.clone(),
            max_end: self.max_end.clone(),
            cover_start: self.cover_start.clone(),
            cover: self.cover.clone(),
            last: [
                AtomicUsize::new(self.last[0].load(Ordering::Relaxed)),
                AtomicUsize::new(self.last[1].load(Ordering::Relaxed)),
            ],
        }
    }
}

impl SymbolTable {
    /// Builds the table: sorts by address and drops exact duplicates (same address and name,
    /// e.g. a symbol present in both `.symtab` and `.dynsym`), keeping the first one given.
    pub fn new(mut syms: Vec<Symbol>) -> SymbolTable {
        // Stable sort keeps the caller's priority order among equal addresses.
        syms.sort_by_key(|s| s.addr);
        let syms = dedup_same_address(syms);
        let mut max_end = Vec::with_capacity(syms.len());
        let mut m = 0u64;
        for s in &syms {
            m = m.max(s.addr.0.saturating_add(s.size.max(1)));
            max_end.push(m);
        }
        let mut t = SymbolTable {
            syms,
            max_end,
            ..SymbolTable::default()
        };
        t.build_cover();
        t
    }

    /// Splits the address space at every symbol start and end (a zero-sized symbol covers one
    /// address); between two such points the covering symbols, hence the answer, cannot change.
    fn build_cover(&mut self) {
        let mut points: Vec<u64> = Vec::with_capacity(self.syms.len() * 2);
        for s in &self.syms {
            points.push(s.addr.0);
            points.push(s.addr.0.saturating_add(s.size.max(1)));
        }
        points.sort_unstable();
        points.dedup();
        let mut starts = Vec::with_capacity(points.len());
        let mut cover = Vec::with_capacity(points.len());
        for p in points {
            let c = self
                .containing_index(p)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(NO_SYMBOL);
            if cover.last() != Some(&c) {
                starts.push(p);
                cover.push(c);
            }
        }
        starts.shrink_to_fit();
        cover.shrink_to_fit();
        self.cover_start = starts;
        self.cover = cover;
    }

    /// The table with `more` symbols (rebuilt: lookups see them).
    pub fn extend(&mut self, more: impl IntoIterator<Item = Symbol>) {
        let mut syms = std::mem::take(&mut self.syms);
        syms.extend(more);
        *self = SymbolTable::new(syms);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Symbol> {
        self.syms.iter()
    }
    pub fn len(&self) -> usize {
        self.syms.len()
    }
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Looks a symbol up by raw or demangled name (the first in address order).
    pub fn by_name(&self, name: &str) -> Option<&Symbol> {
        let map = self.by_name.get_or_init(|| {
            let mut by_name = HashMap::with_capacity(self.syms.len() * 2);
            for (i, s) in self.syms.iter().enumerate() {
                by_name.entry(s.name.clone()).or_insert(i);
                if let Some(d) = &s.demangled {
                    by_name.entry(d.clone()).or_insert(i);
                }
            }
            by_name
        });
        map.get(name).map(|&i| &self.syms[i])
    }

    /// Symbols that start exactly at `addr`.
    pub fn at(&self, addr: u64) -> impl Iterator<Item = &Symbol> {
        let start = self.syms.partition_point(|s| s.addr.0 < addr);
        self.syms[start..]
            .iter()
            .take_while(move |s| s.addr.0 == addr)
    }

    /// The symbols starting at the highest address at or below `addr`, whether or not they
    /// cover it: for callers that check what they need themselves (a zero-sized symbol's
    /// extent is unknown; labels use [`SymbolTable::containing`]).
    pub fn last_at_or_before(&self, addr: u64) -> &[Symbol] {
        let end = self.syms.partition_point(|s| s.addr.0 <= addr);
        let Some(last) = end.checked_sub(1) else {
            return &[];
        };
        let at = self.syms[last].addr;
        let start = self.syms[..end].partition_point(|s| s.addr < at);
        &self.syms[start..end]
    }

    /// The best symbol that really covers `addr`: one whose `[addr, addr+size)` contains it (a
    /// sized function or object), or a zero-sized one starting exactly there. Never the nearest
    /// preceding symbol that does not cover the address: that is how other tools mislabel
    /// ADRP pages and stripped code.
    pub fn containing(&self, addr: u64) -> Option<&Symbol> {
        let starts = &self.cover_start;
        let holds = |h: usize| {
            h < starts.len()
                && starts[h] <= addr
                && starts.get(h + 1).is_none_or(|&next| addr < next)
        };
        let (h0, h1) = (
            self.last[0].load(Ordering::Relaxed),
            self.last[1].load(Ordering::Relaxed),
        );
        let i = if holds(h0) {
            h0
        } else if holds(h1) {
            self.last[0].store(h1, Ordering::Relaxed);
            self.last[1].store(h0, Ordering::Relaxed);
            h1
        } else {
            let i = starts.partition_point(|&s| s <= addr).checked_sub(1)?;
            self.last[0].store(i, Ordering::Relaxed);
            self.last[1].store(h0, Ordering::Relaxed);
            i
        };
        match self.cover[i] {
            NO_SYMBOL => None,
            c => self.syms.get(c as usize),
        }
    }

    /// The rule behind [`SymbolTable::containing`], by walking the symbols: the index of the
    /// innermost covering symbol.
    fn containing_index(&self, addr: u64) -> Option<usize> {
        let end = self.syms.partition_point(|s| s.addr.0 <= addr);
        let mut best: Option<usize> = None;
        for i in (0..end).rev() {
            if self.max_end[i] <= addr && self.syms[i].addr.0 != addr {
                break;
            }
            let s = &self.syms[i];
            if !s.contains(addr) {
                continue;
            }
            // Prefer the innermost (latest-starting) symbol; among equal starts, a function or
            // object over an unknown-kind label.
            match best {
                None => best = Some(i),
                Some(b) if self.syms[b].addr == s.addr && rank(s) > rank(&self.syms[b]) => {
                    best = Some(i)
                }
                _ => {}
            }
        }
        best
    }

    /// The function symbol that covers `addr`, for `<func+off>` prefixes in listings.
    pub fn function_containing(&self, addr: u64) -> Option<&Symbol> {
        self.containing(addr)
            .filter(|s| matches!(s.kind, SymbolKind::Function | SymbolKind::Import))
    }
}

/// Drops symbols whose address and name an earlier one (in the given order) already has. Input
/// sorted by address, so duplicates sit in the same run of equal addresses; runs are compared
/// name by name, with a set only for unusually long runs.
fn dedup_same_address(syms: Vec<Symbol>) -> Vec<Symbol> {
    let mut kept: Vec<Symbol> = Vec::with_capacity(syms.len());
    let mut run = 0;
    let mut long_run: Option<HashSet<String>> = None;
    for s in syms {
        if kept.last().is_some_and(|l| l.addr != s.addr) {
            run = kept.len();
            long_run = None;
        }
        let dup = match &long_run {
            Some(names) => names.contains(&s.name),
            None => kept[run..].iter().any(|k| k.name == s.name),
        };
        if dup {
            continue;
        }
        match &mut long_run {
            Some(names) => {
                names.insert(s.name.clone());
            }
            None if kept.len() - run >= 16 => {
                let names = kept[run..].iter().map(|k| k.name.clone());
                long_run = Some(names.chain([s.name.clone()]).collect());
            }
            None => {}
        }
        kept.push(s);
    }
    kept
}

fn rank(s: &Symbol) -> u8 {
    match s.kind {
        SymbolKind::Function | SymbolKind::Import => 3,
        SymbolKind::Object => 2,
        SymbolKind::Unknown => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str, addr: u64, size: u64, kind: SymbolKind) -> Symbol {
        Symbol {
            addr: Addr(addr),
            size,
            name: name.into(),
            demangled: None,
            kind,
            source: SymbolSource::Symtab,
            global: true,
        }
    }

    #[test]
    fn containing_never_names_a_symbol_that_does_not_cover_the_address() {
        let t = SymbolTable::new(vec![
            sym("unrelated_global", 0x3000, 0x320, SymbolKind::Object),
            sym("c_info", 0x3320, 0x20, SymbolKind::Object),
            sym("f", 0x1000, 0x40, SymbolKind::Function),
            sym("label", 0x2000, 0, SymbolKind::Unknown),
        ]);
        assert_eq!(
            t.containing(0x3000).map(|s| s.name.as_str()),
            Some("unrelated_global")
        );
        assert_eq!(
            t.containing(0x3320).map(|s| s.name.as_str()),
            Some("c_info")
        );
        assert_eq!(
            t.containing(0x3328).map(|s| s.name.as_str()),
            Some("c_info")
        );
        assert_eq!(t.containing(0x3340), None, "past c_info's end");
        assert_eq!(t.containing(0x1040), None, "past f's end");
        assert_eq!(t.containing(0x2000).map(|s| s.name.as_str()), Some("label"));
        assert_eq!(
            t.containing(0x2004),
            None,
            "a size-0 symbol covers only its own address"
        );
        assert_eq!(t.by_name("c_info").map(|s| s.addr), Some(Addr(0x3320)));
    }

    /// A symbol in both `.symtab` and `.dynsym` is kept once (the first given); the same name
    /// elsewhere and other names at the same address stay, also in long runs of aliases.
    #[test]
    fn exact_duplicates_are_dropped_first_kept() {
        let mut syms = vec![
            sym("f", 0x1000, 0x10, SymbolKind::Function),
            sym("g", 0x1000, 0x10, SymbolKind::Function),
            sym("f", 0x1000, 0x20, SymbolKind::Object),
            sym("f", 0x2000, 0x10, SymbolKind::Function),
        ];
        for k in 0..40 {
            syms.push(sym(
                &format!("alias{}", k % 20),
                0x3000,
                4,
                SymbolKind::Function,
            ));
        }
        let t = SymbolTable::new(syms);
        let at =
            |a: u64| -> Vec<(&str, u64)> { t.at(a).map(|s| (s.name.as_str(), s.size)).collect() };
        assert_eq!(at(0x1000), [("f", 0x10), ("g", 0x10)]);
        assert_eq!(at(0x2000), [("f", 0x10)]);
        let aliases: Vec<String> = (0..20).map(|k| format!("alias{k}")).collect();
        assert_eq!(
            at(0x3000)
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>(),
            aliases
        );
        assert_eq!(t.len(), 23);
        assert_eq!(t.by_name("g").map(|s| s.addr), Some(Addr(0x1000)));
        assert_eq!(t.by_name("alias19").map(|s| s.addr), Some(Addr(0x3000)));
        assert!(t.by_name("nope").is_none());
    }

    #[test]
    fn innermost_symbol_wins() {
        let t = SymbolTable::new(vec![
            sym("outer", 0x100, 0x100, SymbolKind::Function),
            sym("inner", 0x140, 0x10, SymbolKind::Function),
        ]);
        assert_eq!(t.containing(0x144).map(|s| s.name.as_str()), Some("inner"));
        assert_eq!(t.containing(0x160).map(|s| s.name.as_str()), Some("outer"));
    }

    /// The flattened lookup answers exactly what the symbol walk answers, for random tables of
    /// nested, overlapping, zero-sized and equal-start symbols of every kind, at every address
    /// around every boundary and in any order (the last-hit hint must never leak).
    #[test]
    fn flattened_lookup_equals_the_symbol_walk() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let kinds = [
            SymbolKind::Function,
            SymbolKind::Object,
            SymbolKind::Import,
            SymbolKind::Unknown,
        ];
        for round in 0..300 {
            let n = (next() % 40) as usize;
            let base = if round % 10 == 0 {
                u64::MAX - 0x200
            } else {
                0x1000
            };
            let syms: Vec<Symbol> = (0..n)
                .map(|k| {
                    let addr = base + next() % 0x180;
                    let size = match next() % 4 {
                        0 => 0,
                        1 => next() % 8,
                        2 => next() % 0x100,
                        _ => u64::MAX - next() % 4,
                    };
                    sym(&format!("s{k}"), addr, size, kinds[(next() % 4) as usize])
                })
                .collect();
            let t = SymbolTable::new(syms);
            let mut probes: Vec<u64> = (0..0x200).map(|o| base.saturating_add(o) - 8).collect();
            probes.extend([0, 1, u64::MAX - 1, u64::MAX]);
            for _ in 0..200 {
                probes.push(probes[(next() % probes.len() as u64) as usize]);
            }
            for a in probes {
                let want = t.containing_index(a).map(|i| &t.syms[i]);
                assert_eq!(t.containing(a), want, "round {round} addr {a:#x}");
            }
        }
    }
}
