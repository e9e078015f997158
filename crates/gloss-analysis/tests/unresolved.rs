//! An indirect jump that is no switch is reported for what it is. Bytes from
//! `llvm-mc-19 -show-encoding`; the meaning comes from the instructions themselves:
//! `mov 0x48(%rdi),%rax; jmp *%rax` jumps through a pointer field of the struct in rdi (a tail
//! call through a function pointer), `jmp *%rsi` to a pointer the caller passed.
mod common;

use common::analyze_at;
use gloss_core::Arch;

fn reasons(bytes: &[u8], arch: Arch, starts: &[u64]) -> Vec<&'static str> {
    let (_, a) = analyze_at(bytes.to_vec(), arch, 0x1000, starts);
    let mut out: Vec<(u64, &'static str)> = a
        .functions
        .iter()
        .flat_map(|f| f.unresolved.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out.into_iter().map(|(_, why)| why).collect()
}

#[test]
fn pointer_jumps_are_told_from_tables() {
    // x86-64: f at 0: mov 0x48(%rdi),%rax; jmp *%rax    g at 6: jmp *%rsi
    let x86 = [0x48, 0x8b, 0x47, 0x48, 0xff, 0xe0, 0xff, 0xe6];
    // AArch64: f at 0: ldr x8, [x0, #0x10]; br x8       g at 8: br x1
    let a64 = [
        0x08, 0x08, 0x40, 0xf9, 0x00, 0x01, 0x1f, 0xd6, 0x20, 0x00, 0x1f, 0xd6,
    ];
    for (bytes, arch, g) in [(&x86[..], Arch::X86_64, 6), (&a64[..], Arch::Aarch64, 8)] {
        let r = reasons(bytes, arch, &[0, g]);
        assert_eq!(r.len(), 2, "{arch:?}: {r:?}");
        assert!(
            r[0].contains("pointer loaded from memory"),
            "{arch:?}: {}",
            r[0]
        );
        assert!(
            r[1].contains("register the path does not set"),
            "{arch:?}: {}",
            r[1]
        );
    }
}
