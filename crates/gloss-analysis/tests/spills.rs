//! -O0 code keeps its values in stack slots: it spills an argument or an address before a call
//! and reloads it after, bounds a switch index in its slot, and reads globals with ALU
//! operations on memory. Bytes from `llvm-mc-19 -filetype=obj` (one section, so every label is
//! resolved), listed before each array; the meaning comes from the instructions themselves.
mod common;

use common::{analyze_at, hex};
use gloss_analysis::discover::Analysis;
use gloss_analysis::idiom::addr_mat::Access;
use gloss_analysis::idiom::call_site::{ArgValue, Kind};
use gloss_analysis::idiom::{Explained, explain_all};
use gloss_core::{Arch, Image};

const BASE: u64 = 0x1000;

fn run(bytes: Vec<u8>, arch: Arch, starts: &[u64]) -> (Image, Analysis, Vec<Explained>) {
    let (image, a) = analyze_at(bytes, arch, BASE, starts);
    let e = explain_all(&image, gloss_arch::disassembler(arch), &a);
    (image, a, e)
}

/// x86-64, functions at 0 (`f`), 0x51 (`g`), 0x78 (`sw`), 0xd8 (`sw2`); `data` at 0x60.
/// ```text
/// f:  push %rbp; mov %rsp,%rbp; sub $0x20,%rsp
///     mov %rdi,-0x8(%rbp); mov %rsi,-0x18(%rbp)
///     call g
///     mov -0x8(%rbp),%rax; mov (%rax),%rcx; mov %rax,%rdi; mov $42,%esi
///     call *0x8(%rcx)                   # virtual slot 1 of the spilled `this`
///     lea -0x18(%rbp),%rdi; call g      # the slot's address escapes
///     mov -0x18(%rbp),%rdi; call g      # so g may have changed it
///     mov -0x8(%rbp),%rdi; call g       # and what lies above it
///     add data+0x8(%rip),%eax; addl $1,data+0x10(%rip)
///     leave; ret
/// g:  mov (%rdi),%eax; ret             # one parameter
/// sw: push %rbp; mov %rsp,%rbp; sub $0x20,%rsp; mov %edi,-0x14(%rbp)
///     cmpl $3,-0x14(%rbp); ja 9f        # gcc -O0: the bound checked in the slot
///     mov -0x14(%rbp),%eax; lea (,%rax,4),%rdx; lea tab(%rip),%rax; mov (%rdx,%rax),%eax
///     cltq; lea tab(%rip),%rdx; add %rdx,%rax; jmp *%rax
///     (4 cases: call g; jmp 9f) 9: leave; ret; tab: .long 1b-tab, ...
/// sw2: push %rbp; mov %rsp,%rbp; mov %edi,-0x8(%rbp); mov -0x8(%rbp),%eax
///     mov %rax,-0x18(%rbp); sub $3,%rax; ja 9f   # clang -O0: the bound by `sub`
///     mov -0x18(%rbp),%rax; lea tab2(%rip),%rcx; movslq (%rcx,%rax,4),%rax; add %rcx,%rax
///     jmp *%rax; (4 cases) 9: pop %rbp; ret; tab2: ...
/// ```
const X86: &str = "554889e54883ec2048897df8488975e8e83c000000488b45f8488b084889c7be2a000000ff51\
08488d7de8e821000000488b7de8e818000000488b7df8e80f00000003052000000083052100000001c9c38b07c36666\
662e0f1f840000000000000000000000000000000000000000000000000000000000554889e54883ec20897dec837dec\
03773d8b45ec488d148500000000488d052d0000008b04024898488d15210000004801d0ffe0e8a0ffffffeb13e899ff\
ffffeb0ce892ffffffeb05e88bffffffc9c3e4ffffffebfffffff2fffffff9ffffff554889e5897df88b45f8488945e8\
4883e803772e488b45e8488d0d25000000486304814801c8ffe0e84cffffffeb13e845ffffffeb0ce83effffffeb05e8\
37ffffff5dc3e4ffffffebfffffff2fffffff9ffffff";

