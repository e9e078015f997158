//! AArch64 through bad64 (Binary Ninja's decoder; see docs/decisions/0001-decoders.md).
//!
//! bad64 gives structured operands but no flow classification and a `Display` that differs from
//! LLVM's (`fp`/`lr`, unsigned 64-bit negatives, hex shift amounts), so this module classifies
//! flow per opcode and prints operands itself, in llvm-objdump-19's style.
use bad64::{Imm, Op, Operand, Reg, Shift};
mod sem;

use crate::short::Short;
use gloss_core::hex::{self, TextOut};
use gloss_core::sem::Op as SemOp;
use gloss_core::{
    Arch, Disassembler, EachRun, Flow, Insn, InsnStatus, InsnText, OpDecoder, Sem, Syntax,
};
use num_traits::FromPrimitive;
use std::cell::RefCell;
use std::io::Write;
use std::sync::OnceLock;

pub struct Aarch64;

fn word(bytes: &[u8]) -> Option<u32> {
    bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn label(ops: &[Operand]) -> Option<u64> {
    ops.iter().find_map(|o| match o {
        Operand::Label(Imm::Unsigned(a)) => Some(*a),
        Operand::Label(Imm::Signed(a)) => Some(*a as u64),
        _ => None,
    })
}

fn classify(i: &bad64::Instruction) -> (Flow, Option<u64>) {
    let ops = i.operands();
    let target = label(ops);
    let t = || target.unwrap_or(0);
    use Op::*;
    let flow = match i.op() {
        B | B_AL => Flow::Jump(t()),
        BL => Flow::Call(t()),
        B_EQ | B_NE | B_CS | B_CC | B_MI | B_PL | B_VS | B_VC | B_HI | B_LS | B_GE | B_LT
        | B_GT | B_LE | CBZ | CBNZ | TBZ | TBNZ | CBEQ | CBNE | CBGE | CBGT | CBHI | CBHS
        | CBLE | CBLO | CBLS | CBLT | CBBEQ | CBBGE | CBBGT | CBBHI | CBBHS | CBBLE | CBBLO
        | CBBLS | CBBLT | CBBNE | CBHEQ | CBHGE | CBHGT | CBHHI | CBHHS | CBHLE | CBHLO | CBHLS
        | CBHLT | CBHNE => Flow::CondJump(t()),
        // `b.nv` behaves as `b` architecturally.
        B_NV => Flow::Jump(t()),
        BR | BRAA | BRAAZ | BRAB | BRABZ => Flow::IndirectJump,
        BLR | BLRAA | BLRAAZ | BLRAB | BLRABZ => Flow::IndirectCall,
        RET | RETAA | RETAB | RETAASPPC | RETABSPPC | RETAASPPCR | RETABSPPCR | ERET | ERETAA
        | ERETAB => Flow::Return,
        BRK | UDF | HLT => Flow::Trap,
        _ => Flow::Next,
    };
    // ADR, ADRP and literal loads carry a label that is a data address, not a branch target.
    let pc_ref = if flow.target().is_none() {
        target
    } else {
        None
    };
    (flow, pc_ref)
}

#[inline]
fn decode_bad64(bytes: &[u8], addr: u64) -> Result<bad64::Instruction, Insn> {
    let Some(w) = word(bytes) else {
        return Err(Insn {
            addr,
            len: bytes.len().min(4) as u8,
            status: InsnStatus::Invalid,
            flow: Flow::Next,
            pc_ref: None,
        });
    };
    bad64::decode(w, addr).map_err(|e| {
        // Unallocated/reserved encodings are not instructions; anything else the decoder cannot
        // match may be a newer extension (FEAT_MOPS in glibc), so it is `Unknown`, not data.
        let status = match e {
            bad64::DecodeError::Unallocated(_)
            | bad64::DecodeError::Reserved(_)
            | bad64::DecodeError::Undefined(_) => InsnStatus::Invalid,
            _ => InsnStatus::Unknown,
        };
        Insn {
            addr,
            len: 4,
            status,
            flow: Flow::Next,
            pc_ref: None,
        }
    })
}

fn to_insn(i: &bad64::Instruction, addr: u64) -> Insn {
    let (flow, pc_ref) = classify(i);
    Insn {
        addr,
        len: 4,
        status: InsnStatus::Valid,
        flow,
        pc_ref,
    }
}

impl Disassembler for Aarch64 {
    fn arch(&self) -> Arch {
        Arch::Aarch64
    }

    fn decode(&self, bytes: &[u8], addr: u64) -> Insn {
        match decode_bad64(bytes, addr) {
            Ok(i) => to_insn(&i, addr),
            Err(bad) => bad,
        }
    }

    fn decode_sem(&self, bytes: &[u8], addr: u64) -> (Insn, Sem) {
        SEM_CACHE.with(|c| c.borrow_mut().decode_sem(bytes, addr))
    }

    fn decode_op_run(
        &self,
        bytes: &[u8],
        addr: u64,
        f: &mut dyn FnMut(&Insn, &SemOp, &[u8]) -> bool,
    ) {
        let mut off = 0;
        while off < bytes.len() {
            let at = addr.wrapping_add(off as u64);
            // (the cache is not held while `f` runs: it may decode too)
            let (insn, op) = SEM_CACHE.with(|c| c.borrow_mut().decode_op(&bytes[off..], at));
            if !f(&insn, &op, &bytes[off..]) {
                return;
            }
            off += (insn.len as usize).clamp(1, bytes.len() - off);
        }
    }

    fn op_decoder<'b>(&'b self, bytes: &'b [u8], addr: u64) -> Box<dyn OpDecoder + 'b> {
        // bad64 keeps no decoder state: each run decodes as `decode_op_run` does
        Box::new(EachRun {
            dis: self,
            bytes,
            addr,
        })
    }

    fn decode_text(&self, bytes: &[u8], addr: u64, _syntax: Syntax, out: &mut InsnText) -> Insn {
        text(bytes, addr, out).insn
    }

    fn decode_text_run(
        &self,
        bytes: &[u8],
        addr: u64,
        _syntax: Syntax,
        out: &mut InsnText,
        f: &mut dyn FnMut(&Insn, &InsnText) -> bool,
    ) {
        TEXT_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            let mut off = 0;
            while off < bytes.len() {
                let at = addr.wrapping_add(off as u64);
                let insn = cache.text(&bytes[off..], at, out);
                if !f(&insn, out) {
                    return;
                }
                off += (insn.len as usize).clamp(1, bytes.len() - off);
            }
        });
    }
}

