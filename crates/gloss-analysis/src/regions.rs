//! Which bytes of the code sections are decoded as instructions, and under which heading.
//!
//! Disassembly starts at symbols, not at a blind sweep: each function symbol opens a region that
//! runs to its stated size (or to the next symbol), bytes that no symbol covers form their own
//! regions, and AArch64 `$d` mapping-symbol runs and object symbols are data, shown as `.word`,
//! never decoded.
//! When the analysis has run, [`refine`] gives the functions it found in bytes no symbol
//! covers their own regions, and makes the jump tables it found inside code (MSVC puts them
//! after the function) data regions; bytes neither covers are decoded linearly and said to be
//! unnamed.
use gloss_core::{Addr, Image, SectionKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Instructions of a symbol-named function (or stub).
    Function,
    /// Bytes in a code section that no symbol covers: padding or unnamed code.
    Unnamed,
    /// Data inside a code section (AArch64 `$d` runs, object symbols).
    Data,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: Addr,
    pub end: Addr,
    pub kind: RegionKind,
    /// The heading: the symbol's display name, or the section name for unnamed bytes.
    pub name: String,
    pub section: String,
    /// Data regions: the size of one entry (a jump table's), or 0 when unknown (4-byte words).
    pub unit: u8,
}

/// All regions of all code sections, in address order.
pub fn plan(image: &Image) -> Vec<Region> {
    let mut out = Vec::new();
    for sec in image
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::Code && s.file_range.is_some())
    {
        let sec_end = sec.addr.0 + image.section_bytes(sec).len() as u64;
        // Function-like symbols that start inside this section, one per address; data symbols
        // (tables the assembler typed STT_OBJECT) are data regions.
        let mut starts: Vec<(u64, u64, String, RegionKind)> = image
            .symbols
            .iter()
            .filter(|s| s.addr.0 >= sec.addr.0 && s.addr.0 < sec_end)
            .map(|s| {
                let kind = if image.is_data_symbol(s) {
                    RegionKind::Data
                } else {
                    RegionKind::Function
                };
                (s.addr.0, s.size, s.display_name().to_string(), kind)
            })
            .collect();
        starts.dedup_by_key(|s| s.0);
        let mut pos = sec.addr.0;
        for (i, (addr, size, name, kind)) in starts.iter().enumerate() {
            if *addr < pos {
                continue; // nested or overlapping symbol: already covered
            }
            if *addr > pos {
                push_split(
                    image,
                    &mut out,
                    pos,
                    *addr,
                    RegionKind::Unnamed,
                    &sec.name,
                    &sec.name,
                );
            }
            let next = starts.get(i + 1).map(|s| s.0).unwrap_or(sec_end);
            let end = if *size > 0 {
                (addr + size).min(sec_end)
            } else {
                next.min(sec_end)
            };
            let end = end.max(*addr + 1).min(sec_end);
            push_split(image, &mut out, *addr, end, kind.clone(), name, &sec.name);
            pos = end;
        }
        if pos < sec_end {
            push_split(
                image,
                &mut out,
                pos,
                sec_end,
                RegionKind::Unnamed,
                &sec.name,
                &sec.name,
            );
        }
    }
    out
}

/// Pushes `[start, end)`, cut at mapping-symbol changes so `$d` runs become data regions.
fn push_split(
    image: &Image,
    out: &mut Vec<Region>,
    start: u64,
    end: u64,
    kind: RegionKind,
    name: &str,
    section: &str,
) {
    let mut a = start;
    while a < end {
        let b = image
            .next_mapping_change(a)
            .filter(|&b| b < end)
            .unwrap_or(end);
        let k = if image.is_mapped_data(a) {
            RegionKind::Data
        } else {
            kind.clone()
        };
        out.push(Region {
            start: Addr(a),
            end: Addr(b),
            kind: k,
            name: name.to_string(),
            section: section.to_string(),
            unit: 0,
        });
        a = b;
    }
}

/// A function the analysis found: its start, the end of its contiguous extent, its name.
pub struct Found<'a> {
    pub start: u64,
    pub end: u64,
    pub name: &'a str,
}

