//! `gloss show --line-numbers` / `--source` against the fixtures built with `-g`
//! (fixtures/README.md). Expected lines come from the fixture sources: a call to `f` must be
//! attributed to a line whose text calls `f(`, found by searching the source, never from gloss.
use std::path::Path;
use std::process::{Command, Output};

fn fixtures_dir() -> String {
    format!("{}/../../fixtures", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    format!("{}/bin/{name}", fixtures_dir())
}

/// Runs gloss in `dir` (source paths in the fixtures' DWARF are relative: `./src/globals.c`).
fn gloss_in(dir: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gloss"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run gloss")
}

fn ok(o: Output, args: &[&str]) -> (String, String) {
    assert!(
        o.status.success(),
        "gloss {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8(o.stdout).expect("utf-8"),
        String::from_utf8(o.stderr).expect("utf-8"),
    )
}

fn source(name: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{}/src/{name}", fixtures_dir()))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// 1-based numbers of the lines that call `f`: contain `f(`, do not define it, are no comment.
fn call_lines(src: &[String], f: &str) -> Vec<u32> {
    let call = format!("{f}(");
    let def = format!("int {f}(");
    let lines: Vec<u32> = src
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            l.contains(&call) && !l.contains(&def) && !t.starts_with("/*") && !t.starts_with('*')
        })
        .map(|(i, _)| i as u32 + 1)
        .collect();
    assert!(!lines.is_empty(), "no call to {f} in the source");
    lines
}

/// `(callee, source line)` of every direct call in a JSON listing; the callee from the target
/// label, or from the relocation in a relocatable object.
fn calls(json: &serde_json::Value) -> Vec<(String, Option<(String, u32)>)> {
    let mut out = Vec::new();
    for r in json["regions"].as_array().unwrap() {
        for i in r["insns"].as_array().unwrap() {
            let m = i["mnemonic"].as_str().unwrap();
            if m != "call" && m != "bl" {
                continue;
            }
            let Some(callee) = i["target_label"].as_str().or(i["reloc"].as_str()) else {
                continue;
            };
            let loc = i.get("source").map(|s| {
                (
                    s["file"].as_str().unwrap().to_string(),
                    s["line"].as_u64().unwrap() as u32,
                )
            });
            out.push((callee.to_string(), loc));
        }
    }
    out
}

fn json_listing(dir: &str, args: &[&str]) -> serde_json::Value {
    let (out, _) = ok(gloss_in(dir, args), args);
    serde_json::from_str(&out).expect("JSON")
}

/// Every call from `funcs` to a function defined in globals.c sits on a line calling it.
fn check_calls(bin: &str, funcs: &[&str], callees: &[&str]) {
    let src = source("globals.c");
    let path = fixture(bin);
    let mut seen = std::collections::BTreeSet::new();
    for f in funcs {
        let args = ["show", &path, f, "--line-numbers", "--format", "json"];
        for (callee, loc) in calls(&json_listing(&fixtures_dir(), &args)) {
            let Some(callee) = callees.iter().find(|c| **c == callee) else {
                continue;
            };
            let (file, line) = loc.unwrap_or_else(|| panic!("{bin}: call to {callee}: no line"));
            assert_eq!(file, "./src/globals.c", "{bin}");
            let want = call_lines(&src, callee);
            assert!(
                want.contains(&line),
                "{bin}: call to {callee} attributed to line {line} `{}`, want one of {want:?}",
                src[line as usize - 1]
            );
            seen.insert((callee.to_string(), line));
        }
    }
    for c in callees {
        assert!(
            seen.iter().any(|(s, _)| s == c),
            "{bin}: no call to {c} found"
        );
    }
}

const CALLEES: [&str; 14] = [
    "CreateWidget",
    "make_widget",
    "dispatch",
    "aio_ctx_prepare",
    "case_0",
    "case_1",
    "case_2",
    "case_3",
    "case_4",
    "case_5",
    "case_6",
    "case_7",
    "case_8",
    "case_9",
];

