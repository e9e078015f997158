//! The `gloss analyze` report (JSON wire types, docs/json.md), the `gloss functions` table and
//! `gloss cfg` in DOT.
use crate::explain::{self, AtomicOut, CallOut, FrameOut, RefOut};
use crate::pretty;
use gloss_analysis::cfg::{Block, EdgeKind};
use gloss_analysis::discover::{Analysis, Function};
use gloss_analysis::idiom::Explained;
use gloss_analysis::idiom::jump_table::{Anchor, Switch, reloc_check};
use gloss_core::{Addr, Format, Image};
use serde::Serialize;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, Write};

/// `gloss functions --format json`: the file's functions without their CFGs (`gloss
/// analyze`'s report, with them, is written by [`write_analysis_json`]).
#[derive(Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub head: ReportHeadOut<'a>,
    pub functions: Lazy<'a, FunctionSummaryOut>,
}

/// A sequence written from an iterator as serialization reaches it: each item is made,
/// written and dropped in turn, never all held at once. Serializes once.
pub struct Lazy<'a, T>(RefCell<Option<Box<dyn Iterator<Item = T> + 'a>>>);

impl<'a, T> Lazy<'a, T> {
    pub fn new(items: impl Iterator<Item = T> + 'a) -> Lazy<'a, T> {
        Lazy(RefCell::new(Some(Box::new(items))))
    }
}

impl<T: Serialize> Serialize for Lazy<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.borrow_mut().take() {
            Some(items) => s.collect_seq(items),
            None => Err(serde::ser::Error::custom("a lazy sequence serializes once")),
        }
    }
}

/// A function of `gloss analyze`'s report (and of `gloss cfg --format json`), written by
/// [`write_function_json`]: its blocks straight from the analysis, the rest through serde.
pub struct FunctionOut<'a> {
    pub summary: FunctionSummaryOut,
    pub blocks: &'a [Block],
    pub rest: FunctionRestOut,
}

/// A function's fields after `blocks`, in report order.
#[derive(Serialize)]
pub struct FunctionRestOut {
    pub switches: Vec<SwitchOut>,
    pub unresolved_indirect_jumps: Vec<UnresolvedOut>,
    pub refs: Vec<RefOut>,
    pub calls: Vec<CallOut>,
    pub atomics: Vec<AtomicOut>,
    pub frame: FrameOut,
    pub params: ParamsOut,
}

/// The argument registers a function reads (issue 4, idiom 8): its callers' calls pass that
/// many.
#[derive(Serialize)]
pub struct ParamsOut {
    pub count: u8,
    pub exact: bool,
    pub variadic: bool,
}

#[derive(Serialize)]
pub struct FunctionSummaryOut {
    pub name: String,
    pub addr: Addr,
    pub size: u64,
    pub evidence: Vec<&'static str>,
    pub noreturn: bool,
}

#[derive(Serialize)]
pub struct RelocCheckOut {
    /// Entries whose relocation leads to the recovered target.
    pub agreed: usize,
    pub disagreements: Vec<RelocDisagreementOut>,
}

#[derive(Serialize)]
pub struct RelocDisagreementOut {
    pub index: usize,
    pub recovered: Addr,
    /// Where the entry's relocation leads; null when the entry has no usable relocation.
    pub by_relocation: Option<Addr>,
}

#[derive(Serialize)]
pub struct SwitchOut {
    pub jump_addr: Addr,
    pub table_addr: Addr,
    pub entry_size: u8,
    pub signed: bool,
    pub scale: u8,
    /// `none` (absolute entries), `table`, `image_base` or `code`.
    pub anchor_kind: &'static str,
    pub anchor: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_table: Option<IndexTableOut>,
    pub default: Option<Addr>,
    /// The few selector values that take the default path, when the selector is that narrow.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub default_values: Vec<i64>,
    pub bound_check: Option<Addr>,
    pub selector: Option<&'static str>,
    pub entries: Vec<Addr>,
    /// Present when relocations cover the table (`.o` files, `--emit-relocs` links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reloc_check: Option<RelocCheckOut>,
    pub cases: Vec<CaseOut>,
}

#[derive(Serialize)]
pub struct IndexTableOut {
    pub addr: Addr,
    pub entry_size: u8,
}

#[derive(Serialize)]
pub struct CaseOut {
    pub value: i64,
    pub target: Addr,
}

#[derive(Serialize)]
pub struct UnresolvedOut {
    pub addr: Addr,
    pub reason: &'static str,
}

pub fn edge_kind(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::FallThrough => "fall_through",
        EdgeKind::Conditional => "conditional",
        EdgeKind::Jump => "jump",
        EdgeKind::Call => "call",
        EdgeKind::TailCall => "tail_call",
        EdgeKind::Return => "return",
        EdgeKind::IndirectResolved => "indirect_resolved",
        EdgeKind::Unresolved => "unresolved",
    }
}

