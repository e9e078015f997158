//! What the analysis says about single instructions, in the listing's own words: a comment on
//! the instruction's line (`; switch (w19): 10 cases, table 0x...`) and label lines before an
//! instruction (`; case 3`). The text listing prints them in place; the JSON listing carries them
//! as `comments` and `labels` (docs/json.md).
use crate::label::write_label;
use gloss_analysis::FxHashMap;
use gloss_analysis::idiom::jump_table::{Switch, reloc_check};
use gloss_core::Image;
use std::fmt::Write as _;

const UNRESOLVED: &str = "unresolved indirect jump: ";

/// The notes at one address.
type Notes = smallvec::SmallVec<[String; 1]>;

#[derive(Default, Debug)]
pub struct Annotations {
    // most addresses have one note: held inline (a large binary has a million of them)
    comments: FxHashMap<u64, Notes>,
    labels: FxHashMap<u64, Notes>,
    /// `--explain`: a line per idiom, printed under the function's header; gathered only
    /// when `explain` is set.
    summaries: FxHashMap<u64, Vec<(u64, String)>>,
    pub explain: bool,
}

impl Annotations {
    /// Comments for the instruction at `addr`, in the order they were added.
    pub fn comments(&self, addr: u64) -> &[String] {
        self.comments.get(&addr).map_or(&[], |n| n.as_slice())
    }

    /// Label lines printed before the instruction at `addr`.
    pub fn labels(&self, addr: u64) -> &[String] {
        self.labels.get(&addr).map_or(&[], |n| n.as_slice())
    }

    /// The `--explain` lines of the function starting at `addr`.
    pub fn summary(&self, addr: u64) -> impl Iterator<Item = &str> {
        self.summaries
            .get(&addr)
            .into_iter()
            .flatten()
            .map(|(_, s)| s.as_str())
    }

    /// Adds a `--explain` line, in address order.
    fn summarise(&mut self, function: u64, at: u64, text: &str) {
        if self.explain {
            let v = self.summaries.entry(function).or_default();
            let i = v.partition_point(|(a, _)| *a <= at);
            v.insert(i, (at, format!("{at:#x}: {text}")));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.comments.is_empty() && self.labels.is_empty()
    }

    /// A reader for a listing, which asks for addresses in increasing order.
    pub fn reader(&self) -> Reader<'_> {
        let mut noted: Vec<u64> = self
            .comments
            .keys()
            .chain(self.labels.keys())
            .copied()
            .collect();
        noted.sort_unstable();
        noted.dedup();
        Reader {
            notes: self,
            noted,
            next: 0,
        }
    }

    fn comment(&mut self, addr: u64, text: String) {
        self.comments.entry(addr).or_default().push(text);
    }

    fn label(&mut self, addr: u64, text: String) {
        let v = self.labels.entry(addr).or_default();
        if !v.contains(&text) {
            v.push(text);
        }
    }

