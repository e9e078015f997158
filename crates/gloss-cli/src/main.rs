//! The `gloss` command. Only this crate prints, reads the environment or exits.
//! Exit status: 0 success, 2 error (bad input, unknown symbol), 1 reserved for audit findings.

mod raw_input;

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand, ValueEnum};
use gloss::render::listing::{self, ListingOptions};
use gloss::{Arch, Image, Selection, Syntax};
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
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum OutFormat {
    #[default]
    Text,
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`gloss show ... | head`) is the reader's choice, not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
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

fn run(cli: Cli) -> Result<()> {
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
        } => {
            let (image, sel) = if raw {
                let arch = arch
                    .as_deref()
                    .ok_or_else(|| anyhow!("--raw needs --arch x86_64|aarch64"))?;
                let arch = Arch::parse(arch).ok_or_else(|| {
                    anyhow!("unknown architecture `{arch}` (use x86_64 or aarch64)")
                })?;
                let base = raw_input::parse_addr(&base)
                    .ok_or_else(|| anyhow!("--base: `{base}` is not an address"))?;
                let mut args = vec![file];
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
            let regions = gloss::select(&image, &sel).with_context(|| file_label(&image))?;
            let dis = gloss::disassembler(image.arch);
            let opts = ListingOptions {
                syntax: match syntax {
                    SyntaxArg::Att => Syntax::Att,
                    SyntaxArg::Intel => Syntax::Intel,
                },
                show_bytes: !no_bytes,
            };
            match format {
                OutFormat::Text => listing::write_text(&mut out, &image, dis, &regions, opts)?,
                OutFormat::Json => listing::write_json(&mut out, &image, dis, &regions, opts)?,
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn file_label(image: &Image) -> String {
    image.kind.clone()
}