#[test]
fn x86_spills_survive_calls_until_their_address_escapes() {
    let (_, a, e) = run(hex(X86), Arch::X86_64, &[0, 0x51, 0x78, 0xd8]);
    let f = a.functions.iter().position(|f| f.addr == BASE).unwrap();
    let calls = &e[f].calls;
    assert_eq!(calls.len(), 5, "{calls:?}");
    // the object reloaded from its slot after a call: `this` is the ABI's register, which
    // holds it as the scratch rax does
    let v = &calls[1];
    assert_eq!(v.kind, Kind::Virtual, "{v:?}");
    assert_eq!(v.vtable_offset, Some(8));
    assert_eq!(v.this, Some(gloss_core::sem::Reg(7)), "{v:?}"); // rdi
    assert_eq!(v.args[0].value, ArgValue::Reg(gloss_core::sem::Reg(7)));
    assert_eq!(v.args[1].value, ArgValue::Const(42));
    // after `&slot` went to g, neither the slot nor the one above it is known
    assert!(matches!(
        calls[2].args[0].value,
        ArgValue::Stack(_) | ArgValue::Frame(..)
    ));
    for c in &calls[3..] {
        let a0 = c.args[0].value;
        assert!(
            !matches!(a0, ArgValue::Reg(_)),
            "{:#x}: {a0:?}: a slot the callee could write",
            c.addr
        );
    }
    // ALU operations on memory name the global they read and write
    let refs: Vec<(u64, Access)> = e[f].refs.iter().map(|r| (r.target, r.access)).collect();
    assert_eq!(
        refs,
        [(BASE + 0x68, Access::Load), (BASE + 0x70, Access::Store)]
    );
}

#[test]
fn x86_o0_switch_bounds_in_a_slot_or_by_sub() {
    let (_, a, _) = run(hex(X86), Arch::X86_64, &[0, 0x51, 0x78, 0xd8]);
    for start in [0x78, 0xd8] {
        let f = a.function(BASE + start).unwrap();
        assert_eq!(f.switches.len(), 1, "{start:#x}: {:?}", f.unresolved);
        let mut targets = f.switches[0].entries.clone();
        targets.dedup();
        assert_eq!(targets.len(), 4, "{start:#x}");
    }
}

/// AArch64, functions at 0 (`f`) and 0x3c (`g`: `ret`); `data` at 0x40.
/// ```text
/// f:  sub sp, sp, #0x20; stp x29, x30, [sp, #0x10]; add x29, sp, #0x10
///     adr x0, data; str x0, [sp, #8]    # clang -O0: the address spilled
///     bl g
///     ldr x9, [sp, #8]; ldr w9, [x9, #8]    # reloaded after the call: data+8
///     add x0, sp, #8; bl g                  # the slot's address escapes
///     ldr x9, [sp, #8]; ldr w9, [x9, #0x10] # so this is no longer data
///     ldp x29, x30, [sp, #0x10]; add sp, sp, #0x20; ret
/// g:  ret
/// ```
const A64: &str = "ff8300d1fd7b01a9fd430091a0010010e00700f90a000094e90740f9290940b9e023009106000094\
e90740f9291140b9fd7b41a9ff830091c0035fd6c0035fd6000000000000000000000000000000000000000000000000";

#[test]
fn aarch64_spilled_address_is_reloaded_after_a_call() {
    let (_, a, e) = run(hex(A64), Arch::Aarch64, &[0, 0x3c]);
    let f = a.functions.iter().position(|f| f.addr == BASE).unwrap();
    let refs: Vec<(u64, u64, Access)> = e[f]
        .refs
        .iter()
        .map(|r| (r.addr - BASE, r.target - BASE, r.access))
        .collect();
    assert_eq!(
        refs,
        [(0xc, 0x40, Access::Address), (0x1c, 0x48, Access::Load)],
        "{refs:x?}"
    );
}