/// What [`text`] learned besides the text: whether it may be cached by word.
struct Printed {
    insn: Insn,
    /// Neither the text nor the `Insn` (beyond its address) depends on the address: no
    /// PC-relative label.
    address_free: bool,
    /// The mnemonic is `names().ops[op]` (`None`: `.inst`, `.byte`, or a name not in the table).
    op: Option<u16>,
}

/// Decodes and prints one instruction.
fn text(bytes: &[u8], addr: u64, out: &mut InsnText) -> Printed {
    out.clear();
    match decode_bad64(bytes, addr) {
        Ok(i) => {
            let op = i.op() as usize;
            let name = names().ops.get(op).and_then(Option::as_ref);
            match name {
                Some(m) => m.append_to(&mut out.mnemonic),
                None => out.mnemonic.put_str(i.op().mnem()),
            }
            let style = Style::of(&i);
            let mut address_free = true;
            for (n, op) in i.operands().iter().enumerate() {
                if n > 0 {
                    out.operands.put_str(", ");
                }
                address_free &= !matches!(op, Operand::Label(_));
                write_operand(&mut out.operands, op, &style);
            }
            Printed {
                insn: to_insn(&i, addr),
                address_free,
                op: name.and_then(|_| u16::try_from(op).ok()),
            }
        }
        Err(bad) => {
            match word(bytes) {
                Some(w) => {
                    out.mnemonic.put_str(".inst");
                    out.operands.put_str("0x");
                    hex::push_hex_zeros(&mut out.operands, u64::from(w), 8);
                }
                None => {
                    out.mnemonic.put_str(".byte");
                    for (n, b) in bytes.iter().take(3).enumerate() {
                        if n > 0 {
                            out.operands.put_str(", ");
                        }
                        out.operands.put_str("0x");
                        hex::push_hex_zeros(&mut out.operands, u64::from(*b), 2);
                    }
                }
            }
            Printed {
                insn: bad,
                address_free: bad.len == 4,
                op: None,
            }
        }
    }
}

thread_local! {
    static TEXT_CACHE: RefCell<TextCache> = RefCell::new(TextCache::new());
    static SEM_CACHE: RefCell<SemCache> = RefCell::new(SemCache::new());
}

fn decode_sem_uncached(bytes: &[u8], addr: u64) -> (Insn, Sem) {
    match decode_bad64(bytes, addr) {
        Ok(i) => (to_insn(&i, addr), sem::lower(&i)),
        Err(bad) => (bad, Sem::NONE),
    }
}

/// The analyses decode every instruction (the CFG traversal, then the idioms), and bad64 is
/// most of that cost; as for [`TextCache`], an instruction without a PC-relative operand or
/// branch target means the same wherever it is, so its flow and semantics are kept by word
/// (direct-mapped).
struct SemCache {
    tags: Vec<u32>,
    slots: Vec<(InsnStatus, Flow, Sem)>,
}

impl SemCache {
    const BITS: u32 = 15;

    fn new() -> SemCache {
        let n = 1usize << Self::BITS;
        // an empty slot's tag is a word of another slot, so it never matches
        let slot = |w: u32| TextCache::slot_bits(w, Self::BITS);
        let w0 = (0u32..).find(|&w| slot(w) == 0).unwrap_or(0);
        let w1 = (0u32..).find(|&w| slot(w) == 1).unwrap_or(1);
        let mut tags = vec![w0; n];
        tags[0] = w1;
        SemCache {
            tags,
            slots: vec![(InsnStatus::Invalid, Flow::Next, Sem::NONE); n],
        }
    }

    fn decode_sem(&mut self, bytes: &[u8], addr: u64) -> (Insn, Sem) {
        if let Some((insn, k)) = self.hit(bytes, addr) {
            return (insn, self.slots[k].2);
        }
        self.decode_miss(bytes, addr)
    }

    /// As `decode_sem`, copying only the op out of the cache.
    fn decode_op(&mut self, bytes: &[u8], addr: u64) -> (Insn, SemOp) {
        if let Some((insn, k)) = self.hit(bytes, addr) {
            return (insn, self.slots[k].2.op);
        }
        let (insn, sem) = self.decode_miss(bytes, addr);
        (insn, sem.op)
    }

