//! `<symbol+off>` labels for addresses, the one rule every output uses.
use gloss_core::Image;
use gloss_core::hex::{TextOut, push_hex};

/// Writes ` <name+0xoff>` for `addr` into `out`: the symbol that really covers the address, else
/// the section and offset. Returns false (writing nothing) for addresses outside every section.
pub fn write_label<O: TextOut + ?Sized>(out: &mut O, image: &Image, addr: u64) -> bool {
    if let Some(s) = image.symbols.containing(addr) {
        write_name_off(out, s.display_name(), addr - s.addr.0);
        return true;
    }
    write_section_label(out, image, addr)
}

/// ` <.section+0xoff>`: used where a symbol would mislead (an ADRP page) or none covers `addr`.
pub fn write_section_label<O: TextOut + ?Sized>(out: &mut O, image: &Image, addr: u64) -> bool {
    match image.section_at(addr) {
        Some(sec) => {
            write_name_off(out, &sec.name, addr - sec.addr.0);
            true
        }
        None => false,
    }
}

/// ` <name>` or ` <name+0xoff>`, without `core::fmt` (this runs for most listing lines).
pub fn write_name_off<O: TextOut + ?Sized>(out: &mut O, name: &str, off: u64) {
    out.put_str(" <");
    out.put_str(name);
    if off != 0 {
        out.put_str("+0x");
        push_hex(out, off);
    }
    out.put_ascii(b'>');
}

/// The label as a plain string without the surrounding `<>`, for JSON.
pub fn label_string(image: &Image, addr: u64) -> Option<String> {
    let mut s = String::new();
    write_label(&mut s, image, addr).then(|| unwrap_label(&s))
}

/// ` <name+0x10>` -> `name+0x10`.
pub fn unwrap_label(written: &str) -> String {
    written
        .trim_start()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}
