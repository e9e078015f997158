//! What each call (and tail call) of a function calls, and with what.
//!
//! The target is the value the branch reads ([`crate::dataflow::values`]):
//! - a constant: a direct call, or a call of an import stub (`bl CreateWidget` into `adrp
//!   x16; ldr x16, [x16, #..]; br x16`, `call puts@plt`), named after the import;
//! - memory at a constant address: a call through an import slot, ELF GOT (`adrp x8; ldr x8,
//!   [x8, #..]; blr x8`, `call *puts@GOTPCREL(%rip)`) or PE IAT (`call *[rip+__imp_f]`);
//! - memory at (memory at an object) + offset: a virtual call (`ldr x8, [x19]; ldr x8, [x8,
//!   #8]; blr x8`: slot 1, `this` = x19); when the vtable is known (a global object, or one
//!   whose vptr the function stored itself), the method in the slot (`vtable.rs`);
//! - a call through `__guard_dispatch_icall_fptr` (x64: target in rax) is a Control Flow
//!   Guard dispatch of rax's value; a call through `__guard_check_icall_fptr` (target in x15
//!   on ARM64, rcx on x64) checks the next indirect call's target, which should be the same
//!   value ([`Mech::CfgCheck`], or a warning when it is not);
//! - a direct call of `__x86_indirect_thunk_<reg>` / `__llvm_retpoline_<reg>`, or of a
//!   function with a retpoline's code (stripped binaries), is a retpolined indirect call of
//!   that register's value.
//!
//! The arguments are the values the ABI's argument registers hold at the call (`x86_64.rs`,
//! `aarch64.rs`): as many as the callee reads ([`Params`], when the callee was looked at
//! first: [`crate::callgraph`]) or, for an import of a system library, as its declaration
//! says (`prototypes.rs`), else up to the last one the call's own block set (registers set
//! further back may hold anything). One not set at all passes the function's own argument on.
//!
//! Fixtures: globals-* (`CreateWidget(&c_info, ...)`, imports), vcall-* (slot 1 of `call`),
//! vknown-* (methods of known vtables),
//! vcall-*-cfg.exe (Control Flow Guard), hello-* (`puts`/`printf` through PLT, GOT, IAT).
mod aarch64;
mod prototypes;
pub mod vtable;
mod x86_64;
pub(crate) use x86_64::{retpoline_named_reg, retpoline_shape_reg};

use crate::dataflow::exec::Exec;
use crate::dataflow::expr::{E, Node};
use gloss_core::sem::{Op, Reg, Sem};
use gloss_core::{Arch, Flow, Image, Insn};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Direct,
    /// A direct call of an import stub (PLT entry, PE thunk, Mach-O stub).
    ImportStub,
    /// Through an ELF or Mach-O GOT slot of an import.
    Got,
    /// Through a PE import address table slot.
    Iat,
    Virtual,
    /// Through a register or memory whose value is not one of the above.
    Indirect,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::ImportStub => "import_stub",
            Kind::Got => "got",
            Kind::Iat => "iat",
            Kind::Virtual => "virtual",
            Kind::Indirect => "indirect",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mech {
    /// The target was checked by `__guard_check_icall_fptr` before this call.
    CfgCheck,
    /// The call is `__guard_dispatch_icall_fptr`, which checks and calls the target.
    CfgDispatch,
    /// Through a retpoline thunk.
    Retpoline,
}

impl Mech {
    pub fn name(self) -> &'static str {
        match self {
            Mech::CfgCheck => "cfg_check",
            Mech::CfgDispatch => "cfg_dispatch",
            Mech::Retpoline => "retpoline",
        }
    }
}