#[test]
fn calls_are_attributed_to_the_source_lines_that_make_them() {
    for bin in [
        "globals-x86_64-gcc-O2-pie.elf",
        "globals-aarch64-gcc-O2.elf",
        // Relocatable, -ffunction-sections: rows relocated to gloss's section layout.
        "globals-aarch64-gcc-O2-g.o",
    ] {
        check_calls(bin, &["make_widget", "dispatch", "main"], &CALLEES);
    }
}

#[test]
fn both_dispatch_calls_in_main_keep_their_own_lines() {
    let src = source("globals.c");
    let want = call_lines(&src, "dispatch");
    assert_eq!(want.len(), 2, "main calls dispatch twice");
    for bin in [
        "globals-x86_64-gcc-O2-pie.elf",
        "globals-aarch64-gcc-O2.elf",
    ] {
        let path = fixture(bin);
        let json = json_listing(
            &fixtures_dir(),
            &["show", &path, "main", "--line-numbers", "--format", "json"],
        );
        let mut got: Vec<u32> = calls(&json)
            .into_iter()
            .filter(|(c, _)| c == "dispatch")
            .map(|(_, l)| l.unwrap().1)
            .collect();
        got.sort();
        assert_eq!(got, want, "{bin}");
    }
}

#[test]
fn dwarf4_compressed_puts_call_is_on_the_puts_line() {
    let src = source("hello.c");
    let path = fixture("hello-x86_64-clang-O2-dwarf4-gz.elf");
    let json = json_listing(
        &fixtures_dir(),
        &["show", &path, "main", "--line-numbers", "--format", "json"],
    );
    let calls = calls(&json);
    for (callee, name) in [("puts@plt", "puts"), ("printf@plt", "printf")] {
        let (_, loc) = calls.iter().find(|(c, _)| c == callee).expect(callee);
        let (file, line) = loc.clone().expect("line");
        assert_eq!(file, "./src/hello.c");
        assert_eq!(vec![line], call_lines(&src, name));
    }
}

/// The text lines (not instruction lines) printed right before the instruction at `addr`.
fn lines_before(listing: &str, addr: u64) -> Vec<&str> {
    let is_insn = |l: &str| {
        let t = l.trim_start();
        l.starts_with("    ")
            && t.split([' ', ':'])
                .next()
                .is_some_and(|a| u64::from_str_radix(a, 16).is_ok())
    };
    let lines: Vec<&str> = listing.lines().collect();
    let key = format!("{addr:x} ");
    let i = lines
        .iter()
        .position(|l| is_insn(l) && l.trim_start().starts_with(&key))
        .unwrap_or_else(|| panic!("no instruction at {addr:#x} in\n{listing}"));
    let mut j = i;
    while j > 0 && !is_insn(lines[j - 1]) {
        j -= 1;
    }
    lines[j..i].to_vec()
}

/// The address of the first instruction of the call to `callee` (its argument setup starts the
/// source line, the call itself need not).
fn first_insn_of_call_line(bin: &str, func: &str, callee: &str) -> (u64, u32) {
    let path = fixture(bin);
    let json = json_listing(
        &fixtures_dir(),
        &["show", &path, func, "--line-numbers", "--format", "json"],
    );
    let line = calls(&json)
        .into_iter()
        .find(|(c, _)| c == callee)
        .and_then(|(_, l)| l)
        .expect("call with a line")
        .1;
    // The first instruction of the line's first run, in address order.
    let insns = json["regions"][0]["insns"].as_array().unwrap();
    let mut prev: Option<u64> = None;
    for i in insns {
        let l = i.get("source").map(|s| s["line"].as_u64().unwrap());
        if l == Some(line as u64) && prev != Some(line as u64) {
            let a = u64::from_str_radix(i["addr"].as_str().unwrap().trim_start_matches("0x"), 16);
            return (a.unwrap(), line);
        }
        prev = l;
    }
    unreachable!()
}

