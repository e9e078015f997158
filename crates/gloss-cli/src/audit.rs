//! `gloss audit`: the files to audit (with `-r`, the binaries under directories), each audited
//! on its own (in parallel with `-j`), the output in file order, and the exit status.
use anyhow::{Result, anyhow};
use gloss::analysis::audit::{Level, Mitigation, RULES};
use gloss::render::{audit as render, sarif};
use rayon::prelude::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, clap::ValueEnum, Default)]
pub enum AuditFormat {
    #[default]
    Text,
    Json,
    Sarif,
}

pub struct Options {
    pub files: Vec<PathBuf>,
    pub recursive: bool,
    pub require: Vec<String>,
    pub format: AuditFormat,
    pub fail_on: String,
}

/// What auditing one file gave: its output, whether it fails the run, or why it could not be
/// audited.
enum FileOut {
    Text(String),
    Json(serde_json::Value),
    Sarif(Vec<serde_json::Value>),
}

struct Audited {
    out: Result<FileOut>,
    failing: bool,
}

/// `--list-rules`.
pub fn list_rules(out: &mut dyn Write, format: AuditFormat) -> Result<()> {
    match format {
        AuditFormat::Text => {
            for r in RULES {
                writeln!(out, "{:<27} {:<7} {}", r.id, r.level.name(), r.help)?;
            }
        }
        AuditFormat::Json | AuditFormat::Sarif => {
            let rules: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "name": r.name, "level": r.level.name(),
                        "short": r.short, "help": r.help,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rules)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `--require`'s mitigation names.
pub fn parse_require(names: &[String]) -> Result<Vec<Mitigation>> {
    names
        .iter()
        .map(|m| {
            Mitigation::parse(m).ok_or_else(|| {
                let all: Vec<_> = Mitigation::ALL.iter().map(|m| m.name()).collect();
                anyhow!(
                    "--require: unknown mitigation `{m}` (use {})",
                    all.join(", ")
                )
            })
        })
        .collect()
}

/// Audits the files and writes the report; the exit status: 0 clean, 1 findings at or above
/// `--fail-on`, 2 a file could not be audited.
pub fn run(out: &mut dyn Write, o: Options) -> Result<u8> {
    let require = parse_require(&o.require)?;
    let fail_on = match o.fail_on.as_str() {
        "none" => None,
        l => Some(Level::parse(l).ok_or_else(|| {
            anyhow!("--fail-on: unknown level `{l}` (use note, warning, error or none)")
        })?),
    };
    let files = collect(&o.files, o.recursive)?;
    let uris: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let results: Vec<Audited> = files
        .par_iter()
        .enumerate()
        .map(|(i, path)| audit_one(i, path, &uris[i], &require, o.format, fail_on))
        .collect();
    let mut status = 0u8;
    let mut jsons = Vec::new();
    let mut sarifs = Vec::new();
    for (r, uri) in results.into_iter().zip(&uris) {
        if r.failing {
            status = status.max(1);
        }
        match r.out {
            Ok(FileOut::Text(t)) => out.write_all(t.as_bytes())?,
            Ok(FileOut::Json(v)) => jsons.push(v),
            Ok(FileOut::Sarif(v)) => sarifs.extend(v),
            Err(e) => {
                eprintln!("gloss: {uri}: {e}");
                status = 2;
            }
        }
    }
    match o.format {
        AuditFormat::Text => {}
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "files": jsons }))?;
            writeln!(out)?;
        }
        AuditFormat::Sarif => {
            let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
            let log = sarif::log(&uris, sarifs, env!("CARGO_PKG_VERSION"));
            serde_json::to_writer_pretty(&mut *out, &log)?;
            writeln!(out)?;
        }
    }
    Ok(status)
}

fn audit_one(
    index: usize,
    path: &Path,
    uri: &str,
    require: &[Mitigation],
    format: AuditFormat,
    fail_on: Option<Level>,
) -> Audited {
    let image = match gloss::open(path) {
        Ok(i) => i,
        Err(e) => {
            return Audited {
                out: Err(e.into()),
                failing: false,
            };
        }
    };
    let (analysis, notes) = gloss::analyze(&image);
    for n in notes {
        eprintln!("gloss: note: {uri}: {n}");
    }
    // only the idioms the audit reads
    let dis = gloss::disassembler(image.arch);
    let explained = gloss::analysis::audit::explain(&image, dis, &analysis);
    let audit = gloss::audit(&image, &analysis, &explained, require);
    let failing = fail_on.is_some_and(|l| audit.findings.iter().any(|f| f.level >= l));
    let out = match format {
        AuditFormat::Text => {
            FileOut::Text(render::text(uri, &image, &analysis, &audit, Level::Note))
        }
        AuditFormat::Json => FileOut::Json(
            serde_json::to_value(render::audit_out(uri, &image, &analysis, &audit))
                .expect("plain data serializes"),
        ),
        AuditFormat::Sarif => FileOut::Sarif(sarif::results(
            index,
            &sarif::Audited {
                uri,
                image: &image,
                analysis: &analysis,
                audit: &audit,
            },
        )),
    };
    Audited {
        out: Ok(out),
        failing,
    }
}

/// The files to audit: those named, and with `recursive` the ELF, PE and Mach-O files under
/// the directories named (not following symbolic links), in path order.
fn collect(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            if !recursive {
                return Err(anyhow!("{}: is a directory (use -r)", p.display()));
            }
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        let path = e.path();
        if t.is_dir() {
            walk(&path, out)?;
        } else if t.is_file() && is_binary(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// ELF, PE (`MZ`) or Mach-O (thin or fat) by the first bytes.
fn is_binary(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok()
        && (magic == *b"\x7fELF"
            || magic[..2] == *b"MZ"
            || matches!(
                u32::from_be_bytes(magic),
                0xfeed_facf | 0xcffa_edfe | 0xcafe_babe | 0xbeba_feca
            ))
}