    /// Everything known about one function's instructions: its switches and the indirect
    /// jumps whose targets stay unknown.
    pub fn add_function(
        &mut self,
        image: &Image,
        function: u64,
        switches: &[Switch],
        unresolved: &[(u64, &'static str)],
    ) {
        // With several switches in one function, each label says which jump it belongs to.
        let qualify = switches.len() > 1;
        for s in switches {
            self.add_switch(image, s, qualify);
            if let Some(c) = self.comments(s.jump_addr).first().cloned() {
                self.summarise(function, s.jump_addr, &c);
            }
        }
        for &(at, why) in unresolved {
            self.comment(at, format!("{UNRESOLVED}{why}"));
        }
    }

    /// What the address and call-site idioms found in the function at `function`.
    pub fn add_explained(
        &mut self,
        image: &Image,
        function: u64,
        e: &gloss_analysis::idiom::Explained,
    ) {
        let addresses = crate::explain::addresses(e);
        for r in &e.refs {
            if let Some(c) = crate::explain::ref_comment(image, r) {
                if let Some(from) = r.from {
                    let how = if is_adrp(image, from) { "adrp" } else { "movz" };
                    self.summarise(function, r.addr, &format!("{c} ({how} at {from:#x})"));
                }
                self.comment(r.addr, c);
            }
        }
        for c in &e.calls {
            if let Some(text) = crate::explain::call_comment(image, c, &addresses) {
                // a jump the call site explains is no longer just an unresolved one
                if let Some(v) = self.comments.get_mut(&c.addr) {
                    v.retain(|t| !t.starts_with(UNRESOLVED));
                }
                if c.kind != gloss_analysis::idiom::call_site::Kind::Direct || !c.mech.is_empty() {
                    self.summarise(function, c.addr, &text);
                }
                self.comment(c.addr, text);
            }
        }
        for a in &e.atomics {
            let text = crate::explain::atomic_comment(a);
            self.summarise(function, a.addr, &text);
            self.comment(a.addr, text);
        }
        for (at, text) in crate::explain::frame_comments(image, &e.frame) {
            if text.starts_with("stack protector: guard")
                || text.starts_with("return address signed")
            {
                self.summarise(function, at, &text);
            }
            self.comment(at, text);
        }
    }

    /// The audit's verdict on each indirect branch (`show --audit`): `protected: retpoline`,
    /// `UNPROTECTED: no sls (has ibt)`, or just the protections where nothing was required.
    pub fn add_audit(&mut self, branches: &[gloss_analysis::audit::IndirectBranch]) {
        use gloss_analysis::audit::Verdict;
        let names = |ps: &mut dyn Iterator<Item = &'static str>| ps.collect::<Vec<_>>().join(", ");
        for b in branches {
            let has = names(&mut b.protections.iter().map(|p| p.name()));
            let text = match b.verdict {
                Verdict::Protected => format!("protected: {has}"),
                Verdict::Unprotected => {
                    let missing = names(&mut b.missing.iter().map(|m| m.name()));
                    let also = if has.is_empty() {
                        String::new()
                    } else {
                        format!(" (has {has})")
                    };
                    let text = format!("UNPROTECTED: no {missing}{also}");
                    self.summarise(b.function, b.addr, &text);
                    text
                }
                Verdict::Unchecked if !has.is_empty() => format!("protections: {has}"),
                Verdict::Unchecked => continue,
            };
            self.comment(b.addr, text);
        }
    }

    fn add_switch(&mut self, image: &Image, s: &Switch, qualify: bool) {
        let mut c = String::from("switch");
        if let Some((reg, width)) = s.selector {
            let _ = write!(c, " ({})", reg.name(image.arch, width));
        }
        let n = s.cases.len();
        let _ = write!(
            c,
            ": {n} case{}, table {:#x}",
            if n == 1 { "" } else { "s" },
            s.table_addr
        );
        write_label(&mut c, image, s.table_addr);
        if let Some((a, _)) = s.index_table {
            let _ = write!(c, ", index table {a:#x}");
        }
        if let Some(d) = s.default {
            let _ = write!(c, ", default {d:#x}");
        }
        if let Some(check) = reloc_check::check(image, s)
            && !check.disagreements.is_empty()
        {
            let _ = write!(
                c,
                "; relocations disagree at {} of {} entries",
                check.disagreements.len(),
                s.entries.len()
            );
        }
        self.comment(s.jump_addr, c);

        let whose = if qualify {
            format!(" (switch at {:#x})", s.jump_addr)
        } else {
            String::new()
        };
        let mut by_target: FxHashMap<u64, Vec<i64>> = FxHashMap::default();
        for case in &s.cases {
            by_target.entry(case.target).or_default().push(case.value);
        }
        for (target, mut values) in by_target {
            values.sort_unstable();
            self.label(target, format!("case {}{whose}", case_values(&values)));
        }
        self.add_table_entries(image, s);
        if let Some(d) = s.default {
            let reached = if s.default_values.is_empty() {
                String::new()
            } else {
                format!(" (reached by {})", case_values(&s.default_values))
            };
            self.label(d, format!("default{reached}{whose}"));
        }
    }

    /// Where each entry of a table inside code leads (the listing shows such tables as data;
    /// tables in read-only data are not listed, so they get no comments).
    fn add_table_entries(&mut self, image: &Image, s: &Switch) {
        let in_code = |a: u64| {
            image
                .section_at(a)
                .is_some_and(|sec| sec.kind == gloss_core::SectionKind::Code)
        };
        if !in_code(s.table_addr) {
            return;
        }
        if let Some((p, w)) = s.index_table {
            for n in 0..s.entries.len() {
                if let Some(k) = s.index_slot(image, n) {
                    self.comment(p + n as u64 * u64::from(w), format!("-> entry {k}"));
                }
            }
        }
        for (k, target) in s.slot_targets(image) {
            let mut c = format!("-> {target:#x}");
            write_label(&mut c, image, target);
            self.comment(s.table_addr + k as u64 * u64::from(s.entry_size), c);
        }
    }
}

/// The labels and comments of addresses asked in increasing order, as a listing asks: the
/// tables are looked up only where an address has notes. (A lookup for every listed
/// instruction missed the CPU caches on a large binary: a sixth of the default `show --all`'s
/// time on libLLVM.)
pub struct Reader<'a> {
    notes: &'a Annotations,
    /// The addresses with labels or comments, sorted.
    noted: Vec<u64>,
    /// The first of `noted` not yet passed.
    next: usize,
}

impl<'a> Reader<'a> {
    /// The label lines and the comments at `addr` (empty where it has none).
    pub fn at(&mut self, addr: u64) -> (&'a [String], &'a [String]) {
        if self.noted_at(addr) {
            (self.notes.labels(addr), self.notes.comments(addr))
        } else {
            (&[], &[])
        }
    }

