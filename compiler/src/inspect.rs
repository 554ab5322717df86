//! Model statistics for `mvcc inspect`: per-op shapes and multiply-accumulates, totals.

use crate::ir::{Graph, Op, OpId};

/// Multiply-accumulate operations of one op (0 for ops that are not matrix products).
pub fn op_macs(g: &Graph, id: OpId) -> u64 {
    let n = g.op(id);
    let out = n.outputs.first().map(|&t| g.tensor(t));
    let input = |i: usize| n.inputs.get(i).copied().flatten().map(|t| g.tensor(t));
    let out_elems = out.map(|t| t.num_elements() as u64).unwrap_or(0);
    match &n.op {
        Op::Conv2d(_) => input(1)
            .map(|w| {
                let per_out: u64 = w.shape.iter().skip(1).map(|&d| d as u64).product();
                out_elems * per_out
            })
            .unwrap_or(0),
        Op::DepthwiseConv2d(_) => input(1)
            .map(|w| {
                let k: u64 = w.shape.iter().skip(1).take(2).map(|&d| d as u64).product();
                out_elems * k
            })
            .unwrap_or(0),
        Op::TransposeConv(_) => match (input(1), input(2)) {
            (Some(w), Some(x)) => {
                let k: u64 = w.shape.iter().take(3).map(|&d| d as u64).product();
                x.num_elements() as u64 * k
            }
            _ => 0,
        },
        Op::FullyConnected(_) => input(1)
            .and_then(|w| w.shape.last())
            .map(|&k| out_elems * k as u64)
            .unwrap_or(0),
        _ => 0,
    }
}

/// Totals over a graph: (parameters, weight bytes, MACs).
pub fn totals(g: &Graph) -> (u64, u64, u64) {
    let used: std::collections::BTreeSet<usize> = g
        .op_ids()
        .iter()
        .flat_map(|&o| g.op(o).inputs.iter().flatten().map(|t| t.index()))
        .collect();
    let mut params = 0u64;
    let mut bytes = 0u64;
    for i in used {
        let t = &g.tensors[i];
        if t.is_const() {
            params += t.num_elements() as u64;
            bytes += t.byte_len() as u64;
        }
    }
    let macs = g.op_ids().into_iter().map(|o| op_macs(g, o)).sum();
    (params, bytes, macs)
}

/// The most bytes of tensors live at once when the graph runs op by op as imported: every op
/// result materialized (PAD copies, standalone activations, reshapes), no in-place, no aliasing.
/// Model inputs and outputs are counted like any tensor. This is the memory an interpreter
/// without the middle end needs at least; the plan's lower bound is the same measure after it.
pub fn unfused_lower_bound(g: &Graph) -> u64 {
    let Ok(order) = g.topo_order() else { return 0 };
    let mut last_use = vec![0usize; g.tensors.len()];
    let mut first_def = vec![usize::MAX; g.tensors.len()];
    for &t in &g.inputs {
        first_def[t.index()] = 0;
    }
    for (s, &o) in order.iter().enumerate() {
        let n = g.op(o);
        for t in n.inputs.iter().flatten() {
            last_use[t.index()] = last_use[t.index()].max(s);
        }
        for &t in &n.outputs {
            first_def[t.index()] = first_def[t.index()].min(s);
            last_use[t.index()] = last_use[t.index()].max(s);
        }
    }
    for &t in &g.outputs {
        last_use[t.index()] = order.len();
    }
    (0..order.len())
        .map(|s| {
            g.tensors
                .iter()
                .enumerate()
                .filter(|(i, t)| !t.is_const() && first_def[*i] <= s && s <= last_use[*i])
                .map(|(_, t)| t.byte_len() as u64)
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
}
