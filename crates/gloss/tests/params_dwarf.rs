//! Each function's parameters as gloss infers them from its code (`Explained::params`: the
//! argument registers it reads), against the prototypes in the DWARF of Debian bookworm's
//! `libc6-dbg` for the stripped `libc.so.6`, amd64 and arm64 (fetched by
//! `scripts/fetch-real-binaries.sh`; without them the test says so and passes). The debug file
//! is read here with `object` and `gimli`, never through gloss.
//!
//! Truth per function (a `DW_TAG_subprogram` with its own `DW_AT_low_pc` and name, not a clone
//! or an out-of-line copy of an inline function, in a unit that is not assembly): the number of its parameters passed in
//! general registers (pointers, integers up to 64 bits, enums, arrays), or none when a
//! parameter is of another kind (a struct, a union, `__int128`: how it is passed depends on its
//! layout), or more than the registers hold. Floating-point parameters go in vector registers
//! and are not counted. `DW_TAG_unspecified_parameters` makes it variadic.
//!
//! gloss may count fewer than the prototype (a parameter the function never reads: gloss
//! names what the code does), never more when it says its count is exact. Measured: how many
//! exact counts equal the prototype, fall short of it or exceed it; how many variadic
//! functions are found variadic. `docs/ACCURACY.md` has the figures.
use gimli::{AttributeValue, EndianSlice, RunTimeEndian};
use object::{Object, ObjectSection};
use std::borrow::Cow;
use std::collections::BTreeMap;
mod libc_debug;

use libc_debug::{debug_file, real_binaries};
use std::path::Path;

/// What the prototype says of one function.
#[derive(Clone, Copy, Debug)]
struct Proto {
    /// Parameters in general registers.
    count: usize,
    variadic: bool,
}

type Reader<'a> = EndianSlice<'a, RunTimeEndian>;

/// How a parameter of this type is passed.
#[derive(PartialEq, Debug)]
enum Class {
    /// In a general register.
    Int,
    /// In a vector register.
    Float,
    /// Depends on the layout (struct, union, `__int128`), or unknown.
    Other,
}

fn class(unit: &gimli::Unit<Reader<'_>>, mut at: gimli::UnitOffset) -> Class {
    // typedefs and qualifiers, followed a bounded number of times
    for _ in 0..16 {
        let Ok(e) = unit.entry(at) else {
            return Class::Other;
        };
        let next = match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(o)) => Some(o),
            _ => None,
        };
        match e.tag() {
            gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type => match next {
                Some(o) => at = o,
                None => return Class::Other,
            },
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type
            | gimli::DW_TAG_array_type
            | gimli::DW_TAG_enumeration_type => return Class::Int,
            gimli::DW_TAG_base_type => {
                let size = match e.attr_value(gimli::DW_AT_byte_size) {
                    Some(AttributeValue::Udata(n)) => n,
                    _ => return Class::Other,
                };
                return match e.attr_value(gimli::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(
                        gimli::DW_ATE_float | gimli::DW_ATE_complex_float,
                    )) => Class::Float,
                    _ if size <= 8 => Class::Int,
                    _ => Class::Other,
                };
            }
            _ => return Class::Other,
        }
    }
    Class::Other
}

/// The prototypes of the functions the debug file describes, by entry address.
fn prototypes(debug: &[u8], max_regs: usize) -> BTreeMap<u64, Proto> {
    let file = object::File::parse(debug).unwrap();
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let sections: BTreeMap<&str, Cow<[u8]>> = file
        .sections()
        .filter_map(|s| {
            let name = s.name().ok()?;
            name.starts_with(".debug_")
                .then(|| (name, s.uncompressed_data().unwrap()))
        })
        .collect();
    let dwarf = gimli::Dwarf::load(|id| -> Result<Reader<'_>, gimli::Error> {
        let data = sections.get(id.name()).map_or(&[][..], |d| d.as_ref());
        Ok(EndianSlice::new(data, endian))
    })
    .unwrap();
    let mut out = BTreeMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().unwrap() {
        let unit = dwarf.unit(header).unwrap();
        let mut entries = unit.entries();
        // assembly (GNU as writes a subprogram with no parameters for each symbol) states no
        // prototype
        let assembly = entries.next_dfs().unwrap().is_some_and(|root| {
            root.attr_value(gimli::DW_AT_language)
                == Some(AttributeValue::Language(gimli::DW_LANG_Mips_Assembler))
        });
        if assembly {
            continue;
        }
        // the function being read, at its depth: (entry, depth, params, unclear, variadic)
        let mut current: Option<(u64, isize, usize, bool, bool)> = None;
        while let Some(e) = entries.next_dfs().unwrap() {
            let depth = e.depth();
            if let Some((addr, d, count, unclear, variadic)) = current
                && depth <= d
            {
                if !unclear && count <= max_regs {
                    out.insert(addr, Proto { count, variadic });
                }
                current = None;
            }
            match e.tag() {
                gimli::DW_TAG_subprogram if current.is_none() => {
                    let low = match e.attr_value(gimli::DW_AT_low_pc) {
                        Some(AttributeValue::Addr(a)) => a,
                        _ => continue,
                    };
                    // clones and out-of-line copies point at the abstract function, whose
                    // parameters the clone may not have
                    let own = e.attr_value(gimli::DW_AT_name).is_some()
                        && e.attr_value(gimli::DW_AT_abstract_origin).is_none()
                        && e.attr_value(gimli::DW_AT_specification).is_none();
                    current = Some((low, depth, 0, !own, false));
                }
                gimli::DW_TAG_formal_parameter => {
                    if let Some((_, d, count, unclear, _)) = current.as_mut()
                        && depth == *d + 1
                    {
                        match e.attr_value(gimli::DW_AT_type) {
                            Some(AttributeValue::UnitRef(t)) => match class(&unit, t) {
                                Class::Int => *count += 1,
                                Class::Float => {}
                                Class::Other => *unclear = true,
                            },
                            _ => *unclear = true,
                        }
                    }
                }
                gimli::DW_TAG_unspecified_parameters => {
                    if let Some((_, d, _, _, variadic)) = current.as_mut()
                        && depth == *d + 1
                    {
                        *variadic = true;
                    }
                }
                _ => {}
            }
        }
        if let Some((addr, _, count, unclear, variadic)) = current
            && !unclear
            && count <= max_regs
        {
            out.insert(addr, Proto { count, variadic });
        }
    }
    out
}

