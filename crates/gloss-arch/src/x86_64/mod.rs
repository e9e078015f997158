//! x86-64 through iced-x86 (see docs/decisions/0001-decoders.md).
//!
//! Pitfalls handled here (shared/research/decoders.md §7): an invalid instruction's `len()` can
//! swallow valid bytes, so invalid decodes advance one byte; formatter defaults differ from
//! objdump, so every option that affects text is pinned.
mod fast_att;
#[cfg(test)]
mod fast_check;
mod fast_intel;
mod sem;

use gloss_core::sem::Op;
use gloss_core::{Arch, Disassembler, Flow, Insn, InsnStatus, InsnText, OpDecoder, Sem, Syntax};
use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Formatter, FormatterOutput, FormatterTextKind,
    GasFormatter, Instruction, IntelFormatter, MemorySizeOptions, Mnemonic,
};
use std::cell::RefCell;

pub struct X86_64;

/// The formatters of one thread (iced's are stateful; the fast one learns shapes as it goes).
struct Formatters {
    gas: GasFormatter,
    intel: IntelFormatter,
    fast_att: fast_att::FastAtt,
    fast_intel: fast_intel::FastIntel,
}

impl Formatters {
    fn new() -> Formatters {
        let mut gas = gas_formatter();
        let fast_att = fast_att::FastAtt::new(&mut gas);
        let mut intel = intel_formatter();
        let fast_intel = fast_intel::FastIntel::new(&mut intel);
        Formatters {
            gas,
            intel,
            fast_att,
            fast_intel,
        }
    }
}

thread_local! {
    static FORMATTERS: RefCell<Formatters> = RefCell::new(Formatters::new());
}

fn pin_common(o: &mut iced_x86::FormatterOptions) {
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_branch_leading_zeros(false);
    o.set_leading_zeros(false);
    o.set_space_after_operand_separator(false);
    o.set_rip_relative_addresses(true);
    o.set_show_branch_size(false);
    o.set_use_pseudo_ops(false);
    o.set_show_useless_prefixes(true);
}

/// AT&T as GNU objdump prints it: `mov %rsp,%rbp`, `lea 0x2ed9(%rip),%rdi`, size suffixes only when
/// an operand size is otherwise ambiguous (`movl $0x0,-0x4(%rbp)`).
fn gas_formatter() -> GasFormatter {
    let mut f = GasFormatter::new();
    let o = f.options_mut();
    pin_common(o);
    o.set_gas_show_mnemonic_size_suffix(false);
    o.set_memory_size_options(MemorySizeOptions::Minimal);
    o.set_gas_space_after_memory_operand_comma(false);
    f
}

/// Intel as `objdump -M intel` prints it: `mov rbp,rsp`, `lea rdi,[rip+0x2ed9]`, and a size on
/// every memory operand (`mov rax,QWORD PTR [rip+0x1ffad]`), as GNU objdump does.
fn intel_formatter() -> IntelFormatter {
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    pin_common(o);
    o.set_memory_size_options(MemorySizeOptions::Always);
    o.set_uppercase_keywords(true);
    o.set_space_after_memory_bracket(false);
    o.set_space_between_memory_add_operators(false);
    f
}

/// Decodes the instructions of `bytes` one after the other with one decoder (as
/// `decode_text_run` does), lowering each valid one with `lower` (`invalid` for the others),
/// until `f` returns `false` or the bytes run out.
fn lowered_run<T>(
    bytes: &[u8],
    addr: u64,
    lower: fn(&Instruction) -> T,
    invalid: T,
    f: &mut dyn FnMut(&Insn, &T, &[u8]) -> bool,
) where
    T: Copy,
{
    let mut d = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    lowered(&mut d, bytes, addr, lower, invalid, f);
}

