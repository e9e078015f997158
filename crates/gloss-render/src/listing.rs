//! The annotated listing: `address <func+off>: bytes  mnemonic operands  <target>` lines, and the
//! same content as JSON (docs/json.md).
use crate::annotate::Annotations;
use crate::label::{label_string, unwrap_label, write_label, write_name_off, write_section_label};
use gloss_analysis::regions::{Region, RegionKind};
use gloss_core::hex::{self, TextOut};
use gloss_core::{
    Arch, Disassembler, Flow, Image, Insn, InsnStatus, InsnText, Reloc, SourceFile, SourceLines,
    Syntax,
};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug)]
pub struct ListingOptions {
    pub syntax: Syntax,
    pub show_bytes: bool,
}

impl Default for ListingOptions {
    fn default() -> Self {
        ListingOptions {
            syntax: Syntax::Att,
            show_bytes: true,
        }
    }
}

/// Source lines for a listing (`show --line-numbers`, `--source`).
pub struct SourceOptions<'a> {
    pub lines: &'a SourceLines,
    /// `file:line` before each instruction whose line differs from the previous instruction's,
    /// as `objdump -l` prints it.
    pub line_numbers: bool,
    /// The text of those lines (and up to five lines before, not yet shown), as `objdump -S`
    /// prints it; `file:line` instead when the file cannot be read.
    pub text: bool,
    /// Reads a source file, `None` when it cannot. Called at most once per file; the caller
    /// does the I/O (only the CLI touches the file system).
    pub read: &'a dyn Fn(&SourceFile) -> Option<String>,
}

/// Lines shown before a line whose text is printed, when not shown yet (objdump's
/// `SHOW_PRECEDING_CONTEXT_LINES`).
const CONTEXT_LINES: u32 = 5;

struct FileText {
    lines: Vec<String>,
    /// Highest line printed so far.
    max_printed: u32,
}

/// The interleaving state of a text listing: what was printed last and the files read.
struct Interleave<'a> {
    opts: &'a SourceOptions<'a>,
    paths: Vec<String>,
    prev: Option<(u32, u32)>,
    texts: HashMap<u32, Option<FileText>>,
}

impl<'a> Interleave<'a> {
    fn new(opts: &'a SourceOptions<'a>) -> Interleave<'a> {
        Interleave {
            opts,
            paths: opts.lines.files().iter().map(SourceFile::path).collect(),
            prev: None,
            texts: HashMap::new(),
        }
    }

    /// A new function heading: its first instruction gets its location again.
    fn reset(&mut self) {
        self.prev = None;
    }

    /// Writes the source location (and text) of `addr` when it differs from the previous one.
    fn before(&mut self, out: &mut Vec<u8>, addr: u64) {
        let loc = self.opts.lines.at(addr);
        let key = loc.map(|l| (l.file_index, l.line));
        if key == self.prev {
            return;
        }
        self.prev = key;
        let Some(loc) = loc else {
            return;
        };
        let (file, line) = (loc.file_index, loc.line);
        let text = if self.opts.text {
            let read = self.opts.read;
            self.texts
                .entry(file)
                .or_insert_with(|| {
                    read(loc.file).map(|t| FileText {
                        lines: t.lines().map(str::to_string).collect(),
                        max_printed: 0,
                    })
                })
                .as_mut()
                .filter(|t| line as usize <= t.lines.len())
        } else {
            None
        };
        if self.opts.line_numbers || text.is_none() {
            let _ = writeln!(out, "{}:{line}", self.paths[file as usize]);
        }
        if let Some(t) = text {
            // objdump -S: up to CONTEXT_LINES lines before, but never one printed already.
            let mut first = line.saturating_sub(CONTEXT_LINES).max(1);
            if t.max_printed >= first {
                first = if t.max_printed < line {
                    t.max_printed + 1
                } else {
                    line
                };
            }
            for l in &t.lines[first as usize - 1..line as usize] {
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
            t.max_printed = t.max_printed.max(line);
        }
    }
}

