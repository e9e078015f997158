//! Demangling of Itanium C++, Rust (legacy and v0) and MSVC names.

/// The demangled form of `name`, or `None` when it is not a mangled name gloss recognises.
pub fn demangle(name: &str) -> Option<String> {
    // Mach-O prefixes every C symbol with `_`, so Itanium names arrive as `__Z...`.
    let name = name
        .strip_prefix('_')
        .filter(|n| n.starts_with("_Z") || n.starts_with("_R"))
        .unwrap_or(name);
    if (name.starts_with("_R") || (name.starts_with("_ZN") && name.ends_with('E')))
        && let Ok(d) = rustc_demangle::try_demangle(name)
    {
        let s = format!("{d:#}");
        // Legacy Rust symbols are valid Itanium too; a hash-less result means it was C++.
        if name.starts_with("_R") || is_rust_legacy(name) {
            return Some(s);
        }
    }
    if name.starts_with("_Z") {
        let sym = cpp_demangle::Symbol::new(name.as_bytes()).ok()?;
        let opts = cpp_demangle::DemangleOptions::new();
        return sym.demangle_with_options(&opts).ok();
    }
    if name.starts_with('?') {
        // msvc-demangler 0.11 can panic on malformed names (u8 underflow on `??_C@_000?$0`
        // with overflow checks on); names come from untrusted files.
        let d = std::panic::catch_unwind(|| {
            msvc_demangler::demangle(name, msvc_demangler::DemangleFlags::llvm())
        })
        .ok()?
        .ok()?;
        return Some(space_before_variable(name, d));
    }
    None
}

/// msvc-demangler 0.11 writes a variable's type and name with no space between them when the
/// type ends in a digit (`?the_a2@@3UA2@@A` -> `struct A2the_a2`): the space put back, for a
/// variable (storage class 0-4 after the scope) whose name is plain identifiers.
fn space_before_variable(mangled: &str, d: String) -> String {
    let Some((scope, rest)) = mangled.strip_prefix('?').and_then(|m| m.split_once("@@")) else {
        return d;
    };
    let parts: Vec<&str> = scope.split('@').collect();
    let plain =
        |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !rest.starts_with(['0', '1', '2', '3', '4']) || !parts.iter().all(plain) {
        return d;
    }
    let qualified = parts.iter().rev().copied().collect::<Vec<_>>().join("::");
    match d.strip_suffix(qualified.as_str()) {
        Some(head) if head.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => {
            format!("{head} {qualified}")
        }
        _ => d,
    }
}

/// Legacy Rust mangling ends with a `17h<16 hex digits>E` hash segment.
fn is_rust_legacy(name: &str) -> bool {
    let Some(body) = name.strip_suffix('E') else {
        return false;
    };
    body.len() > 19 && {
        let tail = &body[body.len() - 19..];
        tail.starts_with("17h") && tail[3..].bytes().all(|b| b.is_ascii_hexdigit())
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn itanium_rust_and_msvc() {
        assert_eq!(
            demangle("_ZN4Base6methodEi").as_deref(),
            Some("Base::method(int)")
        );
        assert_eq!(
            demangle("__ZN4Base6methodEi").as_deref(),
            Some("Base::method(int)")
        );
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE").as_deref(),
            Some("core::fmt::write")
        );
        assert_eq!(
            demangle("_RNvCs1234_7mycrate3foo").as_deref(),
            Some("mycrate::foo")
        );
        assert_eq!(
            demangle("?method@Base@@UEAAXH@Z").as_deref(),
            Some("public: virtual void __cdecl Base::method(int)")
        );
        // a variable whose type ends in a digit keeps its space (msvc-demangler drops it)
        assert_eq!(
            demangle("?the_a2@@3UA2@@A").as_deref(),
            Some("struct A2 the_a2")
        );
        assert_eq!(
            demangle("?the_a@@3UA@@A").as_deref(),
            Some("struct A the_a")
        );
        assert_eq!(demangle("main"), None);
        assert_eq!(demangle("_Zgarbage"), None);
    }
}