/// The loop of [`lowered_run`], from the decoder's position on; `bytes` are the decoder's and
/// start at `addr`.
fn lowered<T: Copy>(
    d: &mut Decoder<'_>,
    bytes: &[u8],
    addr: u64,
    lower: fn(&Instruction) -> T,
    invalid: T,
    f: &mut dyn FnMut(&Insn, &T, &[u8]) -> bool,
) {
    let mut i = Instruction::default();
    while d.can_decode() {
        let pos = d.position();
        let ip = addr.wrapping_add(pos as u64);
        d.decode_out(&mut i);
        let insn = to_insn(&i, ip);
        let lowered = match insn.status {
            InsnStatus::Valid => lower(&i),
            _ => invalid,
        };
        if !f(&insn, &lowered, &bytes[pos..]) {
            return;
        }
        if insn.status == InsnStatus::Invalid {
            // resynchronise one byte on, as `decode_sem` on the next byte would
            if d.set_position(pos + 1).is_err() {
                return;
            }
            d.set_ip(ip.wrapping_add(1));
        }
    }
}

/// One iced decoder over a stretch of code, moved to each run's start.
struct OpRuns<'b> {
    d: Decoder<'b>,
    bytes: &'b [u8],
    addr: u64,
}

impl OpDecoder for OpRuns<'_> {
    fn run(&mut self, addr: u64, f: &mut dyn FnMut(&Insn, &Op, &[u8]) -> bool) {
        let Some(pos) = addr
            .checked_sub(self.addr)
            .and_then(|off| usize::try_from(off).ok())
            .filter(|&pos| pos < self.bytes.len())
        else {
            return;
        };
        if self.d.set_position(pos).is_err() {
            return;
        }
        self.d.set_ip(addr);
        lowered(
            &mut self.d,
            self.bytes,
            self.addr,
            sem::lower_op,
            Op::None,
            f,
        );
    }
}

fn decode_one(bytes: &[u8], addr: u64) -> Instruction {
    let mut d = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    d.decode()
}

fn to_insn(i: &Instruction, addr: u64) -> Insn {
    if i.is_invalid() {
        // Never trust an invalid decode's length: resynchronise one byte on.
        return Insn {
            addr,
            len: 1,
            status: InsnStatus::Invalid,
            flow: Flow::Next,
            pc_ref: None,
        };
    }
    let flow = match i.flow_control() {
        FlowControl::Next | FlowControl::XbeginXabortXend => match i.mnemonic() {
            Mnemonic::Hlt => Flow::Trap,
            _ => Flow::Next,
        },
        FlowControl::UnconditionalBranch => Flow::Jump(i.near_branch_target()),
        FlowControl::ConditionalBranch => Flow::CondJump(i.near_branch_target()),
        FlowControl::IndirectBranch => Flow::IndirectJump,
        // `syscall`/`sysenter` are calls to iced but return to the next instruction.
        FlowControl::Call if !i.is_call_near() => Flow::Next,
        FlowControl::Call => Flow::Call(i.near_branch_target()),
        FlowControl::IndirectCall => Flow::IndirectCall,
        FlowControl::Return => Flow::Return,
        FlowControl::Interrupt => match i.code() {
            Code::Int3 | Code::Int1 => Flow::Trap,
            _ => Flow::Next,
        },
        FlowControl::Exception => Flow::Trap,
    };
    // Far branches have no near target; treat them as indirect rather than inventing one.
    let flow = match flow {
        Flow::Jump(_) | Flow::CondJump(_) | Flow::Call(_)
            if i.near_branch_target() == 0 && i.is_jmp_far() =>
        {
            Flow::IndirectJump
        }
        f => f,
    };
    let pc_ref = i
        .is_ip_rel_memory_operand()
        .then(|| i.ip_rel_memory_address());
    Insn {
        addr,
        len: i.len() as u8,
        status: InsnStatus::Valid,
        flow,
        pc_ref,
    }
}

impl Disassembler for X86_64 {
    fn arch(&self) -> Arch {
        Arch::X86_64
    }

    fn decode(&self, bytes: &[u8], addr: u64) -> Insn {
        to_insn(&decode_one(bytes, addr), addr)
    }

    fn decode_sem(&self, bytes: &[u8], addr: u64) -> (Insn, Sem) {
        let i = decode_one(bytes, addr);
        let insn = to_insn(&i, addr);
        match insn.status {
            InsnStatus::Valid => (insn, sem::lower(&i)),
            _ => (insn, Sem::NONE),
        }
    }

    fn decode_sem_run(
        &self,
        bytes: &[u8],
        addr: u64,
        f: &mut dyn FnMut(&Insn, &Sem, &[u8]) -> bool,
    ) {
        lowered_run(bytes, addr, sem::lower, Sem::NONE, f);
    }