/// Where an instruction comes from, in JSON (`--line-numbers`/`--source`).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub file: String,
    pub line: u32,
}

/// One instruction (or data unit) as the listing and JSON present it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub addr: gloss_core::Addr,
    /// Hex bytes as in the file, lowest address first.
    pub bytes: String,
    pub mnemonic: String,
    pub operands: String,
    pub status: InsnStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<gloss_core::Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// Address a PC-relative operand denotes (RIP-relative memory, ADR/ADRP, literal loads).
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub pc_ref: Option<gloss_core::Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_label: Option<String>,
    /// A relocation (relocatable objects) naming what the instruction's bytes refer to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reloc: Option<String>,
    /// The source file and line (only when source lines were asked for and cover it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
    /// What the analysis recognized at this instruction (`switch (w19): 10 cases, ...`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// What the analysis says leads here (`case 3`, `default`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// Decodes regions one instruction at a time; data regions yield `.word`/`.byte` units.
pub struct Walker<'a> {
    image: &'a Image,
    dis: &'a dyn Disassembler,
    syntax: Syntax,
    text: InsnText,
}

impl<'a> Walker<'a> {
    pub fn new(image: &'a Image, dis: &'a dyn Disassembler, syntax: Syntax) -> Walker<'a> {
        Walker {
            image,
            dis,
            syntax,
            text: InsnText::default(),
        }
    }

    /// Calls `f` for each unit of the region, in order.
    pub fn walk<E>(
        &mut self,
        region: &Region,
        mut f: impl FnMut(&Insn, &InsnText, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(sec) = self.image.section_at(region.start.0) else {
            return Ok(());
        };
        let data = self.image.section_bytes(sec);
        let start = region.start.0;
        let lim = (region.end.0.saturating_sub(sec.addr.0) as usize).min(data.len());
        let Some(bytes) = data.get((start - sec.addr.0) as usize..lim) else {
            return Ok(());
        };
        if region.kind != RegionKind::Data {
            // One decoder run per region (see `Disassembler::decode_text_run`).
            let mut result = Ok(());
            self.dis.decode_text_run(
                bytes,
                start,
                self.syntax,
                &mut self.text,
                &mut |insn, text| {
                    let off = (insn.addr - start) as usize;
                    let len = (insn.len as usize).clamp(1, bytes.len() - off);
                    result = f(insn, text, &bytes[off..off + len]);
                    result.is_ok()
                },
            );
            return result;
        }
        let mut off = 0;
        while off < bytes.len() {
            let insn = data_unit(
                self.image.arch,
                &bytes[off..],
                start + off as u64,
                region.unit,
                &mut self.text,
            );
            let len = (insn.len as usize).clamp(1, bytes.len() - off);
            f(&insn, &self.text, &bytes[off..off + len])?;
            off += len;
        }
        Ok(())
    }
}

/// One unit of data at the start of `bytes`: an entry of `unit` bytes (a jump table's), else
/// a 4-byte word (1 byte at the end), named as the architecture's assembler names that size.
fn data_unit(arch: Arch, bytes: &[u8], addr: u64, unit: u8, text: &mut InsnText) -> Insn {
    text.clear();
    let want = match unit {
        1 | 2 | 4 | 8 => usize::from(unit),
        _ => 4,
    };
    let len = if bytes.len() >= want { want } else { 1 };
    let directive: &[u8] = match (arch, len) {
        (_, 1) => b".byte",
        (Arch::Aarch64, 2) => b".hword",
        (Arch::Aarch64, 4) => b".word",
        (Arch::Aarch64, _) => b".xword",
        (_, 2) => b".short",
        (_, 4) => b".long",
        _ => b".quad",
    };
    text.mnemonic.extend_from_slice(directive);
    let mut v = [0u8; 8];
    v[..len].copy_from_slice(&bytes[..len]);
    text.operands.extend_from_slice(b"0x");
    hex::push_hex_zeros(&mut text.operands, u64::from_le_bytes(v), 2 * len);
    Insn {
        addr,
        len: len as u8,
        status: InsnStatus::Valid,
        flow: Flow::Next,
        pc_ref: None,
    }
}

