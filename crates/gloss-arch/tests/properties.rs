//! Decoders never panic, whatever the bytes, and report sane lengths.

use gloss_arch::disassembler;
use gloss_core::{Arch, InsnText, Syntax};
use proptest::prelude::*;

const MAX_X86_LEN: usize = 15;

/// Decodes and formats at every offset of `bytes`, checking the length contract.
fn sweep(arch: Arch, bytes: &[u8], addr: u64) {
    let d = disassembler(arch);
    let mut text = InsnText::default();
    for off in 0..bytes.len() {
        let rest = &bytes[off..];
        let at = addr.wrapping_add(off as u64);
        let insn = d.decode(rest, at);
        check_len(arch, rest, insn.len as usize);
        assert_eq!(insn.addr, at);
        for syntax in [Syntax::Att, Syntax::Intel] {
            let t = d.decode_text(rest, at, syntax, &mut text);
            assert_eq!(
                t.len,
                insn.len,
                "decode and decode_text disagree at {at:#x} on {:02x?}",
                &rest[..rest.len().min(16)]
            );
            assert_eq!(t.status, insn.status);
        }
    }
    // Empty input is allowed too (length contract only applies to non-empty input).
    let _ = d.decode(&[], addr);
    let _ = d.decode_text(&[], addr, Syntax::Att, &mut text);
}

fn check_len(arch: Arch, rest: &[u8], len: usize) {
    assert!(
        len >= 1,
        "{arch:?}: zero length on {:02x?}",
        &rest[..rest.len().min(16)]
    );
    assert!(
        len <= rest.len(),
        "{arch:?}: length {len} > {} available",
        rest.len()
    );
    match arch {
        Arch::X86_64 => assert!(len <= MAX_X86_LEN),
        Arch::Aarch64 if rest.len() >= 4 => {
            assert_eq!(len, 4, "aarch64 length with {} bytes", rest.len())
        }
        Arch::Aarch64 => {}
    }
}

/// `decode_text_run` over `bytes` gives what `decode_text` gives one instruction at a time.
fn run_matches_single(arch: Arch, bytes: &[u8], addr: u64) {
    let d = disassembler(arch);
    for syntax in [Syntax::Att, Syntax::Intel] {
        let mut want = Vec::new();
        let mut text = InsnText::default();
        let mut off = 0;
        while off < bytes.len() {
            let at = addr.wrapping_add(off as u64);
            let insn = d.decode_text(&bytes[off..], at, syntax, &mut text);
            want.push((
                insn,
                text.mnemonic_str().to_string(),
                text.operands_str().to_string(),
            ));
            off += (insn.len as usize).clamp(1, bytes.len() - off);
        }
        let mut got = Vec::new();
        d.decode_text_run(bytes, addr, syntax, &mut text, &mut |insn, t| {
            got.push((
                *insn,
                t.mnemonic_str().to_string(),
                t.operands_str().to_string(),
            ));
            true
        });
        assert_eq!(got, want, "{arch:?} {syntax:?} on {bytes:02x?}");
        // Stopping early stops.
        let mut n = 0;
        d.decode_text_run(bytes, addr, syntax, &mut text, &mut |_, _| {
            n += 1;
            false
        });
        assert_eq!(n, usize::from(!bytes.is_empty()));
    }
}

/// Case count: `PROPTEST_CASES` when set (for long local runs), else the default given.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `decode_run` gives the instructions that repeated `decode` calls give.
fn run_matches_decode(arch: Arch, bytes: &[u8], addr: u64) {
    let d = disassembler(arch);
    let mut want = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let insn = d.decode(&bytes[off..], addr.wrapping_add(off as u64));
        want.push((insn, bytes.len() - off));
        off += (insn.len as usize).clamp(1, bytes.len() - off);
    }
    let mut got = Vec::new();
    d.decode_run(bytes, addr, &mut |insn, rest| {
        got.push((*insn, rest.len()));
        true
    });
    assert_eq!(got, want, "{arch:?} on {bytes:02x?}");
}