    fn decode_op_run(&self, bytes: &[u8], addr: u64, f: &mut dyn FnMut(&Insn, &Op, &[u8]) -> bool) {
        lowered_run(bytes, addr, sem::lower_op, Op::None, f);
    }

    fn op_decoder<'b>(&'b self, bytes: &'b [u8], addr: u64) -> Box<dyn OpDecoder + 'b> {
        Box::new(OpRuns {
            d: Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE),
            bytes,
            addr,
        })
    }

    fn decode_run(&self, bytes: &[u8], addr: u64, f: &mut dyn FnMut(&Insn, &[u8]) -> bool) {
        lowered_run(bytes, addr, |_| (), (), &mut |insn, _, rest| f(insn, rest));
    }

    fn decode_text(&self, bytes: &[u8], addr: u64, syntax: Syntax, out: &mut InsnText) -> Insn {
        let i = decode_one(bytes, addr);
        FORMATTERS.with(|f| format_insn(&mut f.borrow_mut(), &i, addr, syntax, out))
    }

    fn decode_text_run(
        &self,
        bytes: &[u8],
        addr: u64,
        syntax: Syntax,
        out: &mut InsnText,
        f: &mut dyn FnMut(&Insn, &InsnText) -> bool,
    ) {
        // One decoder for the whole run: building an iced `Decoder` per instruction cost about
        // as much as decoding (docs/PERFORMANCE.md).
        let mut d = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
        let mut i = Instruction::default();
        FORMATTERS.with(|fmt| {
            let mut fmt = fmt.borrow_mut();
            while d.can_decode() {
                let pos = d.position();
                let ip = addr.wrapping_add(pos as u64);
                d.decode_out(&mut i);
                let insn = format_insn(&mut fmt, &i, ip, syntax, out);
                if insn.status == InsnStatus::Invalid {
                    // Resynchronise one byte on, as `decode_text` on the next byte would.
                    let next = pos + 1;
                    if d.set_position(next).is_err() {
                        break;
                    }
                    d.set_ip(ip.wrapping_add(1));
                }
                if !f(&insn, out) {
                    break;
                }
            }
        });
    }
}

/// iced writes its text through this: appended to an [`InsnText`] buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl FormatterOutput for Bytes<'_> {
    fn write(&mut self, text: &str, _kind: FormatterTextKind) {
        self.0.extend_from_slice(text.as_bytes());
    }
}