fn is_adrp(arch: Arch, text: &InsnText) -> bool {
    arch == Arch::Aarch64 && text.mnemonic == b"adrp"
}

/// Labels a PC-relative reference. An ADRP page names only its section: the symbol that happens
/// to sit at a page start is not what the code means (docs/decisions/0002-symbolization.md).
fn write_ref_label<O: TextOut + ?Sized>(
    out: &mut O,
    image: &Image,
    text: &InsnText,
    addr: u64,
) -> bool {
    if is_adrp(image.arch, text) {
        write_section_label(out, image, addr)
    } else {
        write_label(out, image, addr)
    }
}

fn reloc_in<'r>(relocs: &'r [Reloc], insn: &Insn) -> Option<&'r Reloc> {
    let i = relocs.partition_point(|r| r.at.0 < insn.addr);
    relocs.get(i).filter(|r| r.at.0 < insn.end())
}

fn reloc_text(r: &Reloc) -> String {
    match r.addend {
        0 => r.symbol.clone(),
        a if a < 0 => format!("{}-{:#x}", r.symbol, a.unsigned_abs()),
        a => format!("{}+{:#x}", r.symbol, a),
    }
}

fn hex_bytes(arch: Arch, bytes: &[u8], out: &mut Vec<u8>) {
    if arch == Arch::Aarch64 && bytes.len() == 4 {
        // AArch64 listings show the instruction word, as objdump and llvm-objdump do.
        let w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        hex::push_hex_zeros(out, u64::from(w), 8);
        return;
    }
    hex_bytes_padded(bytes, 0, out);
}

/// `bytes` in hex (`48 89 e5`), then spaces up to `width` columns; by table into a stack
/// buffer, one copy per line: this runs for every instruction, and `write!` or a `push` per
/// character dominated profiles.
fn hex_bytes_padded(bytes: &[u8], width: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if bytes.len() > 16 || width > 64 {
        for (i, &b) in bytes.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        pad(
            out,
            width.saturating_sub((3 * bytes.len()).saturating_sub(1)),
        );
        return;
    }
    // `xx ` for every byte value, so each byte is one 3-byte copy.
    const HEX3: [[u8; 3]; 256] = {
        let mut t = [[0u8; 3]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [HEX[i >> 4], HEX[i & 15], b' '];
            i += 1;
        }
        t
    };
    // 64 spaces, the bytes written over them in place, then cut to length: a fixed-size fill
    // and a truncation are cheaper than copies of computed lengths, and writing in place
    // avoids reading back bytes just stored one by one (a stack buffer copied out stalled on
    // that: 40% of this function's time).
    let len = out.len();
    let used = (3 * bytes.len()).saturating_sub(1);
    out.resize(len + 64, b' ');
    for (dst, &b) in out[len..].chunks_exact_mut(3).zip(bytes) {
        dst.copy_from_slice(&HEX3[b as usize]);
    }
    out.truncate(len + used.max(width));
}

/// Appends `n` spaces.
fn pad(out: &mut Vec<u8>, n: usize) {
    if n <= 16 {
        // A fixed-size copy and a truncation are cheaper than a `memset` of `n` bytes.
        let len = out.len();
        out.extend_from_slice(&[b' '; 16]);
        out.truncate(len + n);
    } else {
        out.resize(out.len() + n, b' ');
    }
}