/// What an argument register holds at a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArgValue {
    /// A constant: an address when it came from one (see `addr_mat`), else a number.
    Const(u64),
    /// The stack pointer at the call plus an offset.
    Stack(i64),
    /// The same value another register holds (or held on entry).
    Reg(Reg),
    /// The value returned by the call at the address.
    Returned(u64),
    /// A register's value (or its entry value) plus a constant.
    RegPlus(Reg, i64),
    /// An address in the stack frame: the register holding a copy of an earlier stack
    /// pointer (the frame pointer) plus an offset (`lea -0x10(%rbp),%rdx`).
    Frame(Reg, i64),
    /// Memory at a constant address (a global, a GOT slot).
    Load(u64),
    /// Memory at a register plus an offset: a field (`[x19+0x10]`), or a stack slot (`[sp+0x18]`,
    /// offset from the stack pointer at the call).
    Deref(Reg, i64),
    /// Computed, but not as one of the above.
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Arg {
    pub index: u8,
    pub reg: Reg,
    pub value: ArgValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub addr: u64,
    pub kind: Kind,
    /// A jump in tail position rather than a call.
    pub tail: bool,
    pub mech: Vec<Mech>,
    /// The function called, when known (for import calls, the import's stub if it has one;
    /// for virtual calls of a known vtable, the method in the slot).
    pub target: Option<u64>,
    /// The import called (index into `Image::imports`).
    pub import: Option<usize>,
    /// The memory slot the target was loaded from (GOT, IAT, vtable slot offset's table).
    pub slot: Option<u64>,
    /// Virtual calls: the register holding the object, and the slot's byte offset.
    pub this: Option<Reg>,
    pub vtable_offset: Option<u64>,
    /// Virtual calls whose vtable is known: the vtable's address point (what the object's
    /// vptr holds); `target` is then the method.
    pub vtable: Option<u64>,
    /// A CFG check of one value before a call of another.
    pub check_mismatch: bool,
    pub args: Vec<Arg>,
}

/// The ABI facts a call site needs, per architecture and format.
#[derive(Clone)]
pub(crate) struct Abi {
    pub args: &'static [u8],
    pub ret: u8,
    pub sp: u8,
    /// The register `__guard_check_icall_fptr` checks.
    pub cfg_check: u8,
    /// The register `__guard_dispatch_icall_fptr` calls.
    pub cfg_dispatch: Option<u8>,
    /// The register a variadic function reads on entry for its callers' vector arguments.
    pub varargs_count: Option<u8>,
}

/// A function's parameters as its callers see them: how many argument registers it reads
/// (itself, or by passing them on to a callee that does), and whether that is all of them. It
/// is not (`exact: false`) when the function is variadic, or called a function whose
/// parameters are unknown (an import, a function pointer, itself) while an argument register
/// still held this function's own argument. `variadic`: the function reads al (System V's count
/// of vector arguments), or every argument register, as a variadic function's register save
/// area does (Windows x64, AArch64): how many its callers pass is not its `count`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Params {
    pub count: u8,
    pub exact: bool,
    pub variadic: bool,
}

fn abi(image: &Image) -> Abi {
    match image.arch {
        Arch::X86_64 => x86_64::abi(image.format == gloss_core::Format::Pe),
        Arch::Aarch64 => aarch64::abi(),
    }
}

/// The retpoline thunks of an image (x86-64): each address whose first symbol is named
/// `__x86_indirect_thunk_<reg>` or the like ([`retpoline_named_reg`]), with that register.
fn retpolines(image: &Image) -> rustc_hash::FxHashMap<u64, u8> {
    let mut out = rustc_hash::FxHashMap::default();
    if image.arch != Arch::X86_64 {
        return out;
    }
    let reg = x86_64::retpoline_named_reg;
    for s in image.symbols.iter() {
        if reg(&s.name).is_some()
            && let Some(first) = image.symbols.at(s.addr.0).next()
            && let Some(r) = reg(&first.name)
        {
            out.insert(s.addr.0, r);
        }
    }
    out
}

/// The PLT entries no import has, by address, with the ifunc each jumps to.
fn ifunc_plts(image: &Image) -> rustc_hash::FxHashMap<u64, &str> {
    image
        .symbols
        .iter()
        .filter(|s| image.import_by_stub(s.addr.0).is_none())
        .filter_map(|s| Some((s.addr.0, s.plt_of()?)))
        .collect()
}

/// `__guard_check_icall_fptr`'s and `__guard_dispatch_icall_fptr`'s slots: as the PE load
/// config states them, else by symbol.
pub(crate) fn guard_slots(image: &Image) -> (Option<u64>, Option<u64>) {
    let slot = |name: &str, stated: Option<gloss_core::Addr>| {
        stated
            .map(|a| a.0)
            .or_else(|| image.symbol_named(name).map(|s| s.addr.0))
    };
    let lc = image.facts.pe.as_ref().and_then(|p| p.load_config.as_ref());
    (
        slot(
            "__guard_check_icall_fptr",
            lc.and_then(|l| l.guard_check_icall_fptr),
        ),
        slot(
            "__guard_dispatch_icall_fptr",
            lc.and_then(|l| l.guard_dispatch_icall_fptr),
        ),
    )
}

