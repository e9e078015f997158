//! gloss: open a binary, pick what to show, render it. The facade over the layered crates
//! (see ARCHITECTURE.md); library users need only this crate.

pub use gloss_analysis as analysis;
pub use gloss_core::*;
pub use gloss_load::{DebugLink, demangle, load, load_raw, source_lines};
pub use gloss_render as render;

use analysis::regions::{Region, RegionKind};
use std::path::Path;

/// Reads and loads a file: a regular file of at least [`MAP_FROM`] bytes is mapped into
/// memory (docs/decisions/0006-mmap.md), anything else (a pipe, a small or unmappable file) is
/// read.
pub fn open(path: &Path) -> Result<Image, Error> {
    gloss_load::load_shared(read_or_map(path)?)
}

/// Where distributions install separate debug files (`/usr/lib/debug/.build-id/...`), looked
/// in after the directories the user gives.
pub const DEBUG_DIR: &str = "/usr/lib/debug";

/// The DWARF line tables of `image`, read from `path`: its own, else those of its separate
/// debug file ([`DebugLink`]: by build-id, then by `.gnu_debuglink`) under `debug_dirs` and
/// [`DEBUG_DIR`], with that file's path. `None` when neither has any.
pub fn line_tables(
    image: &Image,
    path: &Path,
    debug_dirs: &[std::path::PathBuf],
) -> Result<Option<(SourceLines, Option<std::path::PathBuf>)>, Error> {
    if let Some(lines) = source_lines(image)?.filter(|l| !l.is_empty()) {
        return Ok(Some((lines, None)));
    }
    let link = DebugLink::of(image);
    if link.is_empty() {
        return Ok(None);
    }
    let dirs: Vec<_> = debug_dirs
        .iter()
        .cloned()
        .chain([DEBUG_DIR.into()])
        .collect();
    for candidate in link.candidates(path, &dirs) {
        let Ok(bytes) = read_or_map(&candidate) else {
            continue;
        };
        let bytes: &[u8] = (*bytes).as_ref();
        if !link.matches(bytes) {
            continue;
        }
        let lines = gloss_load::source_lines_in(image, bytes).map_err(|e| match e {
            Error::Malformed {
                format,
                location,
                what,
            } => Error::Malformed {
                format,
                location,
                what: format!("{what} (separate debug file {})", candidate.display()),
            },
            e => e,
        })?;
        return Ok(lines
            .filter(|l| !l.is_empty())
            .map(|l| (l, Some(candidate))));
    }
    Ok(None)
}

/// A file's bytes: mapped from [`MAP_FROM`] bytes on, else read.
fn read_or_map(path: &Path) -> std::io::Result<std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>> {
    let file = std::fs::File::open(path)?;
    let large = file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() >= MAP_FROM);
    if large && let Some(map) = map(&file) {
        return Ok(std::sync::Arc::new(map));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes)?;
    Ok(std::sync::Arc::new(bytes))
}

/// Files from this size on are mapped rather than read: below it, reading costs less than
/// setting up the map.
pub const MAP_FROM: u64 = 1 << 20;

/// A read-only private map of the whole file, or `None` where the system refuses one.
#[allow(unsafe_code)]
fn map(file: &std::fs::File) -> Option<memmap2::Mmap> {
    // SAFETY: the map is read-only and private, and gloss never writes the file. What `Mmap`
    // cannot rule out is another process truncating or rewriting the file while gloss runs:
    // the bytes may then change under the analysis, or reading a page past the new end raises
    // SIGBUS. objdump, llvm-objdump (LLVM's MemoryBuffer) and ripgrep take the same risk for
    // large files; docs/decisions/0006-mmap.md weighs it.
    unsafe { memmap2::MmapOptions::new().map(file) }.ok()
}

/// Finds the image's functions (symbols, unwind and function-start tables, calls, prologues)
/// and builds their CFGs with jump tables resolved. Problems reading the hint tables come back
/// as notes.
pub fn analyze(image: &Image) -> (analysis::discover::Analysis, Vec<String>) {
    let hints = gloss_load::function_hints(image);
    let a = analysis::discover::analyze(image, disassembler(image.arch), &hints.hints);
    (a, hints.notes)
}

/// What the idioms that read register values (addresses, call sites) find in each function
/// of `analysis`, in its order.
pub fn explain(
    image: &Image,
    analysis: &analysis::discover::Analysis,
) -> Vec<analysis::idiom::Explained> {
    analysis::idiom::explain_all(image, disassembler(image.arch), analysis)
}