/// A function's display name: its symbol, else `sub_<addr>`.
pub fn function_name(f: &Function) -> String {
    f.name
        .clone()
        .unwrap_or_else(|| gloss_analysis::discover::found_name(f.addr))
}

pub fn switch_out(image: &Image, s: &Switch) -> SwitchOut {
    let (anchor_kind, anchor) = match s.anchor {
        Anchor::None => ("none", None),
        Anchor::Table(a) => ("table", Some(Addr(a))),
        Anchor::ImageBase(a) => ("image_base", Some(Addr(a))),
        Anchor::Code(a) => ("code", Some(Addr(a))),
    };
    SwitchOut {
        jump_addr: Addr(s.jump_addr),
        table_addr: Addr(s.table_addr),
        entry_size: s.entry_size,
        signed: s.signed,
        scale: s.scale,
        anchor_kind,
        anchor,
        index_table: s.index_table.map(|(a, n)| IndexTableOut {
            addr: Addr(a),
            entry_size: n,
        }),
        default: s.default.map(Addr),
        default_values: s.default_values.clone(),
        bound_check: s.bound_check.map(Addr),
        selector: s.selector.map(|(r, w)| r.name(image.arch, w)),
        entries: s.entries.iter().map(|&a| Addr(a)).collect(),
        reloc_check: reloc_check::check(image, s).map(|c| RelocCheckOut {
            agreed: c.agreed,
            disagreements: c
                .disagreements
                .iter()
                .map(|&(index, recovered, by)| RelocDisagreementOut {
                    index,
                    recovered: Addr(recovered),
                    by_relocation: by.map(Addr),
                })
                .collect(),
        }),
        cases: s
            .cases
            .iter()
            .map(|c| CaseOut {
                value: c.value,
                target: Addr(c.target),
            })
            .collect(),
    }
}

pub fn function_summary(f: &Function) -> FunctionSummaryOut {
    FunctionSummaryOut {
        name: function_name(f),
        addr: Addr(f.addr),
        size: f.size,
        evidence: f.evidence.iter().map(|e| e.name()).collect(),
        noreturn: f.noreturn,
    }
}

/// A function with its CFG, switches and what the idioms explained (`e`).
pub fn function_out<'a>(image: &Image, f: &'a Function, e: &Explained) -> FunctionOut<'a> {
    let addresses = explain::addresses(e);
    FunctionOut {
        summary: function_summary(f),
        blocks: &f.blocks,
        rest: FunctionRestOut {
            switches: f.switches.iter().map(|s| switch_out(image, s)).collect(),
            unresolved_indirect_jumps: f
                .unresolved
                .iter()
                .map(|&(a, why)| UnresolvedOut {
                    addr: Addr(a),
                    reason: why,
                })
                .collect(),
            refs: e.refs.iter().map(|r| explain::ref_out(image, r)).collect(),
            calls: e
                .calls
                .iter()
                .map(|c| explain::call_out(image, c, &addresses))
                .collect(),
            atomics: e.atomics.iter().map(explain::atomic_out).collect(),
            frame: explain::frame_out(image, &e.frame),
            params: ParamsOut {
                count: e.params.count,
                exact: e.params.exact,
                variadic: e.params.variadic,
            },
        },
    }
}

/// Writes `f` as a JSON object at nesting `depth`, as serde_json's pretty printer writes it
/// (docs/json.md: `name` ... `noreturn`, `blocks` of {`addr`, `size`, `insns`, `succs` of
/// {`to`, `kind`}}, `switches` ... `params`).
pub fn write_function_json(out: &mut Vec<u8>, f: &FunctionOut, depth: usize) -> io::Result<()> {
    let d = depth;
    out.push(b'{');
    pretty::fields(out, d + 1, &f.summary)?;
    out.push(b',');
    pretty::key(out, d + 1, "blocks");
    write_blocks(out, f.blocks, d + 1);
    out.push(b',');
    pretty::fields(out, d + 1, &f.rest)?;
    pretty::newline(out, d);
    out.push(b'}');
    Ok(())
}

/// The `blocks` array, its key at `depth`.
fn write_blocks(out: &mut Vec<u8>, blocks: &[Block], depth: usize) {
    let (b_at, field_at) = (depth + 1, depth + 2);
    out.push(b'[');
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        pretty::newline(out, b_at);
        out.push(b'{');
        pretty::key(out, field_at, "addr");
        pretty::addr(out, b.addr);
        out.push(b',');
        pretty::key(out, field_at, "size");
        pretty::number(out, u64::from(b.size));
        out.push(b',');
        pretty::key(out, field_at, "insns");
        pretty::number(out, u64::from(b.insns));
        out.push(b',');
        pretty::key(out, field_at, "succs");
        out.push(b'[');
        for (k, e) in b.succs.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            pretty::newline(out, field_at + 1);
            out.push(b'{');
            pretty::key(out, field_at + 2, "to");
            match e.to {
                Some(t) => pretty::addr(out, t),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b',');
            pretty::key(out, field_at + 2, "kind");
            out.push(b'"');
            out.extend_from_slice(edge_kind(e.kind).as_bytes());
            out.push(b'"');
            pretty::newline(out, field_at + 1);
            out.push(b'}');
        }
        if !b.succs.is_empty() {
            pretty::newline(out, field_at);
        }
        out.push(b']');
        pretty::newline(out, b_at);
        out.push(b'}');
    }
    if !blocks.is_empty() {
        pretty::newline(out, depth);
    }
    out.push(b']');
}

