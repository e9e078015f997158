//! Separate debug files: an ELF image stripped of its DWARF (`objcopy --only-keep-debug`,
//! Debian's `-dbg` and `-dbgsym` packages) names the file that holds it by its GNU build-id
//! and by a `.gnu_debuglink` section (file name and CRC-32). Where gdb and objdump look for
//! it, in that order:
//!
//! 1. `DIR/.build-id/NN/REST.debug` for each debug directory (`/usr/lib/debug` and those
//!    given), NN the first byte of the build-id in hex, REST the others;
//! 2. the debug link's name in the binary's directory, in its `.debug/` subdirectory, and in
//!    each debug directory followed by the binary's own directory.
//!
//! A candidate is the image's only when its build-id equals the image's (when both have one),
//! else when its CRC-32 is the one the debug link states: a debug file of another build would
//! give wrong lines silently.
use gloss_core::{Format, Image};
use object::Object;
use std::path::{Path, PathBuf};

/// Where an image says its separate debug information is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DebugLink {
    pub build_id: Option<Vec<u8>>,
    /// `.gnu_debuglink`'s file name and CRC-32.
    pub link: Option<(String, u32)>,
}

impl DebugLink {
    /// The image's build-id and debug link (ELF only; empty for other formats).
    pub fn of(image: &Image) -> DebugLink {
        if image.format != Format::Elf {
            return DebugLink::default();
        }
        let Ok(file) = object::File::parse(image.bytes()) else {
            return DebugLink::default();
        };
        DebugLink {
            build_id: file.build_id().ok().flatten().map(<[u8]>::to_vec),
            link: file
                .gnu_debuglink()
                .ok()
                .flatten()
                .map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.build_id.is_none() && self.link.is_none()
    }

    /// The paths to try, in order, for the image at `binary` with the debug directories
    /// `dirs`.
    pub fn candidates(&self, binary: &Path, dirs: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(id) = self.build_id.as_deref().filter(|id| id.len() >= 2) {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            for d in dirs {
                out.push(
                    d.join(".build-id")
                        .join(hex(&id[..1]))
                        .join(format!("{}.debug", hex(&id[1..]))),
                );
            }
        }
        // a bare file name only: a link with a directory in it would reach outside them
        if let Some((name, _)) = self.link.as_ref().filter(|(n, _)| is_file_name(n)) {
            let dir = binary
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            out.push(dir.join(name));
            out.push(dir.join(".debug").join(name));
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            let relative = absolute.strip_prefix("/").unwrap_or(&absolute);
            for d in dirs {
                out.push(d.join(relative).join(name));
            }
        }
        out
    }

    /// Whether `bytes` (a candidate file's) are this image's debug file: the same build-id, or
    /// without build-ids, the CRC-32 the debug link states.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let theirs = object::File::parse(bytes)
            .ok()
            .and_then(|f| f.build_id().ok().flatten().map(<[u8]>::to_vec));
        match (&self.build_id, theirs) {
            (Some(ours), Some(theirs)) => *ours == theirs,
            _ => self
                .link
                .as_ref()
                .is_some_and(|(_, crc)| crc32fast::hash(bytes) == *crc),
        }
    }
}

fn is_file_name(n: &str) -> bool {
    !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::DebugLink;
    use std::path::{Path, PathBuf};

    #[test]
    fn build_id_and_link_paths_are_where_gdb_looks() {
        let l = DebugLink {
            build_id: Some(vec![0x93, 0x0a, 0xff]),
            link: Some(("libc.so.6.debug".into(), 7)),
        };
        let c = l.candidates(Path::new("/lib/x86_64/libc.so.6"), &[PathBuf::from("/dbg")]);
        let c: Vec<&str> = c.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            c,
            [
                "/dbg/.build-id/93/0aff.debug",
                "/lib/x86_64/libc.so.6.debug",
                "/lib/x86_64/.debug/libc.so.6.debug",
                "/dbg/lib/x86_64/libc.so.6.debug",
            ]
        );
    }

    #[test]
    fn a_binary_named_without_a_directory_is_in_the_current_one() {
        let l = DebugLink {
            build_id: None,
            link: Some(("x.debug".into(), 7)),
        };
        let c = l.candidates(Path::new("x"), &[PathBuf::from("/dbg")]);
        let cwd = std::env::current_dir().unwrap();
        let under_dbg = Path::new("/dbg")
            .join(cwd.strip_prefix("/").unwrap())
            .join("x.debug");
        assert_eq!(
            c,
            [
                PathBuf::from("./x.debug"),
                PathBuf::from("./.debug/x.debug"),
                under_dbg
            ]
        );
    }

    #[test]
    fn a_link_with_a_directory_is_not_followed() {
        let l = DebugLink {
            build_id: None,
            link: Some(("../../etc/passwd".into(), 0)),
        };
        assert!(l.candidates(Path::new("/bin/x"), &[]).is_empty());
    }

    #[test]
    fn without_build_ids_the_crc_decides() {
        let l = DebugLink {
            build_id: None,
            link: Some(("x.debug".into(), crc32fast::hash(b"debug bytes"))),
        };
        assert!(l.matches(b"debug bytes"));
        assert!(!l.matches(b"other bytes"));
    }
}
