//! `gloss show` puts the analysis in place: `; switch (...)` on the jump, `; case N` and
//! `; default` before the targets. The truth is fixtures/truth/switches.cases, made from the C
//! source: every case body of fixtures/src/switches.c calls `c_<shape>_<value>`, so the first
//! call or tail call after a `; case N` label must name the callee the source gives N.
use std::collections::{BTreeMap, HashMap};
use std::process::Command;

fn root() -> String {
    format!("{}/../..", env!("CARGO_MANIFEST_DIR"))
}

fn show(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_gloss"))
        .arg("show")
        .args(args)
        .output()
        .expect("run gloss");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

/// function -> (value or "default") -> callee, from the source truth.
type Truth = HashMap<String, HashMap<String, String>>;

fn truth() -> Truth {
    let text = std::fs::read_to_string(format!("{}/fixtures/truth/switches.cases", root()))
        .expect("switches.cases");
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [func, value, callee] = f[..] {
            out.entry(func.into())
                .or_default()
                .insert(value.into(), callee.into());
        }
    }
    out
}

/// `0, 2 ... 4, 7` -> [0, 2, 3, 4, 7]
fn values(list: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for part in list.split(", ") {
        match part.split_once(" ... ") {
            Some((a, b)) => out.extend(a.parse::<i64>().unwrap()..=b.parse::<i64>().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// The callee named by the first `<c_...>` label within a few instructions after line `i`.
fn next_callee(lines: &[&str], i: usize) -> Option<String> {
    lines[i + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with("; ") && !l.is_empty())
        .take(6)
        .find_map(|l| {
            let s = l.find("<c_")? + 1;
            let e = s + l[s..].find(['>', '+'])?;
            Some(l[s..e].to_string())
        })
}

/// The source value a listed value stands for. Values compare modulo the selector's width: the
/// binary cannot say whether a 32-bit selector was `int` or `unsigned`, nor (for bytes) `signed
/// char` or `unsigned char` (as in crates/gloss/tests/switches.rs).
fn source_key(func: &str, cases: &HashMap<String, String>, got: i64) -> String {
    let bits = match func {
        "sw_long" | "sw_i64" => 64,
        "sw_schar" | "sw_uchar" => 8,
        "sw_short" => 16,
        _ => 32,
    };
    let m = u64::MAX >> (64 - bits);
    cases
        .keys()
        .find(|k| {
            k.parse::<i128>()
                .is_ok_and(|v| v as u64 & m == got as u64 & m)
        })
        .cloned()
        .unwrap_or_else(|| got.to_string())
}

/// Checks every case and default label of a listing against the source; returns how many
/// labelled values were checked.
fn check_labels(fixture: &str, truth: &Truth) -> usize {
    let listing = show(&[&format!("{}/fixtures/bin/{fixture}", root()), "--all"]);
    let lines: Vec<&str> = listing.lines().collect();
    let mut func = String::new();
    let mut checked = 0;
    let mut wrong: BTreeMap<String, String> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with(|c: char| c.is_ascii_hexdigit()) && l.ends_with(">:") {
            let s = l.find('<').unwrap() + 1;
            func = l[s..l.len() - 2].to_string();
            continue;
        }
        let Some(label) = l.trim_start().strip_prefix("; ") else {
            continue;
        };
        let Some(cases) = truth.get(&func) else {
            continue; // main or a callee: no source truth
        };
        // Labels of functions with several tables say which. There the compiler split the
        // switch into a decision tree, and a table's out-of-range path is whatever the tree
        // does next (for sw_clusters, `x - 1001 > 11` after `x > 999` is case 1000), not the
        // source's default: those defaults are not checked (as in crates/gloss/tests/switches.rs).
        let (label, several) = match label.split_once(" (switch at") {
            Some((l, _)) => (l, true),
            None => (label, false),
        };
        if several && label.starts_with("default") {
            continue;
        }
        let keys: Vec<String> = if label == "default" {
            vec!["default".into()]
        } else if let Some(list) = label.strip_prefix("default (reached by ") {
            // the values that take the default path: each is the source's case or its default
            values(list.trim_end_matches(')'))
                .iter()
                .map(|&v| source_key(&func, cases, v))
                .map(|k| {
                    if cases.contains_key(&k) {
                        k
                    } else {
                        "default".into()
                    }
                })
                .collect()
        } else if let Some(list) = label.strip_prefix("case ") {
            values(list)
                .iter()
                .map(|&v| source_key(&func, cases, v))
                .collect()
        } else {
            continue;
        };
        let got = next_callee(&lines, i);
        for k in keys {
            let want = cases.get(&k);
            if want.is_none() || got.as_ref() != want {
                wrong.insert(
                    format!("{func} {k}"),
                    format!("{got:?}, source says {want:?}"),
                );
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{fixture}: wrong labels: {wrong:#?}");
    checked
}

#[test]
fn case_labels_lead_to_the_callee_the_source_gives() {
    let truth = truth();
    let pairs: usize = truth.values().map(HashMap::len).sum();
    for fixture in [
        "switches-x86_64-gcc-O2-pie.elf",
        "switches-x86_64-clang-O2-nopie.elf",
        "switches-aarch64-gcc-O2.elf",
        "switches-aarch64-clang-Os.elf",
        "switches-x86_64-msvc-clang-O2.exe",
        "switches-aarch64-msvc-clang-O2.exe",
    ] {
        let checked = check_labels(fixture, &truth);
        // Not vacuous: most of the source's cases are table cases at these levels.
        assert!(
            checked * 2 > pairs,
            "{fixture}: only {checked} of {pairs} source cases labelled"
        );
    }
}

#[test]
fn the_jump_says_switch_selector_count_table_and_default() {
    // globals.c: dispatch(int which, ...) { switch (which) { case 0 ... case 9 } }, compiled
    // by gcc -O2 for AArch64: `mov w19, w0; cmp w19, #0x9; b.hi`, a byte table in .rodata.
    let out = show(&[
        &format!("{}/fixtures/bin/globals-aarch64-gcc-O2.elf", root()),
        "dispatch",
    ]);
    let jump = out
        .lines()
        .find(|l| l.contains("; switch"))
        .expect("a switch comment");
    assert!(jump.contains("br "), "{jump}");
    assert!(
        jump.contains("; switch (w19): 10 cases, table 0x"),
        "{jump}"
    );
    assert!(jump.contains(", default 0x"), "{jump}");
    for v in 0..10 {
        assert!(
            out.contains(&format!("; case {v}\n")),
            "case {v} missing:\n{out}"
        );
    }

    // JSON carries the same notes; --no-analysis lists the bare instructions.
    let json: serde_json::Value = serde_json::from_str(&show(&[
        &format!("{}/fixtures/bin/globals-aarch64-gcc-O2.elf", root()),
        "dispatch",
        "--format",
        "json",
    ]))
    .unwrap();
    let insns = json["regions"][0]["insns"].as_array().unwrap();
    let with_comment: Vec<_> = insns
        .iter()
        .filter(|i| {
            i.get("comments")
                .is_some_and(|c| c.to_string().contains("switch"))
        })
        .collect();
    assert_eq!(with_comment.len(), 1);
    assert_eq!(with_comment[0]["mnemonic"], "br");
    let labels = insns.iter().filter(|i| i.get("labels").is_some()).count();
    assert_eq!(labels, 11, "ten cases and the default");
    let bare = show(&[
        &format!("{}/fixtures/bin/globals-aarch64-gcc-O2.elf", root()),
        "dispatch",
        "--no-analysis",
    ]);
    assert!(!bare.contains("; "), "{bare}");
}