/// Every indirect branch of `analysis` (with `explained`, its idioms) and its protections;
/// findings for the mitigations in `require` and those the binary claims, and for its
/// hardening flags.
pub fn audit(
    image: &Image,
    analysis: &analysis::discover::Analysis,
    explained: &[analysis::idiom::Explained],
    require: &[analysis::audit::Mitigation],
) -> analysis::audit::Audit {
    analysis::audit::audit(
        image,
        disassembler(image.arch),
        analysis,
        explained,
        require,
    )
}

/// What the analysis says about the instructions of `regions` (switches, unresolved jumps,
/// addresses, call sites), for the listing, and with `explain_lines` a summary line per idiom
/// for each function; with the notes of reading the hint tables. `whole`: the regions are the whole
/// image, so the whole analysis runs ([`analyze`]); otherwise only the listed functions and
/// their callees (for the callees' parameters) are traversed (fast on large binaries), with
/// every function start the file states known so that traversal stops at the next function
/// ([`analysis::discover::traverse_functions`]); callees no symbol covers are named.
/// `audit`: also each indirect branch's audit verdict with these mitigations required (the
/// audit needs the whole analysis: which functions escape, every landing pad).
/// `regions` are refined with what the analysis found ([`analysis::regions::refine`]): jump
/// tables inside code become data, and with the whole analysis, the functions found in bytes
/// no symbol covers get their own headings and are named in the image's symbol table
/// (`sub_<addr>`, [`SymbolSource::Analysis`]), so that labels use them.
pub fn annotations(
    image: &mut Image,
    regions: &mut Vec<Region>,
    whole: bool,
    explain_lines: bool,
    audit: Option<&[analysis::audit::Mitigation]>,
) -> (render::annotate::Annotations, Vec<String>) {
    let mut out = render::annotate::Annotator::default();
    out.explain = explain_lines;
    let notes = if whole || audit.is_some() {
        annotate_analysis(image, regions, whole, audit, &mut out)
    } else {
        annotate_selected(image, regions, &mut out)
    };
    (out.finish(), notes)
}

/// [`annotations`] from the whole analysis.
fn annotate_analysis(
    image: &mut Image,
    regions: &mut Vec<Region>,
    whole: bool,
    audit: Option<&[analysis::audit::Mitigation]>,
    out: &mut render::annotate::Annotator,
) -> Vec<String> {
    let (analysis, notes) = analyze(image);
    if whole {
        name_found_functions(image, &analysis.functions);
    }
    let image = &*image;
    // (the notes are sorted when finished: functions come in any order)
    let mut comment = |which: &[usize], explained: Vec<analysis::idiom::Explained>| {
        for (&i, e) in which.iter().zip(explained) {
            let f = &analysis.functions[i];
            out.add_function(image, f.addr, &f.switches, &f.unresolved);
            out.add_explained(image, f.addr, &e);
        }
    };
    if let Some(require) = audit {
        // the audit reads every function's findings
        let explained = explain(image, &analysis);
        let audited = self::audit(image, &analysis, &explained, require);
        let all: Vec<usize> = (0..explained.len()).collect();
        comment(&all, explained);
        out.add_audit(&audited.branches);
    } else {
        // findings turned into comments a few thousand functions at a time, so that the
        // findings of all functions are never held at once (libLLVM amd64 show --all: peak
        // 1070 MB when they were)
        let dis = disassembler(image.arch);
        analysis::idiom::explain_chunked(image, dis, &analysis, 4096, comment);
    }
    if whole {
        *regions = refine_regions(image, std::mem::take(regions), &analysis.functions);
    } else {
        let tables = switch_tables(analysis.functions.iter().flat_map(|f| &f.switches));
        *regions = analysis::regions::refine(std::mem::take(regions), &[], &tables);
    }
    notes
}

