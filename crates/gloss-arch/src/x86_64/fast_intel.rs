//! Intel text for the common x86-64 instruction forms without iced's `IntelFormatter`, byte for
//! byte what that formatter prints with the options `intel_formatter` pins. The same scheme as
//! [`super::fast_att`] (plain forms only, the mnemonic learned from iced per opcode shape and
//! checked against iced on first sight), plus one more thing learned per shape: the memory size
//! keyword iced puts before a memory operand (`QWORD PTR `, nothing for `lea`), which depends
//! on the opcode alone for plain forms.
//!
//! Operand values are printed with iced's Intel rules: registers by iced's names, `0x..`
//! immediates unsigned at their operand size, `[base+index*scale+0x..]` with the scale shown
//! when it is not 1 or there is no base, signed displacements (`[rbp-0x4]`), RIP-relative
//! displacements relative to the next instruction.
use super::Bytes;
use super::fast_att::{immediate, is_64, plain_form};
use crate::short::Short;
use gloss_core::InsnText;
use gloss_core::hex::push_hex;
use iced_x86::{Formatter, Instruction, IntelFormatter, OpKind, Register};

enum Shape {
    Unseen,
    Iced,
    /// iced's mnemonic, and the keyword before the memory operand (empty without one).
    Fast {
        mnemonic: Short,
        keyword: Short,
    },
}

pub(super) struct FastIntel {
    /// iced's Intel name of every register (`rax`), by `Register as usize`.
    regs: Vec<Short>,
    /// By `Code as usize * 2 + has_memory_operand`.
    shapes: Vec<Shape>,
}

impl FastIntel {
    pub(super) fn new(intel: &mut IntelFormatter) -> FastIntel {
        let mut regs: Vec<Short> = Vec::new();
        for r in Register::values() {
            let n = r as usize;
            if regs.len() <= n {
                regs.resize(n + 1, Short::new(b"").expect("empty"));
            }
            regs[n] = Short::new(intel.format_register(r).as_bytes()).expect("register name");
        }
        let codes = iced_x86::Code::values().count();
        FastIntel {
            regs,
            shapes: (0..codes * 2).map(|_| Shape::Unseen).collect(),
        }
    }

    /// Formats a valid instruction into `out` (empty on entry) as `IntelFormatter` would; true
    /// when this module wrote it, false when iced did.
    pub(super) fn format(
        &mut self,
        intel: &mut IntelFormatter,
        i: &Instruction,
        out: &mut InsnText,
    ) -> bool {
        let Some(has_mem) = plain_form(i) else {
            iced(intel, i, out);
            return false;
        };
        let k = i.code() as usize * 2 + usize::from(has_mem);
        match self.shapes.get(k) {
            Some(Shape::Fast { mnemonic, keyword }) => {
                mnemonic.append_to(&mut out.mnemonic);
                self.operands(i, keyword, &mut out.operands);
                return true;
            }
            Some(Shape::Unseen) => {
                iced(intel, i, out);
                self.shapes[k] = self.learn(i, out);
            }
            Some(Shape::Iced) | None => iced(intel, i, out),
        }
        false
    }

    /// The shape of `i` given iced's text for it: the keyword is what iced has where this module,
    /// without a keyword, starts the memory operand; the rest must agree byte for byte.
    fn learn(&self, i: &Instruction, iced_text: &InsnText) -> Shape {
        let empty = Short::new(b"").expect("empty");
        let mut mine = Vec::new();
        let at = self.operands(i, &empty, &mut mine);
        let want = &iced_text.operands;
        let keyword = match at {
            None => empty,
            Some(at) if want.len() >= mine.len() && want[..at] == mine[..at] => {
                match Short::new(&want[at..at + (want.len() - mine.len())]) {
                    Some(k) => k,
                    None => return Shape::Iced,
                }
            }
            Some(_) => return Shape::Iced,
        };
        mine.clear();
        self.operands(i, &keyword, &mut mine);
        match Short::new(&iced_text.mnemonic) {
            Some(mnemonic) if mine == *want => Shape::Fast { mnemonic, keyword },
            _ => Shape::Iced,
        }
    }

    fn reg(&self, out: &mut Vec<u8>, r: Register) {
        self.regs[r as usize].append_to(out);
    }

