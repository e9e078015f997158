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

/// Whether a note is a label line printed before its instruction or a comment after it (in
/// this order at one address); `Dropped`: a comment taken back.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Place {
    Label,
    Comment,
    Dropped,
}

/// One note. A large binary has a million: their texts share the pages of one [`Texts`], and
/// the notes, sorted once by address, are read in order by the listing (held per address in
/// hash tables of strings, they cost 200 MB for libLLVM and a cache miss per listed note).
#[derive(Clone, Copy, Debug)]
struct Note {
    addr: u64,
    text: TextRef,
    place: Place,
}

/// Where a note's text is in its [`Texts`].
#[derive(Clone, Copy, Debug)]
struct TextRef {
    page: u32,
    offset: u32,
    len: u32,
}

/// Texts in pages of at least [`Texts::PAGE`] bytes, never moved once written: one growing
/// buffer would be copied at each doubling, and held twice while it is (libLLVM has 53 MB of
/// notes).
#[derive(Default, Debug)]
struct Texts {
    pages: Vec<String>,
}

impl Texts {
    const PAGE: usize = 1 << 20;

    fn push(&mut self, text: &str) -> TextRef {
        // a text of 4 GiB or more (none is near) is left out
        let text = if u32::try_from(text.len()).is_ok() {
            text
        } else {
            ""
        };
        if self
            .pages
            .last()
            .is_none_or(|p| p.capacity() - p.len() < text.len())
        {
            self.pages
                .push(String::with_capacity(Self::PAGE.max(text.len())));
        }
        let page = self.pages.len() - 1;
        let p = &mut self.pages[page];
        let offset = p.len();
        p.push_str(text);
        // a page's capacity is at most 4 GiB: the offset fits
        TextRef {
            page: page as u32,
            offset: offset as u32,
            len: text.len() as u32,
        }
    }

    fn get(&self, t: TextRef) -> &str {
        let (from, len) = (t.offset as usize, t.len as usize);
        &self.pages[t.page as usize][from..from + len]
    }
}

/// Collects the notes of an analysis ([`Annotator::add_function`] and the like), in any order;
/// [`Annotator::finish`] makes them [`Annotations`].
#[derive(Default, Debug)]
pub struct Annotator {
    notes: Vec<Note>,
    text: Texts,
    /// The `unresolved indirect jump` comments by address: a call site that explains the jump
    /// takes its comment back.
    unresolved: FxHashMap<u64, Vec<usize>>,
    /// `--explain`: a line per idiom, printed under the function's header; gathered only
    /// when `explain` is set.
    summaries: FxHashMap<u64, Vec<(u64, String)>>,
    pub explain: bool,
}

/// The labels and comments of every noted address, in address order.
#[derive(Default, Debug)]
pub struct Annotations {
    /// Sorted by address, then place (labels first), then in the order they were added.
    notes: Vec<Note>,
    text: Texts,
    summaries: FxHashMap<u64, Vec<(u64, String)>>,
}

impl Annotations {
    /// The `--explain` lines of the function starting at `addr`.
    pub fn summary(&self, addr: u64) -> impl Iterator<Item = &str> {
        self.summaries
            .get(&addr)
            .into_iter()
            .flatten()
            .map(|(_, s)| s.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// A reader for a listing, which asks for addresses in increasing order.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            notes: self,
            next: 0,
        }
    }
}

impl Annotator {
    /// The notes sorted for reading; a label repeated at one address is kept once.
    pub fn finish(self) -> Annotations {
        let Annotator {
            mut notes,
            text,
            summaries,
            ..
        } = self;
        // stable: the notes of one kind at one address stay in the order they were added
        notes.sort_by_key(|n| (n.addr, n.place));
        // kept in place: `notes[..kept]`
        let mut kept = 0;
        for i in 0..notes.len() {
            let n = notes[i];
            let repeated = || {
                notes[..kept]
                    .iter()
                    .rev()
                    .take_while(|k| k.addr == n.addr && k.place == Place::Label)
                    .any(|k| text.get(k.text) == text.get(n.text))
            };
            match n.place {
                Place::Dropped => {}
                Place::Label if repeated() => {}
                _ => {
                    notes[kept] = n;
                    kept += 1;
                }
            }
        }
        notes.truncate(kept);
        Annotations {
            notes,
            text,
            summaries,
        }
    }