    /// The instruction at `addr` and its slot, when its word is cached.
    fn hit(&self, bytes: &[u8], addr: u64) -> Option<(Insn, usize)> {
        let w = word(bytes)?;
        let k = TextCache::slot_bits(w, Self::BITS);
        (self.tags[k] == w).then(|| {
            let (status, flow, _) = self.slots[k];
            let insn = Insn {
                addr,
                len: 4,
                status,
                flow,
                pc_ref: None,
            };
            (insn, k)
        })
    }

    /// Decodes an instruction not in the cache, and keeps it there if its word alone says
    /// what it means.
    fn decode_miss(&mut self, bytes: &[u8], addr: u64) -> (Insn, Sem) {
        let Some(w) = word(bytes) else {
            return decode_sem_uncached(bytes, addr);
        };
        let k = TextCache::slot_bits(w, Self::BITS);
        let (insn, sem) = decode_sem_uncached(bytes, addr);
        if insn.pc_ref.is_none() && insn.len == 4 && Slot::flow_code(insn.flow).is_some() {
            self.tags[k] = w;
            self.slots[k] = (insn.status, insn.flow, sem);
        }
        (insn, sem)
    }
}

/// The text of instructions without PC-relative operands depends on the instruction word alone,
/// and a large binary repeats its words (register saves, returns, moves): in libLLVM 86% of
/// such words were among the last 64 Ki seen. A direct-mapped cache of their text by word skips
/// bad64 and the printer for those; listings (`decode_text_run`) use it.
///
/// Tags (the words) are apart from the texts so that the check stays in the CPU's cache; a text
/// is one 64-byte line.
struct TextCache {
    tags: Vec<u32>,
    slots: Vec<Slot>,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot {
    operands: [u8; Slot::OPERANDS],
    operands_len: u8,
    status: u8,
    flow: u8,
    /// Index into `names().ops`, or [`Slot::INST`] for `.inst`.
    op: u16,
}

impl Slot {
    const OPERANDS: usize = 59;
    const INST: u16 = u16::MAX;
    const EMPTY: Slot = Slot {
        operands: [0; Slot::OPERANDS],
        operands_len: 0,
        status: 0,
        flow: 0,
        op: 0,
    };

    fn status(code: u8) -> InsnStatus {
        match code {
            0 => InsnStatus::Valid,
            1 => InsnStatus::Invalid,
            _ => InsnStatus::Unknown,
        }
    }

    fn status_code(s: InsnStatus) -> u8 {
        match s {
            InsnStatus::Valid => 0,
            InsnStatus::Invalid => 1,
            InsnStatus::Unknown => 2,
        }
    }

    /// Only flows without a target are cached.
    fn flow(code: u8) -> Flow {
        match code {
            0 => Flow::Next,
            1 => Flow::IndirectJump,
            2 => Flow::IndirectCall,
            3 => Flow::Return,
            _ => Flow::Trap,
        }
    }

    fn flow_code(f: Flow) -> Option<u8> {
        match f {
            Flow::Next => Some(0),
            Flow::IndirectJump => Some(1),
            Flow::IndirectCall => Some(2),
            Flow::Return => Some(3),
            Flow::Trap => Some(4),
            Flow::Jump(_) | Flow::CondJump(_) | Flow::Call(_) => None,
        }
    }
}

impl TextCache {
    const BITS: u32 = 16;

    fn slot(w: u32) -> usize {
        Self::slot_bits(w, Self::BITS)
    }

    fn slot_bits(w: u32, bits: u32) -> usize {
        (w.wrapping_mul(0x9e37_79b1) >> (32 - bits)) as usize
    }

    fn new() -> TextCache {
        // An empty slot's tag is a word that belongs to another slot, so it never matches.
        let n = 1usize << Self::BITS;
        let w0 = (0u32..).find(|&w| Self::slot(w) == 0).unwrap_or(0);
        let w1 = (0u32..).find(|&w| Self::slot(w) == 1).unwrap_or(1);
        let mut tags = vec![w0; n];
        tags[0] = w1;
        TextCache {
            tags,
            slots: vec![Slot::EMPTY; n],
        }
    }

