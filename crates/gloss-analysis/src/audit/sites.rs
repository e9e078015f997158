//! The sites of the audit: each function's blocks' last instructions that are indirect
//! branches (or direct calls and jumps of the thunks that stand for them), what kind each is,
//! the rule families' protections, and which required mitigations they lack.
use super::{
    BranchKind, Finding, IndirectBranch, Mitigation, Required, ThunkRef, Verdict, cfg, describe,
    ibt_bti, pac, retpoline, rules, shstk, sls,
};
use crate::cfg::EdgeKind;
use crate::code::CodeMap;
use crate::discover::{Analysis, Function};
use crate::idiom::Explained;
use crate::idiom::call_site::{Call, Kind as CallKind};
use gloss_core::{Arch, Disassembler, Flow, Image, Insn, InsnStatus};

/// What every site's check needs from the image.
pub(crate) struct Cx<'a> {
    pub image: &'a Image,
    pub dis: &'a dyn Disassembler,
    pub code: CodeMap<'a>,
    pub analysis: &'a Analysis,
    pub required: Required,
    /// Relocations of a relocatable object by address, with their symbol: a call of an
    /// undefined thunk (`call __x86_indirect_thunk_rax` in a `.o`) has only its relocation.
    relocs: Vec<(u64, &'a str)>,
    /// `__guard_check_icall_fptr`'s slot (PE with Control Flow Guard).
    pub guard_check: Option<u64>,
    /// Import stubs no function covers (PLT entries, PE thunks, Mach-O stubs), each as a
    /// function of one block that ends in the jump through the import's slot.
    pub(super) stubs: Vec<Function>,
    /// Functions that are a mitigation's own code (thunks, the guard's dispatch), and the
    /// parts of them the analysis took for functions (a retpoline's `call 1f` target).
    thunks: crate::FxHashSet<u64>,
    /// Relocatable objects: the addresses relocations other than branches take.
    pub in_object: crate::FxHashSet<u64>,
}

/// One branch instruction and what surrounds it.
pub(crate) struct Site<'a> {
    pub insn: Insn,
    /// The instruction's bytes and what follows them in the code.
    pub bytes: &'a [u8],
    /// The instruction before it in its block.
    pub prev: Option<Insn>,
    /// A direct call's or jump's callee: its address and name (empty without a symbol).
    pub callee: Option<(Option<u64>, &'a str)>,
    /// What the call-site idiom knows of it.
    pub call: Option<&'a Call>,
    /// The start of its block.
    pub block: u64,
    pub function: &'a Function,
    pub explained: &'a Explained,
}