    /// Adds a `--explain` line, in address order.
    fn summarise(&mut self, function: u64, at: u64, text: &str) {
        if self.explain {
            let v = self.summaries.entry(function).or_default();
            let i = v.partition_point(|(a, _)| *a <= at);
            v.insert(i, (at, format!("{at:#x}: {text}")));
        }
    }

    fn note(&mut self, addr: u64, place: Place, text: &str) {
        let text = self.text.push(text);
        self.notes.push(Note { addr, text, place });
    }

    fn comment(&mut self, addr: u64, text: &str) {
        self.note(addr, Place::Comment, text);
    }

    fn label(&mut self, addr: u64, text: &str) {
        self.note(addr, Place::Label, text);
    }

    fn unresolved_jump(&mut self, addr: u64, why: &str) {
        self.unresolved
            .entry(addr)
            .or_default()
            .push(self.notes.len());
        self.comment(addr, &format!("{UNRESOLVED}{why}"));
    }

    /// Drops the `unresolved indirect jump` comments at `addr` made so far.
    fn take_back_unresolved(&mut self, addr: u64) {
        for i in self.unresolved.remove(&addr).unwrap_or_default() {
            self.notes[i].place = Place::Dropped;
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
            self.add_switch(image, function, s, qualify);
        }
        for &(at, why) in unresolved {
            self.unresolved_jump(at, why);
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
                self.comment(r.addr, &c);
            }
        }
        let mut text = String::new();
        for c in &e.calls {
            if crate::explain::write_call_comment(&mut text, image, c, &addresses) {
                // a jump the call site explains is no longer just an unresolved one
                self.take_back_unresolved(c.addr);
                if c.kind != gloss_analysis::idiom::call_site::Kind::Direct || !c.mech.is_empty() {
                    self.summarise(function, c.addr, &text);
                }
                self.comment(c.addr, &text);
            }
        }
        for a in &e.atomics {
            let text = crate::explain::atomic_comment(a);
            self.summarise(function, a.addr, &text);
            self.comment(a.addr, &text);
        }
        for (at, text) in crate::explain::frame_comments(image, &e.frame) {
            if text.starts_with("stack protector: guard")
                || text.starts_with("return address signed")
            {
                self.summarise(function, at, &text);
            }
            self.comment(at, &text);
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
            self.comment(b.addr, &text);
        }
    }

    fn add_switch(&mut self, image: &Image, function: u64, s: &Switch, qualify: bool) {
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
        self.summarise(function, s.jump_addr, &c);
        self.comment(s.jump_addr, &c);

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
            self.label(target, &format!("case {}{whose}", case_values(&values)));
        }
        self.add_table_entries(image, s);
        if let Some(d) = s.default {
            let reached = if s.default_values.is_empty() {
                String::new()
            } else {
                format!(" (reached by {})", case_values(&s.default_values))
            };
            self.label(d, &format!("default{reached}{whose}"));
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
                    self.comment(p + n as u64 * u64::from(w), &format!("-> entry {k}"));
                }
            }
        }
        for (k, target) in s.slot_targets(image) {
            let mut c = format!("-> {target:#x}");
            write_label(&mut c, image, target);
            self.comment(s.table_addr + k as u64 * u64::from(s.entry_size), &c);
        }
    }
}

/// The labels and comments of addresses asked in increasing order, as a listing asks: one
/// comparison for an address without notes.
pub struct Reader<'a> {
    notes: &'a Annotations,
    /// The first note not yet passed.
    next: usize,
}

