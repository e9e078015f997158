//! Compiler idioms, one folder each (with a file per architecture where they differ), and
//! [`explain`], which runs the ones that read register values over a function.
pub mod addr_mat;
pub mod atomic;
pub mod call_site;
pub mod jump_table;
pub mod prologue;

use crate::cfg::{Block, EdgeKind};
use crate::code::CodeMap;
use crate::dataflow::exec::Exec;
use crate::dataflow::values;
use gloss_core::{Disassembler, Flow, Image};
use rustc_hash::FxHashSet;

/// What the idioms that read a function instruction by instruction found in it.
#[derive(Debug, Default)]
pub struct Explained {
    pub refs: Vec<addr_mat::Ref>,
    pub calls: Vec<call_site::Call>,
    pub atomics: Vec<atomic::AtomicOp>,
    pub frame: prologue::Frame,
}

/// [`explain`] for every function of an analysis, in parallel (rayon's pool), in its order.
pub fn explain_all(
    image: &Image,
    dis: &dyn Disassembler,
    analysis: &crate::discover::Analysis,
) -> Vec<Explained> {
    use rayon::prelude::*;
    let code = CodeMap::new(image);
    let atomics = atomic::Finder::new(image, dis, &code);
    analysis
        .functions
        .par_iter()
        .map_init(
            || PerThread::new(image),
            |t, f| t.explain(&atomics, dis, &code, f.addr, &f.blocks),
        )
        .collect()
}

/// Runs the address, call-site, atomic and prologue idioms over one function's blocks.
pub fn explain(
    image: &Image,
    dis: &dyn Disassembler,
    code: &CodeMap,
    entry: u64,
    blocks: &[Block],
) -> Explained {
    let atomics = atomic::Finder::new(image, dis, code);
    PerThread::new(image).explain(&atomics, dis, code, entry, blocks)
}

/// What one thread keeps from one function to the next: the executor's arena, the walk's
/// buffers and the recognizers with what they know of the image.
struct PerThread<'i> {
    image: &'i Image,
    ex: Exec,
    scratch: values::Scratch,
    refs: addr_mat::Finder<'i>,
    calls: call_site::Finder<'i>,
}

impl<'i> PerThread<'i> {
    fn new(image: &'i Image) -> PerThread<'i> {
        PerThread {
            image,
            ex: Exec::new(image.arch),
            scratch: values::Scratch::default(),
            refs: addr_mat::Finder::new(image),
            calls: call_site::Finder::new(image),
        }
    }

    fn explain(
        &mut self,
        atomics: &atomic::Finder,
        dis: &dyn Disassembler,
        code: &CodeMap,
        entry: u64,
        blocks: &[Block],
    ) -> Explained {
        let image = self.image;
        // jumps that leave the function: the blocks ending in a tail-call edge, or in an indirect
        // jump that is no table (a function pointer)
        let tails: FxHashSet<u64> = blocks
            .iter()
            .filter(|b| {
                b.succs
                    .iter()
                    .any(|e| matches!(e.kind, EdgeKind::TailCall | EdgeKind::Unresolved))
            })
            .map(|b| b.addr)
            .collect();
        let (refs, calls) = (&mut self.refs, &mut self.calls);
        refs.reset();
        calls.reset();
        self.ex.preserving.clear();
        self.ex.preserving.extend(calls.guard_check);
        let insns = values::walk(
            &mut self.ex,
            &mut self.scratch,
            dis,
            code,
            blocks,
            entry,
            &mut |insn, sem, bytes, ex| {
                refs.visit(image.arch, insn, sem, bytes, ex);
                // a jump ends its block: is that block one that leaves?
                let tail = matches!(insn.flow, Flow::Jump(_) | Flow::IndirectJump) && {
                    let i = blocks.partition_point(|b| b.addr <= insn.addr);
                    i > 0 && tails.contains(&blocks[i - 1].addr)
                };
                calls.visit(insn, sem, tail, ex);
            },
        );
        let frame = prologue::find(image, code, entry, insns, &refs.refs, &calls.calls);
        let mut out = Explained {
            refs: std::mem::take(&mut refs.refs),
            calls: std::mem::take(&mut calls.calls),
            atomics: atomics.find_decoded(insns),
            frame,
        };
        out.refs.sort_by_key(|r| r.addr);
        out.calls.sort_by_key(|c| c.addr);
        out
    }
}
