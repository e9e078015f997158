//! AAPCS64 (and Windows ARM64, which follows it for integer arguments): x0-x7 carry the
//! arguments and x0 the result. Control Flow Guard's check function takes the target in x15;
//! ARM64 has no dispatch function.
use super::Abi;

pub(super) fn abi() -> Abi {
    Abi {
        args: &[0, 1, 2, 3, 4, 5, 6, 7],
        ret: 0,
        sp: 31,
        cfg_check: 15,
        cfg_dispatch: None,
        varargs_count: None,
    }
}
