//! Binary-level facts: what the headers and notes claim about hardening. The audit issue checks
//! these claims against the code; here they are only read.
use crate::Addr;
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct BinaryFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elf: Option<ElfFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pe: Option<PeFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macho: Option<MachOFacts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relro {
    None,
    Partial,
    Full,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ElfFacts {
    /// `ET_EXEC`, `ET_DYN`, `ET_REL`, ...
    pub file_type: String,
    /// Position-independent executable (`ET_DYN` with an interpreter or `DF_1_PIE`).
    pub pie: bool,
    pub shared_object: bool,
    /// `PT_GNU_STACK` without `PF_X` (a missing header means an executable stack).
    pub nx: bool,
    pub relro: Option<Relro>,
    pub bind_now: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    pub gnu_property: GnuProperty,
    /// No `.symtab`: only dynamic symbols (if any) name code.
    pub stripped: bool,
    pub has_debug_info: bool,
}

/// `.note.gnu.property` feature bits (`GNU_PROPERTY_X86_FEATURE_1_AND`,
/// `GNU_PROPERTY_AARCH64_FEATURE_1_AND`).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct GnuProperty {
    pub present: bool,
    pub ibt: bool,
    pub shstk: bool,
    pub bti: bool,
    pub pac: bool,
}

/// Names of the PE `DllCharacteristics` bits, in bit order.
pub const PE_DLL_CHARACTERISTICS: &[(u16, &str)] = &[
    (0x0020, "HIGH_ENTROPY_VA"),
    (0x0040, "DYNAMIC_BASE"),
    (0x0080, "FORCE_INTEGRITY"),
    (0x0100, "NX_COMPAT"),
    (0x0200, "NO_ISOLATION"),
    (0x0400, "NO_SEH"),
    (0x0800, "NO_BIND"),
    (0x1000, "APPCONTAINER"),
    (0x2000, "WDM_DRIVER"),
    (0x4000, "GUARD_CF"),
    (0x8000, "TERMINAL_SERVER_AWARE"),
];

#[derive(Clone, Debug, Default, Serialize)]
pub struct PeFacts {
    pub image_base: Addr,
    pub dll: bool,
    pub dll_characteristics: u16,
    /// The set bits of `dll_characteristics`, by name.
    pub dll_characteristics_names: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_config: Option<LoadConfig>,
    pub has_pdata: bool,
    /// `IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT` from the extended DLL characteristics debug entry.
    pub cet_compat: bool,
}

/// The fields of `IMAGE_LOAD_CONFIG_DIRECTORY64` that mitigation analysis needs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadConfig {
    pub size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_cookie: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_check_icall_fptr: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_dispatch_icall_fptr: Option<Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_cf_function_table: Option<Addr>,
    pub guard_cf_function_count: u64,
    pub guard_flags: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MachOFacts {
    pub file_type: String,
    pub pie: bool,
    pub arm64e: bool,
    pub has_function_starts: bool,
    pub chained_fixups: bool,
}
