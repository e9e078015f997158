//! How call arguments and `this` are named: by a register that holds them at the call (a
//! callee-saved one first: the variable the function keeps), whatever order the code computed
//! a sum in. Bytes from `llvm-mc-19 -filetype=obj` (one section, so every label is resolved),
//! listed before the array; the meaning comes from the instructions themselves.
mod common;

use common::{analyze_at, hex};
use gloss_analysis::idiom::call_site::{ArgValue, Call, Kind, Params};
use gloss_analysis::idiom::{Explained, explain_all};
use gloss_core::Arch;
use gloss_core::sem::Reg;

const BASE: u64 = 0x1000;
const RBX: Reg = Reg(3);
const RDI: Reg = Reg(7);

/// x86-64, functions at 0 (`f`), 0x31 (`g`), 0x35 (`h`), 0x64 (`pass`), 0x66 (`g2`), 0x69
/// (`va`), 0x76 (`pad`).
/// ```text
/// f:    push %rbx
///       mov %edi,%ebx; lea 0x2(%rbx),%edi; mov %ebx,%esi; mov $7,%edx; call g  # g(argc + 2, argc)
///       lea 0x5(%rsi),%rbx; xor %esi,%esi; mov %rbx,%rdi; call g              # g(rbx, 0): rsi is gone
///       mov $1,%edi; mov $2,%esi; call pass                                   # pass(1)
///       pop %rbx; ret
/// g:    lea (%rdi,%rsi),%eax; ret                                             # two parameters
/// h:    push %rbp; mov %rsp,%rbp; sub $0x10,%rsp; mov %rdi,-0x8(%rbp)
///       mov -0x8(%rbp),%rax; mov (%rax),%rcx; mov -0x68(%rcx),%rcx   # clang -O0: the vbase offset
///       mov %rax,%rdi; add %rcx,%rdi                                 # this = p + offset
///       mov (%rax,%rcx),%rax; mov $0x8,%esi; call *0x8(%rax)        # ->a1(8) of the virtual base
///       add $0x10,%rsp; pop %rbp; ret
/// pass: jmp g2                                                        # passes its one parameter on
/// g2:   mov %edi,%eax; ret
/// va:   test %al,%al; je 1f; movaps %xmm0,-0x58(%rsp); 1: mov %rdi,%rax; ret   # variadic
/// pad:  push %rdx; mov %edi,%eax; pop %rcx; ret                       # the push only aligns
/// ```
const X86: &str = "5389fb8d7b0289deba07000000e81f000000488d5e0531f64889dfe811000000bf01000000be\
02000000e8350000005bc38d0437c3554889e54883ec1048897df8488b45f8488b08488b49984889c74801cf488b0408be\
08000000ff50084883c4105dc3eb0089f8c384c074050f294424a84889f8c35289f859c3";

const STARTS: [u64; 7] = [0, 0x31, 0x35, 0x64, 0x66, 0x69, 0x76];

/// Each function's findings, in `STARTS` order.
fn explained() -> Vec<Explained> {
    let (image, a) = analyze_at(hex(X86), Arch::X86_64, BASE, &STARTS);
    let mut e = explain_all(&image, gloss_arch::disassembler(Arch::X86_64), &a);
    STARTS
        .iter()
        .map(|&s| {
            let i = a.functions.iter().position(|f| f.addr == BASE + s).unwrap();
            std::mem::take(&mut e[i])
        })
        .collect()
}

fn calls() -> Vec<Vec<Call>> {
    explained().into_iter().map(|e| e.calls).collect()
}

fn arg(c: &Call, index: u8) -> ArgValue {
    c.args.iter().find(|a| a.index == index).unwrap().value
}

#[test]
fn arguments_are_named_by_the_callee_saved_register_that_holds_them() {
    let calls = &calls()[0];
    assert_eq!(calls.len(), 3, "{calls:?}");
    // argc + 2 and argc, with argc kept in rbx (not the entry rdi, which the call overwrote)
    assert_eq!(
        arg(&calls[0], 0),
        ArgValue::RegPlus(RBX, 2),
        "{:?}",
        calls[0]
    );
    assert_eq!(arg(&calls[0], 1), ArgValue::Reg(RBX), "{:?}", calls[0]);
    // what rbx holds is made of a register the call changed: rbx itself names it
    assert_eq!(arg(&calls[1], 0), ArgValue::Reg(RBX), "{:?}", calls[1]);
    assert_eq!(arg(&calls[1], 1), ArgValue::Const(0), "{:?}", calls[1]);
}

#[test]
fn this_of_a_virtual_base_is_found_whatever_order_the_sum_was_made_in() {
    let calls = &calls()[2];
    assert_eq!(calls.len(), 1, "{calls:?}");
    let v = &calls[0];
    assert_eq!(v.kind, Kind::Virtual, "{v:?}");
    assert_eq!(v.vtable_offset, Some(8), "{v:?}");
    // `(%rax,%rcx)` and `add %rcx,%rdi` (rdi = rax) are the same sum
    assert_eq!(v.this, Some(RDI), "{v:?}");
    assert_eq!(arg(v, 1), ArgValue::Const(8), "{v:?}");
}

/// A call passes as many arguments as the callee reads: g reads rdi and rsi (f also set rdx
/// for it), `pass` reads none itself but passes rdi on to g2, which reads it.
#[test]
fn calls_pass_as_many_arguments_as_the_callee_reads() {
    let e = explained();
    let exact = |count| Params {
        count,
        exact: true,
        variadic: false,
    };
    assert_eq!(e[1].params, exact(2), "g");
    assert_eq!(e[4].params, exact(1), "g2");
    assert_eq!(e[3].params, exact(1), "pass: its parameter is g2's");
    let f = &e[0].calls;
    assert_eq!(f[0].args.len(), 2, "g(argc + 2, argc), not rdx: {:?}", f[0]);
    assert_eq!(f[2].args.len(), 1, "pass(1), not rsi: {:?}", f[2]);
    assert_eq!(arg(&f[2], 0), ArgValue::Const(1));
}

/// Not all of a function's parameters are known when it is variadic (System V: it reads al
/// for its callers' vector registers); an aligning push reads nothing.
#[test]
fn variadic_functions_and_aligning_pushes() {
    let e = explained();
    assert!(
        e[5].params.variadic && !e[5].params.exact,
        "va: {:?}",
        e[5].params
    );
    assert_eq!(e[5].params.count, 1, "va reads rdi");
    let one = Params {
        count: 1,
        exact: true,
        variadic: false,
    };
    assert_eq!(e[6].params, one, "pad: push %rdx is no read");
}
