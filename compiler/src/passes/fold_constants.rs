//! Constant folding: an op whose operands are all constants is evaluated at compile time and its
//! results become constants.
//!
//! This is also how weights stored as float16 or int8 behind a DEQUANTIZE become plain float32
//! constants, so no dequantization runs per inference.
//!
//! Precondition: a verified graph.
//!
//! Guarantee: each folded result holds exactly the bytes the op would compute at run time (it is
//! evaluated with the same reference kernels); the folded op is removed. Ops in topological
//! order, so chains of constant ops fold in one run. Bounded work on hostile models: an op is left
//! in place when one of its results exceeds [`PassOptions::fold_max_bytes`], when it would take
//! the bytes folded over one pipeline run past [`PassOptions::fold_budget_bytes`], or when it
//! costs more than [`PassOptions::fold_max_macs`] multiply-accumulates.
//!
//! [`PassOptions::fold_max_bytes`]: super::PassOptions::fold_max_bytes
//! [`PassOptions::fold_budget_bytes`]: super::PassOptions::fold_budget_bytes
//! [`PassOptions::fold_max_macs`]: super::PassOptions::fold_max_macs

use super::rewrite::{eval_in_graph, topo};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::Graph;

/// Runs the pass.
///
/// # Errors
/// An op whose compile-time evaluation fails (its kernel rejects its operands).
pub fn run(g: &mut Graph, cx: &mut PassCx) -> Result<Changed> {
    let mut folded = 0;
    for id in topo(g)? {
        let node = g.op(id);
        let mut ins = node.inputs.iter().flatten().peekable();
        if ins.peek().is_none() || !ins.all(|&t| g.tensor(t).is_const()) {
            continue;
        }
        let mut bytes = 0usize;
        let mut too_big = false;
        for &t in &node.outputs {
            let b = g.tensor(t).byte_len();
            too_big |= b > cx.options.fold_max_bytes;
            bytes = bytes.saturating_add(b);
        }
        if too_big
            || cx.folded_bytes.saturating_add(bytes) > cx.options.fold_budget_bytes
            || crate::inspect::op_macs(g, id) > cx.options.fold_max_macs
        {
            continue;
        }
        let results = eval_in_graph(g, id)?;
        let outs = node.outputs.clone();
        for (t, b) in outs.into_iter().zip(results) {
            g.tensor_mut(t).data = Some(b.bytes().to_vec());
        }
        g.remove_op(id);
        cx.folded_bytes += bytes;
        folded += 1;
    }
    if folded > 0 {
        g.relink();
    }
    Ok(Changed(folded))
}
