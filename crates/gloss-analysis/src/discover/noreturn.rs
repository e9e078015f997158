//! Callees that never return, by name: C library and runtime exits, assertion and
//! stack-protector failures, C++ throws and Rust panics, Windows fail-fast. A call to one ends
//! its block: the bytes after it are not a fall-through (often they are the next function).
use gloss_core::Image;
use rustc_hash::FxHashSet;

const NAMES: &[&str] = &[
    "exit",
    "_exit",
    "_Exit",
    "quick_exit",
    "abort",
    "__assert_fail",
    "__assert_perror_fail",
    "__assert",
    "__stack_chk_fail",
    "__stack_chk_fail_local",
    "__chk_fail",
    "__fortify_fail",
    "__libc_fatal",
    "__cxa_throw",
    "__cxa_rethrow",
    "__cxa_bad_cast",
    "__cxa_bad_typeid",
    "__cxa_throw_bad_array_new_length",
    "__cxa_pure_virtual",
    "_Unwind_Resume",
    "_ZSt9terminatev",
    "_ZSt17__throw_bad_allocv",
    "_ZSt20__throw_length_errorPKc",
    "_ZSt19__throw_logic_errorPKc",
    "_ZSt20__throw_out_of_rangePKc",
    "_ZSt24__throw_out_of_range_fmtPKcz",
    "longjmp",
    "_longjmp",
    "siglongjmp",
    "__longjmp_chk",
    "pthread_exit",
    "err",
    "errx",
    "verr",
    "verrx",
    "__libc_start_main",
    "ExitProcess",
    "ExitThread",
    "FatalExit",
    "RaiseFailFastException",
    "__fastfail",
    "__report_gsfailure",
    "_invalid_parameter_noinfo_noreturn",
    "_CxxThrowException",
    "rust_panic",
    "__rust_start_panic",
    "_ZN4core9panicking5panic17",
    "_ZN4core9panicking9panic_fmt17",
    "_ZN4core6option13unwrap_failed17",
    "_ZN4core6result13unwrap_failed17",
    "_ZN3std7process5abort17",
];

/// The symbol or import name without decorations gloss or the platform adds.
fn base(name: &str) -> &str {
    let n = name.strip_prefix("__imp_").unwrap_or(name);
    let n = n.split('@').next().unwrap_or(n);
    n.strip_prefix('_')
        .filter(|m| NAMES.contains(m))
        .unwrap_or(n)
}

fn is_noreturn(name: &str) -> bool {
    let b = base(name);
    // Rust symbols carry a hash after the path: match the mangled prefix
    NAMES.contains(&b) || NAMES.iter().any(|p| p.ends_with("17") && b.starts_with(p))
}

/// Addresses that never return: functions and stubs with such names, and the import slots
/// (GOT, IAT) called through.
pub(super) fn by_name(image: &Image) -> FxHashSet<u64> {
    let mut out = FxHashSet::default();
    for s in image.symbols.iter() {
        if is_noreturn(&s.name) {
            out.insert(s.addr.0);
        }
    }
    for i in &image.imports {
        if is_noreturn(&i.name) {
            out.extend(i.stub.map(|a| a.0));
            out.extend(i.slot.map(|a| a.0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decorated_names_match() {
        for n in [
            "exit",
            "exit@plt",
            "__imp_ExitProcess",
            "_abort",
            "abort@GLIBC_2.2.5",
            "_ZN4core9panicking9panic_fmt17h0123456789abcdefE",
        ] {
            assert!(is_noreturn(n), "{n}");
        }
        for n in ["exit_group_helper", "printf", "_exit_handler", "abort_msg"] {
            assert!(!is_noreturn(n), "{n}");
        }
    }
}
