//! x86-64 calling conventions: System V (ELF, Mach-O) passes integer arguments in rdi, rsi,
//! rdx, rcx, r8, r9; Windows x64 in rcx, rdx, r8, r9. Control Flow Guard's check function
//! takes the target in rcx; its dispatch function calls rax.
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
    }
}

/// The register a retpoline thunk's name ends with (`__x86_indirect_thunk_r11`).
pub(super) fn reg_named(name: &str) -> Option<u8> {
    const NAMES: [&str; 16] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as u8)
}
