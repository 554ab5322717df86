//! Dead-op elimination: ops none of whose results is read by another op or is a model output are
//! removed, and constants nothing reads any more drop their data.
//!
//! Precondition: a verified graph.
//!
//! Guarantee: every model output and everything it depends on is kept, unchanged. Ops are visited
//! in reverse topological order, so a chain of dead ops goes in one run. A dropped constant stays
//! in the tensor table (tensor ids are stable) as an unused tensor without data or producer; the
//! text form and the lowering ignore such tensors. Weights replaced by other passes (folded
//! BatchNorm, dequantized copies) stop costing memory here.

use super::rewrite::topo;
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::Graph;

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut used = vec![false; g.tensors.len()];
    for t in &g.outputs {
        if let Some(u) = used.get_mut(t.index()) {
            *u = true;
        }
    }
    let mut removed = 0;
    for id in topo(g)?.into_iter().rev() {
        let node = g.op(id);
        if node
            .outputs
            .iter()
            .any(|t| used.get(t.index()).copied().unwrap_or(true))
        {
            for t in node.inputs.iter().flatten() {
                if let Some(u) = used.get_mut(t.index()) {
                    *u = true;
                }
            }
        } else {
            g.remove_op(id);
            removed += 1;
        }
    }
    if removed > 0 {
        g.relink();
    }
    for (t, u) in g.tensors.iter_mut().zip(&used) {
        if !u && t.data.is_some() {
            t.data = None;
            removed += 1;
        }
    }
    Ok(Changed(removed))
}
