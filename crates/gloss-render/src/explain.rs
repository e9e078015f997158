//! What the address and call-site idioms found, in words: `&c_info`, `"hello %d"`,
//! `puts@got`, `CreateWidget(&c_info, 1, sp+0x40)`, `virtual call: slot 1 (+0x8), this = x19`,
//! `virtual call Derived::method, slot 1 (+0x8) of {vtable(Derived)}, this = x0`.
//! The same descriptions feed the listing's comments and the `refs`/`calls` of `analyze`'s
//! JSON (docs/json.md).
use crate::label::label_string;
use gloss_analysis::idiom::Explained;
use gloss_analysis::idiom::addr_mat::{Access, Ref};
use gloss_analysis::idiom::atomic::AtomicOp;
use gloss_analysis::idiom::call_site::{ArgValue, Call, Kind, Mech, vtable};
use gloss_analysis::idiom::prologue::Frame;
use gloss_core::hex::{push_dec_signed, push_hex_prefixed};
use gloss_core::{Addr, Format, Image};
use serde::Serialize;
use std::fmt::Write as _;

/// Longest string shown in a preview before it is cut with `...`.
const PREVIEW: usize = 40;

#[derive(Serialize)]
pub struct RefOut {
    pub addr: Addr,
    pub target: Addr,
    pub access: &'static str,
    /// The symbol covering the target (or the import whose slot it is) and the offset into it.
    pub symbol: Option<String>,
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// Where the address's page or first half was made (`adrp`, `movz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Addr>,
}

#[derive(Serialize)]
pub struct CallOut {
    pub addr: Addr,
    pub kind: &'static str,
    pub tail: bool,
    pub mech: Vec<&'static str>,
    pub target: Option<Addr>,
    /// The function or import called.
    pub name: Option<String>,
    /// The memory the target was loaded from: an import slot, or (virtual calls) `null`.
    pub slot: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vtable_slot: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vtable_offset: Option<u64>,
    /// The vtable, when known (`target` and `name` are then the method in the slot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vtable: Option<VtableOut>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cfg_check_mismatch: bool,
    pub args: Vec<ArgOut>,
}

#[derive(Serialize)]
pub struct VtableOut {
    /// The address point: what the object's vptr holds.
    pub addr: Addr,
    /// The vtable symbol (`{vtable(Derived)}`, ``const Derived::`vftable'``) and the address
    /// point's offset into it.
    pub symbol: Option<String>,
    pub offset: u64,
}

/// The vtable symbol's name and the address point's offset into it.
fn vtable_symbol(image: &Image, vt: u64) -> Option<(String, u64)> {
    vtable::symbol(image, vt).map(|s| (s.display_name().to_string(), vt - s.addr.0))
}

#[derive(Serialize)]
pub struct AtomicOut {
    /// The instruction that performs it (store-exclusive, LSE/locked instruction, helper
    /// call, barrier).
    pub addr: Addr,
    pub op: &'static str,
    /// Bits accessed; 0 for a fence.
    pub width: u8,
    pub order: &'static str,
    /// A compare-exchange's failure order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
    /// The form it was recognised in: `llsc_loop`, `lse`, `locked`, `outline_call`, ...
    pub evidence: &'static str,
    pub insns: Vec<Addr>,
}

pub fn atomic_out(a: &AtomicOp) -> AtomicOut {
    AtomicOut {
        addr: Addr(a.addr),
        op: a.op.name(),
        width: a.width,
        order: a.order.name(),
        failure: a.failure.map(|o| o.name()),
        evidence: a.evidence.name(),
        insns: a.insns.iter().map(|&i| Addr(i)).collect(),
    }
}

/// `atomic fetch_or (32-bit, seq_cst)`: the same words for an LL/SC loop, an LSE instruction,
/// an outline helper call and x86 `lock orl`.
pub fn atomic_comment(a: &AtomicOp) -> String {
    let mut s = format!("atomic {}", a.op.name());
    if a.width > 0 {
        let _ = write!(s, " ({}-bit, {}", a.width, a.order.name());
    } else {
        let _ = write!(s, " ({}", a.order.name());
    }
    if let Some(f) = a.failure {
        let _ = write!(s, ", {} on failure", f.name());
    }
    s.push(')');
    s
}

#[derive(Serialize)]
pub struct FrameOut {
    /// The instruction that sets the frame pointer.
    pub frame_pointer: Option<Addr>,
    /// Callee-saved registers the entry block saves.
    pub saved: Vec<SavedOut>,
    pub stack_protector: Option<StackProtectorOut>,
    /// AArch64 return-address signing.
    pub pac: Option<PacOut>,
}

#[derive(Serialize)]
pub struct SavedOut {
    pub reg: &'static str,
    pub at: Addr,
}

