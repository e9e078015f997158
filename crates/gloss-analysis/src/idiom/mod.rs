//! Compiler idioms, one folder each with a file per architecture.
pub mod jump_table;