/// The notes at one address.
#[derive(Clone, Copy)]
pub struct Noted<'a> {
    notes: &'a [Note],
    text: &'a Texts,
}

impl<'a> Noted<'a> {
    /// The label lines, in the order they were added.
    pub fn labels(self) -> impl Iterator<Item = &'a str> {
        self.of(Place::Label)
    }

    /// The comments, in the order they were added.
    pub fn comments(self) -> impl Iterator<Item = &'a str> {
        self.of(Place::Comment)
    }

    fn of(self, place: Place) -> impl Iterator<Item = &'a str> {
        self.notes
            .iter()
            .filter(move |n| n.place == place)
            .map(move |n| self.text.get(n.text))
    }
}

impl<'a> Reader<'a> {
    /// The notes at `addr` (none where it has none).
    pub fn at(&mut self, addr: u64) -> Noted<'a> {
        let all = &self.notes.notes;
        // asked again or out of order (a selection's regions): search from the start
        if self.next > 0 && all[self.next - 1].addr >= addr {
            self.next = all.partition_point(|n| n.addr < addr);
        }
        // usually the next note is further on; else search on
        if all.get(self.next).is_some_and(|n| n.addr < addr) {
            self.next += all[self.next..].partition_point(|n| n.addr < addr);
        }
        let from = self.next;
        while all.get(self.next).is_some_and(|n| n.addr == addr) {
            self.next += 1;
        }
        Noted {
            notes: &all[from..self.next],
            text: &self.notes.text,
        }
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
    use super::{Annotator, case_values};

    /// The reader answers for addresses asked in order, again, backwards and past the last
    /// noted one: labels before comments, each in the order added, a repeated label once, a
    /// dropped comment not at all.
    #[test]
    fn reader_answers_in_any_order() {
        let mut n = Annotator::default();
        for a in [0x80, 0x10, 0x14, 0x30, 0x31] {
            n.comment(a, &format!("c{a:x}"));
        }
        n.label(0x14, "l14");
        n.unresolved_jump(0x14, "d14");
        n.take_back_unresolved(0x14);
        n.comment(0x14, "c14b");
        n.unresolved_jump(0x30, "kept");
        n.label(0x20, "l20");
        n.label(0x14, "l14b");
        n.label(0x14, "l14");
        let n = n.finish();
        let expected = |a: u64| -> (Vec<&str>, Vec<&str>) {
            match a {
                0x10 => (vec![], vec!["c10"]),
                0x14 => (vec!["l14", "l14b"], vec!["c14", "c14b"]),
                0x20 => (vec!["l20"], vec![]),
                0x30 => (vec![], vec!["c30", "unresolved indirect jump: kept"]),
                0x31 => (vec![], vec!["c31"]),
                0x80 => (vec![], vec!["c80"]),
                _ => (vec![], vec![]),
            }
        };
        let asked = [
            0x0, 0x10, 0x11, 0x14, 0x20, 0x30, 0x31, 0x40, 0x80, 0x81, 0x31, 0x31, 0x10, 0x90,
            0x20, 0x14, 0x14,
        ];
        let mut r = n.reader();
        for a in asked {
            let got = r.at(a);
            let got = (got.labels().collect(), got.comments().collect());
            assert_eq!(got, expected(a), "at {a:#x}");
        }
    }

    /// Texts fill pages and go on in new ones, a text larger than a page gets its own: each
    /// reads back as written.
    #[test]
    fn texts_read_back_across_pages() {
        let mut t = super::Texts::default();
        let big = "x".repeat(super::Texts::PAGE + 3);
        let texts: Vec<String> = (0..40_000)
            .map(|i| {
                if i == 20_000 {
                    big.clone()
                } else {
                    format!("note {i} ")
                }
            })
            .collect();
        let refs: Vec<_> = texts.iter().map(|s| t.push(s)).collect();
        assert!(t.pages.len() > 2);
        for (s, r) in texts.iter().zip(refs) {
            assert_eq!(t.get(r), s);
        }
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