#[test]
fn source_shows_the_text_of_the_line_before_its_instructions() {
    let src = source("globals.c");
    for bin in [
        "globals-x86_64-gcc-O2-pie.elf",
        "globals-aarch64-gcc-O2.elf",
    ] {
        let (addr, line) = first_insn_of_call_line(bin, "make_widget", "CreateWidget");
        let text = &src[line as usize - 1];
        assert!(text.contains("CreateWidget(&c_info"), "{text}");
        let path = fixture(bin);

        // --source: the line's text (after any context lines not shown yet).
        let args = ["show", &path, "make_widget", "--source"];
        let (out, err) = ok(gloss_in(&fixtures_dir(), &args), &args);
        assert!(err.is_empty(), "{err}");
        let before = lines_before(&out, addr);
        assert_eq!(before.last(), Some(&text.as_str()), "{bin}:\n{out}");
        assert!(
            !out.contains("globals.c:"),
            "no file:line without -l:\n{out}"
        );
        // The function's signature is shown as context before its first instruction.
        assert!(out.contains("NOIPA int make_widget(void)"), "{out}");

        // --line-numbers: `file:line` only.
        let args = ["show", &path, "make_widget", "--line-numbers"];
        let (out, _) = ok(gloss_in(&fixtures_dir(), &args), &args);
        assert_eq!(
            lines_before(&out, addr),
            vec![format!("./src/globals.c:{line}")],
            "{bin}:\n{out}"
        );
        assert!(!out.contains(text.as_str()));

        // Both: file:line, then the text.
        let args = ["show", &path, "make_widget", "-S", "-l"];
        let (out, _) = ok(gloss_in(&fixtures_dir(), &args), &args);
        let before = lines_before(&out, addr);
        assert_eq!(
            before.first().copied(),
            Some(format!("./src/globals.c:{line}").as_str())
        );
        assert_eq!(before.last(), Some(&text.as_str()));
    }
}

#[test]
fn unreadable_source_falls_back_to_file_and_line_with_a_note() {
    // From a directory where ./src/globals.c does not exist.
    let dir = std::env::temp_dir();
    assert!(!Path::new(&dir).join("src/globals.c").exists());
    let path = fixture("globals-x86_64-gcc-O2-pie.elf");
    let args = ["show", &path, "make_widget", "--source"];
    let (out, err) = ok(gloss_in(dir.to_str().unwrap(), &args), &args);
    let (addr, line) = first_insn_of_call_line(
        "globals-x86_64-gcc-O2-pie.elf",
        "make_widget",
        "CreateWidget",
    );
    assert_eq!(
        lines_before(&out, addr),
        vec![format!("./src/globals.c:{line}")],
        "{out}"
    );
    assert_eq!(
        err.matches("cannot read source file ./src/globals.c")
            .count(),
        1,
        "one note per file: {err}"
    );
}

/// The split build (fixtures/build.sh: `objcopy --strip-debug` of globals-x86_64-gcc-O2-pie.elf,
/// its DWARF in fixtures/debug/.build-id/NN/REST.debug) is listed with the lines of its
/// separate debug file, found by build-id under `--debug-dir`: the listing equals the
/// original's, and a note names the file. Its calls sit on the source lines that make them.
#[test]
fn a_separate_debug_file_is_found_by_build_id() {
    let split = fixture("lines-x86_64-gcc-O2-split.elf");
    let original = fixture("globals-x86_64-gcc-O2-pie.elf");
    let debug = format!("{}/debug", fixtures_dir());
    for flag in ["--line-numbers", "--source"] {
        let args = ["show", &split, "--all", flag, "--debug-dir", &debug];
        let (out, err) = ok(gloss_in(&fixtures_dir(), &args), &args);
        let want_args = ["show", &original, "--all", flag];
        let (want, _) = ok(gloss_in(&fixtures_dir(), &want_args), &want_args);
        let shown = if flag == "--source" {
            "int id = CreateWidget(&c_info, 1, &widget);"
        } else {
            "./src/globals.c:"
        };
        assert!(out.contains(shown), "{flag}: {out}");
        assert_eq!(out, want, "{flag}");
        assert!(
            err.contains("line information from") && err.contains("/debug/.build-id/"),
            "{err}"
        );
    }
    let src = source("globals.c");
    let owned = [
        split_main_lines(&debug),
        vec!["--format".into(), "json".into()],
    ]
    .concat();
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let found = calls(&json_listing(&fixtures_dir(), &args));
    let (callee, loc) = found
        .iter()
        .find(|(c, _)| c == "aio_ctx_prepare")
        .expect("main calls aio_ctx_prepare");
    let (file, line) = loc.clone().unwrap_or_else(|| panic!("{callee}: no line"));
    assert_eq!(file, "./src/globals.c");
    assert!(call_lines(&src, callee).contains(&line), "line {line}");
}

