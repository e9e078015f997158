//! Compiler idioms, one folder each with a file per architecture.
pub mod atomic;
pub mod jump_table;
