//! Source line information: which file and line each code address was compiled from (DWARF line
//! tables). A plain model; `gloss-load` builds it on request (`source_lines`), never during
//! `load`, and only the CLI reads the source files it names.

/// One source file a line table names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceFile {
    /// Directory and file name as the line table joins them; relative paths are relative to
    /// `comp_dir`.
    pub name: String,
    /// The compilation directory (`DW_AT_comp_dir`) of the unit that names the file.
    pub comp_dir: Option<String>,
}

impl SourceFile {
    /// The path to show: `comp_dir/name` (e.g. `./src/globals.c`), or `name` when it is absolute
    /// or there is no compilation directory. As objdump prints it.
    pub fn path(&self) -> String {
        match &self.comp_dir {
            Some(dir) => join_path(dir, &self.name),
            None => self.name.clone(),
        }
    }
}

/// Whether a path from a line table is absolute (Unix, or Windows drive / UNC).
pub fn is_absolute_path(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || p.starts_with('\\')
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'/' | b'\\'))
}

/// Joins a line-table directory and a name: `name` alone when it is absolute or `dir` is empty.
/// The separator follows `dir` (a backslash only when `dir` has backslashes and no slashes).
pub fn join_path(dir: &str, name: &str) -> String {
    if dir.is_empty() || is_absolute_path(name) {
        return name.to_string();
    }
    let sep = if dir.contains('\\') && !dir.contains('/') {
        '\\'
    } else {
        '/'
    };
    let mut s = String::with_capacity(dir.len() + 1 + name.len());
    s.push_str(dir);
    if !dir.ends_with(['/', '\\']) {
        s.push(sep);
    }
    s.push_str(name);
    s
}

/// One row of a line table: from `addr` on (up to the next row), code comes from `line` of
/// `file` (an index into [`SourceLines::files`]). Line 0 means "no source line" (DWARF's
/// compiler-generated code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRow {
    pub addr: u64,
    pub file: u32,
    pub line: u32,
}

/// A run of rows covering `[rows[0].addr, end)` (a DWARF sequence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineSequence {
    pub rows: Vec<LineRow>,
    pub end: u64,
}

/// What [`SourceLines::at`] answers: the file and line an address comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLoc<'a> {
    pub file_index: u32,
    pub file: &'a SourceFile,
    pub line: u32,
}

/// No file: the end of a sequence, or a row naming no line.
const GAP: u32 = u32::MAX;

/// Line tables of a whole image, flattened to one address-sorted row list.
#[derive(Clone, Debug, Default)]
pub struct SourceLines {
    files: Vec<SourceFile>,
    /// Sorted by address, one row per address. A row with `file == GAP` starts a stretch no
    /// sequence covers.
    rows: Vec<LineRow>,
}

impl SourceLines {
    /// Builds the table. Within a sequence, rows are ordered by address and of several rows at
    /// one address the last wins (the earlier ones cover no bytes). Sequences are ordered by
    /// start; one that starts inside an earlier one is dropped (only malformed or dead-code
    /// tables overlap). Rows past their sequence's end and rows naming an unknown file are
    /// treated as covering nothing.
    pub fn new(files: Vec<SourceFile>, mut sequences: Vec<LineSequence>) -> SourceLines {
        let nfiles = files.len();
        for s in &mut sequences {
            s.rows.sort_by_key(|r| r.addr); // stable: the last row at an address stays last
            s.rows.retain(|r| r.addr < s.end);
        }
        sequences.retain(|s| !s.rows.is_empty());
        sequences.sort_by_key(|s| (s.rows[0].addr, std::cmp::Reverse(s.end)));
        let mut rows: Vec<LineRow> = Vec::new();
        let mut covered_to = 0u64;
        let mut any = false;
        for s in &sequences {
            let start = s.rows[0].addr;
            if any && start < covered_to {
                continue;
            }
            for r in &s.rows {
                let r = if r.line == 0 || r.file as usize >= nfiles {
                    LineRow {
                        addr: r.addr,
                        file: GAP,
                        line: 0,
                    }
                } else {
                    *r
                };
                match rows.last_mut() {
                    Some(last) if last.addr == r.addr => *last = r,
                    _ => rows.push(r),
                }
            }
            rows.push(LineRow {
                addr: s.end,
                file: GAP,
                line: 0,
            });
            covered_to = s.end;
            any = true;
        }
        SourceLines { files, rows }
    }

