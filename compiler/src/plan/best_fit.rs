//! Best-fit placement, shared by every assignment order: each buffer goes to the lowest offset of
//! the smallest gap that fits between the already placed buffers whose live ranges overlap its
//! own, or above all of them (TFLite's `SimpleMemoryArena::Allocate`).

use super::liveness::Buffer;

/// Buffers placed so far, by offset: `(offset, end, buffer)`.
#[derive(Debug, Default)]
struct Placed {
    list: Vec<(usize, usize, usize)>,
}

impl Placed {
    /// Places `buffers[b]` at the lowest offset of the smallest gap that fits among the placed
    /// buffers live at the same time (best fit), or above them; returns the offset.
    fn best_fit(&mut self, buffers: &[Buffer], b: usize) -> usize {
        let me = &buffers[b];
        let mut best: Option<(usize, usize)> = None; // (gap, offset)
        let mut end = 0usize;
        for &(off, e, other) in &self.list {
            if !me.overlaps_in_time(&buffers[other]) {
                continue;
            }
            if off >= end {
                let gap = off - end;
                if gap >= me.bytes && best.is_none_or(|(g, _)| gap < g) {
                    best = Some((gap, end));
                }
            }
            end = end.max(e);
        }
        let offset = best.map_or(end, |(_, o)| o);
        let at = self.list.partition_point(|&(o, _, _)| o <= offset);
        self.list.insert(at, (offset, offset + me.bytes, b));
        offset
    }
}

/// Places buffers best-fit in the given order; returns the offsets and the arena size.
pub fn place_in_order(buffers: &[Buffer], order: &[usize]) -> (Vec<usize>, usize) {
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed = Placed::default();
    let mut arena = 0usize;
    for &b in order {
        let o = placed.best_fit(buffers, b);
        offsets[b] = o;
        arena = arena.max(o + buffers[b].bytes);
    }
    (offsets, arena)
}
