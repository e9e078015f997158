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
    let mut all = Vec::with_capacity(analysis.functions.len());
    explain_chunked(image, dis, analysis, usize::MAX, |_, some| all.extend(some));
    all
}

/// [`explain_all`], handed over `chunk` functions at a time, in order, with the index of the
/// first: a caller that turns the results into something else need not hold them all.
pub fn explain_chunked(
    image: &Image,
    dis: &dyn Disassembler,
    analysis: &crate::discover::Analysis,
    chunk: usize,
    mut take: impl FnMut(usize, Vec<Explained>),
) {
    use rayon::prelude::*;
    let code = CodeMap::new(image);
    let shared = Shared::new(image, dis, &code);
    let chunk = chunk.max(1);
    for (k, functions) in analysis.functions.chunks(chunk).enumerate() {
        let some = functions
            .par_iter()
            .map_init(
                || PerThread::new(&shared),
                |t, f| t.explain(dis, &code, f.addr, &f.blocks),
            )
            .collect();
        take(k * chunk, some);
    }
}

/// Runs the address, call-site, atomic and prologue idioms over one function's blocks.
pub fn explain(
    image: &Image,
    dis: &dyn Disassembler,
    code: &CodeMap,
    entry: u64,
    blocks: &[Block],
) -> Explained {
    let shared = Shared::new(image, dis, code);
    PerThread::new(&shared).explain(dis, code, entry, blocks)
}

/// What the idioms know of the image, found once: the outline-atomics helpers, the call
/// sites' slots and thunks, the stack guard's addresses.
struct Shared<'i> {
    image: &'i Image,
    atomics: atomic::Finder<'i>,
    calls: call_site::Finder<'i>,
    guards: prologue::Guards,
}

impl<'i> Shared<'i> {
    fn new(image: &'i Image, dis: &'i dyn Disassembler, code: &'i CodeMap<'i>) -> Shared<'i> {
        Shared {
            image,
            atomics: atomic::Finder::new(image, dis, code),
            calls: call_site::Finder::new(image),
            guards: prologue::Guards::new(image),
        }
    }
}

/// What one thread keeps from one function to the next: the executor's arena, the walk's
/// buffers and the recognizers with what they know of the image.
struct PerThread<'s, 'i> {
    shared: &'s Shared<'i>,
    ex: Exec,
    scratch: values::Scratch,
    refs: addr_mat::Finder<'i>,
    calls: call_site::Finder<'i>,
}

impl<'s, 'i> PerThread<'s, 'i> {
    fn new(shared: &'s Shared<'i>) -> PerThread<'s, 'i> {
        PerThread {
            shared,
            ex: Exec::new(shared.image.arch),
            scratch: values::Scratch::default(),
            refs: addr_mat::Finder::new(shared.image),
            calls: shared.calls.clone(),
        }
    }

    fn explain(
        &mut self,
        dis: &dyn Disassembler,
        code: &CodeMap,
        entry: u64,
        blocks: &[Block],
    ) -> Explained {
        let shared = self.shared;
        let image = shared.image;
        let (refs, calls) = (&mut self.refs, &mut self.calls);
        refs.reset();
        calls.reset();
        self.ex.preserving.clear();
        self.ex.preserving.extend(calls.guard_check);
        let (insns, firsts) = values::walk(
            &mut self.ex,
            &mut self.scratch,
            dis,
            code,
            blocks,
            entry,
            &mut |_, insn, sem, bytes, ex| {
                refs.visit(image.arch, insn, sem, bytes, ex);
                // a jump ends its block: is that block (the last one starting at or before it)
                // one that leaves (a tail-call edge, or an indirect jump that is no table: a
                // function pointer)?
                let tail = matches!(insn.flow, Flow::Jump(_) | Flow::IndirectJump) && {
                    let i = blocks.partition_point(|b| b.addr <= insn.addr);
                    i > 0
                        && blocks[i - 1]
                            .succs
                            .iter()
                            .any(|e| matches!(e.kind, EdgeKind::TailCall | EdgeKind::Unresolved))
                };
                calls.visit(insn, sem, tail, ex);
            },
        );
        let frame = prologue::find(
            &shared.guards,
            image,
            code,
            entry,
            (insns, firsts),
            &refs.refs,
            &calls.calls,
        );
        // sorted where they were found, then copied at their size (the buffers stay)
        refs.refs.sort_by_key(|r| r.addr);
        calls.calls.sort_by_key(|c| c.addr);
        Explained {
            refs: refs.refs.drain(..).collect(),
            calls: calls.calls.drain(..).collect(),
            atomics: shared.atomics.find_decoded(insns),
            frame,
        }
    }
}