impl<'a> Cx<'a> {
    pub(super) fn new(
        image: &'a Image,
        dis: &'a dyn Disassembler,
        analysis: &'a Analysis,
        required: Required,
    ) -> Cx<'a> {
        let mut relocs: Vec<(u64, &str)> = if image.synthetic_layout {
            image
                .relocs
                .iter()
                .map(|r| (r.at.0, r.symbol.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        relocs.sort_unstable_by_key(|r| r.0);
        let mut cx = Cx {
            image,
            dis,
            code: CodeMap::new(image),
            analysis,
            required,
            relocs,
            guard_check: crate::idiom::call_site::guard_slots(image).0,
            thunks: Default::default(),
            stubs: Vec::new(),
            in_object: ibt_bti::referenced_in_object(image),
        };
        cx.stubs = cx.stub_functions();
        let guards = analysis
            .functions
            .iter()
            .filter(|f| cfg::is_guard_function(f));
        let thunks: Vec<u64> = retpoline::thunk_functions(image, analysis)
            .into_iter()
            .chain(guards.map(|f| f.addr))
            .collect();
        for t in thunks {
            cx.thunks.insert(t);
            cx.thunks.extend(retpoline::inner_call(&cx, t));
        }
        cx
    }

    /// What a direct branch at `insn` goes to: its target and the symbol there (empty when
    /// none), or the symbol of a relocation inside the instruction (a relocatable object's
    /// external call).
    fn callee(&self, insn: &Insn) -> Option<(Option<u64>, &'a str)> {
        let i = self.relocs.partition_point(|r| r.0 < insn.addr);
        if let Some(&(at, name)) = self.relocs.get(i)
            && at < insn.end()
        {
            let t = self.image.symbol_named(name).map(|s| s.addr.0);
            return Some((t, name));
        }
        let t = insn.flow.target()?;
        let name = self
            .image
            .symbols
            .at(t)
            .next()
            .map_or("", |s| s.name.as_str());
        Some((Some(t), name))
    }

    fn stub_functions(&self) -> Vec<Function> {
        let mut addrs: Vec<u64> = self
            .image
            .imports
            .iter()
            .filter_map(|i| i.stub.map(|a| a.0))
            .filter(|&a| self.analysis.function(a).is_none())
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        addrs
            .into_iter()
            .filter_map(|a| {
                // the stub's jump: within its first few instructions
                let bytes = self.code.bytes(a)?;
                let mut off = 0;
                for _ in 0..4 {
                    let insn = self.dis.decode(bytes.get(off..)?, a + off as u64);
                    if insn.status != InsnStatus::Valid {
                        return None;
                    }
                    off += insn.len.max(1) as usize;
                    match insn.flow {
                        Flow::IndirectJump => break,
                        Flow::Next => continue,
                        _ => return None,
                    }
                }
                let name = self.image.symbols.at(a).next().map(|s| s.name.clone());
                let mut succs = crate::cfg::Succs::new();
                succs.push(crate::cfg::Edge {
                    to: None,
                    kind: EdgeKind::TailCall,
                });
                Some(Function {
                    addr: a,
                    size: off as u64,
                    name,
                    evidence: Default::default(),
                    noreturn: false,
                    blocks: vec![crate::cfg::Block {
                        addr: a,
                        size: off as u32,
                        insns: 0,
                        succs,
                    }],
                    switches: Vec::new(),
                    unresolved: Vec::new(),
                    calls: Vec::new(),
                })
            })
            .collect()
    }

    /// The import stub at `f`, if the audit made a function of it.
    pub fn stub(&self, f: u64) -> Option<&Function> {
        self.stubs
            .binary_search_by_key(&f, |s| s.addr)
            .ok()
            .map(|i| &self.stubs[i])
    }

    /// Said after a finding about a mitigation the binary's own flags claim.
    pub fn claim_note(&self, m: Mitigation) -> String {
        if self.required.claimed(m) {
            format!(" (the binary claims {})", m.name().to_uppercase())
        } else {
            String::new()
        }
    }

    pub fn is_thunk(&self, f: u64) -> bool {
        self.thunks.contains(&f)
    }

    /// The bytes from `addr` to the end of its code run.
    pub fn bytes(&self, addr: u64) -> &'a [u8] {
        self.code.bytes(addr).unwrap_or(&[])
    }

    pub(super) fn function(
        &self,
        f: &'a Function,
        e: &'a Explained,
    ) -> (Vec<IndirectBranch>, Vec<Finding>) {
        let mut branches = Vec::new();
        let mut findings = Vec::new();
        let thunk = self.thunks.contains(&f.addr);
        for b in &f.blocks {
            // a block that only falls through or branches conditionally ends in neither an
            // indirect branch nor a call or jump to a thunk: nothing to decode (half of them)
            if !b.succs.is_empty()
                && b.succs
                    .iter()
                    .all(|e| matches!(e.kind, EdgeKind::FallThrough | EdgeKind::Conditional))
            {
                continue;
            }
            let Some((insn, prev)) = self.last_two(b.addr, b.end()) else {
                continue;
            };
            let tail = b
                .succs
                .iter()
                .any(|e| matches!(e.kind, EdgeKind::TailCall | EdgeKind::Unresolved));
            let site = Site {
                insn,
                bytes: self.bytes(insn.addr),
                prev,
                callee: match insn.flow {
                    Flow::Call(_) | Flow::Jump(_) => self.callee(&insn),
                    _ => None,
                },
                call: e
                    .calls
                    .binary_search_by_key(&insn.addr, |c| c.addr)
                    .ok()
                    .map(|i| &e.calls[i]),
                block: b.addr,
                function: f,
                explained: e,
            };
            let Some(mut branch) = self.classify(&site, tail, thunk) else {
                continue;
            };
            retpoline::protect(self, &site, &mut branch);
            ibt_bti::protect(self, &site, &mut branch, &mut findings);
            pac::protect(self, &site, &mut branch);
            sls::protect(self, &site, &mut branch);
            shstk::protect(self, &mut branch);
            cfg::protect(self, &site, &mut branch, &mut findings);
            branch.protections.sort();
            branch.protections.dedup();
            self.judge(&site, &mut branch, &mut findings);
            branches.push(branch);
        }
        (branches, findings)
    }

    /// The last instruction of the block `[start, end)` and the one before it.
    fn last_two(&self, start: u64, end: u64) -> Option<(Insn, Option<Insn>)> {
        let bytes = self.code.bytes(start)?;
        let len = ((end - start) as usize).min(bytes.len());
        let (mut last, mut prev) = (None, None);
        let mut valid = true;
        // one decoder for the block (a decoder per instruction cost more than decoding)
        self.dis.decode_run(&bytes[..len], start, &mut |insn, _| {
            valid = insn.status == InsnStatus::Valid;
            if valid {
                prev = last.replace(*insn);
            }
            valid
        });
        if !valid {
            return None;
        }
        Some((last?, prev))
    }

    /// What the block's last instruction is, if it is an indirect branch (or a thunk call
    /// standing for one).
    fn classify(&self, s: &Site, tail: bool, in_thunk: bool) -> Option<IndirectBranch> {
        let f = s.function;
        let (kind, call, via_thunk) = match s.insn.flow {
            // the `ret` of an inline retpoline is the indirect branch it hides
            Flow::Return if retpoline::is_inline(self, s) => {
                (BranchKind::IndirectJump, false, None)
            }
            Flow::Return => (BranchKind::Return, false, None),
            Flow::IndirectCall | Flow::IndirectJump => {
                let call = s.insn.flow == Flow::IndirectCall;
                let table = f.switches.iter().any(|sw| sw.jump_addr == s.insn.addr);
                let kind = if table {
                    BranchKind::JumpTable
                } else if cfg::is_guard_check(self, s) {
                    BranchKind::GuardCheck
                } else {
                    match s.call.map(|c| c.kind) {
                        Some(CallKind::Got | CallKind::Iat) => BranchKind::ImportCall,
                        Some(CallKind::Virtual) => BranchKind::VirtualCall,
                        // a jump the call-site idiom took for a tail call (the CFG's edge)
                        Some(_) => BranchKind::PointerCall,
                        None if call => BranchKind::PointerCall,
                        None if self.stub(f.addr).is_some() => BranchKind::ImportCall,
                        None => BranchKind::IndirectJump,
                    }
                };
                (kind, call, None)
            }
            Flow::Call(_) | Flow::Jump(_) => {
                let (t, name) = s.callee?;
                let thunk = retpoline::thunk_kind(self, t, name)?;
                let call = matches!(s.insn.flow, Flow::Call(_));
                let kind = match thunk {
                    retpoline::ThunkKind::Return => BranchKind::Return,
                    _ => match s.call.map(|c| c.kind) {
                        Some(CallKind::Got | CallKind::Iat) => BranchKind::ImportCall,
                        Some(CallKind::Virtual) => BranchKind::VirtualCall,
                        _ => BranchKind::PointerCall,
                    },
                };
                let name = name.to_string();
                (kind, call, Some(ThunkRef { addr: t, name }))
            }
            _ => return None,
        };
        let kind = if in_thunk { BranchKind::Thunk } else { kind };
        let bound = f
            .switches
            .iter()
            .find(|sw| sw.jump_addr == s.insn.addr && sw.bound_check.is_some())
            .map(|sw| sw.entries.len());
        Some(IndirectBranch {
            addr: s.insn.addr,
            function: f.addr,
            kind,
            call,
            tail: !call && kind != BranchKind::Return && kind != BranchKind::JumpTable && tail,
            via_thunk,
            bound,
            notrack: false,
            protections: Vec::new(),
            missing: Vec::new(),
            verdict: Verdict::Unchecked,
        })
    }

    /// Which required mitigations apply to the branch, which of them are missing, and a
    /// finding for each missing one.
    fn judge(&self, s: &Site, b: &mut IndirectBranch, findings: &mut Vec<Finding>) {
        let mut applies = false;
        for m in self.required.list() {
            if !applies_to(self, m, b, s) {
                continue;
            }
            applies = true;
            if b.protections.iter().any(|&p| m.satisfied_by(p)) {
                continue;
            }
            b.missing.push(m);
            let rule = rules::branch_rule(m);
            findings.push(Finding {
                rule: rule.id,
                level: rule.level,
                at: Some(b.addr),
                function: Some(s.function.addr),
                message: format!("{} {}{}", describe(b), rule.short, self.claim_note(m)),
                related: Vec::new(),
            });
        }
        b.verdict = match (applies, b.missing.is_empty()) {
            (false, _) => Verdict::Unchecked,
            (true, true) => Verdict::Protected,
            (true, false) => Verdict::Unprotected,
        };
    }
}

/// Whether mitigation `m` is about branches like `b` on this image.
fn applies_to(cx: &Cx, m: Mitigation, b: &IndirectBranch, s: &Site) -> bool {
    if m.arch().is_some_and(|a| a != cx.image.arch) || b.kind == BranchKind::Thunk {
        return false;
    }
    let ret = b.kind == BranchKind::Return;
    match m {
        Mitigation::Retpoline => !ret,
        Mitigation::Rethunk => ret,
        // the CPU checks tracked indirect calls and jumps; a `notrack` jump through a bounded
        // table is the compilers' accepted form (the table is read-only)
        // (and a retpoline branches with a `ret`, which IBT does not check)
        Mitigation::Ibt => !ret && (!b.notrack || b.bound.is_none()) && b.via_thunk.is_none(),
        Mitigation::Bti => !ret,
        Mitigation::Pac => ret && pac::applies(s),
        // SLS: what runs on past the branch; a call returns there anyway, and a return
        // thunk's `ret` is its own
        Mitigation::Sls => {
            (!b.call || cx.image.arch == Arch::Aarch64) && !(ret && b.via_thunk.is_some())
        }
        // the guard checks calls of computed pointers; imports, tables and its own check are
        // read-only or bounded
        Mitigation::Cfg => matches!(
            b.kind,
            BranchKind::PointerCall | BranchKind::VirtualCall | BranchKind::IndirectJump
        ),
    }
}
