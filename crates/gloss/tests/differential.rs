//! Differential test against `llvm-objdump-19` (issue 2): instruction boundaries, mnemonics and
//! operands must agree after the normalisation documented in docs/differential.md, and every
//! remaining difference must be covered by a justified pattern in
//! `tests/differential/known-differences.txt`.
//!
//! Inputs: every file in `fixtures/bin`, plus a few real Debian binaries from
//! `target/real-binaries` (fetched by `scripts/fetch-real-binaries.sh`; skipped with a note when
//! absent). `GLOSS_DIFF_REAL=all` compares every ELF file under `target/real-binaries` instead of
//! the default few; `GLOSS_DIFF_REAL=ls,sort` picks by file name. A full report of every
//! difference (covered or not) is written to `$CARGO_TARGET_TMPDIR/differential-report.txt`.
//!
//! Comparison, per code section (both sides must disassemble it):
//! * gloss: `gloss::select(All)` regions walked with `render::listing::Walker`, Intel syntax on
//!   x86-64; `Data` regions (AArch64 `$d` runs) are data.
//! * llvm: `llvm-objdump-19 -d -h -z --no-show-raw-insn [-M intel]` (plus an empty
//!   `--debug-file-directory` and `--no-debuginfod`, see `llvm_listing`); `.word`/`.byte`/...
//!   lines are data, `<unknown>` is an invalid unit. `-z` so that runs of zero bytes are listed.
//! * An address where both start a unit is compared (text, validity, length); an address where
//!   only one side starts a unit, inside an instruction of the other side, is a boundary
//!   difference. Units where either side is data are skipped. After a length or boundary
//!   difference, the starts up to the next common start are counted (they are not agreement) but
//!   reported once, as that first difference.
use gloss::analysis::regions::RegionKind;
use gloss::render::listing::Walker;
use gloss::{Arch, InsnStatus, Selection, Syntax};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const LLVM_OBJDUMP: &str = "llvm-objdump-19";
/// Real binaries compared by default (each for amd64 and arm64): large enough to exercise real
/// compiler output, small enough to keep the test within its time budget.
const DEFAULT_REAL: &[&str] = &["ls", "cp", "sort", "date", "libc.so.6"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Insn,
    /// Not an instruction (gloss `(bad)`/`.inst` with status Invalid, llvm `<unknown>`).
    Invalid,
    /// gloss only: decodable in principle but not by the decoder (status Unknown, e.g. an
    /// extension bad64 lacks). Compared like Invalid, labelled apart.
    Unknown,
    Data,
}

fn not_insn(k: Kind) -> bool {
    matches!(k, Kind::Invalid | Kind::Unknown)
}

#[derive(Debug)]
struct Unit {
    addr: u64,
    len: u64,
    kind: Kind,
    text: String,
    /// gloss only: the branch target or PC-relative address the instruction denotes.
    target: Option<u64>,
}

/// Units per section name, in address order.
type Listing = BTreeMap<String, Vec<Unit>>;

#[derive(Debug)]
struct Diff {
    file: String,
    arch: Arch,
    kind: &'static str,
    addr: u64,
    gloss: String,
    llvm: String,
}

impl Diff {
    /// The line the known-differences patterns are matched against.
    fn subject(&self) -> String {
        format!(
            "{} {} {}: {} ~ {}",
            self.file,
            arch_name(self.arch),
            self.kind,
            self.gloss,
            self.llvm
        )
    }
}

#[derive(Default, Debug)]
struct Tally {
    identical: usize,
    /// Addresses where both sides start a unit and neither is data.
    common: usize,
    gloss_only: usize,
    llvm_only: usize,
    /// Units not compared because one side shows data there.
    skipped_data: usize,
    /// Identical units that needed a normalisation rule beyond spacing and case, per rule.
    rules: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn total(&self) -> usize {
        self.common + self.gloss_only + self.llvm_only
    }
    fn add(&mut self, o: &Tally) {
        self.identical += o.identical;
        self.common += o.common;
        self.gloss_only += o.gloss_only;
        self.llvm_only += o.llvm_only;
        self.skipped_data += o.skipped_data;
        for (r, n) in &o.rules {
            *self.rules.entry(r).or_default() += n;
        }
    }
}