    fn noted_at(&mut self, addr: u64) -> bool {
        let k = &self.noted;
        // asked again or out of order (a selection's regions): search from the start
        if self.next > 0 && k[self.next - 1] >= addr {
            self.next = k.partition_point(|&x| x < addr);
        }
        // usually the next noted address; else one further on
        if k.get(self.next).is_some_and(|&x| x < addr) {
            self.next += 1;
            self.next += k[self.next..].partition_point(|&x| x < addr);
        }
        let hit = k.get(self.next) == Some(&addr);
        self.next += usize::from(hit);
        hit
    }
}

/// Whether the instruction at `a` is an AArch64 `adrp`.
fn is_adrp(image: &Image, a: u64) -> bool {
    image.arch == gloss_core::Arch::Aarch64
        && image
            .read_loaded(a, 4)
            .is_some_and(gloss_analysis::idiom::addr_mat::is_adrp)
}

/// `1, 3, 5 ... 9`: sorted values, runs of three or more written as GNU C case ranges.
fn case_values(values: &[i64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j].checked_add(1) == Some(values[j + 1]) {
            j += 1;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = match j - i {
            0 => write!(out, "{}", values[i]),
            1 => write!(out, "{}, {}", values[i], values[j]),
            _ => write!(out, "{} ... {}", values[i], values[j]),
        };
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Annotations, case_values};

    /// The reader answers as the tables do, for addresses asked in order, again, backwards
    /// and past the last noted one.
    #[test]
    fn reader_agrees_with_the_tables_in_any_order() {
        let mut n = Annotations::default();
        for a in [0x10, 0x14, 0x30, 0x31, 0x80] {
            n.comment(a, format!("c{a:x}"));
        }
        n.label(0x14, "l14".into());
        n.label(0x20, "l20".into());
        let asked = [
            0x0, 0x10, 0x11, 0x14, 0x20, 0x30, 0x31, 0x40, 0x80, 0x81, 0x31, 0x31, 0x10, 0x90,
            0x20, 0x14,
        ];
        let mut r = n.reader();
        for a in asked {
            assert_eq!(r.at(a), (n.labels(a), n.comments(a)), "at {a:#x}");
        }
        assert_eq!(r.at(0x14).0, ["l14"]);
        assert_eq!(r.at(0x14).1, ["c14"]);
    }

    #[test]
    fn case_values_join_runs_of_three_or_more() {
        assert_eq!(case_values(&[3]), "3");
        assert_eq!(case_values(&[-2, -1]), "-2, -1");
        assert_eq!(
            case_values(&[0, 1, 2, 5, 7, 8, 9, 10]),
            "0 ... 2, 5, 7 ... 10"
        );
    }
}