/// `show` of the split fixture's `main` with line numbers, its debug file looked for in `dir`.
fn split_main_lines(dir: &str) -> Vec<String> {
    let split = fixture("lines-x86_64-gcc-O2-split.elf");
    ["show", &split, "main", "-l", "--debug-dir", dir]
        .map(String::from)
        .to_vec()
}

/// A file at the build-id's path whose own build-id differs (another build's debug file) is
/// not used: its lines would be wrong without a word.
#[test]
fn a_debug_file_of_another_build_is_not_used() {
    let real = std::fs::read_dir(format!("{}/debug/.build-id", fixtures_dir()))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.path())
        .next()
        .expect("the fixture's debug file");
    let n = real.iter().count();
    let relative: std::path::PathBuf = real.iter().skip(n - 3).collect();
    let dir = std::env::temp_dir().join(format!("gloss-debug-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(&relative).parent().unwrap()).unwrap();
    // another build of the same source, with DWARF and a build-id of its own
    std::fs::copy(fixture("globals-aarch64-gcc-O2.elf"), dir.join(&relative)).unwrap();
    let owned = split_main_lines(dir.to_str().unwrap());
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let o = gloss_in(&fixtures_dir(), &args);
    std::fs::remove_dir_all(&dir).unwrap();
    let (out, err) = ok(o, &args);
    assert!(err.contains("no DWARF line information"), "{err}");
    assert!(!out.contains("globals.c:"), "{out}");
}

#[test]
fn no_debug_info_gives_a_note_and_the_plain_listing() {
    let path = fixture("globals-x86_64-gcc-O2-nopie.elf");
    let plain_args = ["show", &path, "make_widget"];
    let (plain, _) = ok(gloss_in(&fixtures_dir(), &plain_args), &plain_args);
    for flag in ["--source", "--line-numbers"] {
        let args = ["show", &path, "make_widget", flag];
        let o = gloss_in(&fixtures_dir(), &args);
        assert_eq!(o.status.code(), Some(0));
        let (out, err) = ok(o, &args);
        assert_eq!(out, plain);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no DWARF line information"), "{err}");
    }
}

#[test]
fn json_has_source_only_when_asked() {
    let path = fixture("globals-x86_64-gcc-O2-pie.elf");
    let args = ["show", &path, "make_widget", "--format", "json"];
    let (out, _) = ok(gloss_in(&fixtures_dir(), &args), &args);
    assert!(!out.contains("\"source\""));
    let json = json_listing(
        &fixtures_dir(),
        &["show", &path, "make_widget", "--source", "--format", "json"],
    );
    let insns = json["regions"][0]["insns"].as_array().unwrap();
    assert!(
        insns
            .iter()
            .all(|i| i["source"]["file"] == "./src/globals.c")
    );
}

#[test]
fn source_flags_conflict_with_raw() {
    let o = gloss_in(
        &fixtures_dir(),
        &["show", "--raw", "--arch", "x86_64", "90", "--source"],
    );
    assert_eq!(o.status.code(), Some(2));
}