/// `regions` (in address order, as [`plan`] makes them) with what the analysis found: each
/// function in unnamed bytes becomes a function region (up to the next one), and each table
/// `(start, end, entry size)` a data region, carved out of the region that holds it and named
/// after it (so the listing shows it under that function's heading).
pub fn refine(regions: Vec<Region>, functions: &[Found], tables: &[(u64, u64, u8)]) -> Vec<Region> {
    let mut out = Vec::with_capacity(regions.len());
    for r in regions {
        if r.kind != RegionKind::Unnamed {
            out.push(r);
            continue;
        }
        let i = functions.partition_point(|f| f.start < r.start.0);
        let mut parts = Vec::new();
        for (k, f) in functions[i..].iter().enumerate() {
            if f.start >= r.end.0 {
                break;
            }
            let next = functions.get(i + k + 1).map_or(u64::MAX, |n| n.start);
            let end = f.end.min(next).min(r.end.0);
            if end > f.start {
                parts.push(Region {
                    start: Addr(f.start),
                    end: Addr(end),
                    kind: RegionKind::Function,
                    name: f.name.to_string(),
                    ..r.clone()
                });
            }
        }
        cut(r, parts, &mut out);
    }
    let mut tables: Vec<_> = tables.iter().filter(|t| t.0 < t.1).copied().collect();
    tables.sort_unstable();
    tables.dedup();
    if tables.is_empty() {
        return out;
    }
    let mut carved = Vec::with_capacity(out.len() + 2 * tables.len());
    for r in out {
        let i = tables.partition_point(|t| t.1 <= r.start.0);
        let mut parts = Vec::new();
        let mut pos = r.start.0;
        for &(start, end, unit) in &tables[i..] {
            if start >= r.end.0 {
                break;
            }
            let (start, end) = (start.max(pos), end.min(r.end.0));
            if start < end {
                parts.push(Region {
                    start: Addr(start),
                    end: Addr(end),
                    kind: RegionKind::Data,
                    unit,
                    ..r.clone()
                });
                pos = end;
            }
        }
        cut(r, parts, &mut carved);
    }
    carved
}

