//! The static memory plan: every value of a [`Program`] gets a byte offset in one arena.
//!
//! Model inputs and outputs live in the caller's buffers, not in the arena; values aliased to
//! them (reshapes of an input, slices of an output) live there too.

use crate::lower::{Io, Program, ValueId, ALIGN};

/// Where a value's bytes are at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the arena at this byte offset.
    Arena(usize),
    /// In the caller's `n`th input buffer at this byte offset.
    Input(usize, usize),
    /// In the caller's `n`th output buffer at this byte offset.
    Output(usize, usize),
}

/// The memory plan of a program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Arena offset of each value that is the root of its alias group and not external.
    pub offsets: Vec<Option<usize>>,
    /// Arena offset of each step's scratch memory.
    pub scratch: Vec<Option<usize>>,
    /// Size of the arena in bytes (a multiple of [`ALIGN`]).
    pub arena_bytes: usize,
    /// The most bytes of arena values (and scratch) live at any one step: no plan can be smaller.
    pub lower_bound_bytes: usize,
}

impl Plan {
    /// Where value `v` is.
    pub fn place(&self, p: &Program, v: ValueId) -> Place {
        let (root, off) = p.root(v);
        match p.value(root).io {
            Some(Io::Input(n)) => Place::Input(n, off),
            Some(Io::Output(n)) => Place::Output(n, off),
            None => Place::Arena(self.offsets[root.index()].unwrap_or(0) + off),
        }
    }
}

/// Plans `p`'s memory.
pub fn plan(p: &Program) -> Plan {
    // Placeholder: every root value and every scratch area gets its own range (no reuse).
    let mut offsets = vec![None; p.values.len()];
    let mut end = 0usize;
    for (i, v) in p.values.iter().enumerate() {
        if v.alias.is_none() && v.io.is_none() {
            offsets[i] = Some(end);
            end = (end + v.bytes).next_multiple_of(ALIGN);
        }
    }
    let mut scratch = vec![None; p.steps.len()];
    for (i, s) in p.steps.iter().enumerate() {
        if s.scratch_bytes > 0 {
            scratch[i] = Some(end);
            end = (end + s.scratch_bytes).next_multiple_of(ALIGN);
        }
    }
    Plan { offsets, scratch, arena_bytes: end, lower_bound_bytes: end }
}