/// `decode_op_run` gives the instructions and ops that `decode_sem_run` gives (the CFG
/// traversal uses the first, the analyses the second).
fn op_run_matches_sem_run(arch: Arch, bytes: &[u8], addr: u64) {
    let d = disassembler(arch);
    let mut want = Vec::new();
    d.decode_sem_run(bytes, addr, &mut |insn, sem, rest| {
        want.push((*insn, sem.op, rest.len()));
        true
    });
    let mut got = Vec::new();
    d.decode_op_run(bytes, addr, &mut |insn, op, rest| {
        got.push((*insn, *op, rest.len()));
        true
    });
    assert_eq!(got, want, "{arch:?} on {bytes:02x?}");
}

/// An `op_decoder` over `bytes`, asked for runs at the given offsets in any order (and with
/// some stopped early), gives each run as `decode_op_run` on the bytes from that offset; an
/// address outside the bytes gives nothing.
fn op_decoder_matches_op_run(arch: Arch, bytes: &[u8], addr: u64, starts: &[(usize, usize)]) {
    let d = disassembler(arch);
    let mut runs = d.op_decoder(bytes, addr);
    for &(start, stop_after) in starts {
        let off = start % (bytes.len() + 1);
        let at = addr.wrapping_add(off as u64);
        let mut want = Vec::new();
        d.decode_op_run(&bytes[off..], at, &mut |insn, op, rest| {
            want.push((*insn, *op, rest.len()));
            want.len() <= stop_after
        });
        let mut got = Vec::new();
        runs.run(at, &mut |insn, op, rest| {
            got.push((*insn, *op, rest.len()));
            got.len() <= stop_after
        });
        assert_eq!(got, want, "{arch:?} at +{off} on {bytes:02x?}");
    }
    let mut outside = 0;
    runs.run(addr.wrapping_sub(1), &mut |_, _, _| {
        outside += 1;
        true
    });
    assert_eq!(outside, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(2048)))]

    #[test]
    fn op_decoder_matches_decode_op_run_x86_64(
        bytes in proptest::collection::vec(any::<u8>(), 1..96),
        addr in 1..u64::MAX / 2,
        starts in proptest::collection::vec((any::<usize>(), 0..8usize), 1..6),
    ) {
        op_decoder_matches_op_run(Arch::X86_64, &bytes, addr, &starts);
    }

    #[test]
    fn op_decoder_matches_decode_op_run_aarch64(
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
        addr in 1..u64::MAX / 2,
        starts in proptest::collection::vec((any::<usize>(), 0..8usize), 1..6),
    ) {
        op_decoder_matches_op_run(Arch::Aarch64, &bytes, addr & !3, &starts);
    }

    #[test]
    fn decode_never_panics_x86_64(bytes in proptest::collection::vec(any::<u8>(), 0..64), addr in any::<u64>()) {
        sweep(Arch::X86_64, &bytes, addr);
    }

    #[test]
    fn decode_never_panics_aarch64(bytes in proptest::collection::vec(any::<u8>(), 0..64), addr in any::<u64>()) {
        sweep(Arch::Aarch64, &bytes, addr);
    }

    /// x86 prefixes and escape bytes are where decoders go wrong: bias towards them.
    #[test]
    fn decode_never_panics_x86_64_prefix_heavy(
        bytes in proptest::collection::vec(
            prop_oneof![
                3 => prop::sample::select(vec![
                    0x0f, 0x38, 0x3a, 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36,
                    0x40, 0x41, 0x48, 0x4c, 0x4f, 0xc4, 0xc5, 0x62, 0x8f, 0xd8, 0xdf, 0xff, 0xe8, 0xe9,
                ]),
                1 => any::<u8>(),
            ],
            0..48,
        ),
        addr in any::<u64>(),
    ) {
        sweep(Arch::X86_64, &bytes, addr);
    }

    #[test]
    fn decode_run_matches_decode_x86_64(bytes in proptest::collection::vec(any::<u8>(), 0..96), addr in any::<u64>()) {
        run_matches_decode(Arch::X86_64, &bytes, addr);
    }

    #[test]
    fn decode_op_run_matches_decode_sem_run_x86_64(bytes in proptest::collection::vec(any::<u8>(), 0..96), addr in any::<u64>()) {
        op_run_matches_sem_run(Arch::X86_64, &bytes, addr);
    }

    #[test]
    fn decode_op_run_matches_decode_sem_run_aarch64(bytes in proptest::collection::vec(any::<u8>(), 0..64), addr in any::<u64>()) {
        op_run_matches_sem_run(Arch::Aarch64, &bytes, addr & !3);
    }

    #[test]
    fn decode_text_run_matches_decode_text_x86_64(bytes in proptest::collection::vec(any::<u8>(), 0..96), addr in any::<u64>()) {
        run_matches_single(Arch::X86_64, &bytes, addr);
    }

    #[test]
    fn decode_text_run_matches_decode_text_aarch64(bytes in proptest::collection::vec(any::<u8>(), 0..64), addr in any::<u64>()) {
        run_matches_single(Arch::Aarch64, &bytes, addr & !3);
    }

    /// Listings cache AArch64 text by instruction word: words repeat at other addresses, and
    /// PC-relative ones (branches, `adr`/`adrp`, literal loads) must never come from the cache.
    #[test]
    fn decode_text_run_with_repeated_words_aarch64(
        picks in proptest::collection::vec(0usize..16, 1..48),
        pool_seed in any::<u32>(),
        addr in any::<u64>(),
    ) {
        let fixed = [
            0xa9bd7bfd, 0x910003fd, 0xd65f03c0, 0x94000010, 0x17fffff0, 0x54000081,
            0xb4000060, 0x90000014, 0x10000020, 0x58000040, 0xd503201f, 0xffffffff,
        ];
        let pool: Vec<u32> = (0..16u32)
            .map(|k| match fixed.get(k as usize) {
                Some(&w) => w,
                None => pool_seed.wrapping_mul(k + 1).rotate_left(k),
            })
            .collect();
        let bytes: Vec<u8> = picks.iter().flat_map(|&k| pool[k].to_le_bytes()).collect();
        run_matches_single(Arch::Aarch64, &bytes, addr & !3);
    }

    /// Every 32-bit word, at addresses near the top and bottom of the address space (PC-relative
    /// targets wrap).
    #[test]
    fn decode_aarch64_word_any_addr(w in any::<u32>(), addr in prop_oneof![Just(0u64), Just(u64::MAX - 3), any::<u64>()]) {
        sweep(Arch::Aarch64, &w.to_le_bytes(), addr & !3);
    }
}

