#![no_main]
//! The whole pipeline on arbitrary files: load, then (when it loads) functions, CFGs, jump
//! tables, the idioms and the audit with every mitigation required. Never a panic or a hang.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(image) = gloss::load(data.to_vec()) else {
        return;
    };
    let (analysis, _) = gloss::analyze(&image);
    let explained = gloss::explain(&image, &analysis);
    let all = gloss::analysis::audit::Mitigation::ALL;
    let audit = gloss::audit(&image, &analysis, &explained, &all);
    std::hint::black_box(audit.branches.len() + audit.findings.len());
});