/// The fields of a report before its functions (`gloss analyze`, `gloss functions`).
#[derive(Serialize)]
pub struct ReportHeadOut<'a> {
    pub file: &'a str,
    pub format: Format,
    pub arch: &'static str,
}

impl<'a> ReportHeadOut<'a> {
    pub fn of(file: &'a str, image: &Image) -> ReportHeadOut<'a> {
        ReportHeadOut {
            file,
            format: image.format,
            arch: image.arch.name(),
        }
    }
}

/// The fields after the functions: every indirect branch with its protections
/// (crate::audit), and the audit's findings for the mitigations the binary claims.
#[derive(Serialize)]
pub struct ReportTailOut {
    pub indirect_branches: Vec<crate::audit::BranchOut>,
    pub findings: Vec<crate::audit::FindingOut>,
}

/// Writes `gloss analyze`'s report (docs/json.md) as serde_json's pretty printer would, each
/// function made, written and dropped in turn, in pieces of at least 64 KiB.
pub fn write_analysis_json<'a>(
    w: &mut dyn Write,
    head: &ReportHeadOut,
    functions: impl Iterator<Item = FunctionOut<'a>>,
    tail: &ReportTailOut,
) -> io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let mut out = b"{".to_vec();
    pretty::fields(&mut out, 1, head)?;
    out.push(b',');
    pretty::key(&mut out, 1, "functions");
    out.push(b'[');
    let mut any = false;
    for f in functions {
        if any {
            out.push(b',');
        }
        any = true;
        pretty::newline(&mut out, 2);
        write_function_json(&mut out, &f, 2)?;
        if out.len() >= CHUNK {
            w.write_all(&out)?;
            out.clear();
        }
    }
    if any {
        pretty::newline(&mut out, 1);
    }
    out.extend_from_slice(b"],");
    w.write_all(&out)?;
    // streamed: the audit's part is tens of megabytes on a large binary
    let mut w = io::BufWriter::with_capacity(CHUNK, w);
    pretty::top_fields(&mut w, tail)?;
    w.write_all(b"\n}")?;
    w.flush()
}

/// `gloss functions --format json`: each function's summary made as it is written.
pub fn report<'a>(file: &'a str, image: &Image, analysis: &'a Analysis) -> Report<'a> {
    Report {
        head: ReportHeadOut::of(file, image),
        functions: Lazy::new(analysis.functions.iter().map(function_summary)),
    }
}

/// `gloss functions`: one line per function, address order.
pub fn functions_text(analysis: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<18} {:>8}  {:<40} evidence",
        "address", "size", "name"
    );
    for f in &analysis.functions {
        let ev: Vec<&str> = f.evidence.iter().map(|e| e.name()).collect();
        let _ = writeln!(
            s,
            "{:<18} {:>8}  {:<40} {}{}",
            format!("{:#x}", f.addr),
            f.size,
            function_name(f),
            ev.join(","),
            if f.noreturn { " noreturn" } else { "" }
        );
    }
    s
}

/// One function's CFG in Graphviz DOT: a node per block, edges labelled by kind; calls and
/// returns go to small external nodes.
pub fn cfg_dot(f: &Function) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "digraph \"{}\" {{",
        function_name(f).replace('"', "\\\"")
    );
    let _ = writeln!(s, "  node [shape=box fontname=monospace];");
    let mut ext = 0;
    for b in &f.blocks {
        let _ = writeln!(
            s,
            "  \"{:#x}\" [label=\"{:#x}\\n{} insns\"];",
            b.addr, b.addr, b.insns
        );
        for e in &b.succs {
            let kind = edge_kind(e.kind);
            let to = e.to;
            let internal = f.blocks.iter().any(|x| Some(x.addr) == to)
                && !matches!(e.kind, EdgeKind::Call | EdgeKind::TailCall);
            match to {
                Some(t) if internal => {
                    let _ = writeln!(s, "  \"{:#x}\" -> \"{t:#x}\" [label=\"{kind}\"];", b.addr);
                }
                to => {
                    ext += 1;
                    let label = to.map(|t| format!("{t:#x}")).unwrap_or_else(|| kind.into());
                    let _ = writeln!(
                        s,
                        "  \"x{ext}\" [label=\"{label}\" shape=plaintext];\n  \"{:#x}\" -> \"x{ext}\" [label=\"{kind}\" style=dashed];",
                        b.addr
                    );
                }
            }
        }
    }
    s.push_str("}\n");
    s
}
