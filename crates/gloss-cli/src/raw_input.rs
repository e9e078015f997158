//! Bytes for `show --raw`: hex on the command line or a file.
use anyhow::{Result, anyhow, bail};
use gloss::Arch;
use std::path::Path;

/// `0x1234` hex or decimal.
pub fn parse_addr(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// One existing file is read as bytes; otherwise every argument is hex. For AArch64 an 8-digit
/// token is an instruction word (as objdump and gdb print it) and is stored little-endian.
pub fn bytes(args: &[String], arch: Arch) -> Result<Vec<u8>> {
    if let [one] = args {
        let p = Path::new(one);
        if p.is_file() {
            return std::fs::read(p).map_err(|e| anyhow!("{one}: {e}"));
        }
    }
    let mut out = Vec::new();
    for tok in args
        .iter()
        .flat_map(|a| a.split([' ', ',', '\n', '\t']))
        .filter(|t| !t.is_empty())
    {
        let t = tok.trim_start_matches("0x").trim_start_matches("0X");
        if t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{tok}` is neither a file nor hex bytes");
        }
        let mut bs: Vec<u8> = (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap_or(0))
            .collect();
        if arch == Arch::Aarch64 && bs.len() == 4 {
            bs.reverse();
        }
        out.extend(bs);
    }
    if out.is_empty() {
        bail!("no bytes to decode");
    }
    Ok(out)
}