/// Builds the structured line for one unit (used by JSON and tests).
pub fn line(image: &Image, insn: &Insn, text: &InsnText, bytes: &[u8]) -> Line {
    let mut b = Vec::new();
    hex_bytes(image.arch, bytes, &mut b);
    let b = String::from_utf8(b).unwrap_or_default();
    let reloc = reloc_in(&image.relocs, insn);
    let target = insn.flow.target();
    Line {
        addr: gloss_core::Addr(insn.addr),
        bytes: b,
        mnemonic: text.mnemonic_str().to_string(),
        operands: text.operands_str().to_string(),
        status: insn.status,
        target: target.map(gloss_core::Addr),
        target_label: if reloc.is_some() {
            None
        } else {
            target.and_then(|t| label_string(image, t))
        },
        pc_ref: insn.pc_ref.map(gloss_core::Addr),
        ref_label: match (reloc, insn.pc_ref) {
            (None, Some(r)) => {
                let mut s = String::new();
                write_ref_label(&mut s, image, text, r).then(|| unwrap_label(&s))
            }
            _ => None,
        },
        reloc: reloc.map(reloc_text),
        source: None,
        comments: Vec::new(),
        labels: Vec::new(),
    }
}

/// Writes the text listing of `regions`; with `source`, file:line and source text interleaved;
/// with `notes`, the analysis's labels before and comments after the instructions they concern.
pub fn write_text(
    w: &mut dyn Write,
    image: &Image,
    dis: &dyn Disassembler,
    regions: &[Region],
    opts: ListingOptions,
    source: Option<&SourceOptions>,
    notes: Option<&Annotations>,
) -> io::Result<()> {
    let mut walker = Walker::new(image, dis, opts.syntax);
    let mut interleave = source.map(Interleave::new);
    let notes = notes.filter(|n| !n.is_empty());
    let mut reader = notes.map(Annotations::reader);
    // Bytes, not a `String`: pieces are appended without UTF-8 checks (they are all `str`s).
    // Written out in pieces of at least `CHUNK` bytes: a writer buffered with that capacity
    // (the CLI's) passes them straight through instead of copying them (a piece a little
    // smaller was copied: 1.6 GB for libLLVM's listing).
    const CHUNK: usize = 1 << 16;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    // The function heading a run of regions belongs to: data runs inside a function continue it.
    let mut current: Option<(String, u64)> = None;
    let mut prev_end = u64::MAX;
    for r in regions {
        let continues = r.kind != RegionKind::Unnamed
            && r.start.0 == prev_end
            && current.as_ref().is_some_and(|(n, _)| *n == r.name);
        if !continues {
            let start = r.start.0;
            let _ = match r.kind {
                RegionKind::Unnamed => writeln!(
                    buf,
                    "\n{start:016x} <{}+{:#x}>: (no symbol)",
                    r.section,
                    start - section_start(image, start)
                ),
                _ => writeln!(buf, "\n{start:016x} <{}>:", r.name),
            };
            for line in notes.into_iter().flat_map(|n| n.summary(start)) {
                buf.extend_from_slice(b"  ; ");
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
            }
            current = (r.kind != RegionKind::Unnamed).then(|| (r.name.clone(), start));
            if let Some(i) = &mut interleave {
                i.reset();
            }
        }
        prev_end = r.end.0;
        let func_base = current.clone();
        // Pad `addr <func+off>:` to one width per function so the bytes line up.
        let label_width = func_base.as_ref().map_or(0, |(n, base)| {
            n.len() + 7 + hex_digits(r.end.0.saturating_sub(*base))
        });
        walker.walk(r, |insn, text, bytes| {
            if let Some(i) = &mut interleave {
                i.before(&mut buf, insn.addr);
            }
            let noted = reader.as_mut().map(|r| r.at(insn.addr));
            for l in noted.into_iter().flat_map(|n| n.labels()) {
                buf.extend_from_slice(b"        ; ");
                buf.extend_from_slice(l.as_bytes());
                buf.push(b'\n');
            }
            write_line(
                &mut buf,
                image,
                insn,
                text,
                bytes,
                func_base.as_ref(),
                label_width,
                opts,
            );
            for c in noted.into_iter().flat_map(|n| n.comments()) {
                buf.pop(); // the newline
                buf.extend_from_slice(b"    ; ");
                buf.extend_from_slice(c.as_bytes());
                buf.push(b'\n');
            }
            if buf.len() >= CHUNK {
                w.write_all(&buf)?;
                buf.clear();
            }
            Ok::<(), io::Error>(())
        })?;
    }
    w.write_all(&buf)
}

