//! Depthwise→pointwise pairing: a 3×3 or 5×5 DEPTHWISE_CONV_2D whose result only a 1×1,
//! stride-1 CONV_2D reads is marked, with that convolution, as one fused block
//! ([`Graph::block`]), so that a kernel may compute the pointwise convolution from tiles of the
//! depthwise output while they are in cache instead of from the whole tensor in memory (MobileNet's
//! separable convolutions).
//!
//! Precondition: a verified graph, after the other fusions (the depthwise convolution's
//! activation fused, its PAD folded, a residual ADD fused into the pointwise convolution).
//!
//! Matched when the depthwise filter is `[1, 3, 3, C]` or `[1, 5, 5, C]`, its result is read once,
//! by a CONV_2D (as the input) and is not a model output, and that CONV_2D has a `[Co, 1, 1, C]`
//! filter (no groups), stride 1 and an output of its input's height and width (no padding).
//! Neither op is in a block yet. Blocks are numbered from 0 in schedule order.
//!
//! Pairs are kept only when the two ops are consecutive in the schedule ([`Graph::topo_order`]
//! runs an op of a block right after the previous one when it is ready then): one whose 1×1
//! convolution also waits for another operand computed later (a residual from another branch) is
//! left unmarked.
//!
//! Guarantee: no op, operand or attribute changes; only the block marks are added (lowering
//! copies them to [`crate::lower::Step::block`]; the two steps are consecutive). The
//! interpreter runs the pair as two steps, so every result is unchanged.

use std::collections::BTreeMap;

use super::rewrite::{input, topo, Uses};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{Graph, Op, OpId};

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let uses = Uses::new(g);
    let order = topo(g)?;
    let mut next = order
        .iter()
        .filter_map(|&id| g.block(id))
        .max()
        .map_or(0, |b| b + 1);
    let mut pairs = Vec::new();
    for id in order {
        let Some(pointwise) = pointwise_reader(g, &uses, id) else {
            continue;
        };
        g.set_block(id, Some(next));
        g.set_block(pointwise, Some(next));
        pairs.push((id, pointwise));
        next += 1;
    }
    // The schedule keeps a block together when the pointwise convolution is ready right after
    // the depthwise one; a pair whose pointwise convolution waits for another operand is not a
    // block.
    let position: BTreeMap<OpId, usize> = topo(g)?
        .into_iter()
        .enumerate()
        .map(|(i, op)| (op, i))
        .collect();
    let mut paired = 0;
    for (dw, pw) in pairs {
        match (position.get(&dw), position.get(&pw)) {
            (Some(&i), Some(&j)) if j == i + 1 => paired += 1,
            _ => {
                g.set_block(dw, None);
                g.set_block(pw, None);
            }
        }
    }
    Ok(Changed(paired))
}

/// The 1×1 convolution pairing with op `id`, if `id` is a 3×3 or 5×5 depthwise convolution
/// whose result only that convolution reads.
fn pointwise_reader(g: &Graph, uses: &Uses, id: OpId) -> Option<OpId> {
    let node = g.op(id);
    let Op::DepthwiseConv2d(_) = &node.op else {
        return None;
    };
    let [y] = node.outputs[..] else {
        return None;
    };
    let filter = &g.tensor(input(node, 1)?).shape;
    if !matches!(filter[..], [1, 3, 3, _] | [1, 5, 5, _]) || g.block(id).is_some() {
        return None;
    }
    let reader = uses.sole_reader(y)?;
    let rnode = g.op(reader);
    let Op::Conv2d(a) = &rnode.op else {
        return None;
    };
    let c = *g.tensor(y).shape.last()?;
    let filter = &g.tensor(input(rnode, 1)?).shape;
    let (x, out) = (
        &g.tensor(input(rnode, 0)?).shape,
        &g.tensor(*rnode.outputs.first()?).shape,
    );
    let pointwise = input(rnode, 0) == Some(y)
        && matches!(filter[..], [_, 1, 1, fc] if fc == c)
        && a.stride == [1, 1]
        && x.len() == 4
        && out.len() == 4
        && x[..3] == out[..3];
    (pointwise && g.block(reader).is_none()).then_some(reader)
}
