//! Offsets by greedy-by-size best fit, as TFLite's `ArenaPlanner` with its `SimpleMemoryArena`
//! does: buffers in decreasing size (ties broken by [`Ties`], then by index), each placed in the
//! smallest gap that fits between the already placed buffers whose live ranges overlap its own,
//! or above all of them.

use std::cmp::Ordering;

use super::best_fit::place_in_order;
use super::liveness::Buffer;

/// How buffers of equal size are ordered. Greedy placement is sensitive to it: which of two
/// equal buffers goes first decides whether the second finds a gap. The planner tries each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ties {
    /// Earlier first use first (TFLite's `ArenaPlanner`).
    #[default]
    FirstUse,
    /// Later last use first.
    LastUse,
    /// Longer live range first, then earlier first use.
    Lifetime,
}

impl Ties {
    /// Every tie-break, in the order the planner tries them.
    pub const ALL: [Ties; 3] = [Ties::FirstUse, Ties::LastUse, Ties::Lifetime];

    /// The name used in listings.
    pub fn name(self) -> &'static str {
        match self {
            Ties::FirstUse => "first use",
            Ties::LastUse => "last use",
            Ties::Lifetime => "lifetime",
        }
    }

    /// Orders buffers `a` and `b`: larger first, then by the tie-break, then by index.
    pub(super) fn cmp(self, buffers: &[Buffer], a: usize, b: usize) -> Ordering {
        let (x, y) = (&buffers[a], &buffers[b]);
        let tie = match self {
            Ties::FirstUse => x.first.cmp(&y.first),
            Ties::LastUse => y.last.cmp(&x.last),
            Ties::Lifetime => (y.last - y.first)
                .cmp(&(x.last - x.first))
                .then(x.first.cmp(&y.first)),
        };
        y.bytes.cmp(&x.bytes).then(tie).then(a.cmp(&b))
    }
}

/// The placement order: larger first, ties broken by `ties`, then by index.
pub fn order(buffers: &[Buffer], ties: Ties) -> Vec<usize> {
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    order.sort_by(|&a, &b| ties.cmp(buffers, a, b));
    order
}

/// Offsets for `buffers` (each a multiple of the alignment, since sizes are) and the arena size.
pub fn assign(buffers: &[Buffer], ties: Ties) -> (Vec<usize>, usize) {
    place_in_order(buffers, &order(buffers, ties))
}