fn section_start(image: &Image, addr: u64) -> u64 {
    image.section_at(addr).map(|s| s.addr.0).unwrap_or(addr)
}

fn hex_digits(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(4).max(1)
}

#[allow(clippy::too_many_arguments)]
fn write_line(
    out: &mut Vec<u8>,
    image: &Image,
    insn: &Insn,
    text: &InsnText,
    bytes: &[u8],
    func: Option<&(String, u64)>,
    label_width: usize,
    opts: ListingOptions,
) {
    hex::push_hex_right(out, insn.addr, 8);
    let label_start = out.len();
    if let Some((name, base)) = func {
        write_name_off(out, name, insn.addr - base);
    }
    out.push(b':');
    let used = out.len() - label_start;
    pad(out, label_width.saturating_sub(used) + 1);
    if opts.show_bytes {
        if image.arch == Arch::Aarch64 {
            let start = out.len();
            hex_bytes(image.arch, bytes, out);
            let used = out.len() - start;
            pad(out, 8usize.saturating_sub(used) + 2);
        } else {
            let used = (3 * bytes.len()).saturating_sub(1);
            hex_bytes_padded(bytes, used.max(20) + 2, out);
        }
    }
    out.extend_from_slice(&text.mnemonic);
    if !text.operands.is_empty() {
        pad(out, 7usize.saturating_sub(text.mnemonic.len()).max(1));
        out.extend_from_slice(&text.operands);
    }
    let reloc = reloc_in(&image.relocs, insn);
    if let Some(r) = reloc {
        out.extend_from_slice(b"    # reloc ");
        out.extend_from_slice(reloc_text(r).as_bytes());
    } else if let Some(t) = insn.flow.target() {
        write_label(out, image, t);
    } else if let Some(r) = insn.pc_ref {
        // AArch64 operands already show the address; x86 memory operands only the displacement.
        if image.arch == Arch::X86_64 {
            out.extend_from_slice(b"    # 0x");
            hex::push_hex(out, r);
        }
        write_ref_label(out, image, text, r);
    }
    out.push(b'\n');
}

