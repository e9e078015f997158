//! Function starts stated by unwind and function-start tables, read on demand (the listing does
//! not need them): ELF/Mach-O `.eh_frame` FDEs, PE `.pdata` (x64 RUNTIME_FUNCTION, ARM64 packed
//! and unpacked), Mach-O `LC_FUNCTION_STARTS`. A malformed table yields the entries read before
//! the damage plus a note naming where it stopped: hints are evidence, not a reason to fail.
use crate::macho::fat_slice;
use gimli::{BaseAddresses, CieOrFde, EhFrame, LittleEndian, UnwindSection};
use gloss_core::{Addr, Format, FunctionHint, HintSource, Image};
use object::read::macho::{MachHeader, MachOFile64};
use object::read::pe::PeFile64;
use object::{Endianness, LittleEndian as LE, pe as p};

/// Hints and the problems met while reading them.
#[derive(Default, Debug)]
pub struct Hints {
    pub hints: Vec<FunctionHint>,
    pub notes: Vec<String>,
}

pub fn function_hints(image: &Image) -> Hints {
    let mut out = Hints::default();
    if image.synthetic_layout {
        return out; // relocatable: FDE addresses are relocations, and symbols are complete
    }
    match image.format {
        Format::Elf => eh_frame(image, ".eh_frame", &mut out),
        Format::MachO => {
            eh_frame(image, "__eh_frame", &mut out);
            function_starts(image, &mut out);
        }
        Format::Pe => pdata(image, &mut out),
        Format::Raw => {}
    }
    out.hints.sort_by_key(|h| (h.addr, h.source));
    out
}

