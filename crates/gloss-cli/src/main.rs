//! The `gloss` command. Only this crate prints, reads the environment or exits.
//! Exit status: 0 success, 2 error (bad input, unknown symbol), 1 audit findings.

mod audit;
mod raw_input;

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand, ValueEnum};
use gloss::render::analysis as render;
use gloss::render::listing::{self, ListingOptions, SourceOptions};
use gloss::{Arch, Image, Selection, SourceFile, SourceLines, Syntax};
use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gloss",
    version,
    about = "Readable, auditable x86-64 and AArch64 machine code"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Threads for the analysis (function traversal): 1 by default, 0 for every core.
    #[arg(short = 'j', long = "jobs", global = true, default_value_t = 1)]
    jobs: usize,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum OutFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum GraphFormat {
    #[default]
    Dot,
    Json,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum SyntaxArg {
    #[default]
    Att,
    Intel,
}

#[derive(Subcommand)]
enum Cmd {
    /// Format, architecture, entry, sections, segments, symbols, imports and hardening claims.
    Info {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: OutFormat,
    },
    /// Every function: address, size, name and the evidence that it starts there.
    Functions {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: OutFormat,
    },
    /// One function's basic blocks and typed edges (DOT for Graphviz, or JSON).
    Cfg {
        file: PathBuf,
        /// Function name or 0xADDR.
        function: String,
        #[arg(long, value_enum, default_value_t)]
        format: GraphFormat,
    },
    /// The machine-readable report: functions, blocks, edges, switches, unresolved jumps.
    Analyze {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutFormat::Json)]
        format: OutFormat,
    },
    /// Symbolized disassembly of one function (name, demangled name or 0xADDR) or of everything.
    ///
    /// With --raw, the arguments are hex bytes (`55 48 89 e5` or `554889e5`; for aarch64 also
    /// 8-digit instruction words as objdump and gdb print them, `885ffc01`) or one file of bytes.
    Show {
        /// The binary (or, with --raw, hex bytes / a file of bytes).
        file: String,
        /// Function name or 0xADDR; omit (or use --all) to list every code section.
        what: Vec<String>,
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        syntax: SyntaxArg,
        #[arg(long, value_enum, default_value_t)]
        format: OutFormat,
        /// Do not print instruction bytes.
        #[arg(long)]
        no_bytes: bool,
        /// Decode bare bytes with no container (needs --arch).
        #[arg(long)]
        raw: bool,
        #[arg(long, requires = "raw")]
        arch: Option<String>,
        /// Address of the first raw byte (hex with 0x, or decimal).
        #[arg(long, requires = "raw", default_value = "0")]
        base: String,
        /// Interleave source lines from DWARF line tables, like `objdump -S` (source files are
        /// looked up under the compilation directory, then the current directory).
        #[arg(short = 'S', long, conflicts_with = "raw")]
        source: bool,
        /// Show `file:line` from DWARF line tables where the line changes, like `objdump -l`.
        #[arg(short = 'l', long, conflicts_with = "raw")]
        line_numbers: bool,
        /// Where to look for a stripped ELF file's separate debug file, before /usr/lib/debug
        /// (by build-id: DIR/.build-id/NN/REST.debug; by .gnu_debuglink: next to the binary,
        /// in its .debug/, and DIR/<the binary's directory>/), for -S and -l. Repeatable.
        #[arg(long = "debug-dir", value_name = "DIR", conflicts_with = "raw")]
        debug_dirs: Vec<std::path::PathBuf>,
        /// List instructions only: no switch, case and unresolved-jump notes (skips the
        /// function and control-flow analysis, like objdump).
        #[arg(long)]
        no_analysis: bool,
        /// Before each function's code, a line per idiom found in it (address, import and
        /// virtual calls, Control Flow Guard, switches): the function in brief.
        #[arg(long, conflicts_with = "no_analysis")]
        explain: bool,
        /// On each indirect call, jump and return, its audit verdict and protections (`;
        /// protected: retpoline`, `; UNPROTECTED: no sls`): see `gloss audit`. Runs the whole
        /// analysis.
        #[arg(long, conflicts_with = "no_analysis")]
        audit: bool,
        /// With --audit: mitigations to check besides those the binary claims (as `gloss audit
        /// --require`).
        #[arg(long, value_delimiter = ',', requires = "audit")]
        require: Vec<String>,
    },
    /// Every indirect call, indirect jump and return checked against retpoline, return thunks,
    /// IBT/BTI, PAC, SLS hardening and Control Flow Guard, and the hardening flags.
    ///
    /// The mitigations the binary claims (IBT or BTI property, PE GUARD_CF) are always checked;
    /// --require adds others. Exit status: 0 no finding at or above --fail-on, 1 findings, 2 a
    /// file could not be audited. Rules: docs/rules.md, or --list-rules.
    Audit {
        /// Binaries, and with -r directories.
        #[arg(required_unless_present = "list_rules")]
        files: Vec<PathBuf>,
        /// Audit the ELF, PE and Mach-O files under the directories given.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Mitigations to check, comma-separated: retpoline, rethunk, ibt, bti, pac, sls, cfg.
        #[arg(long, value_delimiter = ',')]
        require: Vec<String>,
        #[arg(long, value_enum, default_value_t)]
        format: audit::AuditFormat,
        /// Exit 1 when a finding is at this level or above: note, warning, error, or none.
        #[arg(long, default_value = "error")]
        fail_on: String,
        /// Print the rules (id, default level, description) and exit.
        #[arg(long)]
        list_rules: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            // A closed pipe (`gloss show ... | head`) is the reader's choice, not an error.
            // serde_json wraps the I/O error of its writer in its own.
            if e.chain().any(|c| {
                let kind = c.downcast_ref::<io::Error>().map(io::Error::kind);
                let kind = kind.or_else(|| {
                    c.downcast_ref::<serde_json::Error>()
                        .and_then(serde_json::Error::io_error_kind)
                });
                kind == Some(io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(io::stderr(), "gloss: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn open(path: &Path) -> Result<Image> {
    gloss::open(path).with_context(|| path.display().to_string())
}

/// Runs the command; the exit status (non-zero only from `audit`'s findings).
fn run(cli: Cli) -> Result<u8> {
    gloss::set_threads(cli.jobs);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match cli.cmd {
        Cmd::Info { file, format } => {
            let image = open(&file)?;
            let name = file.display().to_string();
            let info = gloss::render::info::info(&name, &image);
            match format {
                OutFormat::Text => out.write_all(gloss::render::info::text(&info).as_bytes())?,
                OutFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &info)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Cmd::Functions { file, format } => {
            let image = open(&file)?;
            let analysis = analyze(&image, &file);
            match format {
                OutFormat::Text => out.write_all(render::functions_text(&analysis).as_bytes())?,
                OutFormat::Json => {
                    let name = file.display().to_string();
                    let report = render::report(&name, &image, &analysis);
                    serde_json::to_writer_pretty(&mut out, &report)?;
                    out.write_all(b"\n")?;
                    leave(report);
                }
            }
            leave((image, analysis));
        }
        Cmd::Cfg {
            file,
            function,
            format,
        } => {
            let image = open(&file)?;
            let analysis = analyze(&image, &file);
            let addr = match gloss::Selection::parse(&function) {
                Selection::Addr(a) => a,
                Selection::Name(n) => gloss::name_addr(&image, &n)
                    .ok_or_else(|| anyhow!("{}: no symbol named `{n}`", file.display()))?,
                Selection::All => unreachable!("parse never returns All"),
            };
            let f = analysis
                .function(addr)
                .ok_or_else(|| anyhow!("{}: no function starts at {addr:#x}", file.display()))?;
            match format {
                GraphFormat::Dot => out.write_all(render::cfg_dot(f).as_bytes())?,
                GraphFormat::Json => {
                    let code = gloss::analysis::code::CodeMap::new(&image);
                    let e = gloss::analysis::idiom::explain(
                        &image,
                        gloss::disassembler(image.arch),
                        &code,
                        f.addr,
                        &f.blocks,
                    );
                    let mut json = Vec::new();
                    render::write_function_json(
                        &mut json,
                        &render::function_out(&image, f, &e),
                        0,
                    )?;
                    json.push(b'\n');
                    out.write_all(&json)?;
                }
            }
        }
        Cmd::Analyze { file, format } => {
            let image = open(&file)?;
            let analysis = analyze(&image, &file);
            let name = file.display().to_string();
            match format {
                OutFormat::Json => {
                    let explained = gloss::explain(&image, &analysis);
                    let audit = gloss::audit(&image, &analysis, &explained, &[]);
                    let head = render::ReportHeadOut::of(&name, &image);
                    let tail = render::ReportTailOut {
                        indirect_branches: audit
                            .branches
                            .iter()
                            .map(|b| gloss::render::audit::branch_out(&image, &analysis, b))
                            .collect(),
                        findings: audit
                            .findings
                            .iter()
                            .map(|f| gloss::render::audit::finding_out(&image, &analysis, f))
                            .collect(),
                    };
                    let mut e = explained.iter();
                    let functions = analysis.functions.iter().map(|f| {
                        let e = e.next().expect("one per function");
                        render::function_out(&image, f, e)
                    });
                    render::write_analysis_json(&mut out, &head, functions, &tail)?;
                    out.write_all(b"\n")?;
                    leave(tail);
                    leave((audit, explained));
                }
                OutFormat::Text => out.write_all(render::functions_text(&analysis).as_bytes())?,
            }
            leave((image, analysis));
        }
        Cmd::Audit {
            files,
            recursive,
            require,
            format,
            fail_on,
            list_rules,
        } => {
            if list_rules {
                audit::list_rules(&mut out, format)?;
            } else {
                let options = audit::Options {
                    files,
                    recursive,
                    require,
                    format,
                    fail_on,
                };
                let status = audit::run(&mut out, options)?;
                out.flush()?;
                return Ok(status);
            }
        }
        Cmd::Show {
            file,
            what,
            all,
            syntax,
            format,
            no_bytes,
            raw,
            arch,
            base,
            source,
            line_numbers,
            debug_dirs,
            no_analysis,
            explain,
            audit,
            require,
        } => {
            let (mut image, sel) = if raw {
                let arch = arch
                    .as_deref()
                    .ok_or_else(|| anyhow!("--raw needs --arch x86_64|aarch64"))?;
                let arch = Arch::parse(arch).ok_or_else(|| {
                    anyhow!("unknown architecture `{arch}` (use x86_64 or aarch64)")
                })?;
                let base = raw_input::parse_addr(&base)
                    .ok_or_else(|| anyhow!("--base: `{base}` is not an address"))?;
                let mut args = vec![file.clone()];
                args.extend(what);
                let bytes = raw_input::bytes(&args, arch)?;
                (gloss::load_raw(bytes, arch, base), Selection::All)
            } else {
                let image = open(Path::new(&file))?;
                let sel = match (what.as_slice(), all) {
                    ([], _) | (_, true) => Selection::All,
                    ([w], false) => Selection::parse(w),
                    _ => return Err(anyhow!("give one function name or address (or --all)")),
                };
                (image, sel)
            };
            let mut regions = gloss::select(&image, &sel).with_context(|| file_label(&image))?;
            let dis = gloss::disassembler(image.arch);
            let opts = ListingOptions {
                syntax: match syntax {
                    SyntaxArg::Att => Syntax::Att,
                    SyntaxArg::Intel => Syntax::Intel,
                },
                show_bytes: !no_bytes,
            };
            let lines = if source || line_numbers {
                load_source_lines(&image, &file, &debug_dirs)?
            } else {
                None
            };
            let unreadable = RefCell::new(Vec::new());
            let read = |f: &SourceFile| {
                let text = read_source(f);
                if text.is_none() {
                    unreadable.borrow_mut().push(f.path());
                }
                text
            };
            let src = lines.as_ref().map(|lines| SourceOptions {
                lines,
                line_numbers,
                text: source,
                read: &read,
            });
            let require = audit.then(|| audit::parse_require(&require)).transpose()?;
            let notes = (!no_analysis).then(|| {
                let whole = matches!(sel, Selection::All);
                let (notes, problems) = gloss::annotations(
                    &mut image,
                    &mut regions,
                    whole,
                    explain,
                    require.as_deref(),
                );
                for p in problems {
                    eprintln!("gloss: note: {file}: {p}");
                }
                notes
            });
            let owned_notes = notes;
            let (src, notes) = (src.as_ref(), owned_notes.as_ref());
            match format {
                OutFormat::Text => {
                    listing::write_text(&mut out, &image, dis, &regions, opts, src, notes)?
                }
                OutFormat::Json => {
                    listing::write_json(&mut out, &image, dis, &regions, opts, src, notes)?
                }
            }
            out.flush()?;
            for path in unreadable.borrow().iter() {
                eprintln!("gloss: note: cannot read source file {path}; showing file:line only");
            }
            leave((owned_notes, regions, image));
        }
    }
    out.flush()?;
    Ok(0)
}

/// Leaves a large result to the process's exit instead of freeing it piece by piece once the
/// output is written: the names, blocks and comments of a large binary are millions of
/// allocations (freeing the listing's comments alone took 6% of `show --all` on libLLVM).
fn leave<T>(v: T) {
    std::mem::forget(v);
}

/// Functions and CFGs; notes about unreadable hint tables go to stderr.
fn analyze(image: &Image, file: &Path) -> gloss::analysis::discover::Analysis {
    let (analysis, notes) = gloss::analyze(image);
    for n in notes {
        eprintln!("gloss: note: {}: {n}", file.display());
    }
    analysis
}

/// The image's DWARF line tables, or its separate debug file's (named in a note on stderr);
/// `None` (with a note) when neither has any.
fn load_source_lines(
    image: &Image,
    file: &str,
    debug_dirs: &[std::path::PathBuf],
) -> Result<Option<SourceLines>> {
    let lines = gloss::line_tables(image, std::path::Path::new(file), debug_dirs)
        .with_context(|| format!("{file}: source lines"))?;
    match lines {
        Some((l, from)) => {
            if let Some(debug) = from {
                eprintln!(
                    "gloss: note: {file}: line information from {}",
                    debug.display()
                );
            }
            Ok(Some(l))
        }
        None => {
            eprintln!("gloss: note: {file} has no DWARF line information; listing without source");
            Ok(None)
        }
    }
}

/// A source file's text: the path under its compilation directory, else the line table's own
/// name relative to the current directory.
fn read_source(f: &SourceFile) -> Option<String> {
    let path = f.path();
    let mut tries = vec![path.as_str()];
    if f.name != path {
        tries.push(&f.name);
    }
    tries
        .into_iter()
        .find_map(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn file_label(image: &Image) -> String {
    image.kind.clone()
}
