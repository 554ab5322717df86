//! Offsets by greedy-by-breadth ("Efficient Memory Management for Deep Neural Net Inference",
//! Pisarchyk & Lee, 2020): steps in decreasing breadth (bytes live at the step; ties: earlier
//! step), and at each step its live buffers not yet placed in decreasing size (ties broken by
//! [`Ties`]), each placed best
//! fit among the placed buffers whose live ranges overlap its own. The widest step is laid out
//! first, so the peak is packed tightly; narrower steps fill in around it.

use super::best_fit::place_in_order;
use super::greedy_by_size::Ties;
use super::liveness::Buffer;

/// Offsets for `buffers` and the arena size, over a schedule of `steps` steps.
pub fn assign(buffers: &[Buffer], steps: usize, ties: Ties) -> (Vec<usize>, usize) {
    place_in_order(buffers, &order(buffers, steps, ties))
}

/// The placement order over a schedule of `steps` steps: the widest step's buffers first.
pub fn order(buffers: &[Buffer], steps: usize, ties: Ties) -> Vec<usize> {
    // Buffers live at each step.
    let mut live: Vec<Vec<usize>> = vec![Vec::new(); steps];
    for (i, b) in buffers.iter().enumerate() {
        for l in live.iter_mut().take(b.last + 1).skip(b.first) {
            l.push(i);
        }
    }
    let breadth: Vec<usize> = live
        .iter()
        .map(|l| l.iter().map(|&b| buffers[b].bytes).sum())
        .collect();
    let mut by_breadth: Vec<usize> = (0..steps).collect();
    by_breadth.sort_by(|&a, &b| breadth[b].cmp(&breadth[a]).then(a.cmp(&b)));
    let mut order = Vec::with_capacity(buffers.len());
    let mut queued = vec![false; buffers.len()];
    for s in by_breadth {
        let mut here: Vec<usize> = live[s].iter().copied().filter(|&b| !queued[b]).collect();
        here.sort_by(|&a, &b| ties.cmp(buffers, a, b));
        for b in here {
            queued[b] = true;
            order.push(b);
        }
    }
    // Buffers outside the schedule (none in a consistent program) go last.
    order.extend((0..buffers.len()).filter(|&b| !queued[b]));
    order
}