#[derive(Serialize)]
pub struct StackProtectorOut {
    pub guard_load: Addr,
    pub fail_call: Addr,
}

#[derive(Serialize)]
pub struct PacOut {
    /// `A` or `B`.
    pub key: String,
    pub sign: Addr,
    pub auth: Vec<Addr>,
}

pub fn frame_out(image: &Image, f: &Frame) -> FrameOut {
    FrameOut {
        frame_pointer: f.frame_pointer.map(Addr),
        saved: f
            .saved
            .iter()
            .map(|&(r, a)| SavedOut {
                reg: r.name(image.arch, 64),
                at: Addr(a),
            })
            .collect(),
        stack_protector: f.stack_protector.map(|p| StackProtectorOut {
            guard_load: Addr(p.guard_load),
            fail_call: Addr(p.fail_call),
        }),
        pac: f.pac.as_ref().map(|p| PacOut {
            key: p.key.to_string(),
            sign: Addr(p.sign),
            auth: p.auth.iter().map(|&a| Addr(a)).collect(),
        }),
    }
}

/// The listing's comments for a function's frame, by instruction.
pub fn frame_comments(image: &Image, f: &Frame) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    if let Some(a) = f.frame_pointer {
        out.push((a, "frame pointer".to_string()));
    }
    if !f.saved.is_empty() {
        let regs: Vec<&str> = f
            .saved
            .iter()
            .map(|(r, _)| r.name(image.arch, 64))
            .collect();
        out.push((f.saved[0].1, format!("saves {}", regs.join(", "))));
    }
    if let Some(p) = f.stack_protector {
        out.push((p.guard_load, "stack protector: guard read".to_string()));
        out.push((
            p.fail_call,
            "stack protector: the guard changed".to_string(),
        ));
    }
    if let Some(p) = &f.pac {
        out.push((
            p.sign,
            format!("return address signed (PAC, key {})", p.key),
        ));
        for &a in &p.auth {
            out.push((a, "return address authenticated".to_string()));
        }
    }
    out
}

#[derive(Serialize)]
pub struct ArgOut {
    pub index: u8,
    pub reg: &'static str,
    /// A number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    /// An address in the image, with its symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Anything else, as the listing writes it: `sp+0x40`, `x19`, `result of 0x6a0`, `?`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

/// The import slot at `a`, as `name@got` (ELF, Mach-O) or `__imp_name` (PE); an ELF GOT
/// entry of the file's own symbol as `symbol@got`.
fn slot_name(image: &Image, a: u64) -> Option<String> {
    if let Some(i) = image.import_by_slot(a).map(|i| &image.imports[i]) {
        return Some(match image.format {
            Format::Pe => format!("__imp_{}", i.name),
            _ => format!("{}@got", i.name),
        });
    }
    image.section_at(a).filter(|s| s.name == ".got")?;
    let v = image.read_loaded_uint(a, 8)?;
    let s = image.symbols.at(v).next()?;
    Some(format!("{}@got", s.display_name()))
}

/// The NUL-terminated printable string at `a` in read-only data, escaped and cut.
fn string_at(image: &Image, a: u64) -> Option<String> {
    let sec = image.section_at(a)?;
    if sec.kind != gloss_core::SectionKind::ReadOnlyData {
        return None;
    }
    let bytes = image.read_loaded(a, (sec.end() - a).min(256) as usize)?;
    let len = bytes.iter().position(|&b| b == 0)?;
    let s = &bytes[..len];
    let printable = |b: u8| (0x20..0x7f).contains(&b) || matches!(b, b'\n' | b'\t' | b'\r');
    if len < 2 || !s.iter().all(|&b| printable(b)) {
        return None;
    }
    let mut out = String::from("\"");
    for &b in s.iter().take(PREVIEW) {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            _ => out.push(b as char),
        }
    }
    if len > PREVIEW {
        out.push_str("...");
    }
    out.push('"');
    Some(out)
}

/// The symbol and offset an address is described by: an import slot's name, else the
/// covering symbol, else the section.
fn symbol_offset(image: &Image, a: u64) -> Option<(String, u64)> {
    if let Some(n) = slot_name(image, a) {
        return Some((n, 0));
    }
    if let Some(s) = image.symbols.containing(a) {
        return Some((s.display_name().to_string(), a - s.addr.0));
    }
    image.section_at(a).map(|s| (s.name.clone(), a - s.addr.0))
}

