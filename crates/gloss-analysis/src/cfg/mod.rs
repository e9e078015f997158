//! Basic blocks and typed edges of one function, built by recursive descent from its entry
//! (`build.rs`). Blocks end at every branch, call and return; a conditional branch has a
//! `Conditional` edge to its target and a `FallThrough` edge to the next instruction.
mod build;

pub use build::{Context, Exit, FunctionBody, build};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum EdgeKind {
    /// To the next instruction (after a conditional branch not taken, or a call that returns).
    FallThrough,
    /// A conditional branch taken.
    Conditional,
    /// An unconditional direct jump inside the function.
    Jump,
    /// A direct or indirect call (`to` is the callee when known).
    Call,
    /// A jump that leaves the function for another function's entry or an import slot.
    TailCall,
    Return,
    /// One target of an indirect jump resolved through a jump table.
    IndirectResolved,
    /// An indirect jump whose targets are unknown.
    Unresolved,
}

/// Packed (17 bytes, not 24): each block holds two inline, and the analysis of a large binary
/// holds millions of blocks (3.1 M in libLLVM).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(C, packed)]
pub struct Edge {
    pub to: Option<u64>,
    pub kind: EdgeKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub addr: u64,
    /// Bytes (a block lies within one code section).
    pub size: u32,
    /// Number of instructions.
    pub insns: u32,
    pub succs: Succs,
}

/// A block's successors, held inline up to two (all but a switch's): the traversal makes
/// millions of blocks, and an allocation each was a fifth of its time.
pub type Succs = smallvec::SmallVec<[Edge; 2]>;

impl Block {
    pub fn end(&self) -> u64 {
        self.addr + u64::from(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::{Block, Edge};

    /// The analysis of a large binary holds millions of blocks: keep them at one cache line.
    #[test]
    fn blocks_stay_small() {
        assert_eq!(std::mem::size_of::<Edge>(), 17);
        assert!(
            std::mem::size_of::<Block>() <= 64,
            "Block is {} bytes",
            std::mem::size_of::<Block>()
        );
    }
}
