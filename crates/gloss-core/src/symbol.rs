use crate::Addr;
use serde::Serialize;
use std::collections::HashMap;

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
}

/// A resolved reference: a symbol and the offset into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    pub name: &'a str,
    pub offset: u64,
}

/// Symbols sorted by address, with the lookups symbolization needs.
#[derive(Default, Clone, Debug)]
pub struct SymbolTable {
    syms: Vec<Symbol>,
    by_name: HashMap<String, usize>,
    /// For each index, the largest end (`addr + size`) among symbols up to and including it, so
    /// containment queries can stop early.
    max_end: Vec<u64>,
}

impl SymbolTable {
    /// Builds the table: sorts by address and drops exact duplicates (same address and name,
    /// e.g. a symbol present in both `.symtab` and `.dynsym`), keeping the first one given.
    pub fn new(mut syms: Vec<Symbol>) -> SymbolTable {
        // Stable sort keeps the caller's priority order among equal addresses.
        syms.sort_by_key(|s| s.addr);
        let mut seen = std::collections::HashSet::new();
        syms.retain(|s| seen.insert((s.addr, s.name.clone())));
        let mut by_name = HashMap::with_capacity(syms.len() * 2);
        for (i, s) in syms.iter().enumerate() {
            by_name.entry(s.name.clone()).or_insert(i);
            if let Some(d) = &s.demangled {
                by_name.entry(d.clone()).or_insert(i);
            }
        }
        let mut max_end = Vec::with_capacity(syms.len());
        let mut m = 0u64;
        for s in &syms {
            m = m.max(s.addr.0.saturating_add(s.size.max(1)));
            max_end.push(m);
        }
        SymbolTable {
            syms,
            by_name,
            max_end,
        }
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

    /// Looks a symbol up by raw or demangled name.
    pub fn by_name(&self, name: &str) -> Option<&Symbol> {
        self.by_name.get(name).map(|&i| &self.syms[i])
    }

    /// Symbols that start exactly at `addr`.
    pub fn at(&self, addr: u64) -> impl Iterator<Item = &Symbol> {
        let start = self.syms.partition_point(|s| s.addr.0 < addr);
        self.syms[start..]
            .iter()
            .take_while(move |s| s.addr.0 == addr)
    }

    /// The best symbol that really covers `addr`: one whose `[addr, addr+size)` contains it (a
    /// sized function or object), or a zero-sized one starting exactly there. Never the nearest
    /// preceding symbol that does not cover the address: that is how other tools mislabel
    /// ADRP pages and stripped code.
    pub fn containing(&self, addr: u64) -> Option<&Symbol> {
        let end = self.syms.partition_point(|s| s.addr.0 <= addr);
        let mut best: Option<&Symbol> = None;
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
                None => best = Some(s),
                Some(b) if b.addr == s.addr && rank(s) > rank(b) => best = Some(s),
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

    #[test]
    fn innermost_symbol_wins() {
        let t = SymbolTable::new(vec![
            sym("outer", 0x100, 0x100, SymbolKind::Function),
            sym("inner", 0x140, 0x10, SymbolKind::Function),
        ]);
        assert_eq!(t.containing(0x144).map(|s| s.name.as_str()), Some("inner"));
        assert_eq!(t.containing(0x160).map(|s| s.name.as_str()), Some("outer"));
    }
}