/// Writes the JSON listing: `{"regions": [{"name", "kind", "start", "end", "insns": [Line]}]}`,
/// streamed so memory stays flat on large binaries. With `source`, each instruction a line table
/// covers gets `"source": {"file", "line"}` (the text is not included); with `notes`,
/// `"comments"` and `"labels"` where the analysis has something to say.
pub fn write_json(
    w: &mut dyn Write,
    image: &Image,
    dis: &dyn Disassembler,
    regions: &[Region],
    opts: ListingOptions,
    source: Option<&SourceOptions>,
    notes: Option<&Annotations>,
) -> io::Result<()> {
    let paths: Vec<String> = source.map_or_else(Vec::new, |s| {
        s.lines.files().iter().map(SourceFile::path).collect()
    });
    let mut reader = notes.map(Annotations::reader);
    #[derive(Serialize)]
    struct Head<'a> {
        name: &'a str,
        section: &'a str,
        kind: &'static str,
        start: gloss_core::Addr,
        end: gloss_core::Addr,
    }
    let mut walker = Walker::new(image, dis, opts.syntax);
    w.write_all(b"{\"regions\":[")?;
    for (i, r) in regions.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let head = Head {
            name: &r.name,
            section: &r.section,
            kind: match r.kind {
                RegionKind::Function => "function",
                RegionKind::Unnamed => "unnamed",
                RegionKind::Data => "data",
            },
            start: r.start,
            end: r.end,
        };
        let mut h = serde_json::to_vec(&head).map_err(io::Error::other)?;
        h.pop(); // reopen the object to append the instruction array
        w.write_all(&h)?;
        w.write_all(b",\"insns\":[")?;
        let mut first = true;
        walker.walk(r, |insn, text, bytes| {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            let mut l = line(image, insn, text, bytes);
            if let Some(loc) = source.and_then(|s| s.lines.at(insn.addr)) {
                l.source = Some(SourceRef {
                    file: paths[loc.file_index as usize].clone(),
                    line: loc.line,
                });
            }
            if let Some(r) = &mut reader {
                let noted = r.at(insn.addr);
                l.comments = noted.comments().map(str::to_owned).collect();
                l.labels = noted.labels().map(str::to_owned).collect();
            }
            serde_json::to_writer(&mut *w, &l).map_err(io::Error::from)
        })?;
        w.write_all(b"]}")?;
    }
    w.write_all(b"]}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_core::{LineRow, LineSequence};

    fn row(addr: u64, file: u32, line: u32) -> LineRow {
        LineRow { addr, file, line }
    }

    /// Seven one-byte `nop`s at 0x1000 with hand-made line rows: the text listing interleaves
    /// like objdump -S (context lines never repeated, going back shows just the line, an
    /// unreadable file shows file:line).
    #[test]
    fn source_interleave_follows_objdump_context_rules() {
        let image = gloss_load::load_raw(vec![0x90; 7], Arch::X86_64, 0x1000);
        let dis = gloss_arch::disassembler(Arch::X86_64);
        let regions = gloss_analysis::regions::plan(&image);
        let lines = SourceLines::new(
            vec![
                SourceFile {
                    name: "a.c".into(),
                    comp_dir: Some(".".into()),
                },
                SourceFile {
                    name: "missing.h".into(),
                    comp_dir: None,
                },
            ],
            vec![LineSequence {
                rows: vec![
                    row(0x1000, 0, 3),
                    row(0x1001, 0, 5),
                    row(0x1002, 0, 4),
                    row(0x1003, 0, 20),
                    row(0x1004, 0, 0),
                    row(0x1005, 0, 20),
                    row(0x1006, 1, 7),
                ],
                end: 0x1007,
            }],
        );
        let text: String = (1..=30).map(|i| format!("L{i}\n")).collect();
        let read = |f: &SourceFile| (f.name == "a.c").then(|| text.clone());
        let src = SourceOptions {
            lines: &lines,
            line_numbers: false,
            text: true,
            read: &read,
        };
        let opts = ListingOptions {
            show_bytes: false,
            ..ListingOptions::default()
        };
        let mut out = Vec::new();
        write_text(&mut out, &image, dis, &regions, opts, Some(&src), None).unwrap();
        let out = String::from_utf8(out).unwrap();
        let got: Vec<&str> = out
            .lines()
            .filter(|l| !l.is_empty() && !l.contains("(no symbol)"))
            .map(|l| if l.contains("nop") { "nop" } else { l })
            .collect();
        let want = [
            "L1",
            "L2",
            "L3",
            "nop", // first line: up to 5 lines of context
            "L4",
            "L5",
            "nop", // forward: only lines not shown yet
            "L4",
            "nop", // back: just the line
            "L15",
            "L16",
            "L17",
            "L18",
            "L19",
            "L20",
            "nop", // far forward: 5 lines of context
            "nop", // line 0: nothing
            "L20", // the same line again after a gap: just the line
            "nop",
            "missing.h:7",
            "nop", // unreadable: file:line
        ];
        assert_eq!(got, want, "{out}");

        // JSON: file and line per covered instruction, nothing for line 0.
        let mut out = Vec::new();
        write_json(&mut out, &image, dis, &regions, opts, Some(&src), None).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let insns = json["regions"][0]["insns"].as_array().unwrap();
        assert_eq!(insns[0]["source"]["file"], "./a.c");
        assert_eq!(insns[3]["source"]["line"], 20);
        assert!(insns[4].get("source").is_none());
        assert_eq!(insns[6]["source"]["file"], "missing.h");
    }
}