/// Finds the calls of one function, instruction by instruction.
#[derive(Clone)]
pub struct Finder<'a> {
    image: &'a Image,
    abi: Abi,
    /// `__guard_check_icall_fptr`'s and `__guard_dispatch_icall_fptr`'s slots.
    pub(crate) guard_check: Option<u64>,
    guard_dispatch: Option<u64>,
    /// The value the last CFG check checked, not yet called.
    checked: Option<E>,
    /// The calls seen so far: what a register holds after one of them is its result.
    call_sites: rustc_hash::FxHashSet<u64>,
    pub calls: Vec<Call>,
    /// A call passed on registers that may hold this function's own arguments to a callee
    /// whose parameters are unknown ([`Params::exact`]).
    uncertain: bool,
    /// Retpoline thunks by address, with the register each jumps to (x86-64): named ones,
    /// and (as calls reach them) those known by their code.
    retpolines: rustc_hash::FxHashMap<u64, u8>,
    /// Call targets looked at for a retpoline's code, and what they were.
    shaped: rustc_hash::FxHashMap<u64, Option<u8>>,
    /// PLT entries of the library's own ifuncs (`memcpy@plt` in libc: no import), with the
    /// ifunc's name.
    ifunc_plts: rustc_hash::FxHashMap<u64, &'a str>,
}

