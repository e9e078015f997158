//! AArch64 through bad64 (Binary Ninja's decoder; see docs/decisions/0001-decoders.md).
//!
//! bad64 gives structured operands but no flow classification and a `Display` that differs from
//! LLVM's (`fp`/`lr`, unsigned 64-bit negatives, hex shift amounts), so this module classifies
//! flow per opcode and prints operands itself, in llvm-objdump-19's style.
use bad64::{Imm, Op, Operand, Reg, Shift};
use gloss_core::{Arch, Disassembler, Flow, Insn, InsnStatus, InsnText, Syntax};
use std::fmt::Write;

pub struct Aarch64;

fn word(bytes: &[u8]) -> Option<u32> {
    bytes.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
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
        B_EQ | B_NE | B_CS | B_CC | B_MI | B_PL | B_VS | B_VC | B_HI | B_LS | B_GE | B_LT | B_GT | B_LE | CBZ | CBNZ
        | TBZ | TBNZ | CBEQ | CBNE | CBGE | CBGT | CBHI | CBHS | CBLE | CBLO | CBLS | CBLT | CBBEQ | CBBGE | CBBGT
        | CBBHI | CBBHS | CBBLE | CBBLO | CBBLS | CBBLT | CBBNE | CBHEQ | CBHGE | CBHGT | CBHHI | CBHHS | CBHLE
        | CBHLO | CBHLS | CBHLT | CBHNE => Flow::CondJump(t()),
        // `b.nv` behaves as `b` architecturally.
        B_NV => Flow::Jump(t()),
        BR | BRAA | BRAAZ | BRAB | BRABZ => Flow::IndirectJump,
        BLR | BLRAA | BLRAAZ | BLRAB | BLRABZ => Flow::IndirectCall,
        RET | RETAA | RETAB | RETAASPPC | RETABSPPC | RETAASPPCR | RETABSPPCR | ERET | ERETAA | ERETAB => Flow::Return,
        BRK | UDF | HLT => Flow::Trap,
        _ => Flow::Next,
    };
    // ADR, ADRP and literal loads carry a label that is a data address, not a branch target.
    let pc_ref = if flow.target().is_none() { target } else { None };
    (flow, pc_ref)
}

fn decode_bad64(bytes: &[u8], addr: u64) -> Result<bad64::Instruction, Insn> {
    let Some(w) = word(bytes) else {
        return Err(Insn { addr, len: bytes.len().min(4) as u8, status: InsnStatus::Invalid, flow: Flow::Next, pc_ref: None });
    };
    bad64::decode(w, addr).map_err(|e| {
        // Unallocated/reserved encodings are not instructions; anything else the decoder cannot
        // match may be a newer extension (FEAT_MOPS in glibc), so it is `Unknown`, not data.
        let status = match e {
            bad64::DecodeError::Unallocated(_) | bad64::DecodeError::Reserved(_) | bad64::DecodeError::Undefined(_) => {
                InsnStatus::Invalid
            }
            _ => InsnStatus::Unknown,
        };
        Insn { addr, len: 4, status, flow: Flow::Next, pc_ref: None }
    })
}

fn to_insn(i: &bad64::Instruction, addr: u64) -> Insn {
    let (flow, pc_ref) = classify(i);
    Insn { addr, len: 4, status: InsnStatus::Valid, flow, pc_ref }
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

    fn decode_text(&self, bytes: &[u8], addr: u64, _syntax: Syntax, out: &mut InsnText) -> Insn {
        out.clear();
        match decode_bad64(bytes, addr) {
            Ok(i) => {
                out.mnemonic.push_str(i.op().mnem());
                for (n, op) in i.operands().iter().enumerate() {
                    if n > 0 {
                        out.operands.push_str(", ");
                    }
                    write_operand(&mut out.operands, op);
                }
                to_insn(&i, addr)
            }
            Err(bad) => {
                match word(bytes) {
                    Some(w) => {
                        out.mnemonic.push_str(".inst");
                        let _ = write!(out.operands, "{w:#010x}");
                    }
                    None => {
                        out.mnemonic.push_str(".byte");
                        let hex: Vec<String> = bytes.iter().take(3).map(|b| format!("{b:#04x}")).collect();
                        out.operands.push_str(&hex.join(", "));
                    }
                }
                bad
            }
        }
    }
}

/// LLVM spells x29/x30 by number; bad64 says `fp`/`lr`.
fn reg_name(r: Reg) -> &'static str {
    match r {
        Reg::X29 => "x29",
        Reg::X30 => "x30",
        _ => r.name(),
    }
}

