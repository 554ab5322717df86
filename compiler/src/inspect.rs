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
        Op::FullyConnected(_) => {
            input(1).and_then(|w| w.shape.last()).map(|&k| out_elems * k as u64).unwrap_or(0)
        }
        _ => 0,
    }
}

/// Totals over a graph: (parameters, weight bytes, MACs).
pub fn totals(g: &Graph) -> (u64, u64, u64) {
    let used: std::collections::BTreeSet<usize> =
        g.op_ids().iter().flat_map(|&o| g.op(o).inputs.iter().flatten().map(|t| t.index())).collect();
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
