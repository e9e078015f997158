//! AT&T text for the common x86-64 instruction forms without iced's `GasFormatter`, byte for
//! byte what that formatter prints with the options `gas_formatter` pins (iced's formatter was
//! about 30% of `show --all`, docs/PERFORMANCE.md).
//!
//! How it stays identical to iced:
//!
//! * Only plain forms take the fast path: legacy or VEX encodings without segment, `lock`,
//!   `rep`/`repne` prefixes, whose operands are registers, near branches, immediates, or one
//!   memory operand with a base or index register (other than `eip`). Everything else (EVEX
//!   masks and broadcasts, string operands, far branches, absolute and `movabs` addresses,
//!   prefixed forms) is formatted by iced.
//! * The mnemonic is iced's own: for plain forms it depends only on the opcode (`Code`) and
//!   whether an operand is in memory (the size suffix of `movl $0x0,-0x4(%rbp)`), so it is
//!   learned from iced the first time each such shape is seen. That first instruction is
//!   formatted by iced and by this module; if the operand texts differ (iced drops, adds or
//!   renames operands for some opcodes: `%st`, implicit `%xmm0`, 16-bit views), the shape is
//!   left to iced for good.
//! * Operand values are printed as iced's GAS formatter prints them: registers by iced's own
//!   names, `$0x..` immediates unsigned at their operand size, signed displacements, RIP-relative
//!   displacements relative to the next instruction, `(base,index,scale)` with the scale only
//!   when it is not 1, `*` before the operand of indirect jumps and calls.
//!
//! Tests compare this module with iced on every instruction of the committed fixtures and on
//! random bytes (`tests` below); docs/PERFORMANCE.md records the whole-libLLVM check.
use super::Bytes;
use crate::short::Short;
use gloss_core::InsnText;
use gloss_core::hex::push_hex;
use iced_x86::{EncodingKind, FlowControl, Formatter, GasFormatter, Instruction, OpKind, Register};

/// What is known about one (opcode, register-or-memory) shape.
enum Shape {
    Unseen,
    /// iced formats this shape differently from the rules here.
    Iced,
    /// iced's mnemonic for the shape (prefix-free, `q` fix-up applied).
    Fast(Short),
}

pub(super) struct FastAtt {
    /// iced's GAS name of every register (`%rax`), by `Register as usize`.
    regs: Vec<Short>,
    /// By `Code as usize * 2 + has_memory_operand`.
    shapes: Vec<Shape>,
}

impl FastAtt {
    pub(super) fn new(gas: &mut GasFormatter) -> FastAtt {
        let mut regs: Vec<Short> = Vec::new();
        for r in Register::values() {
            let n = r as usize;
            if regs.len() <= n {
                regs.resize(n + 1, Short::new(b"").expect("empty"));
            }
            // Every register name is far shorter than 16 bytes (`%xmm31`, `%st(7)`).
            regs[n] = Short::new(gas.format_register(r).as_bytes()).expect("register name");
        }
        let codes = iced_x86::Code::values().count();
        FastAtt {
            regs,
            shapes: (0..codes * 2).map(|_| Shape::Unseen).collect(),
        }
    }

    /// Formats a valid instruction into `out` (empty on entry) as `GasFormatter` would; true
    /// when this module wrote it, false when iced did.
    pub(super) fn format(
        &mut self,
        gas: &mut GasFormatter,
        i: &Instruction,
        out: &mut InsnText,
    ) -> bool {
        let Some(has_mem) = plain_form(i) else {
            iced(gas, i, out);
            return false;
        };
        let k = i.code() as usize * 2 + usize::from(has_mem);
        match self.shapes.get(k) {
            Some(Shape::Fast(m)) => {
                m.append_to(&mut out.mnemonic);
                self.operands(i, &mut out.operands);
                return true;
            }
            Some(Shape::Unseen) => {
                iced(gas, i, out);
                let mut mine = Vec::new();
                self.operands(i, &mut mine);
                self.shapes[k] = match Short::new(&out.mnemonic) {
                    Some(m) if mine == out.operands => Shape::Fast(m),
                    _ => Shape::Iced,
                };
            }
            Some(Shape::Iced) | None => iced(gas, i, out),
        }
        false
    }