/// `&c_info`, `c_info+0x8` (memory), `"hello %d"`, `puts@got`.
pub fn describe_target(image: &Image, a: u64, access: Access) -> String {
    if let Some(s) = string_at(image, a) {
        return s;
    }
    let Some((name, off)) = symbol_offset(image, a) else {
        return format!("{a:#x}");
    };
    let amp = if access == Access::Address { "&" } else { "" };
    if off == 0 {
        format!("{amp}{name}")
    } else {
        format!("{amp}{name}+{off:#x}")
    }
}

pub fn ref_out(image: &Image, r: &Ref) -> RefOut {
    let so = symbol_offset(image, r.target);
    RefOut {
        addr: Addr(r.addr),
        target: Addr(r.target),
        access: r.access.name(),
        offset: so.as_ref().map_or(0, |s| s.1),
        symbol: so.map(|s| s.0),
        string: string_at(image, r.target),
        from: r.from.map(Addr),
    }
}

/// The name of what a call calls: the import, else the target's symbol.
fn callee_name(image: &Image, c: &Call) -> Option<String> {
    if let Some(i) = c.import {
        return Some(image.imports[i].name.clone());
    }
    let t = c.target?;
    // a library's own ifunc through its PLT entry (`memcpy@plt`, no import) reads as a call
    // of the ifunc, as an import's PLT entry reads as a call of the import
    if let Some(ifunc) = image.symbols.at(t).next().and_then(|s| s.plt_of()) {
        return Some(ifunc.to_string());
    }
    // a function without a symbol goes by its address, as `gloss functions` names it
    let name = match image.symbols.at(t).next() {
        Some(_) => label_string(image, t)?,
        None => gloss_analysis::discover::found_name(t),
    };
    // a demangled name's parameter list would read as the arguments: `f(void*)(x)`
    Some(
        match name
            .strip_suffix(')')
            .and_then(|n| n.rfind('(').map(|i| &name[..i]))
        {
            Some(bare) if !bare.is_empty() && !name.contains('+') => bare.to_string(),
            _ => name,
        },
    )
}

/// An argument as the listing writes it; `addresses` are the function's ref targets, the
/// constants known to be addresses.
fn arg_text(image: &Image, v: ArgValue, addresses: &[u64]) -> String {
    let mut s = String::new();
    write_arg(&mut s, image, v, addresses);
    s
}

/// [`arg_text`] appended to `s` (without `core::fmt`: the listing writes one per argument of
/// every call).
fn write_arg(s: &mut String, image: &Image, v: ArgValue, addresses: &[u64]) {
    let reg = |r: gloss_core::sem::Reg| r.name(image.arch, 64);
    // `+0x10` / `-0x10`
    let signed_hex = |s: &mut String, k: i64| {
        s.push_str(if k >= 0 { "+" } else { "-" });
        push_hex_prefixed(s, k.unsigned_abs());
    };
    match v {
        ArgValue::Const(k) if addresses.binary_search(&k).is_ok() => {
            s.push_str(&describe_target(image, k, Access::Address));
        }
        ArgValue::Const(k) if (k as i64).unsigned_abs() < 0x10000 => push_dec_signed(s, k as i64),
        ArgValue::Const(k) => push_hex_prefixed(s, k),
        ArgValue::Stack(k) => {
            s.push_str("sp");
            signed_hex(s, k);
        }
        ArgValue::Reg(r) => s.push_str(reg(r)),
        ArgValue::Returned(at) => {
            s.push_str("result of ");
            push_hex_prefixed(s, at);
        }
        ArgValue::RegPlus(r, k) | ArgValue::Frame(r, k) => {
            s.push_str(reg(r));
            signed_hex(s, k);
        }
        ArgValue::Deref(r, k) => {
            s.push('[');
            s.push_str(reg(r));
            if k != 0 {
                signed_hex(s, k);
            }
            s.push(']');
        }
        ArgValue::Load(a) => {
            s.push('*');
            s.push_str(describe_target(image, a, Access::Address).trim_start_matches('&'));
        }
        ArgValue::Other => s.push('?'),
    }
}