    fn text(&mut self, bytes: &[u8], addr: u64, out: &mut InsnText) -> Insn {
        let Some(w) = word(bytes) else {
            return text(bytes, addr, out).insn;
        };
        let k = Self::slot(w);
        if self.tags[k] == w {
            let s = &self.slots[k];
            out.clear();
            match s.op {
                Slot::INST => out.mnemonic.put_str(".inst"),
                op => {
                    if let Some(Some(m)) = names().ops.get(usize::from(op)) {
                        m.append_to(&mut out.mnemonic);
                    }
                }
            }
            let len = out.operands.len();
            out.operands.extend_from_slice(&s.operands);
            out.operands.truncate(len + usize::from(s.operands_len));
            return Insn {
                addr,
                len: 4,
                status: Slot::status(s.status),
                flow: Slot::flow(s.flow),
                pc_ref: None,
            };
        }
        let p = text(bytes, addr, out);
        let op = match p.op {
            Some(op) => Some(op),
            None if out.mnemonic == b".inst" => Some(Slot::INST),
            None => None,
        };
        if let (true, None, Some(flow), Some(op)) = (
            p.address_free,
            p.insn.pc_ref,
            Slot::flow_code(p.insn.flow),
            op,
        ) && out.operands.len() <= Slot::OPERANDS
        {
            let mut slot = Slot {
                operands_len: out.operands.len() as u8,
                status: Slot::status_code(p.insn.status),
                flow,
                op,
                ..Slot::EMPTY
            };
            slot.operands[..out.operands.len()].copy_from_slice(&out.operands);
            self.slots[k] = slot;
            self.tags[k] = w;
        }
        p.insn
    }
}

/// Per-instruction printing choices where llvm-objdump's style depends on the instruction, not
/// only on the operand (AArch64InstPrinter special-cases these).
#[derive(Default)]
struct Style {
    /// Bitfield aliases (`lsl`/`lsr`/`asr` by immediate, `ubfx`, `bfi`, ...) print decimal immediates.
    decimal_imm: bool,
    /// `mov Rd, #imm` (MOVZ/MOVN/ORR aliases) prints the value signed at the register's width.
    mov_width: Option<u32>,
    /// `movi Dd`/`movi Vd.2d` print the 64-bit byte mask as C's `%#016llx`.
    movi_mask: bool,
    /// `mrs`/`msr`: system register names in LLVM's (upper) case.
    sysreg: bool,
    /// AdvSIMD compares with zero (`cmeq v0.4s, v1.4s, #0`): LLVM prints a literal `#0`.
    zero_literal: bool,
    /// SIMD structure loads/stores print the post-index amount (the transfer size) in decimal.
    decimal_post_index: bool,
    /// Immediates that LLVM prints signed, where bad64 gives the two's complement as unsigned
    /// (SVE arithmetic and compares, `addvl`/`addpl`/`rdvl`).
    signed_imm: bool,
    /// SVE `mov`/`dup`/`cpy` of an immediate: unsigned at the element width (`mov z0.b, #0xff`).
    element_bits: Option<u32>,
    /// SVE `fadd`/`fmul`/... with one of the exact immediates 0.5, 1.0, 2.0: `#0.5`, not `%.8f`.
    exact_fp: bool,
}

impl Style {
    fn of(i: &bad64::Instruction) -> Style {
        let ops = i.operands();
        let first_gpr = match ops.first() {
            Some(Operand::Reg { reg, arrspec: None }) => gpr_width(*reg),
            _ => None,
        };
        let has_imm = ops
            .iter()
            .any(|o| matches!(o, Operand::Imm32 { .. } | Operand::Imm64 { .. }));
        let first_sve = matches!(ops.first(), Some(Operand::Reg { reg, .. } | Operand::QualReg { reg, .. }) if reg.is_sve() || reg.is_pred());
        let mut s = Style::default();
        match i.op() {
            Op::LSL | Op::LSR | Op::ASR => s.decimal_imm = first_gpr.is_some() && has_imm,
            Op::UBFX | Op::SBFX | Op::UBFIZ | Op::SBFIZ | Op::BFI | Op::BFXIL | Op::BFC => {
                s.decimal_imm = true
            }
            Op::MOV => s.mov_width = first_gpr.filter(|_| has_imm),
            Op::MOVI => {
                s.movi_mask = match ops.first() {
                    Some(Operand::Reg { reg, arrspec }) => match arrspec {
                        Some(bad64::ArrSpec::TwoDoubles(None)) => true,
                        None => reg_name(*reg).starts_with(b"d"),
                        _ => false,
                    },
                    _ => false,
                }
            }
            Op::MRS | Op::MSR => s.sysreg = true,
            Op::CMEQ | Op::CMGE | Op::CMGT | Op::CMLE | Op::CMLT => s.zero_literal = !first_sve,
            Op::LD1
            | Op::LD2
            | Op::LD3
            | Op::LD4
            | Op::ST1
            | Op::ST2
            | Op::ST3
            | Op::ST4
            | Op::LD1R
            | Op::LD2R
            | Op::LD3R
            | Op::LD4R => {
                s.decimal_post_index = !first_sve;
                s.decimal_imm = !first_sve;
            }
            // Exception generation: LLVM prints a zero comment as `#0` (`svc #0`, `brk #0`).
            Op::SVC | Op::HVC | Op::SMC | Op::BRK | Op::HLT => s.zero_literal = true,
            Op::ADDVL | Op::ADDPL | Op::RDVL => s.signed_imm = true,
            _ => {}
        }
        if first_sve {
            match i.op() {
                Op::MOV | Op::DUP | Op::CPY => s.element_bits = element_bits(ops.first()),
                // Bitmask immediates stay unsigned.
                Op::AND | Op::ORR | Op::EOR | Op::BIC | Op::DUPM => {}
                Op::FADD
                | Op::FSUB
                | Op::FSUBR
                | Op::FMUL
                | Op::FMAX
                | Op::FMIN
                | Op::FMAXNM
                | Op::FMINNM => s.exact_fp = true,
                _ => s.signed_imm = true,
            }
        }
        s
    }
}

/// The element size of an SVE vector operand (`z0.b` is 8).
fn element_bits(op: Option<&Operand>) -> Option<u32> {
    let Some(Operand::Reg {
        reg,
        arrspec: Some(a),
    }) = op
    else {
        return None;
    };
    match a.suffix(*reg) {
        ".b" => Some(8),
        ".h" => Some(16),
        ".s" => Some(32),
        ".d" => Some(64),
        _ => None,
    }
}

/// Mnemonics and register names as gloss prints them. bad64 makes them from C strings on every
/// call (a C call, `strlen` and a UTF-8 check, about a tenth of an AArch64 listing), so they
/// are made once, for every operation and register, on first use.
struct Names {
    /// By `Op as usize`; `None` for gaps and names too long for a [`Short`].
    ops: Vec<Option<Short>>,
    /// By `Reg as usize`.
    regs: Vec<Option<RegName>>,
}

#[derive(Clone, Copy)]
struct RegName {
    text: Short,
    gpr_width: Option<u32>,
}

#[inline]
fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        // Both enums number their values densely from 0; stop after a long run of gaps.
        fn table<T: FromPrimitive, U>(f: impl Fn(T) -> Option<U>) -> Vec<Option<U>> {
            let mut v = Vec::new();
            let mut gap = 0;
            for n in 0u32.. {
                match T::from_u32(n) {
                    Some(x) => {
                        v.resize_with(n as usize, || None);
                        v.push(f(x));
                        gap = 0;
                    }
                    None if gap > 256 => break,
                    None => gap += 1,
                }
            }
            v
        }
        Names {
            ops: table(|op: Op| Short::new(op.mnem().as_bytes())),
            regs: table(|r: Reg| {
                // LLVM spells x29/x30 by number; bad64 says `fp`/`lr`.
                let text = match r {
                    Reg::X29 => "x29",
                    Reg::X30 => "x30",
                    _ => r.name(),
                };
                let n = r.name();
                let gpr_width = if n.starts_with('w') {
                    Some(32)
                } else if n.starts_with('x') || n == "sp" || n == "fp" || n == "lr" {
                    Some(64)
                } else {
                    None
                };
                Some(RegName {
                    text: Short::new(text.as_bytes())?,
                    gpr_width,
                })
            }),
        }
    })
}

