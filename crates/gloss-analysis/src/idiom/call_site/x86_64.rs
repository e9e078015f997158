//! x86-64 calling conventions: System V (ELF, Mach-O) passes integer arguments in rdi, rsi,
//! rdx, rcx, r8, r9; Windows x64 in rcx, rdx, r8, r9. Control Flow Guard's check function
//! takes the target in rcx; its dispatch function calls rax. A System V variadic function
//! reads al on entry: the number of arguments passed in vector registers.
use super::Abi;

const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSP: u8 = 4;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;

pub(super) fn abi(windows: bool) -> Abi {
    Abi {
        args: if windows {
            &[RCX, RDX, R8, R9]
        } else {
            &[RDI, RSI, RDX, RCX, R8, R9]
        },
        ret: RAX,
        sp: RSP,
        cfg_check: RCX,
        cfg_dispatch: Some(RAX),
        // System V: a variadic function reads al (how many vector registers carry arguments)
        varargs_count: (!windows).then_some(RAX),
    }
}

/// The name prefixes of retpoline thunks, each followed by the register it jumps to: gcc and the
/// kernel (`__x86_indirect_thunk_rax`, and the call/jump variants), clang (`__llvm_retpoline_r11`;
/// `__llvm_external_retpoline_` in LLVM before 2018).
const RETPOLINE_PREFIXES: [&str; 5] = [
    "__x86_indirect_thunk_",
    "__x86_indirect_call_thunk_",
    "__x86_indirect_jump_thunk_",
    "__llvm_retpoline_",
    "__llvm_external_retpoline_",
];

/// The register a retpoline thunk named `name` jumps to, if it is one.
pub(crate) fn retpoline_named_reg(name: &str) -> Option<u8> {
    let reg = RETPOLINE_PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    reg_named(reg)
}

/// The register a retpoline thunk's name ends with (`__x86_indirect_thunk_r11`).
pub(super) fn reg_named(name: &str) -> Option<u8> {
    const NAMES: [&str; 16] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as u8)
}

/// A retpoline thunk known by its code (stripped binaries): `call 1f; 2: pause; lfence; jmp 2b;
/// [padding] 1: mov %reg,(%rsp); ret`, maybe after `endbr64` (gcc, clang and the kernel emit
/// this). The register the thunk jumps to.
pub(crate) fn retpoline_shape_reg(bytes: &[u8]) -> Option<u8> {
    let b = bytes
        .strip_prefix(&[0xf3, 0x0f, 0x1e, 0xfa][..])
        .unwrap_or(bytes);
    if b.len() < 10 || b[0] != 0xe8 || !b[5..].starts_with(&[0xf3, 0x90, 0x0f, 0xae, 0xe8]) {
        return None;
    }
    let rel = i32::from_le_bytes(b[1..5].try_into().ok()?);
    let at = 5usize.checked_add_signed(isize::try_from(rel).ok()?)?;
    let m = b.get(at..at + 4)?;
    // mov %reg,(%rsp): REX.W (with R for r8-r15), 89 /r, ModRM mod 00 rm 100, SIB 0x24
    if m[0] & 0xfb != 0x48 || m[1] != 0x89 || m[2] & 0xc7 != 0x04 || m[3] != 0x24 {
        return None;
    }
    Some((m[2] >> 3) & 7 | if m[0] & 4 != 0 { 8 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retpoline_thunks_are_known_by_their_code() {
        // gcc -mindirect-branch=thunk: __x86_indirect_thunk_rax
        let gcc = [
            0xe8, 0x07, 0, 0, 0, 0xf3, 0x90, 0x0f, 0xae, 0xe8, 0xeb, 0xf9, 0x48, 0x89, 0x04, 0x24,
            0xc3,
        ];
        assert_eq!(retpoline_shape_reg(&gcc), reg_named("rax"));
        // clang -mretpoline: __llvm_retpoline_r11 (a nopl before the mov)
        let clang = [
            0xe8, 0x0b, 0, 0, 0, 0xf3, 0x90, 0x0f, 0xae, 0xe8, 0xeb, 0xf9, 0x0f, 0x1f, 0x40, 0,
            0x4c, 0x89, 0x1c, 0x24, 0xc3,
        ];
        assert_eq!(retpoline_shape_reg(&clang), reg_named("r11"));
        assert_eq!(retpoline_shape_reg(&gcc[5..]), None);
        let mut not_a_store = gcc;
        not_a_store[13] = 0x8b; // mov (%rsp),%rax
        assert_eq!(retpoline_shape_reg(&not_a_store), None);
    }
}
