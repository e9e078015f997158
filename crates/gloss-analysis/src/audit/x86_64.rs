//! The x86-64 encodings the audit tests (Intel SDM vol. 2; CET: Intel's CET specification).

/// `endbr64`: the landing pad IBT requires at every indirect-branch target.
pub fn is_endbr64(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xf3, 0x0f, 0x1e, 0xfa])
}

/// `int3`: the barrier `-mharden-sls` puts after `ret` and `jmp *`.
pub fn is_int3(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0xcc)
}

/// `lfence`.
pub fn is_lfence(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x0f, 0xae, 0xe8])
}

/// An indirect call or jump (`ff /2`, `ff /4`) with the `notrack` prefix (`3e`): IBT does
/// not check its target.
pub fn is_notrack(bytes: &[u8]) -> bool {
    let mut notrack = false;
    for &b in bytes.iter().take(15) {
        match b {
            0x3e => notrack = true,
            0x26 | 0x2e | 0x36 | 0x64 | 0x65 | 0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 => {}
            0x40..=0x4f => {} // REX, last before the opcode
            0xff => return notrack,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notrack_is_the_3e_prefix_of_an_indirect_branch_only() {
        assert!(is_notrack(&[0x3e, 0xff, 0xe0])); // notrack jmp *%rax
        assert!(is_notrack(&[0x3e, 0x41, 0xff, 0xe3])); // notrack jmp *%r11
        assert!(!is_notrack(&[0xff, 0xe0])); // jmp *%rax
        assert!(!is_notrack(&[0x3e, 0x8b, 0x00])); // ds mov (%rax),%eax
    }
}