#[inline]
fn reg_info(r: Reg) -> Option<&'static RegName> {
    names().regs.get(r as usize).and_then(Option::as_ref)
}

/// 32 or 64 for a W or X register (including wzr/xzr and wsp/sp), `None` for the rest.
fn gpr_width(r: Reg) -> Option<u32> {
    reg_info(r).and_then(|n| n.gpr_width)
}

/// The register's name as LLVM prints it.
fn reg_name(r: Reg) -> &'static [u8] {
    match reg_info(r) {
        Some(n) => n.text.as_bytes(),
        None => r.name().as_bytes(),
    }
}

fn put_reg(out: &mut Vec<u8>, r: Reg) {
    match reg_info(r) {
        Some(n) => n.text.append_to(out),
        None => out.extend_from_slice(reg_name(r)),
    }
}

fn write_reg(out: &mut Vec<u8>, r: Reg, arrspec: Option<bad64::ArrSpec>) {
    put_reg(out, r);
    if let Some(a) = arrspec {
        out.put_str(a.suffix(r));
    }
}

/// `[lane]`
fn write_lane(out: &mut Vec<u8>, lane: u32) {
    out.put_ascii(b'[');
    hex::push_dec(out, u64::from(lane));
    out.put_ascii(b']');
}

fn imm_value(imm: Imm) -> i128 {
    match imm {
        Imm::Signed(v) => v as i128,
        Imm::Unsigned(v) => v as i128,
    }
}

fn write_imm(out: &mut Vec<u8>, imm: Imm) {
    match imm {
        Imm::Signed(v) if v < 0 => {
            out.put_str("#-0x");
            hex::push_hex(out, v.unsigned_abs());
        }
        Imm::Signed(v) => {
            out.put_str("#0x");
            hex::push_hex(out, v as u64);
        }
        Imm::Unsigned(v) => {
            out.put_str("#0x");
            hex::push_hex(out, v);
        }
    }
}

/// `#` and the value in decimal.
fn write_dec_imm(out: &mut Vec<u8>, imm: Imm) {
    out.put_ascii(b'#');
    match imm {
        Imm::Signed(v) => hex::push_dec_signed(out, v),
        Imm::Unsigned(v) => hex::push_dec(out, v),
    }
}

/// An immediate operand as llvm-objdump prints it for this instruction; `bits` is the operand's
/// width as bad64 reports it (Imm32 or Imm64).
fn write_styled_imm(out: &mut Vec<u8>, imm: Imm, bits: u32, style: &Style) {
    if style.zero_literal && imm_value(imm) == 0 {
        out.put_str("#0");
    } else if let Some(eb) = style.element_bits {
        let v = imm_value(imm) as u64;
        let v = if eb < 64 { v & ((1u64 << eb) - 1) } else { v };
        out.put_str("#0x");
        hex::push_hex(out, v);
    } else if style.signed_imm {
        let raw = imm_value(imm) as u64;
        let v = if bits == 32 {
            raw as u32 as i32 as i64
        } else {
            raw as i64
        };
        write_imm(out, Imm::Signed(v));
    } else if style.decimal_imm {
        write_dec_imm(out, imm);
    } else if let Some(width) = style.mov_width {
        // bad64 gives the 64-bit pattern even for W registers; LLVM prints it sign-extended from
        // the register width: `mov w0, #-0x1`, `mov x0, #-0x5555555555555556`.
        let raw = imm_value(imm) as u64;
        let v = if width == 32 {
            raw as u32 as i32 as i64
        } else {
            raw as i64
        };
        write_imm(out, Imm::Signed(v));
    } else if style.movi_mask {
        // C's `%#016llx`: no `0x` for zero, and the prefix counts towards the width.
        match imm_value(imm) as u64 {
            0 => out.put_str("#0000000000000000"),
            v => {
                out.put_str("#0x");
                hex::push_hex_zeros(out, v, 14);
            }
        }
    } else {
        write_imm(out, imm);
    }
}

