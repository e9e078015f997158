//! The method a virtual call reaches, when the code and the image say which vtable the slot
//! is read from. Compilers leave that so in two forms:
//! - the object is a global (`Base *p = &g; p->f()`: `mov g(%rip),%rax; call *0x8(%rax)`,
//!   `ldr x8, [x0]; ldr x2, [x8, #8]` with x0 = &g; clang at any level, gcc at -O0 or
//!   `-fno-devirtualize`): its vptr is its first word in the image (statically initialised,
//!   relocated as any data pointer);
//! - the function stored the vptr into the object itself and reads it back (a constructor
//!   inlined at -O0): the slot's address is then a constant, and an argument register (`this`)
//!   holds the object whose first word the function set to that vtable.
//!
//! Either way the vtable must be a vtable symbol's (`_ZTV...` Itanium, `??_7...` MSVC) and
//! the slot inside it; the method is the pointer in the slot. Nothing else names one: an
//! object passed in, read from a pointer variable or constructed by a call has a vtable the
//! code does not show. (Placement new of another class into a global object, elsewhere,
//! would make the image's vptr stale; compilers do not emit that for a global they
//! initialised statically, but code may.)
use gloss_core::{Image, SectionKind, Symbol};

/// Whether a symbol names a vtable: Itanium `_ZTV` (Mach-O `__ZTV`), MSVC `??_7`.
fn is_vtable(s: &Symbol) -> bool {
    ["_ZTV", "__ZTV", "??_7"]
        .iter()
        .any(|p| s.name.starts_with(p))
}

/// The vtable symbol that holds the address point `vt`: the nearest symbol at or before it
/// (an Itanium vtable's address point is 16 bytes in, an MSVC one's is the symbol).
pub fn symbol(image: &Image, vt: u64) -> Option<&Symbol> {
    image
        .symbols
        .last_at_or_before(vt)
        .iter()
        .find(|s| is_vtable(s))
}

/// The method in the slot `offset` bytes past the address point `vt`: the slot must lie in
/// the vtable symbol holding `vt` (within its size, or before the next symbol when it has
/// none) and hold a code address.
pub(super) fn method(image: &Image, vt: u64, offset: u64) -> Option<u64> {
    let slot = vt.checked_add(offset)?;
    // no other symbol starts between the vtable and its slot
    let s = symbol(image, slot)?;
    if vt < s.addr.0 || (s.size > 0 && slot + 8 > s.addr.0 + s.size) {
        return None;
    }
    let m = image.pointer_at(slot)?;
    image
        .section_at(m)
        .is_some_and(|c| c.kind == SectionKind::Code)
        .then_some(m)
}