/// [`annotations`] from traversing only the listed functions.
fn annotate_selected(
    image: &mut Image,
    regions: &mut Vec<Region>,
    out: &mut render::annotate::Annotator,
) -> Vec<String> {
    // an address in bytes no symbol covers (`show BIN 0x...` of a stripped binary): the
    // function that starts there
    let unnamed = regions
        .first()
        .filter(|r| r.kind == RegionKind::Unnamed)
        .map(|r| (r.start.0, r.end.0));
    let hints = gloss_load::function_hints(image);
    let entries: Vec<u64> = regions
        .iter()
        .filter(|r| r.kind == RegionKind::Function)
        .map(|r| r.start.0)
        .chain(unnamed.map(|u| u.0))
        .collect();
    let selected: std::collections::HashSet<u64> = entries.iter().copied().collect();
    let mut bodies = analysis::discover::traverse_functions(
        image,
        disassembler(image.arch),
        &hints.hints,
        entries,
        SELECTED_CALLEES,
    );
    let callees = bodies.split_off(
        bodies
            .iter()
            .take_while(|(e, _)| selected.contains(e))
            .count(),
    );
    let tables = switch_tables(bodies.iter().flat_map(|(_, b)| &b.switches));
    let mut found = Vec::new();
    if let Some((a, next)) = unnamed
        && let Some((_, body)) = bodies.iter().find(|(e, _)| *e == a)
    {
        // the size an unwind entry states, else up to the end of its contiguous blocks (and
        // tables): not on through the rest of the gap
        let size = hints
            .hints
            .iter()
            .find(|h| h.addr.0 == a && !h.fragment)
            .and_then(|h| h.size)
            .unwrap_or_else(|| analysis::discover::extent(a, next, &body.blocks));
        let name = analysis::discover::found_name(a);
        let end = end_with_tables(image, a, size, &body.switches);
        found.push((a, end, name.clone()));
        image.symbols.extend([synthetic_function(a, size, name)]);
    }
    // callees no symbol covers are named as the whole analysis names them
    let unnamed_callees: Vec<Symbol> = callees
        .iter()
        .filter(|(e, _)| image.symbols.containing(*e).is_none())
        .map(|(e, b)| {
            let size = analysis::discover::extent(*e, u64::MAX, &b.blocks);
            synthetic_function(*e, size, analysis::discover::found_name(*e))
        })
        .collect();
    image.symbols.extend(unnamed_callees);
    let image = &*image;
    // the selected functions with their callees, explained callees first (as the whole
    // analysis does), so that each call passes as many arguments as its callee reads
    let mut functions: Vec<analysis::discover::Function> = bodies
        .into_iter()
        .chain(callees)
        .map(|(addr, b)| analysis::discover::Function {
            addr,
            size: 0,
            name: None,
            evidence: Default::default(),
            noreturn: false,
            blocks: b.blocks,
            switches: b.switches,
            unresolved: b.unresolved,
            calls: b.calls,
        })
        .collect();
    functions.sort_unstable_by_key(|f| f.addr);
    let part = analysis::discover::Analysis { functions };
    let dis = disassembler(image.arch);
    analysis::idiom::explain_chunked(image, dis, &part, usize::MAX, |which, explained| {
        for (&i, e) in which.iter().zip(explained) {
            let f = &part.functions[i];
            if selected.contains(&f.addr) {
                out.add_function(image, f.addr, &f.switches, &f.unresolved);
                out.add_explained(image, f.addr, &e);
            }
        }
    });
    let funcs: Vec<_> = found
        .iter()
        .map(|(start, end, name)| analysis::regions::Found {
            start: *start,
            end: *end,
            name,
        })
        .collect();
    *regions = analysis::regions::refine(std::mem::take(regions), &funcs, &tables);
    if let Some(&(_, end, _)) = found.first() {
        regions.retain(|r| r.start.0 < end);
    }
    hints.notes
}

/// How many callees (and theirs) `show FUNC` traverses besides the functions it lists, for
/// their parameters: enough for most functions' whole call tree, little next to a large
/// binary's analysis.
const SELECTED_CALLEES: usize = 4096;

/// A symbol for a function the analysis found where the file names none.
fn synthetic_function(addr: u64, size: u64, name: String) -> Symbol {
    Symbol {
        addr: Addr(addr),
        size,
        name,
        demangled: None,
        kind: SymbolKind::Function,
        source: SymbolSource::Analysis,
        global: false,
    }
}

/// Where a function found at `addr` with `size` bytes of code ends in the listing: after its
/// own tables when they follow it in the same section (MSVC's layout), so that they are listed
/// under its heading.
fn end_with_tables(
    image: &Image,
    addr: u64,
    size: u64,
    switches: &[analysis::idiom::jump_table::Switch],
) -> u64 {
    let end = addr + size.max(1);
    let section = |a: u64| image.section_at(a).map(|s| s.addr);
    switch_tables(switches.iter())
        .into_iter()
        .filter(|t| t.0 >= end && section(t.0) == section(addr))
        .map(|t| t.1)
        .fold(end, u64::max)
}

/// Adds a `sub_<addr>` symbol for each function the analysis found without one.
fn name_found_functions(image: &mut Image, functions: &[analysis::discover::Function]) {
    let found: Vec<Symbol> = functions
        .iter()
        .filter(|f| f.name.is_none())
        .map(|f| synthetic_function(f.addr, f.size, render::analysis::function_name(f)))
        .collect();
    if !found.is_empty() {
        image.symbols.extend(found);
    }
}