fn arch_name(a: Arch) -> &'static str {
    match a {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// gloss side

fn gloss_listing(img: &gloss::Image) -> Listing {
    let regions = gloss::select(img, &Selection::All).expect("select all");
    let dis = gloss::disassembler(img.arch);
    let mut walker = Walker::new(img, dis, Syntax::Intel);
    let mut out = Listing::new();
    for r in &regions {
        let units = out.entry(r.section.clone()).or_default();
        walker
            .walk(r, |insn, text, bytes| {
                let kind = match (r.kind == RegionKind::Data, insn.status) {
                    (true, _) => Kind::Data,
                    (false, InsnStatus::Valid) => Kind::Insn,
                    (false, InsnStatus::Unknown) => Kind::Unknown,
                    (false, _) => Kind::Invalid,
                };
                let mut t = text.mnemonic_str().to_string();
                if !text.operands.is_empty() {
                    t.push(' ');
                    t.push_str(text.operands_str());
                }
                units.push(Unit {
                    addr: insn.addr,
                    len: bytes.len() as u64,
                    kind,
                    text: t,
                    target: insn.flow.target().or(insn.pc_ref),
                });
                Ok::<(), ()>(())
            })
            .unwrap();
    }
    for units in out.values_mut() {
        units.sort_by_key(|u| u.addr);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// llvm side

/// Section name as gloss spells it: Mach-O `__TEXT,__text` is `__text`.
fn short_section(name: &str) -> &str {
    name.rsplit(',').next().unwrap_or(name)
}

/// Runs llvm-objdump and returns the listing plus each section's (vma, size).
fn llvm_listing(path: &Path, arch: Arch) -> (Listing, HashMap<String, (u64, u64)>) {
    // llvm-objdump looks the file's build-id up under /usr/lib/debug and, when a detached debug
    // file is installed (libc6-dbg), disassembles that instead: its code sections are NOBITS, so
    // nothing is listed. An empty debug directory, and no debuginfod, keep it on the file itself.
    let no_debug = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-no-debug-files");
    std::fs::create_dir_all(&no_debug).expect("creating an empty debug-file directory");
    let mut cmd = Command::new(LLVM_OBJDUMP);
    cmd.args(["-d", "-h", "-z", "--no-show-raw-insn", "--no-debuginfod"]);
    cmd.arg(format!("--debug-file-directory={}", no_debug.display()));
    if arch == Arch::X86_64 {
        cmd.args(["-M", "intel"]);
    }
    let out = cmd
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running {LLVM_OBJDUMP}: {e}"));
    assert!(
        out.status.success(),
        "{LLVM_OBJDUMP} failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sections = HashMap::new();
    let mut listing = Listing::new();
    let mut current: Option<String> = None;
    let mut in_headers = false;
    for line in text.lines() {
        if line.starts_with("Sections:") {
            in_headers = true;
            continue;
        }
        if let Some(s) = line.strip_prefix("Disassembly of section ") {
            in_headers = false;
            current = Some(short_section(s.trim_end_matches(':')).to_string());
            continue;
        }
        if in_headers {
            // `  1 .text         00000172 0000000000001040 TEXT`
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 4
                && f[0].parse::<u32>().is_ok()
                && let (Ok(size), Ok(vma)) =
                    (u64::from_str_radix(f[2], 16), u64::from_str_radix(f[3], 16))
            {
                sections
                    .entry(short_section(f[1]).to_string())
                    .or_insert((vma, size));
            }
            continue;
        }
        let Some(sec) = &current else { continue };
        // `    4000:      \tsub\trsp, 0x8`; symbol headings are `0000000000004000 <.init>:`.
        let t = line.trim_start();
        let Some(colon) = t.find(':') else { continue };
        let (a, rest) = t.split_at(colon);
        if a.is_empty() || !a.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let Ok(addr) = u64::from_str_radix(a, 16) else {
            continue;
        };
        let body = rest[1..].trim();
        if body.is_empty() {
            continue;
        }
        let mnem = body.split_whitespace().next().unwrap_or("");
        let kind = match mnem {
            "<unknown>" => Kind::Invalid,
            ".word" | ".byte" | ".short" | ".long" | ".quad" | ".hword" | ".2byte" | ".4byte"
            | ".8byte" => Kind::Data,
            _ => Kind::Insn,
        };
        listing.entry(sec.clone()).or_default().push(Unit {
            addr,
            len: 0,
            kind,
            text: body.to_string(),
            target: None,
        });
    }
    // Lengths: llvm lists every byte (`-z`), so a unit runs to the next one or the section end.
    for (name, units) in listing.iter_mut() {
        let end = sections.get(name).map(|&(v, s)| v + s);
        for i in 0..units.len() {
            let next = units
                .get(i + 1)
                .map(|u| u.addr)
                .or(end)
                .unwrap_or(units[i].addr + 1);
            units[i].len = next.saturating_sub(units[i].addr).max(1);
        }
        if arch == Arch::X86_64 {
            merge_split_prefixes(units);
        }
    }
    (listing, sections)
}

/// llvm-objdump sometimes prints a prefix as its own one-byte "instruction" (`lock` then
/// `or dword ptr [rdi + 0xa8], 0x1` at the next address). Rejoin it with what follows, as the
/// CPU (and GNU objdump, and iced) decode it.
fn merge_split_prefixes(units: &mut Vec<Unit>) {
    const PREFIXES: &[&str] = &[
        "lock", "rep", "repe", "repne", "repz", "repnz", "data16", "data32", "addr32", "cs", "ds",
        "es", "ss", "fs", "gs", "notrack", "xacquire", "xrelease", "bnd", "rex64",
    ];
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    for u in units.drain(..) {
        if let Some(p) = out.last_mut() {
            let body = p.text.split_whitespace().collect::<Vec<_>>();
            let only_prefixes = p.kind == Kind::Insn
                && !body.is_empty()
                && body.iter().all(|w| PREFIXES.contains(w));
            if only_prefixes && u.kind == Kind::Insn && p.addr + p.len == u.addr {
                p.text = format!("{} {}", body.join(" "), u.text);
                p.len += u.len;
                continue;
            }
        }
        out.push(u);
    }
    *units = out;
}

// ---------------------------------------------------------------------------------------------
// Normalisation (docs/differential.md, "Normalisation")

/// Strips what only one side prints and what is not part of the instruction: llvm's trailing
/// comments (`# 0x1234`, `// =0x10`) and symbolic target labels (`<main+0x10>`), and runs of
/// whitespace.
fn strip_decorations(arch: Arch, t: &str) -> String {
    let mut t = t;
    let comments: &[&str] = match arch {
        Arch::X86_64 => &[" #"],
        // `//` on ELF and PE, `;` on Mach-O (Apple's assembler comment).
        Arch::Aarch64 => &["//", ";"],
    };
    for c in comments {
        if let Some(i) = t.find(c) {
            t = &t[..i];
        }
    }
    if let Some(i) = t.find(" <") {
        t = &t[..i];
    }
    let t = t.replace('\t', " ");
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

thread_local! {
    /// The normalisation rules that fired while comparing one instruction (for the statistics).
    static FIRED: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn fired(rule: &'static str) {
    FIRED.with(|f| f.borrow_mut().push(rule));
}

fn take_fired() -> Vec<&'static str> {
    FIRED.with(|f| std::mem::take(&mut *f.borrow_mut()))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A number with its sign; hex or decimal, as written.
    Num(bool, u128, String),
    Punct(char),
}

/// x86 tokens: words, numbers (a `-` right after `,`/`[`/start is a sign), single punctuation.
fn tokens(t: &str) -> Vec<Tok> {
    let b = t.as_bytes();
    let mut out: Vec<Tok> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        // Outside brackets Intel syntax has no arithmetic, so `-` starts a negative immediate;
        // inside, only right after `[`.
        let unary = c == '-'
            && (depth == 0 || matches!(out.last(), Some(Tok::Punct('['))))
            && b.get(i + 1).is_some_and(|d| d.is_ascii_digit());
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' || unary {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            let w = t[start..i].to_ascii_lowercase();
            let (neg, digits) = match w.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, w.as_str()),
            };
            let num = if let Some(h) = digits.strip_prefix("0x") {
                u128::from_str_radix(h, 16).ok()
            } else if digits.bytes().all(|d| d.is_ascii_digit()) {
                digits.parse::<u128>().ok()
            } else {
                None
            };
            out.push(match num {
                Some(v) => Tok::Num(neg, v, w.clone()),
                None => Tok::Word(w),
            });
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn render(toks: &[Tok]) -> String {
    let mut s = String::new();
    let mut prev: Option<&Tok> = None;
    for t in toks {
        let word_like = |t: &Tok| matches!(t, Tok::Word(_) | Tok::Num(..));
        let space = match (prev, t) {
            (None, _) => false,
            (Some(p), t) if word_like(p) && word_like(t) => true,
            (Some(Tok::Punct(',')), _) => true,
            (Some(p), Tok::Punct('[')) if word_like(p) => true,
            _ => false,
        };
        if space {
            s.push(' ');
        }
        match t {
            Tok::Word(w) | Tok::Num(_, _, w) => s.push_str(w),
            Tok::Punct(c) => s.push(*c),
        }
        prev = Some(t);
    }
    s
}

/// Two immediates are the same when equal, or when one is the other's two's complement at
/// 8, 16, 32 or 64 bits (llvm prints `-0x10`, iced `0xfffffffffffffff0` for the same encoding).
fn same_number(a: (bool, u128), b: (bool, u128)) -> bool {
    let val = |(neg, v): (bool, u128)| if neg { -(v as i128) } else { v as i128 };
    let (x, y) = (val(a), val(b));
    if x == y {
        return true;
    }
    let same = [8u32, 16, 32, 64].iter().any(|&w| {
        let m = 1i128 << w;
        let fits = |v: i128| v >= -(m / 2) && v < m;
        fits(x) && fits(y) && x.rem_euclid(m) == y.rem_euclid(m)
    });
    if same {
        fired("R0 immediate sign extension");
    }
    same
}

fn same_tokens(a: &[Tok], b: &[Tok]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Tok::Num(n1, v1, _), Tok::Num(n2, v2, _)) => same_number((*n1, *v1), (*n2, *v2)),
            _ => x == y,
        })
}

/// Splits tokens into the mnemonic part (prefixes and mnemonic: the leading words) and the
/// operands (split at top-level commas).
fn split_operands(toks: &[Tok]) -> (Vec<Tok>, Vec<Vec<Tok>>) {
    let mut head = Vec::new();
    let mut k = 0;
    // Leading words up to the first token that starts an operand: a word followed by something
    // other than a word, or anything that is not a word. `lock or dword ptr [..]`: head is
    // `lock or`, then `dword ptr [..]` starts the operand (a word run that ends in `ptr`).
    while k < toks.len() {
        let Tok::Word(w) = &toks[k] else { break };
        let rest_is_operand = match toks.get(k + 1) {
            None => false,
            Some(Tok::Word(n)) => n == "ptr" || is_register(w),
            Some(_) => true,
        };
        if rest_is_operand || is_register(w) {
            break;
        }
        head.push(toks[k].clone());
        k += 1;
    }
    let mut ops: Vec<Vec<Tok>> = Vec::new();
    let mut cur = Vec::new();
    let mut depth = 0i32;
    for t in &toks[k..] {
        match t {
            Tok::Punct('[' | '{' | '(') => depth += 1,
            Tok::Punct(']' | '}' | ')') => depth -= 1,
            _ => {}
        }
        if depth == 0 && *t == Tok::Punct(',') {
            ops.push(std::mem::take(&mut cur));
        } else {
            cur.push(t.clone());
        }
    }
    if !cur.is_empty() {
        ops.push(cur);
    }
    (head, ops)
}

/// Enough of x86's register names to tell a one-word operand from a mnemonic.
fn is_register(w: &str) -> bool {
    const R: &[&str] = &[
        "al", "ah", "ax", "eax", "rax", "bl", "bh", "bx", "ebx", "rbx", "cl", "ch", "cx", "ecx",
        "rcx", "dl", "dh", "dx", "edx", "rdx", "sil", "si", "esi", "rsi", "dil", "di", "edi",
        "rdi", "bpl", "bp", "ebp", "rbp", "spl", "sp", "esp", "rsp", "rip", "st", "es", "cs", "ss",
        "ds", "fs", "gs",
    ];
    if R.contains(&w) {
        return true;
    }
    let num_after = |p: &str| {
        w.strip_prefix(p)
            .is_some_and(|r| !r.is_empty() && r.bytes().next().unwrap().is_ascii_digit())
    };
    [
        "r", "xmm", "ymm", "zmm", "mm", "k", "cr", "dr", "tmm", "bnd",
    ]
    .iter()
    .any(|p| num_after(p))
}

fn join_operands(head: &[Tok], ops: &[Vec<Tok>]) -> Vec<Tok> {
    let mut out = head.to_vec();
    for (n, o) in ops.iter().enumerate() {
        if n > 0 {
            out.push(Tok::Punct(','));
        }
        out.extend(o.iter().cloned());
    }
    out
}

fn mnemonic(head: &[Tok]) -> &str {
    match head.last() {
        Some(Tok::Word(w)) => w,
        _ => "",
    }
}

const SHIFTS: &[&str] = &["shl", "sal", "shr", "sar", "rol", "ror", "rcl", "rcr"];

fn is_string_op(m: &str) -> bool {
    let base = m.trim_end_matches(['b', 'w', 'd', 'q']);
    matches!(
        base,
        "movs" | "stos" | "lods" | "scas" | "cmps" | "ins" | "outs"
    )
}

/// Canonical x86 Intel tokens for either side (docs/differential.md, "x86-64 rules").
fn x86_canonical(t: &str) -> (Vec<Tok>, Vec<Vec<Tok>>) {
    let mut toks = tokens(t);
    let mut i = 0;
    while i < toks.len() {
        let is = |k: usize, p: char| matches!(toks.get(k), Some(Tok::Punct(c)) if *c == p);
        let num = |k: usize| matches!(toks.get(k), Some(Tok::Num(false, ..)));
        let word = |k: usize| matches!(toks.get(k), Some(Tok::Word(_)));
        // R1: index*scale order: llvm writes `8*rax`, iced and GNU `rax*8`.
        if num(i) && is(i + 1, '*') && word(i + 2) && (i == 0 || is(i - 1, '[') || is(i - 1, '+')) {
            fired("R1 scale*index order");
            toks.swap(i, i + 2);
            i += 3;
            continue;
        }
        i += 1;
    }
    let (mut head, mut ops) = split_operands(&toks);
    let m = mnemonic(&head).to_string();
    // R2: llvm spells a 64-bit immediate move `movabs`; iced and GNU objdump -M intel say `mov`.
    if m == "movabs" {
        fired("R2 movabs");
        *head.last_mut().unwrap() = Tok::Word("mov".into());
    }
    // R3: LLVM's names for FCOMIP/FUCOMIP (`fcompi`, `fucompi`) are the Intel manual's
    // `fcomip`/`fucomip`.
    if m == "fcompi" || m == "fucompi" {
        fired("R3 fcompi/fucompi");
        *head.last_mut().unwrap() = Tok::Word(format!("{}ip", &m[..m.len() - 2]));
    }
    // R4: shift/rotate by one (D0/D1/D2/D3 /n): llvm omits the implicit count, iced prints `1`.
    if SHIFTS.contains(&m.as_str()) && ops.len() == 1 {
        fired("R4 implicit shift count 1");
        ops.push(vec![Tok::Num(false, 1, "0x1".into())]);
    }
    // R5: string instructions: llvm adds the implicit `es:` segment and the accumulator operand
    // (`stosq qword ptr es:[rdi], rax`); iced prints the memory operands only.
    let string_mem = ops.iter().any(|o| {
        o.windows(2).any(|w| w[0] == Tok::Punct('[') && matches!(&w[1], Tok::Word(r) if ["rdi", "rsi", "edi", "esi"].contains(&r.as_str())))
    });
    if is_string_op(&m) && string_mem {
        fired("R5 string-op implicit operands");
        for o in ops.iter_mut() {
            let mut k = 0;
            while k + 1 < o.len() {
                if o[k] == Tok::Word("es".into()) && o[k + 1] == Tok::Punct(':') {
                    o.drain(k..k + 2);
                } else {
                    k += 1;
                }
            }
        }
        let implicit = ["al", "ax", "eax", "rax", "dx"];
        ops.retain(|o| {
            !(o.len() == 1 && matches!(&o[0], Tok::Word(w) if implicit.contains(&w.as_str())))
        });
    }
    // R10: EVEX embedded rounding / SAE: iced attaches `{rne-sae}` to the destination, llvm
    // writes `{rn-sae}` as a last operand, GNU appends it to the last operand. Moved to a last
    // operand of its own, with `rne` spelled `rn`.
    let mut sae = None;
    for o in ops.iter_mut() {
        let mut k = 0;
        while k < o.len() {
            let close = (o[k] == Tok::Punct('{'))
                .then(|| o[k..].iter().position(|t| *t == Tok::Punct('}')))
                .flatten();
            if let Some(c) = close {
                let inner: String = o[k + 1..k + c]
                    .iter()
                    .map(|t| match t {
                        Tok::Word(w) | Tok::Num(_, _, w) => w.clone(),
                        Tok::Punct(p) => p.to_string(),
                    })
                    .collect();
                if inner == "sae" || inner.ends_with("-sae") {
                    sae = Some(if inner == "rne-sae" {
                        "rn-sae".to_string()
                    } else {
                        inner
                    });
                    o.drain(k..=k + c);
                    continue;
                }
            }
            k += 1;
        }
    }
    ops.retain(|o| !o.is_empty());
    if let Some(w) = sae {
        fired("R10 rounding/SAE placement");
        ops.push(vec![Tok::Punct('{'), Tok::Word(w), Tok::Punct('}')]); // one word: `rn-sae`
    }
    // R12: EVEX gathers: iced's Intel formatter lists the opmask as an operand of its own
    // (`vgatherdpd zmm4,k3,[..]`), llvm and GNU decorate the destination (`zmm4{k3}`).
    if m.contains("gather")
        && ops.len() == 3
        && let [Tok::Word(k)] = ops[1].as_slice()
        && k.len() == 2
        && k.starts_with('k')
    {
        fired("R12 gather opmask");
        let k = ops.remove(1);
        ops[0].push(Tok::Punct('{'));
        ops[0].extend(k);
        ops[0].push(Tok::Punct('}'));
    }
    // R11: gathers and scatters (VSIB): iced and GNU name the element size (`qword ptr`), llvm
    // the vector size (`ymmword ptr`); the instruction defines both, so the keyword is dropped.
    if m.contains("gather") || m.contains("scatter") {
        for o in ops.iter_mut() {
            if let Some(k) = o.iter().position(|t| *t == Tok::Word("ptr".into()))
                && k >= 1
            {
                fired("R11 VSIB memory size");
                o.drain(k - 1..=k);
            }
        }
    }
    (head, ops)
}

fn fold_pseudo_op(m: &str) -> Option<(String, u32)> {
    const CMP: &[&str] = &[
        "eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord", "eq_uq", "nge", "ngt", "false",
        "neq_oq", "ge", "gt", "true", "eq_os", "lt_oq", "le_oq", "unord_s", "neq_us", "nlt_uq",
        "nle_uq", "ord_s", "eq_us", "nge_uq", "ngt_uq", "false_os", "neq_os", "ge_oq", "gt_oq",
        "true_us",
    ];
    const VPCMP: &[&str] = &["eq", "lt", "le", "false", "neq", "nlt", "nle", "true"];
    let (v, rest) = match m.strip_prefix('v') {
        Some(r) => ("v", r),
        None => ("", m),
    };
    if let Some(r) = rest.strip_prefix("cmp") {
        for suf in ["ss", "sd", "ps", "pd", "sh", "ph"] {
            if let Some(pred) = r.strip_suffix(suf) {
                let max = if v.is_empty() { 8 } else { 32 };
                if let Some(k) = CMP[..max].iter().position(|p| *p == pred) {
                    return Some((format!("{v}cmp{suf}"), k as u32));
                }
            }
        }
    }
    if let Some(r) = rest.strip_prefix("pcmp") {
        for suf in ["ub", "uw", "ud", "uq", "b", "w", "d", "q"] {
            if let Some(pred) = r.strip_suffix(suf)
                && let Some(k) = VPCMP.iter().position(|p| *p == pred)
            {
                return Some((format!("{v}pcmp{suf}"), k as u32));
            }
        }
    }
    if let Some(r) = rest.strip_prefix("pclmul") {
        let k = match r {
            "lqlqdq" => 0x00,
            "hqlqdq" => 0x01,
            "lqhqdq" => 0x10,
            "hqhqdq" => 0x11,
            _ => return None,
        };
        return Some((format!("{v}pclmulqdq"), k));
    }
    None
}

/// Pairwise rules: differences that depend on what the other side printed.
fn x86_reconcile(g: &mut (Vec<Tok>, Vec<Vec<Tok>>), l: &mut (Vec<Tok>, Vec<Vec<Tok>>)) {
    let m = mnemonic(&g.0).to_string();
    // R6: x87 implicit `st` (ST(0)) operand: iced prints it (`fld st,st(0)`, `fstp st(1),st`,
    // `fadd st,dword ptr [..]`), llvm omits it where the encoding has only one explicit operand.
    if m.starts_with('f') && g.1.len() == l.1.len() + 1 {
        let st = vec![Tok::Word("st".into())];
        if g.1.first() == Some(&st) {
            fired("R6 x87 implicit st");
            g.1.remove(0);
        } else if g.1.last() == Some(&st) {
            g.1.pop();
        }
    }
    // R8: comparison pseudo-ops: llvm (like GNU objdump) prints `cmpltsd xmm1, xmm2` and, for
    // EVEX `vpcmpb k0, zmm0, zmm2, 0`, `vpcmpeqb k0, zmm0, zmm2`; iced, with pseudo-ops off,
    // prints the base form with the predicate as an immediate. Folded only when gloss printed
    // that base form, because `vpcmpeqb` is also a real instruction (EVEX/VEX 74).
    if let Some((base, imm)) = fold_pseudo_op(mnemonic(&l.0))
        && base == m
        && g.1.len() == l.1.len() + 1
    {
        fired("R8 compare pseudo-op");
        *l.0.last_mut().unwrap() = Tok::Word(base);
        // Before a trailing `{sae}` (R10), where the immediate sits in the encoding's order.
        let sae_last =
            l.1.last()
                .is_some_and(|o| o.first() == Some(&Tok::Punct('{')));
        let at = l.1.len() - usize::from(sae_last);
        l.1.insert(at, vec![Tok::Num(false, imm as u128, format!("{imm:#x}"))]);
    }
    // R9: `xchg` of two registers is symmetric; llvm prints `87 /r` with the operands swapped.
    if m == "xchg" && g.1.len() == 2 && l.1.len() == 2 && g.1[0] == l.1[1] && g.1[1] == l.1[0] {
        fired("R9 xchg operand order");
        g.1.swap(0, 1);
    }
    // R7: `66 90`: llvm says `nop`, iced and GNU `xchg ax,ax`.
    if m == "xchg"
        && g.1 == [vec![Tok::Word("ax".into())], vec![Tok::Word("ax".into())]]
        && mnemonic(&l.0) == "nop"
        && l.1.is_empty()
    {
        fired("R7 66 90 nop");
        g.0 = l.0.clone();
        g.1.clear();
    }
}

struct Normalised {
    gloss: String,
    llvm: String,
    same: bool,
}

fn normalise(arch: Arch, gloss: &Unit, llvm_text: &str) -> Normalised {
    let g = strip_decorations(arch, &gloss.text);
    let l = strip_decorations(arch, llvm_text);
    match arch {
        Arch::X86_64 => {
            let (mut gc, mut lc) = (x86_canonical(&g), x86_canonical(&l));
            x86_reconcile(&mut gc, &mut lc);
            let (gt, lt) = (join_operands(&gc.0, &gc.1), join_operands(&lc.0, &lc.1));
            Normalised {
                same: same_tokens(&gt, &lt),
                gloss: render(&gt),
                llvm: render(&lt),
            }
        }
        // AArch64: llvm-objdump is the reference style, so the text must be identical.
        Arch::Aarch64 => Normalised {
            same: g == l,
            gloss: g,
            llvm: l,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison

struct Outcome {
    name: String,
    arch: Arch,
    tally: Tally,
    diffs: Vec<Diff>,
    notes: Vec<String>,
}

fn compare_file(path: &Path, name: &str) -> Outcome {
    let mut notes = Vec::new();
    let img = match gloss::open(path) {
        Ok(img) => img,
        Err(e) => {
            // Recorded as a difference so that it must be justified in known-differences.txt.
            let arch = if name.contains("aarch64") || name.contains("arm64") {
                Arch::Aarch64
            } else {
                Arch::X86_64
            };
            let d = Diff {
                file: name.into(),
                arch,
                kind: "unsupported",
                addr: 0,
                gloss: e.to_string(),
                llvm: "-".into(),
            };
            return Outcome {
                name: name.into(),
                arch,
                tally: Tally::default(),
                diffs: vec![d],
                notes,
            };
        }
    };
    let arch = img.arch;
    let g = gloss_listing(&img);
    let (mut l, llvm_sections) = llvm_listing(path, arch);
    let mut tally = Tally::default();
    let mut diffs = Vec::new();
    let mk = |kind: &'static str, addr: u64, gloss: String, llvm: String| Diff {
        file: name.into(),
        arch,
        kind,
        addr,
        gloss,
        llvm,
    };

    for (sec, gunits) in &g {
        let Some(lunits) = l.get_mut(sec) else {
            if gunits.iter().any(|u| u.kind != Kind::Data) {
                diffs.push(mk(
                    "section",
                    gunits[0].addr,
                    format!("{sec} disassembled"),
                    "not disassembled".into(),
                ));
            }
            continue;
        };
        // Relocatable objects: gloss lays sections out itself, llvm shows them at their sh_addr.
        let gsec = img.sections.iter().find(|s| s.name == *sec);
        let delta = match (gsec, llvm_sections.get(sec)) {
            (Some(gs), Some(&(vma, _))) => gs.addr.0.wrapping_sub(vma),
            _ => 0,
        };
        if delta != 0 {
            for u in lunits.iter_mut() {
                u.addr = u.addr.wrapping_add(delta);
            }
        }
        compare_section(
            arch,
            delta,
            gunits,
            lunits,
            &mut tally,
            &mut |k, a, gt, lt| diffs.push(mk(k, a, gt, lt)),
        );
    }
    for (sec, lunits) in &l {
        if !g.contains_key(sec) && lunits.iter().any(|u| u.kind != Kind::Data) {
            diffs.push(mk(
                "section",
                lunits[0].addr,
                "not disassembled".into(),
                format!("{sec} disassembled"),
            ));
        }
    }
    if tally.total() == 0 {
        notes.push("no instructions compared".into());
    }
    Outcome {
        name: name.into(),
        arch,
        tally,
        diffs,
        notes,
    }
}

/// The unit of `units` that covers `addr`, if any.
fn covering(units: &[Unit], addr: u64) -> Option<&Unit> {
    let i = units.partition_point(|u| u.addr <= addr);
    units[..i].last().filter(|u| addr < u.addr + u.len)
}

fn compare_section(
    arch: Arch,
    delta: u64,
    g: &[Unit],
    l: &[Unit],
    tally: &mut Tally,
    report: &mut dyn FnMut(&'static str, u64, String, String),
) {
    let (mut i, mut j) = (0, 0);
    // Set after a length or boundary difference until both sides start a unit at one address again.
    let mut desynced = false;
    while i < g.len() || j < l.len() {
        let ga = g.get(i).map(|u| u.addr).unwrap_or(u64::MAX);
        let la = l.get(j).map(|u| u.addr).unwrap_or(u64::MAX);
        if ga == la {
            let (gu, lu) = (&g[i], &l[j]);
            i += 1;
            j += 1;
            desynced = false;
            if gu.kind == Kind::Data || lu.kind == Kind::Data {
                tally.skipped_data += 1;
                continue;
            }
            tally.common += 1;
            match (gu.kind, lu.kind) {
                (g, l) if not_insn(g) && not_insn(l) => {
                    if gu.len == lu.len {
                        tally.identical += 1;
                    } else {
                        report(
                            "length",
                            ga,
                            format!("<invalid> ({} bytes)", gu.len),
                            format!("<unknown> ({} bytes)", lu.len),
                        );
                        desynced = true;
                    }
                }
                (g, l) if not_insn(g) || not_insn(l) => {
                    let gt = match gu.kind {
                        Kind::Invalid => format!("<invalid> {}", gu.text),
                        Kind::Unknown => format!("<unknown-to-decoder> {}", gu.text),
                        _ => strip_decorations(arch, &gu.text),
                    };
                    let lt = if not_insn(lu.kind) {
                        "<unknown>".to_string()
                    } else {
                        strip_decorations(arch, &lu.text)
                    };
                    report("validity", ga, gt, lt);
                    desynced = gu.len != lu.len;
                }
                _ => {
                    let llvm_text =
                        relocate_target(&strip_decorations(arch, &lu.text), gu.target, delta);
                    take_fired();
                    let n = normalise(arch, gu, &llvm_text);
                    let mut rules = take_fired();
                    rules.dedup();
                    if n.same {
                        for r in rules {
                            *tally.rules.entry(r).or_default() += 1;
                        }
                    }
                    if gu.len != lu.len {
                        report(
                            "length",
                            ga,
                            format!("{} ({} bytes)", n.gloss, gu.len),
                            format!("{} ({} bytes)", n.llvm, lu.len),
                        );
                        desynced = true;
                    } else if n.same {
                        tally.identical += 1;
                    } else {
                        report("text", ga, n.gloss, n.llvm);
                    }
                }
            }
        } else if ga < la {
            let gu = &g[i];
            i += 1;
            match covering(l, ga) {
                Some(lu) if gu.kind != Kind::Data && lu.kind != Kind::Data => {
                    tally.gloss_only += 1;
                    if !desynced {
                        report(
                            "boundary",
                            ga,
                            strip_decorations(arch, &gu.text),
                            format!(
                                "inside {:#x} {}",
                                lu.addr,
                                strip_decorations(arch, &lu.text)
                            ),
                        );
                        desynced = true;
                    }
                }
                _ => tally.skipped_data += 1,
            }
        } else {
            let lu = &l[j];
            j += 1;
            match covering(g, la) {
                Some(gu) if gu.kind != Kind::Data && lu.kind != Kind::Data => {
                    tally.llvm_only += 1;
                    if !desynced {
                        report(
                            "boundary",
                            la,
                            format!(
                                "inside {:#x} {}",
                                gu.addr,
                                strip_decorations(arch, &gu.text)
                            ),
                            strip_decorations(arch, &lu.text),
                        );
                        desynced = true;
                    }
                }
                _ => tally.skipped_data += 1,
            }
        }
    }
}

/// In relocatable objects llvm prints targets in section-relative addresses; rewrite the one that
/// is gloss's target minus the section's displacement.
fn relocate_target(llvm: &str, gloss_target: Option<u64>, delta: u64) -> String {
    match gloss_target {
        Some(t) if delta != 0 => {
            let want = format!("{:#x}", t.wrapping_sub(delta));
            let mut out = String::new();
            let mut done = false;
            for (k, piece) in llvm.split(' ').enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                let core = piece.trim_end_matches(',');
                if !done && core == want {
                    let _ = write!(out, "{:#x}{}", t, &piece[core.len()..]);
                    done = true;
                } else {
                    out.push_str(piece);
                }
            }
            out
        }
        _ => llvm.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Known differences

struct Known {
    re: Regex,
    line: usize,
    justification: String,
    hits: usize,
}

/// Reads `known-differences.txt`: `#` lines are justification comments; every other non-empty
/// line is a regex matched against `FILE ARCH KIND: GLOSS ~ LLVM` and must follow a comment.
fn load_known() -> Vec<Known> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/known-differences.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut comment = String::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            if !comment.is_empty() {
                comment.push(' ');
            }
            comment.push_str(c.trim());
        } else if t.is_empty() {
            comment.clear();
        } else {
            assert!(
                !comment.is_empty(),
                "{}:{}: pattern without a justification comment above it",
                path.display(),
                n + 1
            );
            let re = Regex::new(t)
                .unwrap_or_else(|e| panic!("{}:{}: bad regex: {e}", path.display(), n + 1));
            out.push(Known {
                re,
                line: n + 1,
                justification: comment.clone(),
                hits: 0,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Inputs

fn is_elf(p: &Path) -> bool {
    std::fs::read(p)
        .map(|b| b.starts_with(b"\x7fELF"))
        .unwrap_or(false)
}

fn real_binaries() -> (Vec<(PathBuf, String)>, Option<String>) {
    let root = workspace_root().join("target/real-binaries");
    if !root.join(".fetched").exists() {
        return (
            vec![],
            Some(format!(
                "{} is missing: real binaries skipped (run scripts/fetch-real-binaries.sh)",
                root.display()
            )),
        );
    }
    let sel = std::env::var("GLOSS_DIFF_REAL").ok();
    let wanted: Option<Vec<String>> = match sel.as_deref() {
        Some("all") => None,
        Some(list) => Some(
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        None => Some(DEFAULT_REAL.iter().map(|s| s.to_string()).collect()),
    };
    let mut out = Vec::new();
    for deb_arch in ["amd64", "arm64"] {
        let mut files = Vec::new();
        let mut stack = vec![root.join(deb_arch)];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    stack.push(p);
                } else if ft.is_file() {
                    let fname = p.file_name().unwrap().to_string_lossy().to_string();
                    if wanted.as_ref().is_none_or(|w| w.contains(&fname)) && is_elf(&p) {
                        files.push((p, format!("{fname}-{deb_arch}")));
                    }
                }
            }
        }
        files.sort();
        out.extend(files);
    }
    (out, None)
}

fn fixture_binaries() -> Vec<(PathBuf, String)> {
    let dir = workspace_root().join("fixtures/bin");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            (p, n)
        })
        .collect();
    v.sort();
    v
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Writes to the real stderr, past libtest's output capture, so the agreement rates show in every
/// `cargo test` log, passing or not.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn check_llvm_objdump() {
    let ok = Command::new(LLVM_OBJDUMP)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{LLVM_OBJDUMP} is not installed or does not run: the differential test needs it \
         (Debian: apt-get install llvm-19)"
    );
}

#[test]
fn gloss_agrees_with_llvm_objdump() {
    check_llvm_objdump();
    let mut known = load_known();
    let mut inputs = fixture_binaries();
    let (real, note) = real_binaries();
    if let Some(n) = &note {
        say(&format!("differential: note: {n}"));
    }
    inputs.extend(real);

    // Two workers: llvm-objdump and gloss each take a core.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((p, n)) = inputs.get(k) else { break };
                    let o = compare_file(p, n);
                    results.lock().unwrap().push((k, o));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut report = String::new();
    let mut uncovered: Vec<(String, &Diff)> = Vec::new();
    let mut per_arch: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut all = Tally::default();
    let (mut fixtures_t, mut real_t) = (Tally::default(), Tally::default());
    let n_fixtures = fixture_binaries().len();
    for (k, o) in &results {
        let t = &o.tally;
        let line = format!(
            "differential: {}: {}/{} identical ({:.3}%); boundary-only starts gloss {} llvm {}; {} data units skipped; {} differences{}",
            o.name,
            t.identical,
            t.total(),
            pct(t.identical, t.total()),
            t.gloss_only,
            t.llvm_only,
            t.skipped_data,
            o.diffs.len(),
            if o.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", o.notes.join("; "))
            }
        );
        say(&line);
        let _ = writeln!(report, "{line}");
        per_arch.entry(arch_name(o.arch)).or_default().add(t);
        all.add(t);
        if *k < n_fixtures {
            fixtures_t.add(t)
        } else {
            real_t.add(t)
        }
        for d in &o.diffs {
            let subj = d.subject();
            let hit = known.iter_mut().find(|kd| kd.re.is_match(&subj));
            let tag = match hit {
                Some(kd) => {
                    kd.hits += 1;
                    format!("known (line {})", kd.line)
                }
                None => {
                    uncovered.push((subj.clone(), d));
                    "UNCOVERED".to_string()
                }
            };
            let _ = writeln!(report, "  {:#x} [{tag}] {subj}", d.addr);
        }
    }
    let mut summary = vec![];
    for (a, t) in &per_arch {
        summary.push(format!(
            "differential: all {a}: {}/{} identical ({:.3}%)",
            t.identical,
            t.total(),
            pct(t.identical, t.total())
        ));
    }
    summary.push(format!(
        "differential: fixtures: {}/{} identical ({:.3}%)",
        fixtures_t.identical,
        fixtures_t.total(),
        pct(fixtures_t.identical, fixtures_t.total())
    ));
    summary.push(format!(
        "differential: real binaries: {}/{} identical ({:.3}%)",
        real_t.identical,
        real_t.total(),
        pct(real_t.identical, real_t.total())
    ));
    summary.push(format!(
        "differential: overall: {}/{} identical ({:.3}%), {} differences, {} not covered by known-differences.txt",
        all.identical,
        all.total(),
        pct(all.identical, all.total()),
        results.iter().map(|r| r.1.diffs.len()).sum::<usize>(),
        uncovered.len()
    ));
    for s in &summary {
        say(s);
        let _ = writeln!(report, "{s}");
    }
    for (r, n) in &all.rules {
        let line = format!("differential: normalisation rule {r}: {n} instructions");
        say(&line);
        let _ = writeln!(report, "{line}");
    }
    let _ = writeln!(report, "\nknown-differences patterns (hits):");
    for kd in &known {
        let _ = writeln!(
            report,
            "  line {:>3}: {:>6}  {}  -- {}",
            kd.line,
            kd.hits,
            kd.re.as_str(),
            kd.justification
        );
    }
    let report_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential-report.txt");
    let _ = std::fs::write(&report_path, &report);
    say(&format!(
        "differential: full report in {}",
        report_path.display()
    ));
    for kd in known.iter().filter(|k| k.hits == 0) {
        say(&format!(
            "differential: note: known-differences.txt line {} matched nothing: {}",
            kd.line,
            kd.re.as_str()
        ));
    }

    if !uncovered.is_empty() {
        let mut msg = format!(
            "{} differences are not covered by crates/gloss/tests/differential/known-differences.txt \
             (fix gloss, or add a justified pattern; format: FILE ARCH KIND: GLOSS ~ LLVM). First ones:\n",
            uncovered.len()
        );
        for (subj, d) in uncovered.iter().take(30) {
            let _ = writeln!(msg, "  {:#x}  {subj}", d.addr);
        }
        panic!("{msg}");
    }
}

// ---------------------------------------------------------------------------------------------
// The normaliser itself: it must fold presentation and nothing else.

#[cfg(test)]
mod normaliser {
    use super::*;

    fn same(arch: Arch, gloss: &str, llvm: &str) -> bool {
        let u = Unit {
            addr: 0,
            len: 1,
            kind: Kind::Insn,
            text: gloss.into(),
            target: None,
        };
        normalise(arch, &u, llvm).same
    }

    #[test]
    fn x86_presentation_is_folded() {
        let x = Arch::X86_64;
        assert!(same(
            x,
            "mov rax,QWORD PTR [rip+0x1ffad]",
            "mov\trax, qword ptr [rip + 0x1ffad] # 0x23fb8"
        ));
        assert!(same(x, "je 0x4012", "je\t0x4012 <.init+0x12>"));
        assert!(same(x, "and rsp,0xfffffffffffffff0", "and\trsp, -0x10"));
        assert!(same(x, "mov eax,0xffffffff", "mov\teax, -0x1"));
        assert!(same(
            x,
            "mov rdi,QWORD PTR [rcx+rax*8]",
            "mov\trdi, qword ptr [rcx + 8*rax]"
        ));
        assert!(same(x, "lea eax,[rdi+rdi*2]", "lea\teax, [rdi + 2*rdi]"));
        assert!(same(
            x,
            "mov DWORD PTR [rbp-0x8],eax",
            "mov\tdword ptr [rbp - 0x8], eax"
        ));
        assert!(same(
            x,
            "mov rcx,0x7fffffffffffffff",
            "movabs\trcx, 0x7fffffffffffffff"
        ));
        assert!(same(x, "shr rax,0x1", "shr\trax"));
        assert!(same(x, "fstp st(1),st", "fstp\tst(1)"));
        assert!(same(x, "fld st,st(0)", "fld\tst(0)"));
        assert!(same(x, "fucomip st,st(1)", "fucompi\tst(1)"));
        assert!(same(x, "xchg ax,ax", "nop"));
        assert!(same(x, "xchg rbx,r15", "xchg\tr15, rbx"));
        assert!(same(
            x,
            "rep stosq QWORD PTR [rdi]",
            "rep\t\tstosq\tqword ptr es:[rdi], rax"
        ));
        assert!(same(x, "cmpsd xmm1,xmm2,0x1", "cmpltsd\txmm1, xmm2"));
        assert!(same(x, "push 0xffffffffffffffff", "push\t-0x1"));
        assert!(same(
            x,
            "vpcmpb k0,zmm0,zmm2,0x0",
            "vpcmpeqb\tk0, zmm0, zmm2"
        ));
        assert!(same(x, "vpcmpeqb k0,zmm0,zmm2", "vpcmpeqb\tk0, zmm0, zmm2"));
        assert!(same(
            x,
            "vfmadd213pd zmm0{rne-sae},zmm1,zmm2",
            "vfmadd213pd\tzmm0, zmm1, zmm2, {rn-sae}"
        ));
        assert!(same(
            x,
            "vcmppd k1{sae},zmm8,zmm11,0x11",
            "vcmplt_oqpd\tk1, zmm8, zmm11, {sae}"
        ));
        assert!(same(
            x,
            "vgatherqpd ymm6,QWORD PTR [rax+ymm1*8],ymm5",
            "vgatherqpd\tymm6, ymmword ptr [rax + 8*ymm1], ymm5"
        ));
        assert!(same(
            x,
            "vgatherdpd zmm4,k3,QWORD PTR [rax+ymm0+0x8]",
            "vgatherdpd\tzmm4 {k3}, zmmword ptr [rax + ymm0 + 0x8]"
        ));
        assert!(same(x, "(bad)", "(bad)"));
    }

    #[test]
    fn x86_semantics_are_not_folded() {
        let x = Arch::X86_64;
        assert!(!same(x, "mov eax,0x1", "mov\teax, 0x2"));
        assert!(!same(
            x,
            "mov eax,DWORD PTR [rbp-0x8]",
            "mov\teax, dword ptr [rbp + 0x8]"
        ));
        assert!(!same(
            x,
            "mov eax,DWORD PTR [rbp-0x8]",
            "mov\teax, qword ptr [rbp - 0x8]"
        ));
        assert!(!same(
            x,
            "mov rdi,QWORD PTR [rcx+rax*4]",
            "mov\trdi, qword ptr [rcx + 8*rax]"
        ));
        assert!(!same(
            x,
            "movsd xmm0,QWORD PTR [rsi]",
            "movsd\txmm1, qword ptr [rsi]"
        ));
        assert!(!same(x, "fadd st,st(1)", "fadd\tst(1), st"));
        assert!(!same(x, "xchg rbx,r15", "xchg\trbx, r14"));
        assert!(!same(x, "cmpsd xmm1,xmm2,0x2", "cmpltsd\txmm1, xmm2"));
        assert!(!same(
            x,
            "vpcmpb k0,zmm0,zmm2,0x1",
            "vpcmpeqb\tk0, zmm0, zmm2"
        ));
        assert!(!same(
            x,
            "vpcmpub k0,zmm0,zmm2,0x0",
            "vpcmpeqb\tk0, zmm0, zmm2"
        ));
        assert!(!same(
            x,
            "vaddpd zmm4{rd-sae},zmm0,zmm3",
            "vaddpd\tzmm4, zmm0, zmm3, {ru-sae}"
        ));
        assert!(!same(
            x,
            "vgatherqpd ymm6,QWORD PTR [rax+ymm1*4],ymm5",
            "vgatherqpd\tymm6, ymmword ptr [rax + 8*ymm1], ymm5"
        ));
        assert!(!same(x, "sub rax,rbx", "sub\trbx, rax"));
        assert!(!same(x, "je 0x4012", "jne\t0x4012"));
    }

    #[test]
    fn aarch64_must_match_llvm_text() {
        let a = Arch::Aarch64;
        assert!(same(
            a,
            "mov x0, #0x10000",
            "mov\tx0, #0x10000            // =65536"
        ));
        assert!(same(a, "mov w1, #0x1", "mov\tw1, #0x1 ; =1"));
        assert!(same(a, "bl 0x7a0", "bl\t0x7a0 <dispatch>"));
        assert!(!same(a, "lsl x0, x1, #0x3", "lsl\tx0, x1, #3"));
        assert!(!same(a, "mov x0, #0xffffffffffffffff", "mov\tx0, #-0x1"));
    }

    #[test]
    fn relocatable_targets_are_rebased() {
        assert_eq!(
            relocate_target("call 0x11", Some(0x6b1), 0x6a0),
            "call 0x6b1"
        );
        assert_eq!(relocate_target("bl 0x20", Some(0x6c0), 0x6a0), "bl 0x6c0");
        assert_eq!(relocate_target("bl 0x20", Some(0x6c0), 0), "bl 0x20");
    }

    #[test]
    fn split_prefixes_are_rejoined() {
        let mut v = vec![
            Unit {
                addr: 0x1300,
                len: 1,
                kind: Kind::Insn,
                text: "lock".into(),
                target: None,
            },
            Unit {
                addr: 0x1301,
                len: 7,
                kind: Kind::Insn,
                text: "or\tdword ptr [rdi + 0xa8], 0x1".into(),
                target: None,
            },
            Unit {
                addr: 0x1308,
                len: 2,
                kind: Kind::Insn,
                text: "xor\teax, eax".into(),
                target: None,
            },
        ];
        merge_split_prefixes(&mut v);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].addr, v[0].len), (0x1300, 8));
        assert!(same(
            Arch::X86_64,
            "lock or DWORD PTR [rdi+0xa8],0x1",
            &v[0].text
        ));
    }
}
