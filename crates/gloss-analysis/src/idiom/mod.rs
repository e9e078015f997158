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
    /// The argument registers the function reads: its parameters.
    pub params: call_site::Params,
}

/// [`explain`] for every function of an analysis, in parallel (rayon's pool), in its order.
pub fn explain_all(
    image: &Image,
    dis: &dyn Disassembler,
    analysis: &crate::discover::Analysis,
) -> Vec<Explained> {
    let mut all: Vec<Option<Explained>> = Vec::new();
    all.resize_with(analysis.functions.len(), || None);
    explain_chunked(image, dis, analysis, usize::MAX, |which, some| {
        for (&i, e) in which.iter().zip(some) {
            all[i] = Some(e);
        }
    });
    all.into_iter().map(Option::unwrap_or_default).collect()
}

/// [`explain_all`], handed over at most `chunk` functions at a time with their indices in the
/// analysis: a caller that turns the results into something else need not hold them all.
/// Callees come before their callers ([`crate::callgraph::levels`]), so that a call's
/// arguments are as many as the callee reads ([`call_site::Params`]); the order of the
/// chunks is that, not the analysis's.
pub fn explain_chunked(
    image: &Image,
    dis: &dyn Disassembler,
    analysis: &crate::discover::Analysis,
    chunk: usize,
    mut take: impl FnMut(&[usize], Vec<Explained>),
) {
    use rayon::prelude::*;
    let functions = &analysis.functions;
    let code = CodeMap::new(image);
    let shared = Shared::new(image, dis, &code);
    let levels = crate::callgraph::levels(functions);
    let mut level = vec![0usize; functions.len()];
    for (l, members) in levels.iter().enumerate() {
        for &i in members {
            level[i] = l;
        }
    }
    // each function's parameters once it is explained; a function reads only those of lower
    // levels (not of its own cycle), so the chunks' sizes and order change nothing
    let mut params: Vec<Option<call_site::Params>> = vec![None; functions.len()];
    for (l, members) in levels.iter().enumerate() {
        for which in members.chunks(chunk.max(1)) {
            let params_of = |a: u64| {
                let j = functions.binary_search_by_key(&a, |f| f.addr).ok()?;
                if level[j] < l { params[j] } else { None }
            };
            let some: Vec<Explained> = which
                .par_iter()
                .map_init(
                    || PerThread::new(&shared),
                    |t, &i| {
                        let f = &functions[i];
                        t.explain(dis, &code, f.addr, &f.blocks, &params_of)
                    },
                )
                .collect();
            for (&i, e) in which.iter().zip(&some) {
                params[i] = Some(e.params);
            }
            take(which, some);
        }
    }
}

/// Runs the address, call-site, atomic and prologue idioms over one function's blocks (the
/// callees' parameters unknown: each call's arguments are those its block sets).
pub fn explain(
    image: &Image,
    dis: &dyn Disassembler,
    code: &CodeMap,
    entry: u64,
    blocks: &[Block],
) -> Explained {
    let shared = Shared::new(image, dis, code);
    PerThread::new(&shared).explain(dis, code, entry, blocks, &|_| None)
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
            ex: {
                let image = shared.image;
                let ex = Exec::new(image.arch);
                if image.arch == gloss_core::Arch::X86_64 && image.format == gloss_core::Format::Pe
                {
                    ex.windows_x64()
                } else {
                    ex
                }
            },
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
        callee: &dyn Fn(u64) -> Option<call_site::Params>,
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
                calls.visit(insn, sem, tail, ex, callee);
                if is_syscall(image.arch, bytes) {
                    calls.syscall();
                }
            },
        );
        let params = calls.params(&self.ex);
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
            params,
        }
    }
}

/// x86-64 `syscall` (0f 05), AArch64 `svc #imm`.
fn is_syscall(arch: gloss_core::Arch, bytes: &[u8]) -> bool {
    match arch {
        gloss_core::Arch::X86_64 => bytes.starts_with(&[0x0f, 0x05]),
        gloss_core::Arch::Aarch64 => bytes.get(..4).is_some_and(|b| {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0xffe0_001f == 0xd400_0001
        }),
    }
}
