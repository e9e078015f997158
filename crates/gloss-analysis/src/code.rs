//! Where instructions can be: the executable sections' bytes minus data runs, with fast lookup.
use crate::dataflow::expr::Memory;
use crate::idiom::jump_table::Env;
use gloss_core::Image;

pub struct CodeMap<'a> {
    /// (start, end, bytes) per code section, sorted.
    ranges: Vec<(u64, u64, &'a [u8])>,
    /// Mapping-symbol data runs (AArch64 `$d`, Mach-O data-in-code), sorted.
    data_runs: Vec<(u64, u64)>,
}

impl<'a> CodeMap<'a> {
    pub fn new(image: &'a Image) -> CodeMap<'a> {
        let mut ranges = Vec::new();
        for s in image.code_sections() {
            let bytes = image.loaded_bytes(s);
            if bytes.is_empty() {
                continue;
            }
            ranges.push((s.addr.0, s.addr.0 + bytes.len() as u64, bytes));
        }
        ranges.sort_unstable_by_key(|r| r.0);
        let mut data_runs = Vec::new();
        for (i, (a, is_data)) in image.mapping.iter().enumerate() {
            if *is_data {
                let end = image.mapping.get(i + 1).map(|m| m.0.0).unwrap_or(u64::MAX);
                data_runs.push((a.0, end));
            }
        }
        CodeMap { ranges, data_runs }
    }

    fn range(&self, addr: u64) -> Option<&(u64, u64, &'a [u8])> {
        let i = self.ranges.partition_point(|r| r.0 <= addr);
        self.ranges[..i].last().filter(|r| addr < r.1)
    }

    /// Whether an instruction may start at `addr`.
    pub fn contains(&self, addr: u64) -> bool {
        self.range(addr).is_some() && !self.in_data_run(addr)
    }

    fn in_data_run(&self, addr: u64) -> bool {
        let i = self.data_runs.partition_point(|r| r.0 <= addr);
        self.data_runs[..i].last().is_some_and(|r| addr < r.1)
    }

    /// The code bytes from `addr` to the end of its section, or to the next data run.
    pub fn bytes(&self, addr: u64) -> Option<&'a [u8]> {
        if self.in_data_run(addr) {
            return None;
        }
        let &(start, end, bytes) = self.range(addr)?;
        let next_run = self.data_runs.partition_point(|r| r.0 <= addr);
        let stop = self
            .data_runs
            .get(next_run)
            .map(|r| r.0.min(end))
            .unwrap_or(end);
        bytes.get((addr - start) as usize..(stop - start) as usize)
    }

    /// The stretch of code `addr` lies in, as `(start, bytes)`: from the section's start or
    /// the end of the data run before `addr`, to where [`CodeMap::bytes`] stops. For every
    /// address `b` in it, `bytes(b)` is the stretch's bytes from `b` on.
    pub fn stretch(&self, addr: u64) -> Option<(u64, &'a [u8])> {
        let rest = self.bytes(addr)?;
        let &(start, _, section) = self.range(addr)?;
        let after_data = self
            .data_runs
            .partition_point(|r| r.0 <= addr)
            .checked_sub(1)
            .map_or(start, |i| self.data_runs[i].1.max(start));
        let from = (after_data - start) as usize;
        let to = (addr - start) as usize + rest.len();
        Some((after_data, &section[from..to]))
    }

    /// Code section ranges, sorted.
    pub fn sections(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|r| (r.0, r.1))
    }
}

/// The image as jump-table recovery sees it: readable memory and code addresses.
pub struct ImageEnv<'a> {
    pub image: &'a Image,
    pub code: &'a CodeMap<'a>,
    pub dis: &'a dyn gloss_core::Disassembler,
}

impl Memory for ImageEnv<'_> {
    fn read(&self, addr: u64, size: u8) -> Option<u64> {
        self.image.read_loaded_uint(addr, usize::from(size))
    }
}

impl Env for ImageEnv<'_> {
    fn is_code(&self, addr: u64) -> bool {
        self.code.contains(addr)
    }
    fn direct_jump(&self, addr: u64) -> Option<u64> {
        match self.dis.decode(self.code.bytes(addr)?, addr).flow {
            gloss_core::Flow::Jump(t) => Some(t),
            _ => None,
        }
    }
    fn image_base(&self) -> Option<u64> {
        match &self.image.facts.pe {
            Some(p) => Some(p.image_base.0),
            // a COFF object: gloss's layout starts at 0, the base its image-relative fields
            // are written against (gloss-load's relocate.rs)
            None => (self.image.format == gloss_core::Format::Pe && self.image.synthetic_layout)
                .then_some(0),
        }
    }
    fn is_mutable(&self, addr: u64) -> bool {
        use gloss_core::SectionKind;
        self.image.section_at(addr).is_some_and(|s| {
            matches!(s.kind, SectionKind::Data | SectionKind::Uninit)
                && !s.name.starts_with(".data.rel.ro")
                && !matches!(s.name.as_str(), "__const" | ".got" | "__got" | "__auth_got")
        })
    }
}