pub fn call_out(image: &Image, c: &Call, addresses: &[u64]) -> CallOut {
    CallOut {
        addr: Addr(c.addr),
        kind: c.kind.name(),
        tail: c.tail,
        mech: c.mech.iter().map(|m| m.name()).collect(),
        target: c.target.map(Addr),
        name: callee_name(image, c),
        slot: c.slot.filter(|_| c.kind != Kind::Virtual).map(Addr),
        this: c.this.map(|r| r.name(image.arch, 64)),
        vtable_slot: c.vtable_offset.map(|o| o / 8),
        vtable_offset: c.vtable_offset,
        vtable: c.vtable.map(|vt| {
            let (symbol, offset) = vtable_symbol(image, vt).unzip();
            VtableOut {
                addr: Addr(vt),
                symbol,
                offset: offset.unwrap_or(0),
            }
        }),
        cfg_check_mismatch: c.check_mismatch,
        args: c
            .args
            .iter()
            .map(|a| {
                let (mut value, mut addr, mut symbol, mut offset, mut expr) =
                    (None, None, None, None, None);
                match a.value {
                    ArgValue::Const(k) if addresses.binary_search(&k).is_ok() => {
                        addr = Some(Addr(k));
                        if let Some((n, o)) = symbol_offset(image, k) {
                            symbol = Some(n);
                            offset = Some(o);
                        }
                    }
                    ArgValue::Const(k) => value = Some(k as i64),
                    v => expr = Some(arg_text(image, v, addresses)),
                }
                ArgOut {
                    index: a.index,
                    reg: a.reg.name(image.arch, 64),
                    value,
                    addr,
                    symbol,
                    offset,
                    expr,
                }
            })
            .collect(),
    }
}

/// The listing's comment for a call, written into `s` (cleared first; one buffer for all of
/// a function's calls). False, `s` left empty, when the comment would only repeat the operand
/// (a direct call with no argument the function set).
pub fn write_call_comment(s: &mut String, image: &Image, c: &Call, addresses: &[u64]) -> bool {
    s.clear();
    // the call of the check function itself: through its slot, with no target of its own
    if c.mech.contains(&Mech::CfgCheck)
        && c.target.is_none()
        && c.kind == Kind::Indirect
        && c.slot.is_some()
    {
        s.push_str("CFG check of the next call's target (__guard_check_icall_fptr)");
        return true;
    }
    let name = callee_name(image, c);
    let no_args = c.args.is_empty();
    match c.kind {
        Kind::Direct if c.mech.is_empty() && no_args => return false,
        Kind::Indirect if name.is_none() && no_args && c.mech.is_empty() => return false,
        _ => {}
    }
    let args = |s: &mut String| {
        for (i, a) in c.args.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            write_arg(s, image, a.value, addresses);
        }
    };
    // no parentheses when the function set no argument: the callee may take some it passes on
    let call = |s: &mut String, name: &str| {
        s.push_str(name);
        if !no_args {
            s.push('(');
            args(s);
            s.push(')');
        }
    };
    if c.tail {
        s.push_str("tail call, ");
    }
    for m in &c.mech {
        s.push_str(match m {
            Mech::CfgCheck if c.check_mismatch => "CFG-checked (another value!), ",
            Mech::CfgCheck => "CFG-checked, ",
            Mech::CfgDispatch => "CFG dispatch, ",
            Mech::Retpoline => "retpoline, ",
        });
    }
    match c.kind {
        Kind::Direct | Kind::ImportStub => call(s, name.as_deref().unwrap_or("?")),
        Kind::Got | Kind::Iat => {
            call(s, name.as_deref().unwrap_or("?"));
            s.push_str(if c.kind == Kind::Got {
                " via GOT"
            } else {
                " via IAT"
            });
        }
        Kind::Virtual => {
            let off = c.vtable_offset.unwrap_or(0);
            s.push_str("virtual call ");
            if let (Some(m), Some(vt)) = (&name, c.vtable) {
                let v = vtable_symbol(image, vt).map_or_else(|| format!("{vt:#x}"), |(v, _)| v);
                let _ = write!(s, "{m}, slot {} (+{off:#x}) of {v}", off / 8);
            } else {
                let _ = write!(s, "slot {} (+{off:#x})", off / 8);
            }
            if let Some(r) = c.this {
                s.push_str(", this = ");
                s.push_str(r.name(image.arch, 64));
            }
            if !no_args {
                s.push_str(", args (");
                args(s);
                s.push(')');
            }
        }
        Kind::Indirect => call(s, name.as_deref().unwrap_or("indirect call")),
    }
    let kept = s.trim_end().trim_end_matches(',').len();
    s.truncate(kept);
    true
}

/// The listing's comment for a ref, when the operand does not already say it: AArch64 pairs
/// (the `add`/`ldr` after an `adrp`), absolute addresses, strings and import slots.
pub fn ref_comment(image: &Image, r: &Ref) -> Option<String> {
    // x86 operands already carry `<symbol+off>`: only a string's text adds to them
    let operand_says_it = r.from.is_none() && image.arch == gloss_core::Arch::X86_64;
    if operand_says_it && string_at(image, r.target).is_none() {
        return None;
    }
    Some(describe_target(image, r.target, r.access))
}

/// The function's ref targets, sorted: the constants known to be addresses.
pub fn addresses(e: &Explained) -> Vec<u64> {
    let mut v: Vec<u64> = e.refs.iter().map(|r| r.target).collect();
    v.sort_unstable();
    v.dedup();
    v
}
