//! SARIF 2.1.0 (OASIS) for `gloss audit --format sarif`: one run, the rules of
//! [`RULES`] as the driver's rules, a result per finding. A binary has no source lines, and
//! GitHub code scanning shows only line regions: a result's region is line 1 of the file, the
//! instruction is the physical location's `address` (`func+0x1c`), the function its logical
//! location, and `properties` has the address and its file offset.
use gloss_analysis::audit::{Audit, Finding, RULES};
use gloss_analysis::discover::Analysis;
use gloss_core::Image;
use serde_json::{Value, json};

/// One audited file: its URI as the log names it (a relative path), and what was found.
pub struct Audited<'a> {
    pub uri: &'a str,
    pub image: &'a Image,
    pub analysis: &'a Analysis,
    pub audit: &'a Audit,
}

/// The results of one file, the `index`th artifact of the log (made as each file is audited,
/// so that its analysis can be dropped before the next).
pub fn results(index: usize, a: &Audited) -> Vec<Value> {
    a.audit
        .findings
        .iter()
        .map(|f| result(index, a, f))
        .collect()
}

/// The file offset of a loaded address, when a section with file bytes holds it.
fn file_offset(image: &Image, addr: u64) -> Option<u64> {
    let s = image.section_at(addr)?;
    Some(s.file_offset? + (addr - s.addr.0))
}

/// FNV-1a: a stable fingerprint that needs no dependency.
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn result(index: usize, a: &Audited, f: &Finding) -> Value {
    let rule = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
    let function = f
        .function
        .map(|addr| crate::audit::name_of(a.image, a.analysis, addr));
    // GitHub code scanning shows only line-based regions: a binary's findings are on line 1,
    // and the instruction is the physical location's `address`
    let mut physical = json!({
        "artifactLocation": { "uri": a.uri, "index": index },
        "region": { "startLine": 1 },
    });
    if let Some(at) = f.at {
        let mut address = json!({ "absoluteAddress": at, "kind": "instruction" });
        if let (Some(name), Some(func)) = (&function, f.function) {
            address["fullyQualifiedName"] = json!(format!("{name}+{:#x}", at.wrapping_sub(func)));
        }
        physical["address"] = address;
    }
    let mut location = json!({ "physicalLocation": physical });
    if let Some(name) = &function {
        location["logicalLocations"] =
            json!([{ "fullyQualifiedName": name, "name": name, "kind": "function" }]);
    }
    // stable across rebuilds that move code: the rule, the function and the offset in it
    let key = match (f.at, f.function) {
        (Some(at), Some(func)) => format!(
            "{}:{}:{:#x}",
            f.rule,
            function.as_deref().unwrap_or(""),
            at.wrapping_sub(func)
        ),
        (Some(at), None) => format!("{}:{at:#x}", f.rule),
        _ => f.rule.to_string(),
    };
    let hash = fnv(&format!("{}:{key}", a.uri));
    let mut r = json!({
        "ruleId": f.rule,
        "ruleIndex": rule,
        "level": f.level.name(),
        "message": { "text": f.message },
        "locations": [location],
        // GitHub reads primaryLocationLineHash (`hash:occurrence`) to follow an alert
        "partialFingerprints": {
            "glossFinding/v1": hash,
            "primaryLocationLineHash": format!("{hash}:1"),
        },
    });
    if let Some(at) = f.at {
        let mut props = json!({ "address": format!("{at:#x}") });
        if let Some(off) = file_offset(a.image, at) {
            props["fileOffset"] = json!(off);
        }
        r["properties"] = props;
    }
    r
}

/// The SARIF log of the audits of the files at `uris` (in artifact order), with their
/// [`results`].
pub fn log(uris: &[&str], results: Vec<Value>, version: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.short },
                "fullDescription": { "text": r.help },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": r.level.name() },
                "properties": { "tags": ["security"] },
            })
        })
        .collect();
    let artifacts: Vec<Value> = uris
        .iter()
        .map(|uri| json!({ "location": { "uri": uri } }))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "gloss",
                "semanticVersion": version,
                "rules": rules,
            }},
            "artifacts": artifacts,
            "results": results,
        }],
    })
}