fn write_shift(out: &mut Vec<u8>, s: Shift) {
    let (name, amount, always) = match s {
        Shift::LSL(a) => ("lsl", a, true),
        Shift::LSR(a) => ("lsr", a, true),
        Shift::ASR(a) => ("asr", a, true),
        Shift::ROR(a) => ("ror", a, true),
        Shift::MSL(a) => ("msl", a, true),
        Shift::UXTW(a) => ("uxtw", a, false),
        Shift::SXTW(a) => ("sxtw", a, false),
        Shift::UXTX(a) => ("uxtx", a, false),
        Shift::SXTX(a) => ("sxtx", a, false),
        Shift::SXTB(a) => ("sxtb", a, false),
        Shift::SXTH(a) => ("sxth", a, false),
        Shift::UXTH(a) => ("uxth", a, false),
        Shift::UXTB(a) => ("uxtb", a, false),
    };
    out.put_str(name);
    if always || amount != 0 {
        out.put_str(" #");
        hex::push_dec(out, u64::from(amount));
    }
}

fn name_str(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("?")
}

/// A system register operand of `mrs`/`msr` as LLVM prints it: names upper case (`FPCR`,
/// `TPIDR_EL0`, LLVM's own `SPSel`, `DAIFSet`, `DAIFClr`), and registers in the
/// IMPLEMENTATION DEFINED space (op0 = 3, CRn = 11 or 15) by encoding, `S3_4_C15_C2_0`, where bad64
/// would use Apple's names (shared/research/decoders.md §7, pitfall 11).
fn write_sysreg(out: &mut Vec<u8>, sr: bad64::SysReg) {
    let enc = sr as u32;
    // bad64's register values are the MRS/MSR encoding op0:op1:CRn:CRm:op2 (op0 >= 2); PSTATE
    // fields of `msr <field>, #imm` use smaller values.
    if (0x8000..0x10000).contains(&enc) {
        let (op0, op1, crn, crm, op2) = (
            enc >> 14,
            (enc >> 11) & 7,
            (enc >> 7) & 15,
            (enc >> 3) & 15,
            enc & 7,
        );
        if op0 == 3 && (crn == 11 || crn == 15) {
            let _ = write!(out, "S{op0}_{op1}_C{crn}_C{crm}_{op2}");
            return;
        }
    }
    let name = sr.name();
    match name.strip_prefix("pstate_").unwrap_or(name) {
        "spsel" => out.put_str("SPSel"),
        "daifset" => out.put_str("DAIFSet"),
        "daifclr" => out.put_str("DAIFClr"),
        n => out.put_str(&n.to_ascii_uppercase()),
    }
}