/// Pushes `r` with `parts` (in order, inside it, not overlapping) in place of their bytes.
fn cut(r: Region, parts: Vec<Region>, out: &mut Vec<Region>) {
    let mut pos = r.start.0;
    for p in parts {
        if p.start.0 > pos {
            out.push(Region {
                start: Addr(pos),
                end: p.start,
                ..r.clone()
            });
        }
        pos = p.end.0;
        out.push(p);
    }
    if pos < r.end.0 {
        out.push(Region {
            start: Addr(pos),
            ..r
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_core::{Arch, SymbolKind, SymbolSource, SymbolTable};

    fn sym(name: &str, addr: u64, size: u64) -> gloss_core::Symbol {
        gloss_core::Symbol {
            addr: Addr(addr),
            size,
            name: name.into(),
            demangled: None,
            kind: SymbolKind::Function,
            source: SymbolSource::Symtab,
            global: true,
        }
    }

    #[test]
    fn regions_partition_code_and_respect_mapping_symbols() {
        let mut img = gloss_load::load_raw(vec![0; 0x40], Arch::Aarch64, 0x1000);
        img.symbols = SymbolTable::new(vec![sym("f", 0x1000, 0x10), sym("g", 0x1020, 0)]);
        img.mapping = vec![(Addr(0x1028), true), (Addr(0x1030), false)];
        let r = plan(&img);
        let got: Vec<(u64, u64, RegionKind)> = r
            .iter()
            .map(|r| (r.start.0, r.end.0, r.kind.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x1000, 0x1010, RegionKind::Function),
                (0x1010, 0x1020, RegionKind::Unnamed),
                (0x1020, 0x1028, RegionKind::Function),
                (0x1028, 0x1030, RegionKind::Data),
                (0x1030, 0x1040, RegionKind::Function),
            ]
        );
    }

    fn region(start: u64, end: u64, kind: RegionKind, name: &str) -> Region {
        Region {
            start: Addr(start),
            end: Addr(end),
            kind,
            name: name.into(),
            section: ".text".into(),
            unit: 0,
        }
    }

    #[test]
    fn refine_names_found_functions_and_carves_tables() {
        let plan = vec![
            region(0x1000, 0x1040, RegionKind::Function, "f"),
            region(0x1040, 0x1100, RegionKind::Unnamed, ".text"),
        ];
        let found = [
            // inside a named function: ignored
            Found {
                start: 0x1010,
                end: 0x1020,
                name: "sub_1010",
            },
            Found {
                start: 0x1050,
                end: 0x1070,
                name: "sub_1050",
            },
            // runs past the next start: cut there
            Found {
                start: 0x1080,
                end: 0x10c0,
                name: "sub_1080",
            },
            Found {
                start: 0x10a0,
                end: 0x10b0,
                name: "sub_10a0",
            },
        ];
        // f's table, sub_1050's table right after its code, one that straddles two regions
        let tables = [
            (0x1030, 0x1038, 4),
            (0x1070, 0x107c, 1),
            (0x10a8, 0x10b8, 4),
        ];
        let got: Vec<_> = refine(plan, &found, &tables)
            .into_iter()
            .map(|r| (r.start.0, r.end.0, r.kind, r.name, r.unit))
            .collect();
        use RegionKind::*;
        let want: Vec<(u64, u64, RegionKind, String, u8)> = [
            (0x1000, 0x1030, Function, "f", 0),
            (0x1030, 0x1038, Data, "f", 4),
            (0x1038, 0x1040, Function, "f", 0),
            (0x1040, 0x1050, Unnamed, ".text", 0),
            (0x1050, 0x1070, Function, "sub_1050", 0),
            (0x1070, 0x107c, Data, ".text", 1),
            (0x107c, 0x1080, Unnamed, ".text", 0),
            (0x1080, 0x10a0, Function, "sub_1080", 0),
            (0x10a0, 0x10a8, Function, "sub_10a0", 0),
            (0x10a8, 0x10b0, Data, "sub_10a0", 4),
            (0x10b0, 0x10b8, Data, ".text", 4),
            (0x10b8, 0x1100, Unnamed, ".text", 0),
        ]
        .into_iter()
        .map(|(a, b, k, n, u)| (a, b, k, n.to_string(), u))
        .collect();
        assert_eq!(got, want);
    }

    proptest::proptest! {
        /// Whatever the analysis reports (functions overlapping, running past their region or
        /// each other, tables anywhere, in any order), `refine` keeps a partition of the same
        /// bytes: regions in order, none empty, none overlapping, no gap where there was none;
        /// found functions only replace unnamed bytes.
        #[test]
        fn refine_keeps_a_partition(
            cuts in proptest::collection::btree_set(1u64..200, 1..8),
            named in proptest::collection::vec(proptest::bool::ANY, 8),
            found in proptest::collection::vec((0u64..210, 1u64..60), 0..8),
            tables in proptest::collection::vec((0u64..210, 1u64..40, 1u8..9), 0..8),
        ) {
            let mut bounds = vec![0u64];
            bounds.extend(cuts);
            bounds.push(210);
            let plan: Vec<Region> = bounds
                .windows(2)
                .enumerate()
                .map(|(i, w)| {
                    let kind = if named[i % named.len()] {
                        RegionKind::Function
                    } else {
                        RegionKind::Unnamed
                    };
                    region(w[0], w[1], kind, &format!("r{i}"))
                })
                .collect();
            let mut found: Vec<(u64, u64, String)> = found
                .into_iter()
                .map(|(a, n)| (a, a + n, format!("sub_{a:x}")))
                .collect();
            found.sort();
            found.dedup_by_key(|f| f.0);
            let funcs: Vec<Found> = found
                .iter()
                .map(|(start, end, name)| Found { start: *start, end: *end, name })
                .collect();
            let tables: Vec<(u64, u64, u8)> =
                tables.into_iter().map(|(a, n, u)| (a, a + n, u)).collect();
            let got = refine(plan.clone(), &funcs, &tables);
            proptest::prop_assert_eq!(got.first().map(|r| r.start), plan.first().map(|r| r.start));
            proptest::prop_assert_eq!(got.last().map(|r| r.end), plan.last().map(|r| r.end));
            for r in &got {
                proptest::prop_assert!(r.start < r.end, "empty region {:?}", r);
                // a region lies inside one planned region, and only unnamed bytes change kind
                // to a function
                let p = plan.iter().find(|p| p.start <= r.start && r.end <= p.end);
                proptest::prop_assert!(p.is_some(), "{:?} crosses a planned boundary", r);
                let p = p.unwrap();
                if r.kind == RegionKind::Function && r.name.starts_with("sub_") {
                    proptest::prop_assert_eq!(&p.kind, &RegionKind::Unnamed);
                }
            }
            for w in got.windows(2) {
                proptest::prop_assert_eq!(w[0].end, w[1].start, "{:?}", w);
            }
        }
    }
}
