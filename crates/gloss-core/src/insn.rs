use crate::sem::Op;
use crate::{Arch, Label, Sem, Syntax};
use serde::Serialize;

/// Where control goes after an instruction. Targets are absolute addresses.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "target")]
pub enum Flow {
    Next,
    Jump(u64),
    CondJump(u64),
    IndirectJump,
    Call(u64),
    IndirectCall,
    Return,
    /// Stops execution here: `ud2`, `hlt`, `int3`, `brk`, `udf`.
    Trap,
}

impl Flow {
    /// The statically known branch target, if any.
    pub fn target(self) -> Option<u64> {
        match self {
            Flow::Jump(t) | Flow::CondJump(t) | Flow::Call(t) => Some(t),
            _ => None,
        }
    }
    /// Control never falls through to the next instruction.
    pub fn ends_block(self) -> bool {
        !matches!(self, Flow::Next | Flow::Call(_) | Flow::IndirectCall)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InsnStatus {
    Valid,
    /// Not an instruction of the architecture (`(bad)`, `.inst`).
    Invalid,
    /// Probably valid but the decoder does not know it (a newer extension).
    Unknown,
}

/// One decoded instruction: small and `Copy`; text is produced separately on demand.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Insn {
    pub addr: u64,
    pub len: u8,
    pub status: InsnStatus,
    pub flow: Flow,
    /// The absolute address a PC-relative operand denotes (RIP-relative memory, ADR, ADRP page,
    /// LDR literal), when it is not already the branch target.
    pub pc_ref: Option<u64>,
}

impl Insn {
    pub fn end(&self) -> u64 {
        self.addr.wrapping_add(self.len as u64)
    }
}

/// Text of one instruction, without symbols. Buffers are reused across calls.
///
/// The text is ASCII, kept as bytes: decoders append to it and listings copy it tens of millions
/// of times, and a `String` would check or encode UTF-8 at every step. Read it as `&str` with
/// [`InsnText::mnemonic_str`] and [`InsnText::operands_str`].
#[derive(Default, Clone, Debug)]
pub struct InsnText {
    pub mnemonic: Vec<u8>,
    pub operands: Vec<u8>,
}

impl InsnText {
    pub fn clear(&mut self) {
        self.mnemonic.clear();
        self.operands.clear();
    }
    /// The mnemonic as text (`?` if a decoder ever wrote something that is not UTF-8).
    pub fn mnemonic_str(&self) -> &str {
        std::str::from_utf8(&self.mnemonic).unwrap_or("?")
    }
    /// The operands as text (`?` if a decoder ever wrote something that is not UTF-8).
    pub fn operands_str(&self) -> &str {
        std::str::from_utf8(&self.operands).unwrap_or("?")
    }
}

/// Names addresses for listings.
pub trait Symbolizer {
    fn label(&self, addr: u64) -> Option<Label<'_>>;
}

/// Seam between analyses and a concrete decoder. Decoding never fails: invalid bytes become an
/// [`InsnStatus::Invalid`] instruction of the architecture's minimum length.
pub trait Disassembler: Send + Sync {
    fn arch(&self) -> Arch;
    /// Decodes one instruction at `addr` from `bytes` (which start at `addr`).
    fn decode(&self, bytes: &[u8], addr: u64) -> Insn;
    /// Decodes the instructions of `bytes` (which start at `addr`) one after the other, as
    /// repeated [`Disassembler::decode`] calls would (an instruction's length is clamped to
    /// `1..=` the bytes left), calling `f` with each and the bytes from its address on until
    /// it returns `false` or the bytes run out: a decoder can keep its state for the run.
    fn decode_run(&self, bytes: &[u8], addr: u64, f: &mut dyn FnMut(&Insn, &[u8]) -> bool) {
        let mut off = 0;
        while off < bytes.len() {
            let insn = self.decode(&bytes[off..], addr.wrapping_add(off as u64));
            if !f(&insn, &bytes[off..]) {
                return;
            }
            off += (insn.len as usize).clamp(1, bytes.len() - off);
        }
    }
    /// Decodes and formats one instruction into `out` (cleared first).
    fn decode_text(&self, bytes: &[u8], addr: u64, syntax: Syntax, out: &mut InsnText) -> Insn;
    /// Decodes and formats the instructions of `bytes` (which start at `addr`) one after the
    /// other, as repeated [`Disassembler::decode_text`] calls would (an instruction's length is
    /// clamped to `1..=` the bytes left), calling `f` with each until it returns `false` or the
    /// bytes run out. Listings use this: a decoder can keep its state for the whole run.
    fn decode_text_run(
        &self,
        bytes: &[u8],
        addr: u64,
        syntax: Syntax,
        out: &mut InsnText,
        f: &mut dyn FnMut(&Insn, &InsnText) -> bool,
    ) {
        let mut off = 0;
        while off < bytes.len() {
            let insn = self.decode_text(&bytes[off..], addr.wrapping_add(off as u64), syntax, out);
            if !f(&insn, out) {
                return;
            }
            off += (insn.len as usize).clamp(1, bytes.len() - off);
        }
    }
    /// Decodes one instruction and lowers its register effect (see [`crate::sem`]).
    fn decode_sem(&self, bytes: &[u8], addr: u64) -> (Insn, Sem);
    /// Decodes and lowers the instructions of `bytes` (which start at `addr`) one after the
    /// other, as repeated [`Disassembler::decode_sem`] calls would, calling `f` with each and
    /// the bytes from its address on, until it returns `false` or the bytes run out. The CFG
    /// traversal decodes blocks this way: a decoder can keep its state for the whole block.
    fn decode_sem_run(
        &self,
        bytes: &[u8],
        addr: u64,
        f: &mut dyn FnMut(&Insn, &Sem, &[u8]) -> bool,
    ) {
        let mut off = 0;
        while off < bytes.len() {
            let (insn, sem) = self.decode_sem(&bytes[off..], addr.wrapping_add(off as u64));
            if !f(&insn, &sem, &bytes[off..]) {
                return;
            }
            off += (insn.len as usize).clamp(1, bytes.len() - off);
        }
    }
    /// As [`Disassembler::decode_sem_run`], with only each instruction's [`Sem::op`]: the CFG
    /// traversal needs no more, and a decoder may find the op for less than the whole `Sem`.
    fn decode_op_run(&self, bytes: &[u8], addr: u64, f: &mut dyn FnMut(&Insn, &Op, &[u8]) -> bool) {
        self.decode_sem_run(bytes, addr, &mut |insn, sem, b| f(insn, &sem.op, b));
    }
    /// An [`OpDecoder`] over `bytes`, which start at `addr`.
    fn op_decoder<'b>(&'b self, bytes: &'b [u8], addr: u64) -> Box<dyn OpDecoder + 'b>;
}

/// Runs of [`Disassembler::decode_op_run`] from any address of one stretch of code, with the
/// decoder kept between runs: the CFG traversal decodes a function block by block, and making
/// an x86 decoder for each block cost about as much as decoding two instructions.
pub trait OpDecoder {
    /// As `decode_op_run` on the bytes from `addr` to the end of the stretch (nothing when
    /// `addr` lies outside it).
    fn run(&mut self, addr: u64, f: &mut dyn FnMut(&Insn, &Op, &[u8]) -> bool);
}

/// An [`OpDecoder`] that calls [`Disassembler::decode_op_run`] for each run, for decoders
/// that keep nothing worth reusing.
pub struct EachRun<'b, D: ?Sized> {
    pub dis: &'b D,
    pub bytes: &'b [u8],
    pub addr: u64,
}

impl<D: Disassembler + ?Sized> OpDecoder for EachRun<'_, D> {
    fn run(&mut self, addr: u64, f: &mut dyn FnMut(&Insn, &Op, &[u8]) -> bool) {
        let rest = addr
            .checked_sub(self.addr)
            .and_then(|off| self.bytes.get(usize::try_from(off).ok()?..));
        if let Some(rest) = rest {
            self.dis.decode_op_run(rest, addr, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_stays_small() {
        // Insn is copied around by the million in listings and analyses.
        assert!(
            std::mem::size_of::<Insn>() <= 48,
            "Insn grew to {}",
            std::mem::size_of::<Insn>()
        );
    }
}