fn write_reg(out: &mut String, r: Reg, arrspec: Option<bad64::ArrSpec>) {
    out.push_str(reg_name(r));
    if let Some(a) = arrspec {
        out.push_str(a.suffix(r));
    }
}

fn write_imm(out: &mut String, imm: Imm) {
    match imm {
        Imm::Signed(v) if v < 0 => {
            let _ = write!(out, "#-{:#x}", v.unsigned_abs());
        }
        Imm::Signed(v) => {
            let _ = write!(out, "#{v:#x}");
        }
        Imm::Unsigned(v) => {
            let _ = write!(out, "#{v:#x}");
        }
    }
}

fn write_shift(out: &mut String, s: Shift) {
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
    out.push_str(name);
    if always || amount != 0 {
        let _ = write!(out, " #{amount}");
    }
}

fn name_str(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("?")
}

fn write_operand(out: &mut String, op: &Operand) {
    match *op {
        Operand::Imm32 { imm, shift } | Operand::Imm64 { imm, shift } => {
            write_imm(out, imm);
            if let Some(s) = shift {
                out.push_str(", ");
                write_shift(out, s);
            }
        }
        Operand::Reg { reg, arrspec } => {
            write_reg(out, reg, arrspec);
            if let Some(lane) = arrspec.and_then(|a| a.lane()) {
                let _ = write!(out, "[{lane}]");
            }
        }
        Operand::ShiftReg { reg, shift } => {
            out.push_str(reg_name(reg));
            out.push_str(", ");
            write_shift(out, shift);
        }
        Operand::Label(imm) => {
            let a = match imm {
                Imm::Signed(v) => v as u64,
                Imm::Unsigned(v) => v,
            };
            let _ = write!(out, "{a:#x}");
        }
        Operand::MemReg(r) => {
            let _ = write!(out, "[{}]", reg_name(r));
        }
        Operand::MemOffset { reg, offset, mul_vl, arrspec } => {
            out.push('[');
            write_reg(out, reg, arrspec);
            let zero = matches!(offset, Imm::Signed(0) | Imm::Unsigned(0));
            if !zero || mul_vl {
                out.push_str(", ");
                write_imm(out, offset);
                if mul_vl {
                    out.push_str(", mul vl");
                }
            }
            out.push(']');
        }
        Operand::MemPreIdx { reg, imm } => {
            let _ = write!(out, "[{}, ", reg_name(reg));
            write_imm(out, imm);
            out.push_str("]!");
        }
        Operand::MemPostIdxImm { reg, imm } => {
            let _ = write!(out, "[{}], ", reg_name(reg));
            write_imm(out, imm);
        }
        Operand::MemPostIdxReg(regs) => {
            let _ = write!(out, "[{}], {}", reg_name(regs[0]), reg_name(regs[1]));
        }
        Operand::MemExt { regs, shift, arrspec } => {
            out.push('[');
            write_reg(out, regs[0], arrspec);
            out.push_str(", ");
            write_reg(out, regs[1], arrspec);
            if let Some(s) = shift {
                out.push_str(", ");
                write_shift(out, s);
            }
            out.push(']');
        }
        Operand::Name(n) => out.push_str(name_str(&n)),
        Operand::StrImm { str, imm } => {
            let _ = write!(out, "{} #{imm}", name_str(&str));
        }
        Operand::ImplSpec { o0, o1, cm, cn, o2 } => {
            let _ = write!(out, "s{}_{o1}_c{cn}_c{cm}_{o2}", o0 + 2);
        }
        Operand::FImm32(bits) => {
            let _ = write!(out, "#{:?}", f32::from_bits(bits));
        }
        // Vector lists, SME tiles, conditions, system registers: bad64's text is LLVM's.
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
        (format!("{} {}", t.mnemonic, t.operands).trim_end().to_string(), insn)
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

    #[test]
    fn flow_and_pc_refs() {
        // bl 0x20 at 0x20 (offset 0), adrp x20, page 0x1000 from 0x1018, cbnz w0, +0xcc.
        assert_eq!(text(0x94000000, 0x20).1.flow, Flow::Call(0x20));
        let (t, i) = text(0x90000014, 0x1018);
        assert_eq!((t.as_str(), i.pc_ref, i.flow), ("adrp x20, 0x1000", Some(0x1000), Flow::Next));
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
