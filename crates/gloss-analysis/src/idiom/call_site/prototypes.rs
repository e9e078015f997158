//! How many argument registers a system library function reads, by name. An import's
//! parameters are not in the binary, and the registers a call leaves set say nothing sure:
//! `memcpy(rdi, rsi, rdx)` is often preceded by code that also set rcx. These tables are
//! glibc's and the Windows API's (and C runtime's) declarations as clang-19 lowers them to each
//! ABI (`data/prototypes/`, made by `scripts/gen-prototypes.py`): facts of the headers, not a
//! guess from the code. An import of the same name from another library is taken to be the
//! same function.
use super::Params;
use gloss_core::{Arch, Format, Image};
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// ELF and Mach-O (glibc's declarations; columns x86_64, aarch64).
const UNIX: &str = include_str!("../../../data/prototypes/elf.txt");
/// PE (mingw-w64's declarations of the Windows API and CRT; columns x64, arm64).
const WINDOWS: &str = include_str!("../../../data/prototypes/pe.txt");

/// Per name, per column: the count, with [`VARIADIC`] set after the fixed ones; [`NONE`]
/// where the signature is not a count.
type Table = FxHashMap<&'static str, [u8; 2]>;
const VARIADIC: u8 = 0x80;
const NONE: u8 = 0xff;

fn parse(text: &'static str) -> Table {
    let cell = |c: &str| match c.strip_suffix('+') {
        _ if c == "-" => NONE,
        Some(n) => n.parse::<u8>().map_or(NONE, |n| n | VARIADIC),
        None => c.parse().unwrap_or(NONE),
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(' ');
            let name = f.next()?;
            Some((name, [cell(f.next()?), cell(f.next()?)]))
        })
        .collect()
}

/// The parameters of the system library function `name` an image imports, when its
/// declaration tells them: exact for a fixed list, at least the fixed ones for a variadic one.
pub fn declared(image: &Image, name: &str) -> Option<Params> {
    static UNIX_TABLE: OnceLock<Table> = OnceLock::new();
    static WINDOWS_TABLE: OnceLock<Table> = OnceLock::new();
    let (table, name) = match image.format {
        Format::Pe => (WINDOWS_TABLE.get_or_init(|| parse(WINDOWS)), name),
        // Mach-O names carry the C compiler's leading underscore
        Format::MachO => (
            UNIX_TABLE.get_or_init(|| parse(UNIX)),
            name.strip_prefix('_')?,
        ),
        _ => (UNIX_TABLE.get_or_init(|| parse(UNIX)), name),
    };
    let column = match image.arch {
        Arch::X86_64 => 0,
        Arch::Aarch64 => 1,
    };
    let cell = *table.get(name)?.get(column)?;
    (cell != NONE).then(|| {
        let variadic = cell & VARIADIC != 0;
        Params {
            count: cell & !VARIADIC,
            // a variadic function reads as many more as its caller passes
            exact: !variadic,
            variadic: false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts from the C standard's and POSIX's declarations, and the Windows API's, checked
    /// against what the generated tables say.
    #[test]
    fn tables_hold_the_declared_counts() {
        let unix = parse(UNIX);
        // memcpy(void *, const void *, size_t); printf(const char *, ...);
        // open(const char *, int, ...); mmap: six; sin(double): no integer register
        assert_eq!(unix["memcpy"], [3, 3]);
        assert_eq!(unix["printf"], [1 | VARIADIC, 1 | VARIADIC]);
        assert_eq!(unix["open"], [2 | VARIADIC, 2 | VARIADIC]);
        assert_eq!(unix["mmap"], [6, 6]);
        assert_eq!(unix["sin"], [0, 0]);
        // with _FORTIFY_SOURCE: __printf_chk(int flag, const char *fmt, ...)
        assert_eq!(unix["__printf_chk"], [2 | VARIADIC, 2 | VARIADIC]);
        let windows = parse(WINDOWS);
        // CreateFileW has seven parameters: four in registers on x64, all seven on ARM64
        assert_eq!(windows["CreateFileW"], [4, 7]);
        assert_eq!(windows["Sleep"], [1, 1]);
        assert_eq!(windows["GetProcAddress"], [2, 2]);
    }

    #[test]
    fn malformed_lines_are_not_counts() {
        let t = parse("# header\nf 2 x\ng 1+\nh\n");
        assert_eq!(t["f"], [2, NONE]);
        assert!(!t.contains_key("g") && !t.contains_key("h"));
    }
}