    /// The file and line the byte at `addr` comes from, if a line table covers it.
    pub fn at(&self, addr: u64) -> Option<SourceLoc<'_>> {
        let i = self.rows.partition_point(|r| r.addr <= addr);
        let r = self.rows.get(i.checked_sub(1)?)?;
        if r.file == GAP {
            return None;
        }
        Some(SourceLoc {
            file_index: r.file,
            file: &self.files[r.file as usize],
            line: r.line,
        })
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Whether no address has a source line.
    pub fn is_empty(&self) -> bool {
        self.rows.iter().all(|r| r.file == GAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            comp_dir: Some(".".into()),
        }
    }
    fn row(addr: u64, file: u32, line: u32) -> LineRow {
        LineRow { addr, file, line }
    }
    fn line_at(s: &SourceLines, addr: u64) -> Option<(String, u32)> {
        s.at(addr).map(|l| (l.file.path(), l.line))
    }

    #[test]
    fn lookup_covers_up_to_the_next_row_and_stops_at_sequence_end() {
        let s = SourceLines::new(
            vec![file("src/a.c"), file("b.h")],
            vec![
                LineSequence {
                    rows: vec![row(0x1000, 0, 10), row(0x1004, 1, 3), row(0x1008, 0, 11)],
                    end: 0x1010,
                },
                LineSequence {
                    rows: vec![row(0x2000, 0, 40)],
                    end: 0x2002,
                },
            ],
        );
        assert_eq!(line_at(&s, 0xfff), None);
        assert_eq!(line_at(&s, 0x1000), Some(("./src/a.c".into(), 10)));
        assert_eq!(line_at(&s, 0x1003), Some(("./src/a.c".into(), 10)));
        assert_eq!(line_at(&s, 0x1004), Some(("./b.h".into(), 3)));
        assert_eq!(line_at(&s, 0x100f), Some(("./src/a.c".into(), 11)));
        assert_eq!(line_at(&s, 0x1010), None, "end_sequence ends coverage");
        assert_eq!(line_at(&s, 0x1fff), None);
        assert_eq!(line_at(&s, 0x2001), Some(("./src/a.c".into(), 40)));
        assert_eq!(line_at(&s, 0x2002), None);
        assert_eq!(s.at(0x1004).map(|l| l.file_index), Some(1));
        assert!(!s.is_empty());
    }

    #[test]
    fn last_row_at_an_address_wins_and_line_zero_is_no_line() {
        // gcc emits `{`, the first statement and the call at one address; only the last row
        // covers bytes.
        let s = SourceLines::new(
            vec![file("a.c")],
            vec![LineSequence {
                rows: vec![
                    row(0x10, 0, 45),
                    row(0x10, 0, 46),
                    row(0x10, 0, 47),
                    row(0x14, 0, 0),
                    row(0x18, 0, 51),
                ],
                end: 0x20,
            }],
        );
        assert_eq!(line_at(&s, 0x10).map(|l| l.1), Some(47));
        assert_eq!(line_at(&s, 0x15), None);
        assert_eq!(line_at(&s, 0x18).map(|l| l.1), Some(51));
    }

    #[test]
    fn sequences_are_sorted_and_overlaps_and_bad_files_dropped() {
        let s = SourceLines::new(
            vec![file("a.c")],
            vec![
                LineSequence {
                    rows: vec![row(0x200, 0, 2)],
                    end: 0x210,
                },
                LineSequence {
                    rows: vec![row(0x100, 0, 1), row(0x104, 7, 9)],
                    end: 0x110,
                },
                // Starts inside the first (dead code at a reused address): dropped.
                LineSequence {
                    rows: vec![row(0x108, 0, 99)],
                    end: 0x120,
                },
                // Empty and inverted sequences cover nothing.
                LineSequence {
                    rows: vec![],
                    end: 0x300,
                },
                LineSequence {
                    rows: vec![row(0x400, 0, 5)],
                    end: 0x400,
                },
            ],
        );
        assert_eq!(line_at(&s, 0x100).map(|l| l.1), Some(1));
        assert_eq!(line_at(&s, 0x104), None, "file index 7 does not exist");
        assert_eq!(line_at(&s, 0x10c), None);
        assert_eq!(line_at(&s, 0x118), None);
        assert_eq!(line_at(&s, 0x204).map(|l| l.1), Some(2));
        assert_eq!(line_at(&s, 0x400), None);
        assert!(SourceLines::default().is_empty());
        assert_eq!(SourceLines::default().at(0), None);
    }

    #[test]
    fn paths_join_like_objdump() {
        assert_eq!(join_path(".", "src/globals.c"), "./src/globals.c");
        assert_eq!(join_path("/build/", "a.c"), "/build/a.c");
        assert_eq!(
            join_path("/build", "/usr/include/stdio.h"),
            "/usr/include/stdio.h"
        );
        assert_eq!(join_path("C:\\src", "a.c"), "C:\\src\\a.c");
        assert_eq!(join_path("", "a.c"), "a.c");
        assert!(is_absolute_path("D:/x.c"));
        let f = SourceFile {
            name: "a.c".into(),
            comp_dir: None,
        };
        assert_eq!(f.path(), "a.c");
    }
}
