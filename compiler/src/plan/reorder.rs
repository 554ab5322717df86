//! Iterated greedy ("squeaky wheel"): when a best-fit placement ends above the lower bound, the
//! buffers that reach past it are moved to the front of the order and the placement is redone,
//! for a bounded number of rounds. A buffer placed late finds only the gaps the others left; placed
//! first, it takes the low addresses and the others fit around it.
//!
//! Example (MobileNet v3-small): a large buffer placed first at offset 0 pushes a smaller one that
//! is live next to it in time above the lower bound; placing the smaller ones first lets the
//! large one go above them, and the arena meets the bound.

use super::best_fit::place_in_order;
use super::liveness::Buffer;

/// Places `buffers` in `order`, then up to `rounds` times moves the buffers ending above `target`
/// to the front (keeping their relative order) and places again. Returns the best offsets, arena
/// size and the number of reorderings that led to them.
pub fn improve(
    buffers: &[Buffer],
    mut order: Vec<usize>,
    target: usize,
    rounds: usize,
) -> (Vec<usize>, usize, usize) {
    let (mut best, mut best_arena) = place_in_order(buffers, &order);
    let mut best_round = 0;
    let (mut offsets, mut arena) = (best.clone(), best_arena);
    for round in 1..=rounds {
        if arena <= target {
            break;
        }
        let (over, rest): (Vec<usize>, Vec<usize>) = order
            .iter()
            .partition(|&&b| offsets[b] + buffers[b].bytes > target);
        order = over.into_iter().chain(rest).collect();
        (offsets, arena) = place_in_order(buffers, &order);
        if arena < best_arena {
            (best, best_arena, best_round) = (offsets.clone(), arena, round);
        }
    }
    (best, best_arena, best_round)
}
