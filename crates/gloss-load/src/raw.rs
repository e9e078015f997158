//! Bare bytes with no container: one code section at a caller-chosen base address.
use gloss_core::{Addr, Arch, Format, Image, Section, SectionKind};
use std::sync::Arc;

pub fn load_raw(bytes: Vec<u8>, arch: Arch, base: u64) -> Image {
    let len = bytes.len();
    let mut img = Image::new(Format::Raw, arch, Arc::new(bytes));
    img.sections.push(Section {
        name: ".raw".into(),
        addr: Addr(base),
        size: len as u64,
        kind: SectionKind::Code,
        file_range: Some(0..len),
        file_offset: Some(0),
    });
    img.entry = Some(Addr(base));
    img.kind = format!("raw {arch} bytes");
    img
}
