//! gloss-analysis: everything computed from an image and a decoder. Layer 2: it sees only
//! gloss-core types, so each analysis works the same for every format and decoder.

pub mod addr_set;
pub mod audit;
pub mod callgraph;
pub mod cfg;

/// Sets and maps keyed by addresses, hashed with rustc-hash's FxHash: analysis looks up
/// addresses millions of times, and SipHash's protection against chosen keys cost about 7% of
/// the whole run (docs/PERFORMANCE.md).
pub use rustc_hash::{FxHashMap, FxHashSet};
pub mod code;
pub mod dataflow;
pub mod discover;
pub mod idiom;
pub mod regions;
