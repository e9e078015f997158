//! The `gloss` command against the committed fixtures. Expected values come from the fixture
//! sources and fixtures/README.md (ground truth of the build), or from the seed documents' own
//! listings; never from gloss's output.
use std::io::Read;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    format!("{}/../../fixtures/bin/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn gloss(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gloss"))
        .args(args)
        .output()
        .expect("run gloss")
}

fn ok_stdout(args: &[&str]) -> String {
    let o = gloss(args);
    assert!(
        o.status.success(),
        "gloss {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// `gloss info --format json` of a file, parsed.
fn info_json(path: &str) -> serde_json::Value {
    serde_json::from_str(&ok_stdout(&["info", path, "--format", "json"])).expect("info JSON")
}

/// The listing line at an address (lines start with the address right-aligned).
fn line_at(listing: &str, addr: u64) -> String {
    let key = format!("{addr:x} ");
    let key2 = format!("{addr:x}:");
    listing
        .lines()
        .find(|l| {
            let t = l.trim_start();
            t.starts_with(&key) || t.starts_with(&key2)
        })
        .unwrap_or_else(|| panic!("no line at {addr:#x} in\n{listing}"))
        .to_string()
}

#[test]
fn seed_aarch64_atomic_loop_reads_as_gdb_printed_it() {
    // shared/seeds/000: gdb's listing of aio_ctx_prepare+32..+44 on AArch64.
    let out = ok_stdout(&[
        "show", "--raw", "--arch", "aarch64", "--base", "0x550e0c", "885ffc01", "32000021",
        "8802fc01", "35ffffa2",
    ]);
    let want = [
        (0x550e0c, "ldaxr  w1, [x0]"),
        (0x550e10, "orr    w1, w1, #0x1"),
        (0x550e14, "stlxr  w2, w1, [x0]"),
        (0x550e18, "cbnz   w2, 0x550e0c"),
    ];
    for (a, text) in want {
        assert!(
            line_at(&out, a).contains(text),
            "{a:#x}: want `{text}` in\n{out}"
        );
    }
}

#[test]
fn seed_x86_lock_or_reads_as_gdb_printed_it() {
    let out = ok_stdout(&[
        "show",
        "--raw",
        "--arch",
        "x86_64",
        "--base",
        "0x55555564beac",
        "f0 83 8f 98 00 00 00 01",
    ]);
    assert!(out.contains("lock orl $0x1,0x98(%rdi)"), "{out}");
    let intel = ok_stdout(&[
        "show",
        "--raw",
        "--arch",
        "x86_64",
        "--syntax",
        "intel",
        "f0838f9800000001",
    ]);
    assert!(
        intel.contains("lock or DWORD PTR [rdi+0x98],0x1"),
        "{intel}"
    );
}

#[test]
fn elf_calls_name_plt_imports_on_both_architectures() {
    // hello.c: main calls puts then printf.
    for bin in [
        "hello-x86_64-gcc-O2-pie.elf",
        "hello-x86_64-gcc-O2-nopie.elf",
        "hello-x86_64-clang-O2.elf",
        "hello-aarch64-gcc-O2.elf",
        "hello-aarch64-clang-O2.elf",
    ] {
        let out = ok_stdout(&["show", &fixture(bin), "main"]);
        let calls: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("call ") || l.contains(" bl "))
            .collect();
        assert!(
            calls.iter().any(|l| l.contains("<puts@plt>")),
            "{bin}: no call of puts@plt in\n{out}"
        );
        assert!(
            calls.iter().any(|l| l.contains("<printf@plt>")),
            "{bin}: no call of printf@plt in\n{out}"
        );
    }
}

#[test]
fn macho_calls_name_stubs() {
    for bin in [
        "hello-x86_64.macho",
        "hello-arm64.macho",
        "hello-arm64-chained.macho",
    ] {
        let out = ok_stdout(&["show", &fixture(bin), "main"]);
        assert!(out.contains("<_puts@stub>"), "{bin}:\n{out}");
    }
}

#[test]
fn rip_relative_operand_names_the_real_global() {
    // fixtures/README.md: globals-x86_64-gcc-O2-pie.elf 0x11d9 is `lea c_info(%rip)`, c_info = 0x4340.
    let out = ok_stdout(&[
        "show",
        &fixture("globals-x86_64-gcc-O2-pie.elf"),
        "make_widget",
    ]);
    let l = line_at(&out, 0x11d9);
    assert!(l.contains("# 0x4340 <c_info>"), "{l}");
}

#[test]
fn adrp_page_is_never_labelled_with_a_nearby_symbol() {
    // The seed article's case: the ARM64 PE's `adrp x0` lands on the page of unrelated_global.
    let out = ok_stdout(&[
        "show",
        &fixture("globals-aarch64-msvc-clang.exe"),
        "make_widget",
    ]);
    let adrps: Vec<&str> = out.lines().filter(|l| l.contains(" adrp ")).collect();
    assert!(!adrps.is_empty(), "{out}");
    for l in adrps {
        assert!(
            !l.contains("unrelated_global") && !l.contains("c_info"),
            "ADRP labelled with a symbol: {l}"
        );
        assert!(
            l.contains(" <."),
            "ADRP page should be labelled by its section: {l}"
        );
    }
}

#[test]
fn pe_imports_and_iat_slots() {
    // globals.c built with -DWIDGET_IMPORT imports CreateWidget and ResetDoodad from widget.dll.
    for bin in [
        "globals-x86_64-msvc-clang.exe",
        "globals-aarch64-msvc-clang.exe",
        "globals-x86_64-mingw.exe",
    ] {
        let v = info_json(&fixture(bin));
        for name in ["CreateWidget", "ResetDoodad"] {
            let imp = v["imports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == name)
                .unwrap_or_else(|| panic!("{bin}: no import {name}"));
            assert_eq!(
                imp["library"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("widget.dll"),
                "{bin}"
            );
            assert!(
                imp["slot"].as_str().unwrap().starts_with("0x14"),
                "{bin}: {imp}"
            );
        }
    }
    // x64: the call through the IAT names the slot.
    let out = ok_stdout(&[
        "show",
        &fixture("globals-x86_64-msvc-clang.exe"),
        "make_widget",
    ]);
    assert!(
        out.lines()
            .any(|l| l.contains("call ") && l.contains("<__imp_CreateWidget>")),
        "{out}"
    );
}

#[test]
fn pe_cfg_load_config_slots() {
    // vcall-*-cfg.exe are linked with /guard:cf and a load config (fixtures/src/loadcfg.c).
    for bin in [
        "vcall-x86_64-msvc-clang-cfg.exe",
        "vcall-aarch64-msvc-clang-cfg.exe",
    ] {
        let v = info_json(&fixture(bin));
        let lc = &v["facts"]["pe"]["load_config"];
        assert!(lc["guard_check_icall_fptr"].is_string(), "{bin}: {lc}");
        assert!(lc["guard_dispatch_icall_fptr"].is_string(), "{bin}: {lc}");
        assert_ne!(lc["guard_flags"].as_u64(), Some(0), "{bin}: {lc}");
        let names: Vec<&str> = v["facts"]["pe"]["dll_characteristics_names"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        assert!(names.contains(&"GUARD_CF"), "{bin}: {names:?}");
    }
    let v = info_json(&fixture("vcall-x86_64-msvc-clang.exe"));
    let names: Vec<&str> = v["facts"]["pe"]["dll_characteristics_names"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(
        !names.contains(&"GUARD_CF"),
        "built without /guard:cf: {names:?}"
    );
}

#[test]
fn elf_facts_follow_the_link_flags() {
    let pie = info_json(&fixture("hello-x86_64-gcc-O2-pie.elf"));
    let nopie = info_json(&fixture("hello-x86_64-gcc-O2-nopie.elf"));
    assert_eq!(pie["facts"]["elf"]["pie"], true);
    assert_eq!(nopie["facts"]["elf"]["pie"], false);
    assert_eq!(nopie["facts"]["elf"]["file_type"], "ET_EXEC");
    assert_eq!(pie["facts"]["elf"]["nx"], true);
    assert!(pie["facts"]["elf"]["build_id"].is_string());
    let o = info_json(&fixture("globals-x86_64-gcc-O2.o"));
    assert_eq!(o["synthetic_layout"], true);
}

#[test]
fn relocatable_object_shows_relocations() {
    // globals.c: make_widget calls CreateWidget; in the .o the call is a relocation.
    let out = ok_stdout(&["show", &fixture("globals-x86_64-gcc-O2.o"), "make_widget"]);
    assert!(
        out.lines()
            .any(|l| l.contains("call ") && l.contains("reloc CreateWidget")),
        "{out}"
    );
}

#[test]
fn data_in_text_is_data_not_instructions() {
    // data_in_text_aarch64.s: lookup_table holds 0x1111, 0x1234, 0xdeadbeef, 0.
    let out = ok_stdout(&["show", &fixture("data_in_text-aarch64.elf"), "lookup_table"]);
    for w in ["0x00001111", "0x00001234", "0xdeadbeef", "0x00000000"] {
        assert!(
            out.lines().any(|l| l.contains(".word") && l.contains(w)),
            "{w} not shown as data in\n{out}"
        );
    }
    assert!(!out.contains("udf"), "table decoded as code:\n{out}");
}

#[test]
fn json_listing_uses_string_addresses() {
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&[
        "show",
        &fixture("hello-aarch64-gcc-O2.elf"),
        "main",
        "--format",
        "json",
    ]))
    .unwrap();
    let r = &v["regions"][0];
    assert_eq!(r["name"], "main");
    let insns = r["insns"].as_array().unwrap();
    assert!(!insns.is_empty());
    assert!(insns[0]["addr"].as_str().unwrap().starts_with("0x"));
    assert!(
        insns
            .iter()
            .any(|i| i["mnemonic"] == "bl" && i["target_label"] == "puts@plt"),
        "{r}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("gloss-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, b"this is not a binary").unwrap();
    let full = std::fs::read(fixture("hello-x86_64-gcc-O2-pie.elf")).unwrap();
    let truncated = dir.join("truncated.elf");
    std::fs::write(&truncated, &full[..100]).unwrap();
    let mut elf32 = full[..64].to_vec();
    elf32[4] = 1; // ELFCLASS32
    elf32[18] = 3; // EM_386
    let elf32_path = dir.join("i386.elf");
    std::fs::write(&elf32_path, &elf32).unwrap();
    let cases = [
        (
            garbage.to_str().unwrap().to_string(),
            "not an ELF, PE or Mach-O",
        ),
        (truncated.to_str().unwrap().to_string(), "malformed ELF"),
        (elf32_path.to_str().unwrap().to_string(), "32-bit ELF"),
        (
            dir.join("missing").to_str().unwrap().to_string(),
            "No such file",
        ),
    ];
    for (path, msg) in cases {
        let o = gloss(&["show", &path]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{path}: {err}");
        assert!(
            err.contains(&path) && err.matches(msg).count() == 1,
            "{path}: want `{msg}` once in: {err}"
        );
    }
    let o = gloss(&[
        "show",
        &fixture("hello-x86_64-gcc-O2-pie.elf"),
        "no_such_function",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_such_function"));
}

#[test]
fn closed_pipe_is_not_an_error() {
    // Each output (about 140 KB or more) is larger than the pipe buffer, so gloss meets the
    // closed pipe; the JSON ones go through serde_json, which wraps the I/O error in its own.
    let exe = fixture("hello-x86_64-mingw.exe");
    for args in [
        &["show", "--all", &exe][..],
        &["show", "--all", "--explain", "--format", "json", &exe],
        &["analyze", "--format", "json", &exe],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gloss"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn macho_data_in_code_jump_table_is_data() {
    // fixtures/README.md: globals-x86_64.macho keeps dispatch's 10 x int32 table at 0x100000838
    // inside __text, described by LC_DATA_IN_CODE (40 bytes).
    let out = ok_stdout(&["show", &fixture("globals-x86_64.macho"), "_dispatch"]);
    for i in 0..10u64 {
        let l = line_at(&out, 0x100000838 + 4 * i);
        assert!(l.contains(".long"), "table entry {i} decoded as code: {l}");
    }
    assert!(
        !line_at(&out, 0x100000836).contains(".long"),
        "code before the table is code"
    );
}

#[test]
fn stripped_listing_names_found_functions_and_shows_tables_in_code_as_data() {
    // fixtures/src/msvc_switch_x64.s, linked without symbols: four switches whose tables
    // (32-bit image-relative entries, and byte index tables for two of them) follow their
    // function in .text.
    let out = ok_stdout(&["show", "--all", &fixture("msvc_switch-x86_64-nosym.exe")]);
    let field = |l: &str, d: &str| {
        let v = l.split(d).nth(1)?.split_whitespace().next()?;
        u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
    };
    // the index tables, as the source writes them, in order
    let bytes: Vec<u64> = out.lines().filter_map(|l| field(l, ".byte ")).collect();
    let sparse = [
        0, 1, 2, 7, 3, 7, 7, 4, 7, 7, 7, 7, 5, 7, 7, 7, 7, 7, 7, 7, 6,
    ];
    let vowel = [
        0, 5, 5, 5, 1, 5, 5, 5, 2, 5, 5, 5, 5, 5, 3, 5, 5, 5, 5, 5, 4, 5, 5, 5, 4,
    ];
    assert_eq!(bytes, [&sparse[..], &vowel[..]].concat(), "{out}");
    // 10 + 8 + 8 + 6 target entries; each leads to an instruction the listing shows
    let longs: Vec<u64> = out.lines().filter_map(|l| field(l, ".long ")).collect();
    assert_eq!(longs.len(), 32, "{out}");
    for rva in longs {
        let l = line_at(&out, 0x1_4000_0000 + rva);
        assert!(
            l.contains("call") || l.contains("add"),
            "entry {rva:#x} leads to {l}"
        );
    }
    // the functions found have headings, and calls name them
    for f in [
        "sub_140001000",
        "sub_1400010a0",
        "sub_140001140",
        "sub_1400011d0",
    ] {
        assert!(out.contains(&format!("<{f}>:\n")), "{f}: {out}");
        assert!(
            out.contains(&format!("call   0x{} <{f}>", &f[4..])),
            "{f}: {out}"
        );
    }
    assert!(!out.contains("(bad)"), "{out}");
}

#[test]
fn stripped_function_by_address_or_found_name_is_that_function() {
    // msvc_switch_x64.s: sw_sparse (at 0x1400010a0 in this link) has 7 cases and a two-level
    // table after its code; sw_low follows it. Without symbols, asking for the address or for
    // gloss's name of it lists that function and its tables, not the rest of .text.
    let file = fixture("msvc_switch-x86_64-nosym.exe");
    let by_addr = ok_stdout(&["show", &file, "0x1400010a0"]);
    let by_name = ok_stdout(&["show", &file, "sub_1400010a0"]);
    assert_eq!(by_addr, by_name);
    assert!(
        by_addr.contains("\n00000001400010a0 <sub_1400010a0>:\n"),
        "{by_addr}"
    );
    assert!(by_addr.contains("switch (ecx): 7 cases"), "{by_addr}");
    let last = by_addr.lines().last().unwrap_or_default();
    assert!(
        last.contains(".byte  0x06"),
        "ends with the index table: {last}"
    );
    assert!(!by_addr.contains("140001140"), "{by_addr}");
    // and `cfg` takes the name as well
    let cfg = |f: &str| ok_stdout(&["cfg", &file, f, "--format", "json"]);
    assert_eq!(cfg("sub_1400010a0"), cfg("0x1400010a0"));
}

#[test]
fn untyped_coff_labels_in_code_are_code() {
    // MinGW's ___chkstk_ms is an assembly routine whose COFF symbol has no function type.
    let out = ok_stdout(&["show", &fixture("hello-x86_64-mingw.exe"), "___chkstk_ms"]);
    assert!(
        !out.contains(".word") && out.contains("push   %rcx"),
        "{out}"
    );
}

/// fixtures/README.md: globals-aarch64-gcc-O2.elf's `dispatch` table is at 0xb28, ten int8
/// entries, target = 0xa18 (the `adr` anchor) + 4 * entry; cases 0..9 (globals.c).
#[test]
fn analyze_reports_the_aarch64_switch_of_dispatch() {
    let out = ok_stdout(&["analyze", &fixture("globals-aarch64-gcc-O2.elf")]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("analyze JSON");
    let f = v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "dispatch")
        .expect("dispatch found");
    let sw = &f["switches"][0];
    assert_eq!(sw["table_addr"], "0xb28");
    assert_eq!(sw["entry_size"], 1);
    assert_eq!(sw["scale"], 2);
    assert_eq!(sw["anchor_kind"], "code");
    assert_eq!(sw["anchor"], "0xa18");
    let values: Vec<i64> = sw["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());
    // functions lists it with its evidence; cfg draws it
    let list = ok_stdout(&["functions", &fixture("globals-aarch64-gcc-O2.elf")]);
    assert!(
        list.lines()
            .any(|l| l.contains(" dispatch ") && l.contains("symbol"))
    );
    // the JSON list: the same function at the address and size analyze reports, no CFG keys
    let json = ok_stdout(&[
        "functions",
        &fixture("globals-aarch64-gcc-O2.elf"),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("functions JSON");
    let d = v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "dispatch")
        .expect("dispatch listed");
    assert_eq!(d["addr"], f["addr"]);
    assert_eq!(d["size"], f["size"]);
    assert!(d.get("blocks").is_none() && d.get("switches").is_none());
    let dot = ok_stdout(&["cfg", &fixture("globals-aarch64-gcc-O2.elf"), "dispatch"]);
    assert!(dot.starts_with("digraph \"dispatch\"") && dot.contains("indirect_resolved"));
}

#[test]
fn cfg_of_unknown_function_exits_2() {
    let o = gloss(&[
        "cfg",
        &fixture("hello-x86_64-gcc-O2-pie.elf"),
        "no_such_function",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_such_function"));
}

#[test]
fn analysis_is_the_same_on_any_number_of_threads() {
    // Traversals run in parallel with -j; the merge is in address order, so the report is
    // byte-identical to the one-thread run.
    for f in [
        "switches-x86_64-gcc-O2-pie.elf",
        "switches-aarch64-clang-O2.elf",
    ] {
        let one = ok_stdout(&["analyze", &fixture(f), "-j", "1"]);
        let many = ok_stdout(&["analyze", &fixture(f), "-j", "4"]);
        assert!(one.contains("\"switches\""), "{f}");
        assert_eq!(one, many, "{f}");
    }
}

/// `analyze`'s JSON carries the idioms (docs/json.md): in globals.c's `make_widget` built
/// with `__declspec(dllimport)` for ARM64, `CreateWidget` is called through its IAT slot with
/// `&c_info` (the symbol, not the page's `unrelated_global`), 1 and a stack slot; `main`'s
/// frame saves the link register; `aio_ctx_prepare`'s atomic is a 32-bit seq_cst fetch_or.
#[test]
fn analyze_json_has_refs_calls_atomics_and_frames() {
    let out = ok_stdout(&[
        "analyze",
        &fixture("globals-aarch64-msvc-clang.exe"),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = |name: &str| {
        v["functions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no function {name}"))
            .clone()
    };
    let mw = f("make_widget");
    let call = mw["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "CreateWidget")
        .expect("a call of CreateWidget");
    assert_eq!(call["kind"], "iat");
    assert_eq!(call["args"][0]["symbol"], "c_info");
    assert_eq!(call["args"][0]["offset"], 0);
    assert_eq!(call["args"][1]["value"], 1);
    assert!(call["args"][2]["expr"].as_str().unwrap().starts_with("sp+"));
    assert!(
        mw["refs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["symbol"] == "c_info" && r["access"] == "address")
    );
    let saved: Vec<&str> = mw["frame"]["saved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reg"].as_str().unwrap())
        .collect();
    assert!(saved.contains(&"x30"), "{saved:?}");
    let at = &f("aio_ctx_prepare")["atomics"][0];
    assert_eq!(
        (&at["op"], &at["width"], &at["order"]),
        (
            &serde_json::json!("fetch_or"),
            &serde_json::json!(32),
            &serde_json::json!("seq_cst")
        )
    );
}

/// vcall-x86_64-gcc-O2.elf has no retpolines (no -mindirect-branch) and does not claim IBT:
/// asked for retpolines it fails, unasked it passes, and the exit status follows --fail-on.
#[test]
fn audit_exit_status_follows_findings_and_fail_on() {
    let plain = fixture("vcall-x86_64-gcc-O2.elf");
    let status = |args: &[&str]| gloss(args).status.code();
    assert_eq!(status(&["audit", &plain]), Some(0));
    assert_eq!(
        status(&["audit", &plain, "--require", "retpoline"]),
        Some(1)
    );
    let none = [
        "audit",
        &plain,
        "--require",
        "retpoline",
        "--fail-on",
        "none",
    ];
    assert_eq!(status(&none), Some(0));
    // partial RELRO is a note: failing on notes fails the unasked audit too
    assert_eq!(status(&["audit", &plain, "--fail-on", "note"]), Some(1));
    let bad = gloss(&["audit", &plain, "--require", "nonsense"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nonsense"));
    let missing = fixture("no-such-file.elf");
    let o = gloss(&["audit", &plain, &missing]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-file.elf"));
}

/// Every rule `--list-rules` prints is documented in docs/rules.md with the same level.
#[test]
fn audit_rules_are_listed_and_documented() {
    let list = ok_stdout(&["audit", "--list-rules", "--format", "json"]);
    let rules: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert!(rules.len() >= 20);
    let doc = std::fs::read_to_string(format!(
        "{}/../../docs/rules.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for r in &rules {
        let row = format!(
            "| `{}` | {} |",
            r["id"].as_str().unwrap(),
            r["level"].as_str().unwrap()
        );
        assert!(doc.contains(&row), "docs/rules.md lacks {row}");
    }
}

/// `-r` finds the binaries under a directory and skips other files; the JSON report has one
/// entry per binary, and `analyze` has the same branches.
#[test]
fn audit_recurses_and_reports_json() {
    let dir = std::env::temp_dir().join(format!("gloss-audit-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(
        fixture("vcall-x86_64-gcc-O2-retpoline.elf"),
        dir.join("sub/a.elf"),
    )
    .unwrap();
    std::fs::copy(fixture("frames-aarch64-gcc-O2-pac.elf"), dir.join("b.elf")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a binary").unwrap();
    let d = dir.to_str().unwrap();
    assert_eq!(
        gloss(&["audit", d]).status.code(),
        Some(2),
        "a directory needs -r"
    );
    let out = ok_stdout(&[
        "audit",
        "-r",
        d,
        "--format",
        "json",
        "--require",
        "retpoline",
        "--fail-on",
        "none",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("b.elf") && names[1].ends_with("sub/a.elf"),
        "{names:?}"
    );
    // the retpolined virtual call of call() (vcall.cpp) is protected
    let a = &files[1];
    let protected: Vec<&serde_json::Value> = a["indirect_branches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["function"] == "call")
        .collect();
    assert_eq!(protected.len(), 1);
    assert_eq!(protected[0]["kind"], "virtual_call");
    assert_eq!(protected[0]["verdict"], "protected");
    assert_eq!(
        protected[0]["protections"],
        serde_json::json!(["retpoline"])
    );
    let analyze: serde_json::Value = serde_json::from_str(&ok_stdout(&[
        "analyze",
        dir.join("sub/a.elf").to_str().unwrap(),
    ]))
    .unwrap();
    let n = analyze["indirect_branches"].as_array().unwrap().len();
    assert_eq!(n, a["indirect_branches"].as_array().unwrap().len());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `audit --format sarif` validates against the OASIS SARIF 2.1.0 schema (tests/data, checked
/// with Python's jsonschema, which scripts/setup.sh installs), and each result carries what
/// GitHub code scanning reads: a rule of the driver, a level, a message, the file with a line
/// region, the instruction's address, the function and a line-hash fingerprint.
#[test]
fn audit_sarif_validates_against_the_sarif_schema() {
    let files = [
        fixture("branches-x86_64-gcc-O2.elf"),
        fixture("branches-aarch64-gcc-O2.elf"),
        fixture("branches-x86_64-msvc-clang-O2.exe"),
        fixture("branches-x86_64-gcc-O2-thunk-extern.o"),
    ];
    let mut args = vec![
        "audit",
        "--format",
        "sarif",
        "--require",
        "retpoline,bti,sls,cfg",
    ];
    args.extend(files.iter().map(String::as_str));
    let o = gloss(&args);
    assert_eq!(o.status.code(), Some(1), "findings: exit 1");
    let log: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema = format!(
        "{}/tests/data/sarif-schema-2.1.0.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let path = std::env::temp_dir().join(format!("gloss-{}.sarif", std::process::id()));
    std::fs::write(&path, &o.stdout).unwrap();
    // the first Python that has jsonschema (Debian's python3-jsonschema, or a pip one)
    let python = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import jsonschema"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("python3 with jsonschema (scripts/setup.sh installs python3-jsonschema)");
    let check = Command::new(python)
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             log = json.load(open(sys.argv[2]))\n\
             errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))\n\
             for e in errors[:5]: print(list(e.path), e.message)\n\
             sys.exit(1 if errors else 0)",
            &schema,
            path.to_str().unwrap(),
        ])
        .output()
        .expect("run python");
    std::fs::remove_file(&path).unwrap();
    assert!(
        check.status.success(),
        "SARIF does not validate: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() > 20);
    let mut uris = std::collections::BTreeSet::new();
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0];
        uris.insert(
            loc["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap(),
        );
        assert!(r["partialFingerprints"]["primaryLocationLineHash"].is_string());
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], 1, "{r}");
        if r["properties"]["address"].is_string() {
            let address = &loc["physicalLocation"]["address"];
            assert!(address["absoluteAddress"].is_u64(), "{r}");
            assert!(r["properties"]["fileOffset"].is_u64(), "{r}");
            assert!(
                loc["logicalLocations"][0]["fullyQualifiedName"].is_string(),
                "{r}"
            );
        }
    }
    assert_eq!(uris.len(), files.len(), "every file has findings");
}

/// `show --audit` puts each indirect branch's verdict on its line: call_ptr's call
/// (fixtures/truth/branches-*.branches: `site ADDR call_ptr call PROTECTION`) is made through
/// the retpoline thunk in the `-thunk` build and with `call *` in the baseline.
#[test]
fn show_audit_marks_each_indirect_branch() {
    let site = |file: &str| -> u64 {
        let truth = std::fs::read_to_string(format!(
            "{}/../../fixtures/truth/{file}.branches",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let line = truth
            .lines()
            .find(|l| l.starts_with("site ") && l.contains(" call_ptr call "))
            .unwrap();
        let at = line.split_whitespace().nth(1).unwrap();
        u64::from_str_radix(at.trim_start_matches("0x"), 16).unwrap()
    };
    for (file, want) in [
        ("branches-x86_64-gcc-O2-thunk.elf", "; protected: retpoline"),
        ("branches-x86_64-gcc-O2.elf", "; UNPROTECTED: no retpoline"),
    ] {
        let path = fixture(file);
        let out = ok_stdout(&[
            "show",
            &path,
            "call_ptr",
            "--audit",
            "--require",
            "retpoline",
        ]);
        let line = line_at(&out, site(file));
        assert!(line.contains(want), "{file}: {line}");
    }
}

#[test]
fn one_function_reads_as_in_the_whole_listing() {
    // `show BIN FUNC` traverses FUNC's callees for their parameters and names the unnamed
    // ones as the whole analysis does: the comments of every fixture's `main` are the whole
    // listing's (52 of 190 differed before: arguments counted without the callees' parameters)
    let dir = format!("{}/../../fixtures/bin", env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| !p.ends_with(".o") && !p.ends_with(".obj"))
        .collect();
    paths.sort();
    for path in paths {
        let one = gloss(&["show", &path, "main"]);
        if one.status.code() != Some(0) {
            continue; // no main
        }
        let one = String::from_utf8(one.stdout).unwrap();
        let all = ok_stdout(&["show", "--all", &path]);
        let whole: std::collections::HashSet<&str> = all.lines().collect();
        let differ: Vec<&str> = one
            .lines()
            .filter(|l| l.contains("; ") && !whole.contains(l))
            .collect();
        assert!(differ.is_empty(), "{path}: {differ:#?}");
        compared += 1;
    }
    assert!(compared >= 150, "only {compared} fixtures with a main");
}

/// hello.c compiled once by mingw-w64 gcc in each COFF layout: the regular one and the
/// big-object one (`-Wa,-mbig-obj`, as MSVC's `/bigobj`: another header, 32-bit section
/// numbers, 20-byte symbol records). Both read as the same object, and hello.c's `main` (after
/// mingw's `__main`) calls `puts` and `printf` through relocations that name them, from its
/// first instruction to its `ret` (GNU as states `main`'s size as 1 in the big object's
/// auxiliary record; the symbol runs to the next instead).
#[test]
fn big_object_coff_reads_as_the_regular_object() {
    let big = fixture("coff-hello-x86_64-mingw-bigobj.obj");
    let listing = ok_stdout(&["show", "--all", &big]);
    let regular = ok_stdout(&["show", "--all", &fixture("coff-hello-x86_64-mingw.obj")]);
    assert_eq!(listing, regular);
    for callee in ["__main", "puts", "printf"] {
        let reloc = format!("# reloc {callee}-0x4");
        assert!(
            listing
                .lines()
                .any(|l| l.contains("call") && l.contains(&reloc)),
            "no call of {callee}:\n{listing}"
        );
    }
    let ret = listing
        .lines()
        .find(|l| l.contains(" ret"))
        .expect("main returns");
    assert!(ret.contains("<main+0x"), "{ret}");
    let info = ok_stdout(&["info", &big]);
    assert!(info.contains("big-object COFF object (x64)"), "{info}");
}