    /// The operands in Intel order; returns where the memory operand starts, if there is one.
    fn operands(&self, i: &Instruction, keyword: &Short, out: &mut Vec<u8>) -> Option<usize> {
        let start = out.len();
        let mut mem_at = None;
        for k in 0..i.op_count() {
            if k > 0 {
                out.push(b',');
            }
            match i.op_kind(k) {
                OpKind::Register => self.reg(out, i.op_register(k)),
                OpKind::Memory => {
                    mem_at = Some(out.len() - start);
                    keyword.append_to(out);
                    self.memory(i, out);
                }
                // one `push_hex` of the selected value (see `fast_att::immediate`)
                OpKind::NearBranch64 => {
                    out.extend_from_slice(b"0x");
                    push_hex(out, i.near_branch64());
                }
                kind => {
                    if let Some(v) = immediate(i, kind) {
                        out.extend_from_slice(b"0x");
                        push_hex(out, v);
                    }
                }
            }
        }
        mem_at
    }

    /// `[rbp-0x8]`, `[rip+0x10]`, `[rax+rcx*4]`: iced's Intel `format_memory` for an operand
    /// with a base or index register, no segment override and no broadcast.
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
        out.push(b'[');
        let mut need_plus = false;
        if base != Register::None {
            self.reg(out, base);
            need_plus = true;
        }
        if index != Register::None {
            if need_plus {
                out.push(b'+');
            }
            need_plus = true;
            self.reg(out, index);
            let scale = i.memory_index_scale();
            if scale != 1 || base == Register::None {
                out.push(b'*');
                out.push(b'0' + scale as u8);
            }
        }
        if need_plus && displ_size != 0 && displ != 0 {
            let mut v = displ as u64;
            if wide {
                if displ < 0 {
                    out.push(b'-');
                    v = displ.wrapping_neg() as u64;
                } else {
                    out.push(b'+');
                }
            } else if (displ as i32) < 0 {
                out.push(b'-');
                v = u64::from((displ as i32).wrapping_neg() as u32);
            } else {
                out.push(b'+');
            }
            out.extend_from_slice(b"0x");
            push_hex(out, v);
        }
        out.push(b']');
    }
}

/// iced's Intel text.
pub(super) fn iced(intel: &mut IntelFormatter, i: &Instruction, out: &mut InsnText) {
    intel.format_mnemonic(i, &mut Bytes(&mut out.mnemonic));
    intel.format_all_operands(i, &mut Bytes(&mut out.operands));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x86_64::fast_check::{
        FastPath, compare_everywhere, every_fixture_offset, memory_operands,
    };
    use proptest::prelude::*;

    impl FastPath for FastIntel {
        type Iced = IntelFormatter;
        fn pair() -> (FastIntel, IntelFormatter) {
            let mut intel = super::super::intel_formatter();
            (FastIntel::new(&mut intel), intel)
        }
        fn iced(intel: &mut IntelFormatter, i: &Instruction, out: &mut InsnText) {
            iced(intel, i, out);
        }
        fn fast(
            &mut self,
            intel: &mut IntelFormatter,
            i: &Instruction,
            out: &mut InsnText,
        ) -> bool {
            self.format(intel, i, out)
        }
    }

    thread_local! {
        /// One formatter for all cases of a property, as in a listing: a shape's first
        /// instruction is checked against iced by the formatter itself, so only later ones
        /// test the fast path.
        static SHARED: std::cell::RefCell<(FastIntel, IntelFormatter)> =
            std::cell::RefCell::new(FastIntel::pair());
    }

    fn compare_shared(bytes: &[u8], base: u64) {
        SHARED.with(|f| {
            let (fast, intel) = &mut *f.borrow_mut();
            compare_everywhere(fast, intel, bytes, base);
        });
    }

    #[test]
    fn fast_intel_equals_iced_on_every_fixture_offset() {
        every_fixture_offset::<FastIntel>();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn fast_intel_equals_iced_on_random_bytes(
            bytes in proptest::collection::vec(any::<u8>(), 1..64),
            base in any::<u64>(),
        ) {
            compare_shared(&bytes, base);
        }

        #[test]
        fn fast_intel_equals_iced_on_memory_operands((bytes, base) in memory_operands()) {
            compare_shared(&bytes, base);
        }
    }
}
