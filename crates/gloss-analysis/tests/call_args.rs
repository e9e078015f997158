//! How call arguments and `this` are named: by a register that holds them at the call (a
//! callee-saved one first: the variable the function keeps), whatever order the code computed
//! a sum in. Bytes from `llvm-mc-19 -filetype=obj` (one section, so every label is resolved),
//! listed before the array; the meaning comes from the instructions themselves.
use gloss_analysis::discover::analyze;
use gloss_analysis::idiom::call_site::{ArgValue, Call, Kind};
use gloss_analysis::idiom::explain_all;
use gloss_core::sem::Reg;
use gloss_core::{Addr, Arch, FunctionHint, HintSource};

const BASE: u64 = 0x1000;
const RBX: Reg = Reg(3);
const RDI: Reg = Reg(7);

/// x86-64, functions at 0 (`f`), 0x1d (`g`: `ret`), 0x1e (`h`).
/// ```text
/// f:  push %rbx
///     mov %edi,%ebx; lea 0x2(%rbx),%edi; mov %ebx,%esi; call g   # g(argc + 2, argc)
///     lea 0x5(%rsi),%rbx; xor %esi,%esi; mov %rbx,%rdi; call g   # g(rbx, 0): rsi is gone
///     pop %rbx; ret
/// g:  ret
/// h:  push %rbp; mov %rsp,%rbp; sub $0x10,%rsp; mov %rdi,-0x8(%rbp)
///     mov -0x8(%rbp),%rax; mov (%rax),%rcx; mov -0x68(%rcx),%rcx   # clang -O0: the vbase offset
///     mov %rax,%rdi; add %rcx,%rdi                                 # this = p + offset
///     mov (%rax,%rcx),%rax; mov $0x8,%esi; call *0x8(%rax)        # ->a1(8) of the virtual base
///     add $0x10,%rsp; pop %rbp; ret
/// ```
const X86: &str = "5389fb8d7b0289dee810000000488d5e0531f64889dfe8020000005bc3c3554889e54883ec10\
48897df8488b45f8488b08488b49984889c74801cf488b0408be08000000ff50084883c4105dc3";

fn calls() -> Vec<Vec<Call>> {
    let bytes: Vec<u8> = (0..X86.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&X86[i..i + 2], 16).unwrap())
        .collect();
    let image = gloss_load::load_raw(bytes, Arch::X86_64, BASE);
    let hints: Vec<FunctionHint> = [0, 0x1d, 0x1e]
        .iter()
        .map(|&s| FunctionHint {
            addr: Addr(BASE + s),
            size: None,
            source: HintSource::EhFrame,
            fragment: false,
        })
        .collect();
    let dis = gloss_arch::disassembler(Arch::X86_64);
    let a = analyze(&image, dis, &hints);
    let e = explain_all(&image, dis, &a);
    let at = |s: u64| a.functions.iter().position(|f| f.addr == BASE + s).unwrap();
    vec![e[at(0)].calls.clone(), e[at(0x1e)].calls.clone()]
}

fn arg(c: &Call, index: u8) -> ArgValue {
    c.args.iter().find(|a| a.index == index).unwrap().value
}

#[test]
fn arguments_are_named_by_the_callee_saved_register_that_holds_them() {
    let calls = &calls()[0];
    assert_eq!(calls.len(), 2, "{calls:?}");
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
    let calls = &calls()[1];
    assert_eq!(calls.len(), 1, "{calls:?}");
    let v = &calls[0];
    assert_eq!(v.kind, Kind::Virtual, "{v:?}");
    assert_eq!(v.vtable_offset, Some(8), "{v:?}");
    // `(%rax,%rcx)` and `add %rcx,%rdi` (rdi = rax) are the same sum
    assert_eq!(v.this, Some(RDI), "{v:?}");
    assert_eq!(arg(v, 1), ArgValue::Const(8), "{v:?}");
}
