//! gloss-render: turns images, decoded instructions and analysis results into text and JSON.
//! Output is deterministic: address order, no absolute paths, no timestamps.

pub mod analysis;
pub mod annotate;
pub mod audit;
pub mod explain;
pub mod info;
pub mod label;
pub mod listing;
pub mod pretty;
pub mod sarif;