/// Every table of these switches, as (start, end, entry size).
fn switch_tables<'s>(
    switches: impl Iterator<Item = &'s analysis::idiom::jump_table::Switch>,
) -> Vec<(u64, u64, u8)> {
    switches.flat_map(|s| s.tables()).collect()
}

/// [`analysis::regions::refine`] with the whole analysis's functions, each to its end with
/// its tables ([`end_with_tables`]).
fn refine_regions(
    image: &Image,
    regions: Vec<Region>,
    functions: &[analysis::discover::Function],
) -> Vec<Region> {
    let names: Vec<String> = functions
        .iter()
        .map(render::analysis::function_name)
        .collect();
    let found: Vec<analysis::regions::Found> = functions
        .iter()
        .zip(&names)
        .map(|(f, name)| analysis::regions::Found {
            start: f.addr,
            end: end_with_tables(image, f.addr, f.size, &f.switches),
            name,
        })
        .collect();
    let tables = switch_tables(functions.iter().flat_map(|f| &f.switches));
    analysis::regions::refine(regions, &found, &tables)
}

/// Threads the analysis may use: `0` means one per core (rayon's default, also what a library
/// user gets without calling this). Takes effect only before the first analysis.
pub fn set_threads(n: usize) {
    // an error means the pool exists already: the first setting stands
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

/// The decoder for an image's architecture.
pub fn disassembler(arch: Arch) -> &'static dyn Disassembler {
    gloss_arch::disassembler(arch)
}

/// What `show` lists.
#[derive(Clone, Debug)]
pub enum Selection {
    All,
    /// A symbol's raw or demangled name.
    Name(String),
    /// An address: the function that covers it, or from there to the region's end.
    Addr(u64),
}

impl Selection {
    /// `0x...` (or bare hex digits with a letter a-f) is an address, anything else a name.
    pub fn parse(s: &str) -> Selection {
        if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
            && let Ok(a) = u64::from_str_radix(h, 16)
        {
            return Selection::Addr(a);
        }
        Selection::Name(s.to_string())
    }
}

/// The address a name means: its symbol's, else, for `sub_<hex>` (as gloss names the
/// functions it finds where the file names none), that address.
pub fn name_addr(image: &Image, name: &str) -> Option<u64> {
    image
        .symbol_named(name)
        .map(|s| s.addr.0)
        .or_else(|| analysis::discover::found_name_addr(name))
}

/// The regions to list for a selection, or `NotFound` naming what was asked for.
pub fn select(image: &Image, sel: &Selection) -> Result<Vec<Region>, Error> {
    let all = analysis::regions::plan(image);
    let keep_run = |start: u64| -> Vec<Region> {
        // A function plus any data runs inside it (regions that continue the same name).
        let Some(i) = all
            .iter()
            .position(|r| r.start.0 <= start && start < r.end.0)
        else {
            return vec![];
        };
        let name = &all[i].name;
        let mut first = i;
        while first > 0
            && all[first - 1].name == *name
            && all[first - 1].end == all[first].start
            && all[first].kind != RegionKind::Unnamed
        {
            first -= 1;
        }
        let mut out = vec![all[first].clone()];
        for r in &all[first + 1..] {
            if r.name != *name
                || r.start != out.last().map(|l| l.end).unwrap_or(r.start)
                || r.kind == RegionKind::Unnamed
            {
                break;
            }
            out.push(r.clone());
        }
        out
    };
    match sel {
        Selection::All => Ok(all),
        Selection::Name(n) => {
            if image.symbol_named(n).is_none()
                && let Some(a) = analysis::discover::found_name_addr(n)
            {
                return select(image, &Selection::Addr(a));
            }
            let sym = image
                .symbol_named(n)
                .ok_or_else(|| Error::NotFound(format!("no symbol named `{n}`")))?;
            let r = keep_run(sym.addr.0);
            if r.is_empty() {
                return Err(Error::NotFound(format!(
                    "`{n}` at {} is not in a code section",
                    sym.addr
                )));
            }
            Ok(r)
        }
        Selection::Addr(a) => {
            let mut r = keep_run(*a);
            if r.is_empty() {
                return Err(Error::NotFound(format!(
                    "address {a:#x} is not in a code section"
                )));
            }
            if r[0].kind == RegionKind::Unnamed {
                // No function covers it: list from the address itself, not from the gap's start.
                r[0].start = Addr(*a);
            }
            Ok(r)
        }
    }
}