/// Formats a decoded instruction into `out` (cleared first) and returns its `Insn`.
fn format_insn(
    fmt: &mut Formatters,
    i: &Instruction,
    addr: u64,
    syntax: Syntax,
    out: &mut InsnText,
) -> Insn {
    out.clear();
    let insn = to_insn(i, addr);
    if insn.status == InsnStatus::Invalid {
        out.mnemonic.extend_from_slice(b"(bad)");
        return insn;
    }
    match syntax {
        Syntax::Att => {
            fmt.fast_att.format(&mut fmt.gas, i, out);
        }
        Syntax::Intel => {
            fmt.fast_intel.format(&mut fmt.intel, i, out);
        }
    }
    insn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(hex: &[u8], addr: u64, syntax: Syntax) -> (String, Insn) {
        let mut t = InsnText::default();
        let insn = X86_64.decode_text(hex, addr, syntax, &mut t);
        (
            format!("{} {}", t.mnemonic_str(), t.operands_str())
                .trim_end()
                .to_string(),
            insn,
        )
    }

    /// Expected texts are GNU objdump 2.40's for the same bytes.
    #[test]
    fn att_matches_objdump() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x55], "push %rbp"),
            (&[0x48, 0x89, 0xe5], "mov %rsp,%rbp"),
            (&[0xbe, 0x01, 0, 0, 0], "mov $0x1,%esi"),
            (&[0x48, 0x83, 0xec, 0x10], "sub $0x10,%rsp"),
            (&[0x48, 0x8d, 0x54, 0x24, 0x08], "lea 0x8(%rsp),%rdx"),
            (&[0x48, 0x63, 0x04, 0x9a], "movslq (%rdx,%rbx,4),%rax"),
            (&[0xff, 0xe0], "jmp *%rax"),
            (
                &[0xf0, 0x83, 0x8f, 0x98, 0, 0, 0, 0x01],
                "lock orl $0x1,0x98(%rdi)",
            ),
            (&[0xc7, 0x45, 0xfc, 0, 0, 0, 0], "movl $0x0,-0x4(%rbp)"),
            (&[0xff, 0x35, 0xca, 0x2f, 0, 0], "push 0x2fca(%rip)"),
            (&[0xff, 0x25, 0xcc, 0x2f, 0, 0], "jmp *0x2fcc(%rip)"),
            (&[0xff, 0x15, 0xcc, 0x2f, 0, 0], "call *0x2fcc(%rip)"),
            (&[0x6a, 0x00], "push $0x0"),
        ];
        for (bytes, want) in cases {
            assert_eq!(text(bytes, 0, Syntax::Att).0, *want, "bytes {bytes:02x?}");
        }
    }

    #[test]
    fn branches_and_rip_relative_are_absolute() {
        let (t, i) = text(&[0xe8, 0x00, 0x00, 0x00, 0x00], 0x18, Syntax::Att);
        assert_eq!(t, "call 0x1d");
        assert_eq!(i.flow, Flow::Call(0x1d));
        let (t, i) = text(&[0x48, 0x8d, 0x3d, 0x10, 0, 0, 0], 0x8, Syntax::Att);
        assert_eq!(t, "lea 0x10(%rip),%rdi");
        assert_eq!(i.pc_ref, Some(0x8 + 7 + 0x10));
        let (t, _) = text(&[0x48, 0x8d, 0x3d, 0x10, 0, 0, 0], 0x8, Syntax::Intel);
        assert_eq!(t, "lea rdi,[rip+0x10]");
    }

    /// GNU objdump -M intel (2.40; these are its texts) names the size of every memory operand
    /// (`lea` has none); iced's default shows it only when ambiguous. Found by the differential
    /// test (docs/differential.md).
    #[test]
    fn intel_shows_memory_sizes_like_objdump() {
        let cases: &[(&[u8], &str)] = &[
            (
                &[0x48, 0x8b, 0x05, 0xad, 0xff, 0x01, 0x00],
                "mov rax,QWORD PTR [rip+0x1ffad]",
            ),
            (
                &[0xff, 0x35, 0xca, 0x2f, 0, 0],
                "push QWORD PTR [rip+0x2fca]",
            ),
            (&[0x8b, 0x45, 0xfc], "mov eax,DWORD PTR [rbp-0x4]"),
            (
                &[0xc7, 0x45, 0xfc, 0, 0, 0, 0],
                "mov DWORD PTR [rbp-0x4],0x0",
            ),
            (
                &[0x66, 0x0f, 0x6f, 0x45, 0xf0],
                "movdqa xmm0,XMMWORD PTR [rbp-0x10]",
            ),
            (&[0x48, 0x8d, 0x3d, 0x10, 0, 0, 0], "lea rdi,[rip+0x10]"),
        ];
        for (bytes, want) in cases {
            assert_eq!(text(bytes, 0, Syntax::Intel).0, *want, "bytes {bytes:02x?}");
        }
    }

    #[test]
    fn invalid_resyncs_one_byte() {
        // `06` is invalid in 64-bit mode; iced reports length 2 and would swallow the `nop`.
        let (t, i) = text(&[0x06, 0x90], 0, Syntax::Att);
        assert_eq!(
            (t.as_str(), i.len, i.status),
            ("(bad)", 1, InsnStatus::Invalid)
        );
    }

    #[test]
    fn flow_kinds() {
        assert_eq!(X86_64.decode(&[0xc3], 0).flow, Flow::Return);
        assert_eq!(X86_64.decode(&[0x0f, 0x0b], 0).flow, Flow::Trap);
        assert_eq!(X86_64.decode(&[0xcc], 0).flow, Flow::Trap);
        assert_eq!(X86_64.decode(&[0xff, 0xd0], 0).flow, Flow::IndirectCall);
        assert_eq!(
            X86_64.decode(&[0x74, 0x02], 0x10).flow,
            Flow::CondJump(0x14)
        );
        assert_eq!(X86_64.decode(&[0x0f, 0x05], 0).flow, Flow::Next);
    }
}
