//! `gloss info`: what the file is and what its headers claim.
use gloss_core::{Addr, BinaryFacts, Image, Import, Section, Segment, SymbolKind};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Serialize)]
pub struct Info<'a> {
    pub file: &'a str,
    pub format: gloss_core::Format,
    pub arch: gloss_core::Arch,
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_symbol: Option<String>,
    pub synthetic_layout: bool,
    pub code_bytes: u64,
    pub sections: &'a [Section],
    pub segments: &'a [Segment],
    pub symbols: SymbolCounts,
    pub imports: &'a [Import],
    pub facts: &'a BinaryFacts,
}

#[derive(Serialize, Default)]
pub struct SymbolCounts {
    pub total: usize,
    pub functions: usize,
    pub objects: usize,
    pub imports: usize,
}

pub fn info<'a>(file: &'a str, image: &'a Image) -> Info<'a> {
    let mut counts = SymbolCounts {
        total: image.symbols.len(),
        ..Default::default()
    };
    for s in image.symbols.iter() {
        match s.kind {
            SymbolKind::Function => counts.functions += 1,
            SymbolKind::Object => counts.objects += 1,
            SymbolKind::Import => counts.imports += 1,
            SymbolKind::Unknown => {}
        }
    }
    Info {
        file,
        format: image.format,
        arch: image.arch,
        kind: &image.kind,
        entry: image.entry,
        entry_symbol: image
            .entry
            .and_then(|e| crate::label::label_string(image, e.0)),
        synthetic_layout: image.synthetic_layout,
        code_bytes: image.code_bytes(),
        sections: &image.sections,
        segments: &image.segments,
        symbols: counts,
        imports: &image.imports,
        facts: &image.facts,
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The human-readable report.
pub fn text(i: &Info<'_>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "file:         {}", i.file);
    let _ = writeln!(o, "format:       {} ({})", i.format, i.kind);
    let _ = writeln!(o, "architecture: {}", i.arch);
    if let Some(e) = i.entry {
        let _ = writeln!(
            o,
            "entry:        {e}{}",
            i.entry_symbol
                .as_ref()
                .map(|s| format!(" <{s}>"))
                .unwrap_or_default()
        );
    }
    if i.synthetic_layout {
        let _ = writeln!(
            o,
            "layout:       relocatable object; sections placed at addresses chosen by gloss"
        );
    }
    let _ = writeln!(
        o,
        "code:         {} bytes in {} code section(s)",
        i.code_bytes,
        i.sections
            .iter()
            .filter(|s| s.kind == gloss_core::SectionKind::Code)
            .count()
    );
    let s = &i.symbols;
    let _ = writeln!(
        o,
        "symbols:      {} ({} functions, {} objects, {} import stubs/slots)",
        s.total, s.functions, s.objects, s.imports
    );
    let _ = writeln!(o, "imports:      {}", i.imports.len());
    if let Some(e) = &i.facts.elf {
        let _ = writeln!(o, "\nhardening (as the headers claim):");
        let _ = writeln!(
            o,
            "  type:       {}{}",
            e.file_type,
            if e.pie {
                " (PIE)"
            } else if e.shared_object {
                " (shared object)"
            } else {
                ""
            }
        );
        let _ = writeln!(o, "  PIE:        {}", yes(e.pie));
        let _ = writeln!(o, "  NX stack:   {}", yes(e.nx));
        if let Some(r) = e.relro {
            let _ = writeln!(
                o,
                "  RELRO:      {}",
                match r {
                    gloss_core::Relro::None => "none",
                    gloss_core::Relro::Partial => "partial",
                    gloss_core::Relro::Full => "full",
                }
            );
        }
        let _ = writeln!(o, "  BIND_NOW:   {}", yes(e.bind_now));
        let p = e.gnu_property;
        if p.present {
            let _ = writeln!(
                o,
                "  gnu.property: IBT={} SHSTK={} BTI={} PAC={}",
                yes(p.ibt),
                yes(p.shstk),
                yes(p.bti),
                yes(p.pac)
            );
        } else {
            let _ = writeln!(o, "  gnu.property: absent (no IBT/SHSTK/BTI/PAC claim)");
        }
        if let Some(b) = &e.build_id {
            let _ = writeln!(o, "  build-id:   {b}");
        }
        if let Some(b) = &e.interpreter {
            let _ = writeln!(o, "  interpreter: {b}");
        }
        let _ = writeln!(o, "  stripped:   {}", yes(e.stripped));
        let _ = writeln!(o, "  debug info: {}", yes(e.has_debug_info));
    }
    if let Some(p) = &i.facts.pe {
        let _ = writeln!(o, "\nPE headers:");
        let _ = writeln!(o, "  image base: {}", p.image_base);
        let _ = writeln!(
            o,
            "  DllCharacteristics: {:#06x} {}",
            p.dll_characteristics,
            p.dll_characteristics_names.join(" ")
        );
        let _ = writeln!(o, "  CET compatible: {}", yes(p.cet_compat));
        let _ = writeln!(o, "  .pdata:     {}", yes(p.has_pdata));
        match &p.load_config {
            Some(lc) => {
                let _ = writeln!(
                    o,
                    "  load config: {} bytes, GuardFlags {:#x}",
                    lc.size, lc.guard_flags
                );
                let slot = |a: Option<Addr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    o,
                    "    __guard_check_icall_fptr:    {}",
                    slot(lc.guard_check_icall_fptr)
                );
                let _ = writeln!(
                    o,
                    "    __guard_dispatch_icall_fptr: {}",
                    slot(lc.guard_dispatch_icall_fptr)
                );
                let _ = writeln!(
                    o,
                    "    GuardCFFunctionTable: {} ({} entries)",
                    slot(lc.guard_cf_function_table),
                    lc.guard_cf_function_count
                );
            }
            None => {
                let _ = writeln!(o, "  load config: absent");
            }
        }
    }
    if let Some(m) = &i.facts.macho {
        let _ = writeln!(o, "\nMach-O headers:");
        let _ = writeln!(
            o,
            "  type: {}  PIE: {}  arm64e: {}  LC_FUNCTION_STARTS: {}  chained fixups: {}",
            m.file_type,
            yes(m.pie),
            yes(m.arm64e),
            yes(m.has_function_starts),
            yes(m.chained_fixups)
        );
    }
    let _ = writeln!(o, "\nsections:");
    for s in i
        .sections
        .iter()
        .filter(|s| s.kind != gloss_core::SectionKind::Other)
    {
        let _ = writeln!(
            o,
            "  {:<20} {:>#18x} {:>#10x}  {:?}",
            s.name, s.addr.0, s.size, s.kind
        );
    }
    if !i.segments.is_empty() {
        let _ = writeln!(o, "\nsegments:");
        for s in i.segments {
            let _ = writeln!(
                o,
                "  {:<8} {:>#18x} {:>#10x}  {}{}{}",
                s.name,
                s.addr.0,
                s.size,
                if s.read { "r" } else { "-" },
                if s.write { "w" } else { "-" },
                if s.exec { "x" } else { "-" }
            );
        }
    }
    o
}