    fn reg(&self, out: &mut Vec<u8>, r: Register) {
        self.regs[r as usize].append_to(out);
    }

    /// The operands in AT&T order (last first), as iced's GAS formatter writes plain forms.
    fn operands(&self, i: &Instruction, out: &mut Vec<u8>) {
        let indirect = matches!(
            i.flow_control(),
            FlowControl::IndirectBranch | FlowControl::IndirectCall
        );
        let n = i.op_count();
        for k in (0..n).rev() {
            if k + 1 != n {
                out.push(b',');
            }
            if indirect {
                out.push(b'*');
            }
            match i.op_kind(k) {
                OpKind::Register => self.reg(out, i.op_register(k)),
                OpKind::NearBranch64 => {
                    out.extend_from_slice(b"0x");
                    push_hex(out, i.near_branch64());
                }
                OpKind::Memory => self.memory(i, out),
                kind => {
                    // One `push_hex` of the selected value: with a call per immediate kind,
                    // LLVM computed every kind's digits ahead of the `match`, for every
                    // operand (7x this function's instructions on libc).
                    if let Some(v) = immediate(i, kind) {
                        out.extend_from_slice(b"$0x");
                        push_hex(out, v);
                    }
                }
            }
        }
    }

    /// `-0x8(%rbp)`, `0x10(%rip)`, `(%rax,%rcx,4)`: iced's `format_memory` for an operand with
    /// a base or index register, no segment override and no broadcast.
    fn memory(&self, i: &Instruction, out: &mut Vec<u8>) {
        let base = i.memory_base();
        let index = i.memory_index();
        let mut displ_size = i.memory_displ_size();
        let wide = is_64(base) || is_64(index);
        let mut displ = if wide {
            i.memory_displacement64() as i64
        } else {
            i64::from(i.memory_displacement32())
        };
        if base == Register::RIP {
            displ = displ.wrapping_sub(i.next_ip() as i64);
            displ_size = 8;
        }
        if displ_size != 0 && displ != 0 {
            let mut v = displ as u64;
            if wide {
                if displ < 0 {
                    out.push(b'-');
                    v = displ.wrapping_neg() as u64;
                }
            } else if (displ as i32) < 0 {
                out.push(b'-');
                v = u64::from((displ as i32).wrapping_neg() as u32);
            }
            out.extend_from_slice(b"0x");
            push_hex(out, v);
        }
        out.push(b'(');
        let scale = i.memory_index_scale();
        if base != Register::None && index == Register::None && scale == 1 {
            self.reg(out, base);
        } else {
            if base != Register::None {
                self.reg(out, base);
            }
            out.push(b',');
            if index != Register::None {
                self.reg(out, index);
                if scale != 1 {
                    out.push(b',');
                    out.push(b'0' + scale as u8);
                }
            }
        }
        out.push(b')');
    }
}

/// An immediate operand's value as iced's GAS formatter prints it (`plain_form` admits no
/// other operand kinds than these, registers, near branches and memory).
pub(super) fn immediate(i: &Instruction, kind: OpKind) -> Option<u64> {
    Some(match kind {
        OpKind::Immediate8 => u64::from(i.immediate8()),
        OpKind::Immediate8_2nd => u64::from(i.immediate8_2nd()),
        OpKind::Immediate16 => u64::from(i.immediate16()),
        OpKind::Immediate8to16 => u64::from(i.immediate8to16() as u16),
        OpKind::Immediate32 => u64::from(i.immediate32()),
        OpKind::Immediate8to32 => u64::from(i.immediate8to32() as u32),
        OpKind::Immediate64 => i.immediate64(),
        OpKind::Immediate8to64 => i.immediate8to64() as u64,
        OpKind::Immediate32to64 => i.immediate32to64() as u64,
        _ => return None,
    })
}