fn eh_frame(image: &Image, name: &str, out: &mut Hints) {
    let Some(sec) = image.sections.iter().find(|s| s.name == name) else {
        return;
    };
    let data = image.loaded_bytes(sec);
    let addr_of = |n: &str| {
        image
            .sections
            .iter()
            .find(|s| s.name == n)
            .map(|s| s.addr.0)
    };
    let mut bases = BaseAddresses::default().set_eh_frame(sec.addr.0);
    if let Some(t) = addr_of(".text").or_else(|| addr_of("__text")) {
        bases = bases.set_text(t);
    }
    if let Some(g) = addr_of(".got") {
        bases = bases.set_got(g);
    }
    let mut eh = EhFrame::new(data, LittleEndian);
    eh.set_address_size(8);
    let mut entries = eh.entries(&bases);
    loop {
        match entries.next() {
            Ok(None) => break,
            Ok(Some(CieOrFde::Cie(_))) => {}
            Ok(Some(CieOrFde::Fde(partial))) => {
                match partial.parse(|s, b, o| s.cie_from_offset(b, o)) {
                    Ok(fde) if fde.len() > 0 => out.hints.push(FunctionHint {
                        addr: Addr(fde.initial_address()),
                        size: Some(fde.len()),
                        source: HintSource::EhFrame,
                        fragment: !at_call_entry(&eh, &bases, &fde),
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        out.notes.push(format!("{name}: bad FDE ({e}), skipped"));
                    }
                }
            }
            Err(e) => {
                out.notes.push(format!(
                    "{name}: unreadable after {} FDEs ({e})",
                    out.hints.len()
                ));
                break;
            }
        }
    }
}

/// Whether an FDE's range begins where a call lands: its first row is the CIE's initial state
/// (the CFA and return address as a call leaves them, every other register unchanged). A
/// compiler opens an FDE at a function's entry, so its first row is that state; gcc's `.cold`
/// parts (and other split-off parts) begin inside their parent's frame, so their FDE first
/// states the frame the parent set up (`DW_CFA_def_cfa_offset 48`, saved registers) before any
/// location advance. Code that no call reaches says so too: the first frame of a thread that
/// `clone` starts marks its return address undefined (so does `_start`, which the entry point
/// names anyway), and a signal trampoline's FDE is flagged `S` (by convention it begins a byte
/// before the trampoline, for unwinders that look up the return address - 1). An FDE that does
/// not begin where a call lands is a fragment, not a function start.
fn at_call_entry<R: gimli::Reader>(
    eh: &EhFrame<R>,
    bases: &BaseAddresses,
    fde: &gimli::FrameDescriptionEntry<R>,
) -> bool {
    use gimli::CallFrameInstruction as I;
    if fde.cie().is_signal_trampoline() {
        return false;
    }
    let mut insns = fde.instructions(eh, bases);
    while let Ok(Some(i)) = insns.next() {
        match i {
            I::AdvanceLoc { .. } | I::SetLoc { .. } => return true,
            // no change to the row: the state is still the CIE's
            I::Nop | I::ArgsSize { .. } | I::RememberState | I::Restore { .. } => {}
            _ => return false,
        }
    }
    true
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn pdata(image: &Image, out: &mut Hints) {
    let Ok(file) = PeFile64::parse(image.bytes()) else {
        return;
    };
    let Some(dir) = file.data_directory(p::IMAGE_DIRECTORY_ENTRY_EXCEPTION) else {
        return;
    };
    let base = file.nt_headers().optional_header.image_base.get(LE);
    let (rva, size) = (dir.virtual_address.get(LE), dir.size.get(LE));
    let Some(table) = image.read_at(base + rva as u64, size as usize) else {
        out.notes.push(format!(
            ".pdata: table at RVA {rva:#x} (+{size:#x}) lies outside the file"
        ));
        return;
    };
    let arm64 = image.arch == gloss_core::Arch::Aarch64;
    let entry = if arm64 { 8 } else { 12 };
    for e in table.chunks_exact(entry) {
        let begin = u32_at(e, 0).unwrap_or(0);
        let (len, fragment) = if arm64 {
            let unwind = u32_at(e, 4).unwrap_or(0);
            match unwind & 3 {
                // .xdata record: function length in words in bits 0..18 of its first word
                0 => match image.read_at(base + unwind as u64, 4) {
                    Some(x) => (
                        Some((u32_at(x, 0).unwrap_or(0) & 0x3ffff) as u64 * 4),
                        false,
                    ),
                    None => (None, false),
                },
                // packed: length in words in bits 2..13; flag 2 is a fragment without prologue
                flag => (Some(((unwind >> 2) & 0x7ff) as u64 * 4), flag == 2),
            }
        } else {
            let end = u32_at(e, 4).unwrap_or(0);
            let unwind = u32_at(e, 8).unwrap_or(0);
            // UNWIND_INFO flags live in the top 5 bits of its first byte; CHAININFO (4) marks a
            // part of a function whose unwind continues in a parent entry.
            let chained = image
                .read_at(base + (unwind & !1) as u64, 1)
                .is_some_and(|b| (b[0] >> 3) & 4 != 0);
            (Some(end.saturating_sub(begin) as u64), chained)
        };
        if begin == 0 {
            continue;
        }
        out.hints.push(FunctionHint {
            addr: Addr(base + begin as u64),
            size: len,
            source: HintSource::Pdata,
            fragment,
        });
    }
}

fn function_starts(image: &Image, out: &mut Hints) {
    let bytes = image.bytes();
    let Ok(range) = (if object::FileKind::parse(bytes).is_ok_and(|k| {
        matches!(
            k,
            object::FileKind::MachOFat32 | object::FileKind::MachOFat64
        )
    }) {
        fat_slice(bytes)
    } else {
        Ok(0..bytes.len())
    }) else {
        return;
    };
    let Some(data) = bytes.get(range) else {
        return;
    };
    let Ok(file) = MachOFile64::<Endianness>::parse(data) else {
        return;
    };
    let endian = file.endian();
    let Some(text) = image.segments.iter().find(|s| s.name == "__TEXT") else {
        return;
    };
    let Ok(mut cmds) = file.macho_header().load_commands(endian, data, 0) else {
        return;
    };
    while let Ok(Some(cmd)) = cmds.next() {
        if cmd.cmd() != object::macho::LC_FUNCTION_STARTS {
            continue;
        }
        let Ok(lc) = cmd.data::<object::macho::LinkeditDataCommand<Endianness>>() else {
            continue;
        };
        let Ok(starts) = lc.function_starts(endian, data, text.addr.0) else {
            out.notes
                .push("LC_FUNCTION_STARTS: data outside the file".into());
            continue;
        };
        for a in starts {
            match a {
                Ok(a) => out.hints.push(FunctionHint {
                    addr: Addr(a),
                    size: None,
                    source: HintSource::FunctionStarts,
                    fragment: false,
                }),
                Err(e) => {
                    out.notes.push(format!("LC_FUNCTION_STARTS: {e}"));
                    break;
                }
            }
        }
    }
}
