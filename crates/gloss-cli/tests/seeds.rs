//! The seed documents (shared/seeds/) reproduced: fixtures compiled from C/C++ equivalents of
//! their listings, shown with `--explain`. The snapshots (tests/snapshots/) pin the wording and
//! layout; the facts each seed states in prose (which global, which import, which slot, which
//! switch cases, which atomic operation) are asserted independently of gloss's output by
//! crates/gloss/tests/idioms.rs, switches.rs, listing_notes.rs and gloss-analysis's atomics.rs.
//! Here, each snapshot is also checked for the seed's key phrase, so a snapshot accepted by
//! mistake cannot hide a wrong explanation.
use std::process::Command;

fn explain(file: &str, function: &str) -> String {
    let path = format!("{}/../../fixtures/bin/{file}", env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(env!("CARGO_BIN_EXE_gloss"))
        .args(["show", "--explain", &path, function])
        .output()
        .expect("run gloss");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

/// "The AArch64 processor, part 23": `CreateWidget(&c_info, WidgetFlags::FailIfExists,
/// &widget)` through the import address table (`__declspec(dllimport)`): `c_info` is 0x320
/// bytes after `unrelated_global`, on its page.
#[test]
fn create_widget_through_the_iat() {
    let out = explain("globals-aarch64-msvc-clang.exe", "make_widget");
    assert!(out.contains("; &c_info"), "{out}");
    assert!(out.contains("CreateWidget(&c_info, 1, sp+0x"), "{out}");
    insta::assert_snapshot!(out);
}

/// The same call through an import stub (`bl CreateWidget`; the stub loads the IAT slot).
#[test]
fn create_widget_through_a_stub() {
    let out = explain("globals-arm64.macho", "make_widget");
    assert!(out.contains("_CreateWidget(&_c_info, 1, sp+0x"), "{out}");
    insta::assert_snapshot!(out);
}

/// `p->method(42)`, Control Flow Guard on: the target is checked in x15 by
/// `__guard_check_icall_fptr`, then called.
#[test]
fn virtual_call_checked_by_cfg() {
    let out = explain("vcall-aarch64-msvc-clang-cfg.exe", "call");
    assert!(
        out.contains("CFG-checked, virtual call slot 1 (+0x8)"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

/// The dense switch on w19: bound 9, a word table, every case.
#[test]
fn switch_on_w19() {
    let out = explain("globals-aarch64-gcc-O2.elf", "dispatch");
    assert!(out.contains("switch (w19): 10 cases"), "{out}");
    insta::assert_snapshot!(out);
}

/// "Intel CPU BUG": QEMU's `aio_ctx_prepare`, the `ldaxr`/`orr`/`stlxr`/`cbnz` loop and x86
/// `lock orl $0x1` read as the same operation.
#[test]
fn aio_ctx_prepare_both_architectures() {
    let a64 = explain("globals-aarch64-clang-O2-llsc.elf", "aio_ctx_prepare");
    let x86 = explain("globals-x86_64-gcc-O2-pie.elf", "aio_ctx_prepare");
    for out in [&a64, &x86] {
        assert!(out.contains("atomic fetch_or (32-bit, seq_cst)"), "{out}");
    }
    insta::assert_snapshot!("aio_ctx_prepare_aarch64", a64);
    insta::assert_snapshot!("aio_ctx_prepare_x86_64", x86);
}
