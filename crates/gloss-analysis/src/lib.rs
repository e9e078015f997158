//! gloss-analysis: everything computed from an image and a decoder. Layer 2: it sees only
//! gloss-core types, so each analysis works the same for every format and decoder.

pub mod cfg;
pub mod code;
pub mod dataflow;
pub mod discover;
pub mod idiom;
pub mod regions;
