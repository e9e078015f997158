//! Register values along paths, symbolically.
pub mod exec;
pub mod expr;
pub mod values;