/// Whether the address registers are 64-bit (`rip` included); else 32-bit (`0x67` prefix).
pub(super) fn is_64(r: Register) -> bool {
    r == Register::RIP || r.is_gpr64()
}

/// `Some(has_memory_operand)` for the forms this module formats, `None` for the rest.
pub(super) fn plain_form(i: &Instruction) -> Option<bool> {
    if !matches!(i.encoding(), EncodingKind::Legacy | EncodingKind::VEX)
        || i.segment_prefix() != Register::None
        || i.has_lock_prefix()
        || i.has_rep_prefix()
        || i.has_repne_prefix()
    {
        return None;
    }
    let mut has_mem = false;
    for k in 0..i.op_count() {
        match i.op_kind(k) {
            OpKind::Register
            | OpKind::NearBranch64
            | OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64 => {}
            OpKind::Memory => {
                let (base, index) = (i.memory_base(), i.memory_index());
                let regs_ok = (base == Register::None || base == Register::RIP || base.is_gpr())
                    && (index == Register::None || index.is_gpr())
                    && (base != Register::None || index != Register::None);
                // Mixed 32/64-bit address registers do not occur; leave them to iced anyway.
                if has_mem
                    || !regs_ok
                    || (base != Register::None
                        && index != Register::None
                        && is_64(base) != is_64(index))
                {
                    return None;
                }
                has_mem = true;
            }
            _ => return None,
        }
    }
    Some(has_mem)
}

/// iced's text, with the one change gloss makes to it: iced's GAS tables spell 64-bit-default
/// stack and branch ops with a `q` even when the suffix option is off; binutils 2.40 prints
/// `push`, `jmp *`, `call *` there.
pub(super) fn iced(gas: &mut GasFormatter, i: &Instruction, out: &mut InsnText) {
    gas.format_mnemonic(i, &mut Bytes(&mut out.mnemonic));
    gas.format_all_operands(i, &mut Bytes(&mut out.operands));
    if matches!(
        out.mnemonic.as_slice(),
        b"pushq" | b"popq" | b"jmpq" | b"callq"
    ) {
        out.mnemonic.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x86_64::fast_check::{
        FastPath, compare_everywhere, every_fixture_offset, memory_operands,
    };
    use proptest::prelude::*;

    impl FastPath for FastAtt {
        type Iced = GasFormatter;
        fn pair() -> (FastAtt, GasFormatter) {
            let mut gas = super::super::gas_formatter();
            (FastAtt::new(&mut gas), gas)
        }
        fn iced(gas: &mut GasFormatter, i: &Instruction, out: &mut InsnText) {
            iced(gas, i, out);
        }
        fn fast(&mut self, gas: &mut GasFormatter, i: &Instruction, out: &mut InsnText) -> bool {
            self.format(gas, i, out)
        }
    }

    thread_local! {
        /// One formatter for all cases of a property, as in a listing: a shape's first
        /// instruction is checked against iced by the formatter itself, so only later ones
        /// test the fast path.
        static SHARED: std::cell::RefCell<(FastAtt, GasFormatter)> =
            std::cell::RefCell::new(FastAtt::pair());
    }

    fn compare_shared(bytes: &[u8], base: u64) {
        SHARED.with(|f| {
            let (fast, gas) = &mut *f.borrow_mut();
            compare_everywhere(fast, gas, bytes, base);
        });
    }

    #[test]
    fn fast_att_equals_iced_on_every_fixture_offset() {
        every_fixture_offset::<FastAtt>();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn fast_att_equals_iced_on_random_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 1..64),
            base in any::<u64>(),
        ) {
            compare_shared(&bytes, base);
        }

        #[test]
        fn fast_att_equals_iced_on_memory_operands((bytes, base) in memory_operands()) {
            compare_shared(&bytes, base);
        }
    }
}