fn write_operand(out: &mut Vec<u8>, op: &Operand, style: &Style) {
    match *op {
        Operand::Imm32 { imm, shift } | Operand::Imm64 { imm, shift } => {
            let bits = if matches!(op, Operand::Imm32 { .. }) {
                32
            } else {
                64
            };
            write_styled_imm(out, imm, bits, style);
            if let Some(s) = shift {
                out.put_str(", ");
                write_shift(out, s);
            }
        }
        Operand::Reg { reg, arrspec } => {
            write_reg(out, reg, arrspec);
            if let Some(lane) = arrspec.and_then(|a| a.lane()) {
                write_lane(out, lane);
            }
        }
        Operand::MultiReg { regs, arrspec } => {
            // LLVM pads register lists: `{ v0.16b, v1.16b }`, `{ v0.s }[1]`.
            out.put_str("{ ");
            for (n, r) in regs.iter().flatten().enumerate() {
                if n > 0 {
                    out.put_str(", ");
                }
                write_reg(out, *r, arrspec);
            }
            out.put_str(" }");
            if let Some(lane) = arrspec.and_then(|a| a.lane()) {
                write_lane(out, lane);
            }
        }
        Operand::ShiftReg { reg, shift } => {
            put_reg(out, reg);
            out.put_str(", ");
            write_shift(out, shift);
        }
        Operand::Label(imm) => {
            let a = match imm {
                Imm::Signed(v) => v as u64,
                Imm::Unsigned(v) => v,
            };
            hex::push_hex_prefixed(out, a);
        }
        Operand::MemReg(r) => {
            out.put_ascii(b'[');
            put_reg(out, r);
            out.put_ascii(b']');
        }
        Operand::MemOffset {
            reg,
            offset,
            mul_vl,
            arrspec,
        } => {
            out.put_ascii(b'[');
            write_reg(out, reg, arrspec);
            // `[x0]`, not `[x0, #0x0, mul vl]`.
            let zero = matches!(offset, Imm::Signed(0) | Imm::Unsigned(0));
            if !zero {
                out.put_str(", ");
                write_imm(out, offset);
                if mul_vl {
                    out.put_str(", mul vl");
                }
            }
            out.put_ascii(b']');
        }
        Operand::MemPreIdx { reg, imm } => {
            out.put_ascii(b'[');
            put_reg(out, reg);
            out.put_str(", ");
            write_imm(out, imm);
            out.put_str("]!");
        }
        Operand::MemPostIdxImm { reg, imm } => {
            out.put_ascii(b'[');
            put_reg(out, reg);
            out.put_str("], ");
            if style.decimal_post_index {
                write_dec_imm(out, imm);
            } else {
                write_imm(out, imm);
            }
        }
        Operand::MemPostIdxReg(regs) => {
            out.put_ascii(b'[');
            put_reg(out, regs[0]);
            out.put_str("], ");
            put_reg(out, regs[1]);
        }
        Operand::MemExt {
            regs,
            shift,
            arrspec,
        } => {
            out.put_ascii(b'[');
            write_reg(out, regs[0], arrspec);
            out.put_str(", ");
            write_reg(out, regs[1], arrspec);
            if let Some(s) = shift {
                out.put_str(", ");
                write_shift(out, s);
            }
            out.put_ascii(b']');
        }
        // `bti c`, `dmb ish`, `prfm pldl1keep`; bad64 upper-cases some (`dc ZVA`), LLVM never.
        Operand::Name(n) => {
            let name = name_str(&n);
            // bad64 names an unallocated prefetch operation `#31`; LLVM prints it in hex.
            match name.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()) {
                Some(v) => {
                    let _ = write!(out, "#{v:#x}");
                }
                None => out.put_str(&name.to_ascii_lowercase()),
            }
        }
        Operand::StrImm { str, imm } => {
            let _ = write!(out, "{} #{imm}", name_str(&str));
        }
        Operand::ImplSpec { o0, o1, cm, cn, o2 } => {
            let _ = write!(out, "S{}_{o1}_C{cn}_C{cm}_{o2}", o0 + 2);
        }
        Operand::SysReg(sr) if style.sysreg => write_sysreg(out, sr),
        // `dc zva`, `tlbi vmalle1is`, `at s1e1r`: LLVM prints the operation in lower case.
        Operand::SysReg(sr) => out.put_str(&sr.name().to_ascii_lowercase()),
        // Compares with zero (`fcmp`, `fcmpe`, `fcmeq ..., #0.0`) print LLVM's literal `#0.0`;
        // no other instruction has a zero FP immediate.
        Operand::FImm32(0) => out.put_str("#0.0"),
        Operand::FImm32(bits) if style.exact_fp => {
            let _ = write!(out, "#{:?}", f32::from_bits(bits));
        }
        Operand::FImm32(bits) => {
            // LLVM: `format("#%.8f", value)`.
            let _ = write!(out, "#{:.8}", f32::from_bits(bits));
        }
        // LLVM's `hs`/`lo`, not the `cs`/`cc` synonyms.
        Operand::Cond(bad64::Condition::CS) => out.put_str("hs"),
        Operand::Cond(bad64::Condition::CC) => out.put_str("lo"),
        // SME tiles, other conditions: bad64's text is LLVM's.
        _ => {
            let _ = write!(out, "{op}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(w: u32, addr: u64) -> (String, Insn) {
        let mut t = InsnText::default();
        let insn = Aarch64.decode_text(&w.to_le_bytes(), addr, Syntax::Att, &mut t);
        (
            format!("{} {}", t.mnemonic_str(), t.operands_str())
                .trim_end()
                .to_string(),
            insn,
        )
    }

    /// Expected texts are llvm-objdump-19's for the same words.
    #[test]
    fn text_matches_llvm_objdump() {
        let cases: &[(u32, &str)] = &[
            (0xa9bd7bfd, "stp x29, x30, [sp, #-0x30]!"),
            (0x52800021, "mov w1, #0x1"),
            (0x910003fd, "mov x29, sp"),
            (0x9100a3e2, "add x2, sp, #0x28"),
            (0xa90153f3, "stp x19, x20, [sp, #0x10]"),
            (0x2a0003f3, "mov w19, w0"),
            (0x71000e7f, "cmp w19, #0x3"),
            (0xa8c37bfd, "ldp x29, x30, [sp], #0x30"),
            (0xd65f03c0, "ret"),
            (0x885ffc01, "ldaxr w1, [x0]"),
            (0x32000021, "orr w1, w1, #0x1"),
            (0x8802fc01, "stlxr w2, w1, [x0]"),
            (0xb8b35928, "ldrsw x8, [x9, w19, uxtw #2]"),
            (0xb8b37928, "ldrsw x8, [x9, x19, lsl #2]"),
            (0x8b080928, "add x8, x9, x8, lsl #2"),
            (0xd61f0100, "br x8"),
            (0xd503233f, "paciasp"),
            (0xd503245f, "bti c"),
        ];
        for &(w, want) in cases {
            assert_eq!(text(w, 0).0, want, "word {w:#010x}");
        }
    }

    /// Regression tests for printing differences found by the differential test
    /// (crates/gloss/tests/differential.rs); expected texts are llvm-objdump-19's.
    #[test]
    fn llvm_style_fixes() {
        let cases: &[(u32, &str)] = &[
            // Bitfield aliases print decimal immediates; register-shift forms keep theirs.
            (0xd37df020, "lsl x0, x1, #3"),
            (0xd37ffc22, "lsr x2, x1, #63"),
            (0x13017c08, "asr w8, w0, #1"),
            (0xd34b2c84, "ubfx x4, x4, #11, #1"),
            (0x33000c40 | (8 << 16) | (19 << 10), "bfxil w0, w2, #8, #12"),
            (0xd3607c60 | (0x1c << 16), "ubfiz x0, x3, #4, #32"),
            (0x9ac22020, "lsl x0, x1, x2"),
            (0x13810c20, "ror w0, w1, #0x3"),
            // `mov` immediates are signed at the register's width.
            (0x92800000, "mov x0, #-0x1"),
            (0x12800000, "mov w0, #-0x1"),
            (0xb201f3e0, "mov x0, #-0x5555555555555556"),
            (0x3201f3e0, "mov w0, #-0x55555556"),
            (0x52b00000, "mov w0, #-0x80000000"),
            (0xd2820000, "mov x0, #0x1000"),
            // `hs`/`lo`, not `cs`/`cc`.
            (0xfa422024, "ccmp x1, x2, #0x4, hs"),
            (0x1a823420, "csinc w0, w1, w2, lo"),
            // System registers: LLVM's case; IMPLEMENTATION DEFINED ones by encoding, not Apple's names.
            (0xd53bd040, "mrs x0, TPIDR_EL0"),
            (0xd51b4400, "msr FPCR, x0"),
            (0xd53cf200, "mrs x0, S3_4_C15_C2_0"),
            (0xd50342df, "msr DAIFSet, #0x2"),
            (0xd50b7420, "dc zva, x0"),
            // FP immediates with eight decimals; register lists padded; movi 64-bit masks.
            (0x1e7c1000, "fmov d0, #-0.50000000"),
            (0x1e263000, "fmov s0, #17.00000000"),
            (0x1e202058, "fcmpe s2, #0.0"),
            // Literal zeros; decimal structure post-index amounts.
            (0x5ee09820, "cmeq d0, d1, #0"),
            (0x4ea0a820, "cmlt v0.4s, v1.4s, #0"),
            (0xd4000001, "svc #0"),
            (0xd4001001, "svc #0x80"),
            (0x4cdf7000, "ld1 { v0.16b }, [x0], #16"),
            (0x4ddfc800, "ld1r { v0.4s }, [x0], #4"),
            (0x4cdf0800, "ld4 { v0.4s, v1.4s, v2.4s, v3.4s }, [x0], #64"),
            // SVE immediates: element-width for mov/cpy, signed for arithmetic, compares and vl.
            (0x2538dfe0, "mov z0.b, #0xff"),
            (0x05501fc0, "mov z0.h, p0/z, #0xfffe"),
            (0x251d8410, "cmpne p0.b, p1/z, z0.b, #-0x3"),
            (0x25b0dfa0, "mul z0.s, z0.s, #-0x3"),
            (0x043f57df, "addvl sp, sp, #-0x2"),
            (0x04bf57e0, "rdvl x0, #-0x1"),
            (0x659a8020, "fmul z0.s, p0/m, z0.s, #2.0"),
            (0xa400a000, "ld1b { z0.b }, p0/z, [x0]"),
            // Unallocated prefetch operation; PSTATE field and register spelled `SPSel`.
            (0xf980001f, "prfm #0x1f, [x0]"),
            (0xd50041bf, "msr SPSel, #0x1"),
            (0xd5384200, "mrs x0, SPSel"),
            (0x4c40a000, "ld1 { v0.16b, v1.16b }, [x0]"),
            (0x0d409000, "ld1 { v0.s }[1], [x0]"),
            (0x6f00e400, "movi v0.2d, #0000000000000000"),
            (0x6f07e7e0, "movi v0.2d, #0xffffffffffffffff"),
            (0x2f02e6a0, "movi d0, #0xff00ff00ff00ff"),
            (0x2f04e401, "movi d1, #0xff00000000000000"),
        ];
        for &(w, want) in cases {
            assert_eq!(text(w, 0).0, want, "word {w:#010x}");
        }
    }

    #[test]
    fn flow_and_pc_refs() {
        // bl 0x20 at 0x20 (offset 0), adrp x20, page 0x1000 from 0x1018, cbnz w0, +0xcc.
        assert_eq!(text(0x94000000, 0x20).1.flow, Flow::Call(0x20));
        let (t, i) = text(0x90000014, 0x1018);
        assert_eq!(
            (t.as_str(), i.pc_ref, i.flow),
            ("adrp x20, 0x1000", Some(0x1000), Flow::Next)
        );
        assert_eq!(text(0x35000660, 0x24).1.flow, Flow::CondJump(0xf0));
        assert_eq!(text(0xd63f0100, 0).1.flow, Flow::IndirectCall);
        assert_eq!(text(0xd65f0bff, 0).1.flow, Flow::Return); // retaa
        assert_eq!(text(0xd4200000, 0).1.flow, Flow::Trap); // brk #0
    }

    #[test]
    fn undecodable_is_inst_not_panic() {
        let (t, i) = text(0xffff_ffff, 0);
        assert_eq!(i.status, InsnStatus::Invalid);
        assert_eq!(t, ".inst 0xffffffff");
        let i = Aarch64.decode(&[1, 2], 0);
        assert_eq!((i.len, i.status), (2, InsnStatus::Invalid));
    }
}