/// xorshift64*: deterministic, no extra crates.
struct XorShift(u64);

impl XorShift {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// 2,000,000 pseudo-random AArch64 words through `decode_text`: bad64 has `unwrap()`s in its
/// operand conversion, so this looks for words that reach them.
#[test]
fn aarch64_random_words_sweep() {
    let n: u32 = std::env::var("GLOSS_SWEEP_WORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let d = disassembler(Arch::Aarch64);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut text = InsnText::default();
    let mut panics = Vec::new();
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..n {
        let w = rng.next_u32();
        let bytes = w.to_le_bytes();
        let addr = 0x40_0000u64 + 4 * i as u64;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let insn = d.decode_text(&bytes, addr, Syntax::Att, &mut text);
            assert_eq!(insn.len, 4);
        }));
        if r.is_err() {
            text = InsnText::default();
            panics.push(w);
        }
    }
    std::panic::set_hook(prev_hook);
    assert!(
        panics.is_empty(),
        "{} of {n} words panicked, first: {:08x?}",
        panics.len(),
        &panics[..panics.len().min(32)]
    );
}

/// Every x86-64 one- and two-byte opcode prefix combination followed by a fixed tail.
#[test]
fn x86_64_opcode_map_sweep() {
    let d = disassembler(Arch::X86_64);
    let mut text = InsnText::default();
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let mut bytes = [0u8; 16];
            bytes[0] = a;
            bytes[1] = b;
            for chunk in bytes[2..].chunks_mut(4) {
                let r = rng.next_u32().to_le_bytes();
                chunk.copy_from_slice(&r[..chunk.len()]);
            }
            for syntax in [Syntax::Att, Syntax::Intel] {
                for end in [1, 2, 3, 16] {
                    let insn = d.decode_text(&bytes[..end], 0x1000, syntax, &mut text);
                    check_len(Arch::X86_64, &bytes[..end], insn.len as usize);
                }
            }
        }
    }
}