#[derive(Default, Debug)]
struct Score {
    compared: usize,
    exact: usize,
    exact_right: usize,
    exact_fewer: usize,
    exact_more: usize,
    /// Not exact, and at most the prototype's count (a lower bound that held).
    bound_held: usize,
    inexact_more: usize,
    variadic: usize,
    variadic_found: usize,
}

fn measure(arch: &str, lib: &Path, max_regs: usize) -> Option<Score> {
    let bytes = std::fs::read(lib).ok()?;
    let stripped = object::File::parse(&*bytes).unwrap();
    let id: String = stripped
        .build_id()
        .unwrap()
        .expect("libc.so.6 has a build-id")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let debug = debug_file("params_dwarf", arch, &id)?;
    let truth = prototypes(&debug, max_regs);
    assert!(truth.len() > 1000, "{arch}: {} prototypes", truth.len());

    let image = gloss::open(lib).unwrap();
    let (analysis, _) = gloss::analyze(&image);
    let explained = gloss::explain(&image, &analysis);
    let mut s = Score::default();
    let mut more = Vec::new();
    for (f, e) in analysis.functions.iter().zip(&explained) {
        let Some(t) = truth.get(&f.addr) else {
            continue;
        };
        s.compared += 1;
        let p = e.params;
        let n = usize::from(p.count);
        if t.variadic {
            s.variadic += 1;
            s.variadic_found += usize::from(p.variadic);
            continue;
        }
        if p.exact {
            s.exact += 1;
            match n.cmp(&t.count) {
                std::cmp::Ordering::Equal => s.exact_right += 1,
                std::cmp::Ordering::Less => s.exact_fewer += 1,
                std::cmp::Ordering::Greater => {
                    s.exact_more += 1;
                    more.push(format!(
                        "{:#x} {}: {n} for {}",
                        f.addr,
                        gloss::render::analysis::function_name(f),
                        t.count
                    ));
                }
            }
        } else if n <= t.count {
            s.bound_held += 1;
        } else {
            s.inexact_more += 1;
        }
    }
    for m in more.iter().take(15) {
        println!("{arch}: exact count above the prototype: {m}");
    }
    Some(s)
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

#[test]
fn inferred_parameters_against_libc_prototypes() {
    let libs = [
        ("amd64", "amd64/lib/x86_64-linux-gnu/libc.so.6", 6),
        ("arm64", "arm64/lib/aarch64-linux-gnu/libc.so.6", 8),
    ];
    for (arch, lib, regs) in libs {
        let Some(s) = measure(arch, &real_binaries().join(lib), regs) else {
            continue;
        };
        println!(
            "{arch}: {} functions with a prototype; exact {} ({:.1}%): equal {} ({:.1}%), fewer {} ({:.1}%), more {} ({:.1}%); not exact {}: at most the prototype {} ({:.1}%), more {}; variadic found {}/{}",
            s.compared,
            s.exact,
            pct(s.exact, s.compared - s.variadic),
            s.exact_right,
            pct(s.exact_right, s.exact),
            s.exact_fewer,
            pct(s.exact_fewer, s.exact),
            s.exact_more,
            pct(s.exact_more, s.exact),
            s.compared - s.variadic - s.exact,
            s.bound_held,
            pct(s.bound_held, s.compared - s.variadic - s.exact),
            s.inexact_more,
            s.variadic_found,
            s.variadic,
        );
        // an exact count must equal the prototype, or fall short by parameters the code never
        // reads; above it is wrong
        assert!(pct(s.exact_right, s.exact) >= 85.0, "{arch}: {s:?}");
        assert!(pct(s.exact_more, s.exact) <= 2.0, "{arch}: {s:?}");
    }
}