impl<'a> Finder<'a> {
    pub fn new(image: &'a Image) -> Finder<'a> {
        let (guard_check, guard_dispatch) = guard_slots(image);
        Finder {
            image,
            abi: abi(image),
            guard_check,
            guard_dispatch,
            checked: None,
            call_sites: Default::default(),
            calls: Vec::new(),
            uncertain: false,
            retpolines: retpolines(image),
            shaped: Default::default(),
            ifunc_plts: ifunc_plts(image),
        }
    }

    /// Ready for the next function (the image's facts stay).
    pub fn reset(&mut self) {
        self.checked = None;
        self.call_sites.clear();
        self.calls.clear();
        self.uncertain = false;
    }

    /// A system call (x86-64 `syscall`, AArch64 `svc`): the kernel reads as many argument
    /// registers as the call number says, which this function may have passed on unseen.
    pub fn syscall(&mut self) {
        self.uncertain = true;
    }

    /// The function's parameters, once every instruction was visited and executed in `ex`.
    pub fn params(&self, ex: &Exec) -> Params {
        let read = ex.entry_reads;
        let count = self
            .abi
            .args
            .iter()
            .rposition(|&r| read & Reg(r).bit() != 0)
            .map_or(0, |i| i + 1) as u8;
        let variadic = self
            .abi
            .varargs_count
            .is_some_and(|r| read & Reg(r).bit() != 0)
            || usize::from(count) == self.abi.args.len();
        Params {
            count,
            exact: !self.uncertain && !variadic,
            variadic,
        }
    }

    fn import_by_slot(&self, slot: u64) -> Option<usize> {
        self.image.import_by_slot(slot)
    }

    fn import_by_stub(&self, stub: u64) -> Option<usize> {
        self.image.import_by_stub(stub)
    }

    /// Looks at one instruction before it executes; `tail` says whether a jump there leaves
    /// the function (the CFG's tail-call edges); `callee` gives the parameters of the functions
    /// looked at before this one.
    pub fn visit(
        &mut self,
        insn: &Insn,
        sem: &Sem,
        tail: bool,
        ex: &mut Exec,
        callee: &dyn Fn(u64) -> Option<Params>,
    ) {
        let (t, is_tail) = match (insn.flow, sem.op) {
            (Flow::Call(t), _) => (ex.x.konst(t), false),
            (Flow::Jump(t), _) if tail => (ex.x.konst(t), true),
            (Flow::IndirectCall, Op::Indirect { target }) => (ex.target(target), false),
            (Flow::IndirectJump, Op::Indirect { target }) if tail => (ex.target(target), true),
            _ => return,
        };
        self.call_sites.insert(insn.addr);
        // what a direct callee reads (not a retpoline thunk's or an import stub's: the real
        // callee is behind them)
        let params = ex.x.as_const(t).and_then(|f| {
            let behind = self.retpoline_reg(f).is_some() || self.import_by_stub(f).is_some();
            if behind { None } else { callee(f) }
        });
        let mut call = Call {
            addr: insn.addr,
            kind: Kind::Indirect,
            tail: is_tail,
            mech: Vec::new(),
            target: None,
            import: None,
            slot: None,
            this: None,
            vtable_offset: None,
            vtable: None,
            check_mismatch: false,
            args: Vec::new(),
        };
        if let Some(f) = ex.x.as_const(t) {
            // a retpoline thunk: an indirect call of the register it names
            if let Some(r) = self.retpoline_reg(f) {
                call.mech.push(Mech::Retpoline);
                let v = ex.reg(Reg(r));
                self.classify(&mut call, v, ex);
            } else if let Some(i) = self.import_by_stub(f) {
                call.kind = Kind::ImportStub;
                call.import = Some(i);
                call.target = Some(f);
            } else {
                call.kind = Kind::Direct;
                call.target = Some(f);
            }
        } else if let Node::Load(a, 8, _) = ex.x.node(t)
            && let Some(slot) = ex.x.as_const(a)
            && Some(slot) == self.guard_check
        {
            // the check: remember what it checked, for the call that follows
            self.checked = Some(ex.reg(Reg(self.abi.cfg_check)));
            call.slot = Some(slot);
            call.mech.push(Mech::CfgCheck);
            call.args = self.args(ex, params);
            self.calls.push(call);
            return;
        } else if let Node::Load(a, 8, _) = ex.x.node(t)
            && let Some(slot) = ex.x.as_const(a)
            && Some(slot) == self.guard_dispatch
            && let Some(r) = self.abi.cfg_dispatch
        {
            call.mech.push(Mech::CfgDispatch);
            call.slot = Some(slot);
            let v = ex.reg(Reg(r));
            self.classify(&mut call, v, ex);
        } else {
            if let Some(c) = self.checked.take() {
                call.mech.push(Mech::CfgCheck);
                call.check_mismatch = c != t;
            }
            self.classify(&mut call, t, ex);
        }
        // an import's parameters: its declaration's, for a system library function (also
        // behind a PLT entry of the library's own ifunc, `memcpy@plt` in libc)
        let declared = match call.import {
            Some(i) => prototypes::declared(self.image, &self.image.imports[i].name),
            None => call
                .target
                .and_then(|t| self.ifunc_plts.get(&t).copied())
                .and_then(|name| prototypes::declared(self.image, name)),
        };
        let params = declared.or(params);
        call.args = self.args(ex, params);
        if call.tail {
            // a tail call passes on what this function received: registers it did not set
            // after the last one it did say nothing more (a PLT entry's `free(rdi)`)
            while call
                .args
                .last()
                .is_some_and(|a| a.value == ArgValue::Reg(a.reg))
            {
                call.args.pop();
            }
        }
        self.calls.push(call);
    }

    /// An indirect call's kind from the value it calls.
    fn classify(&self, call: &mut Call, t: E, ex: &mut Exec) {
        if let Some(f) = ex.x.as_const(t) {
            call.target = Some(f);
            return;
        }
        let Node::Load(a, 8, _) = ex.x.node(t) else {
            return;
        };
        // through a slot at a constant address: an import's GOT/IAT slot, or a slot of the
        // vtable the function stored into the object itself
        if let Some(slot) = ex.x.as_const(a) {
            if let Some(i) = self.import_by_slot(slot) {
                call.slot = Some(slot);
                call.import = Some(i);
                call.kind = if self.image.format == gloss_core::Format::Pe {
                    Kind::Iat
                } else {
                    Kind::Got
                };
                call.target = self.image.imports[i].stub.map(|s| s.0);
            } else if let Some((this, vt, method)) = self.constructed(ex, slot) {
                call.kind = Kind::Virtual;
                call.this = Some(this);
                call.vtable_offset = Some(slot - vt);
                call.vtable = Some(vt);
                call.target = Some(method);
            } else {
                call.slot = Some(slot);
            }
            return;
        }
        // through a slot of a table loaded from an object: a virtual call
        let (table, offset) = match ex.x.node(a) {
            Node::Add(p, q) => match ex.x.as_const(q) {
                Some(k) => (p, k),
                None => return,
            },
            _ => (a, 0),
        };
        if let Node::Load(object, 8, _) = ex.x.node(table)
            && offset % 8 == 0
        {
            let this = self.holder(ex, object);
            if this.is_none() && self.first_arg_is_constant(ex) {
                // `this` goes in the first argument register (the second after a return
                // buffer, which is a stack address): a constant there, and no register
                // holding the object, is a function pointer read through two loads
                // (`o->inner->fn(11)`), not a method called on the object
                return;
            }
            call.kind = Kind::Virtual;
            call.vtable_offset = Some(offset);
            call.this = this;
            // a global object: its vptr is in the image
            if let Some(g) = ex.x.as_const(object)
                && let Some(vt) = self.image.pointer_at(g)
                && let Some(method) = vtable::method(self.image, vt, offset)
            {
                call.vtable = Some(vt);
                call.target = Some(method);
            }
        }
    }

    /// A slot at a constant address in the vtable that an argument register's object (`this`:
    /// the first argument, or the second after a return buffer) holds in its first word,
    /// stored there by this function (an inlined constructor): that register, the vtable's
    /// address point and the method in the slot.
    fn constructed(&self, ex: &mut Exec, slot: u64) -> Option<(Reg, u64, u64)> {
        // (nothing stored: the usual case, a call through a function pointer)
        ex.st.stored.iter().next()?;
        self.abi.args.iter().find_map(|&r| {
            let object = ex.reg(Reg(r));
            let vt = ex.x.as_const(*ex.st.stored.get(&(object, 8))?)?;
            let offset = slot.checked_sub(vt).filter(|o| o % 8 == 0)?;
            let method = vtable::method(self.image, vt, offset)?;
            Some((Reg(r), vt, method))
        })
    }

    /// Whether the first argument register holds a constant.
    fn first_arg_is_constant(&self, ex: &Exec) -> bool {
        self.abi
            .args
            .first()
            .is_some_and(|&r| ex.peek_const(Reg(r)).is_some())
    }

    /// The register that holds `e` at this point: a callee-saved one (the variable the
    /// function keeps, `x19` in `ldr x8, [x19]; mov x0, x19`), else the first argument register
    /// (the ABI's `this`), else any: -O0 code reloads the object into a scratch register and
    /// the first argument register alike (`mov -0x8(%rbp),%rax; mov %rax,%rdi`).
    fn holder(&self, ex: &mut Exec, e: E) -> Option<Reg> {
        let first = self.abi.args.first().map_or(0, |&r| Reg(r).bit());
        let held = ex.holders_mask(e);
        lowest(held & !ex.caller_saved() & !Reg(self.abi.sp).bit())
            .or_else(|| lowest(held & first))
            .or_else(|| lowest(held))
    }

    /// `__x86_indirect_thunk_rax` and friends, or a thunk with their code: the register they
    /// jump to.
    fn retpoline_reg(&mut self, f: u64) -> Option<u8> {
        if let Some(&r) = self.retpolines.get(&f) {
            return Some(r);
        }
        if self.image.arch != Arch::X86_64 {
            return None;
        }
        let image = self.image;
        *self
            .shaped
            .entry(f)
            .or_insert_with(|| x86_64::retpoline_shape_reg(image.read_loaded_upto(f, 64)))
    }

    /// A value as another register (plus a constant) or a load from a fixed address.
    fn shape(&self, ex: &mut Exec, v: E, not: Reg) -> ArgValue {
        // a register that holds the value: a callee-saved one if any (the variable the
        // function keeps, which outlives the call), else the lowest
        let held = |ex: &Exec, e: E| {
            let m = ex.holders_mask(e) & !not.bit();
            lowest(m & !ex.caller_saved()).or_else(|| lowest(m))
        };
        // a narrowed register (`add w0, w20, #2`, `lea 0x2(%rdi),%ecx`) reads as the register
        let wide = |ex: &Exec, e: E| match ex.x.node(e) {
            Node::Zext(p, _) | Node::Sext(p, _) => p,
            _ => e,
        };
        // the value as another register holds it (`mov w0, w19` after `sub w19, w19, #1`)
        let same = held(ex, v);
        let v = wide(ex, v);
        let (base, k) = match ex.x.node(v) {
            Node::Add(p, q) => match ex.x.as_const(q) {
                Some(k) => (p, k as i64),
                None => (v, 0),
            },
            _ => (v, 0),
        };
        // the register that holds the base as it is (`lea 0x20(%rdx),%rdi` after `movslq
        // %edx,%rdx`), else narrowed
        let whole = held(ex, base);
        let base = wide(ex, base);
        let sp = Reg(self.abi.sp);
        let on_stack = matches!(ex.x.node(base),
            Node::Input(r) | Node::Opaque(_, r) | Node::Join(_, r) if r == sp);
        if let Some(h) = whole.or_else(|| held(ex, base)) {
            return match (k, on_stack) {
                (_, true) => ArgValue::Frame(h, k),
                (0, false) => ArgValue::Reg(h),
                _ => ArgValue::RegPlus(h, k),
            };
        }
        // no register holds what it is made of, one holds it
        if let Some(h) = same.filter(|_| !on_stack) {
            return ArgValue::Reg(h);
        }
        match ex.x.node(base) {
            Node::Input(q) if k == 0 => ArgValue::Reg(q),
            Node::Input(q) => ArgValue::RegPlus(q, k),
            Node::Load(a, _, _) if k == 0 => match ex.x.as_const(a) {
                Some(a) => ArgValue::Load(a),
                None => self.deref(ex, a, not),
            },
            _ => ArgValue::Other,
        }
    }

    /// Memory at `a`, as a stack slot or a register plus an offset.
    fn deref(&self, ex: &mut Exec, a: E, not: Reg) -> ArgValue {
        let sp = Reg(self.abi.sp);
        let sp_now = ex.reg(sp);
        if let Some(o) = ex.x.offset_from(a, sp_now) {
            return ArgValue::Deref(sp, o);
        }
        let (p, k) = match ex.x.node(a) {
            Node::Add(p, q) => match ex.x.as_const(q) {
                Some(k) => (p, k as i64),
                None => return ArgValue::Other,
            },
            _ => (a, 0),
        };
        match lowest(ex.holders_mask(p) & !not.bit()) {
            Some(h) => ArgValue::Deref(h, k),
            None => match ex.x.node(p) {
                Node::Input(q) => ArgValue::Deref(q, k),
                _ => ArgValue::Other,
            },
        }
    }

    /// The argument registers' values: as many as the callee's `params` when they are known
    /// exactly, else up to the last one the call's block set (a register set further back
    /// may hold anything the function keeps there), and at least as many as the callee is
    /// known to read. One not set at all passes the function's own value on (`Reg` of
    /// itself): the callee reads this function's parameter ([`Exec::note_read`]).
    fn args(&mut self, ex: &mut Exec, params: Option<Params>) -> Vec<Arg> {
        let sp = ex.reg(Reg(self.abi.sp));
        // the block's own assignments, and a result of the call just before passed straight on
        // (`ResetDoodad(CreateWidget(...))`: the block starts after that call)
        let ret = ex.reg(Reg(self.abi.ret));
        let passes_result =
            matches!(ex.x.node(ret), Node::Opaque(at, _) if self.call_sites.contains(&at));
        let last_set = self
            .abi
            .args
            .iter()
            .rposition(|&r| ex.written & (1 << r) != 0)
            .map_or(0, |i| i + 1)
            .max(usize::from(
                passes_result && ex.written & (1 << self.abi.ret) == 0,
            ));
        let count = match params {
            Some(p) if p.exact => usize::from(p.count),
            Some(p) if !p.variadic => last_set.max(usize::from(p.count)),
            _ => last_set,
        }
        .min(self.abi.args.len());
        if params.is_some_and(|p| p.exact) {
            // the callee reads these: where one still holds this function's own argument, so
            // does this function
            for &r in &self.abi.args[..count] {
                ex.note_read(Reg(r));
            }
        } else if self.abi.args.iter().any(|&r| {
            let e = ex.reg(Reg(r));
            ex.entry_of(e).is_some_and(|q| self.abi.args.contains(&q.0))
        }) {
            // a callee of unknown parameters may read this function's own argument
            self.uncertain = true;
        }
        let mut out = Vec::with_capacity(count);
        for (i, &r) in self.abi.args[..count].iter().enumerate() {
            let v = ex.reg(Reg(r));
            // a 32-bit copy of a value is the value (`mov %eax,%ecx` after a call)
            let narrow = match ex.x.node(v) {
                Node::Zext(p, _) | Node::Sext(p, _) => p,
                _ => v,
            };
            let value = match ex.x.node(narrow) {
                Node::Input(q) if q == Reg(r) => None, // not set here
                Node::Join(..) => None,
                Node::Opaque(at, q) if self.call_sites.contains(&at) => {
                    // what a call left in a scratch register is no argument
                    (q == Reg(self.abi.ret)).then_some(ArgValue::Returned(at))
                }
                Node::Const(k) => Some(ArgValue::Const(k)),
                _ => Some(match ex.x.offset_from(v, sp) {
                    Some(k) => ArgValue::Stack(k),
                    None => self.shape(ex, v, Reg(r)),
                }),
            };
            out.push(Arg {
                index: i as u8,
                reg: Reg(r),
                value: value.unwrap_or(ArgValue::Reg(Reg(r))),
            });
        }
        out
    }
}

/// The lowest-numbered register of a mask of [`Reg::bit`]s.
fn lowest(mask: u64) -> Option<Reg> {
    (mask != 0).then(|| Reg(mask.trailing_zeros() as u8))
}
