use crate::Addr;
use serde::Serialize;

/// Which table of the file states that a function starts somewhere.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum HintSource {
    /// An FDE in `.eh_frame` (ELF, Mach-O `__eh_frame`).
    EhFrame,
    /// A `.pdata` RUNTIME_FUNCTION entry (PE x64 and ARM64).
    Pdata,
    /// Mach-O `LC_FUNCTION_STARTS`.
    FunctionStarts,
}

/// A function start (and extent, when the table gives one) stated by unwind or function-start
/// tables: the evidence that survives stripping.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct FunctionHint {
    pub addr: Addr,
    pub size: Option<u64>,
    pub source: HintSource,
    /// A fragment of a function (PE chained unwind info, ARM64 packed fragment), not a start.
    pub fragment: bool,
}
