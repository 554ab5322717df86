//! The verifier: structural rules of a graph, every violation collected with its location.
//!
//! Checks: every operand is a constant, a model input or produced by an earlier op; every tensor
//! has at most one producer and model inputs and constants have none; the graph is acyclic; every
//! op's operands satisfy its shape rule (arity, types, shapes) and the rule's result shapes equal
//! the result tensors' shapes; constant data has the size its type and shape say.

use crate::error::{Location, Problems, Result};
use crate::ir::{Graph, TensorId};
use crate::ops;

fn tensor_loc(g: &Graph, t: TensorId) -> Location {
    let tt = g.tensor(t);
    Location::tensor(tt.tflite_index, &tt.name)
}

/// Verifies `g`, returning every problem found.
///
/// # Errors
/// One [`crate::error::Problem`] per violated rule.
pub fn verify(g: &Graph) -> Result<()> {
    let mut p = Problems::default();
    let n = g.tensors.len();
    for (i, t) in g.tensors.iter().enumerate() {
        if let Some(d) = &t.data {
            if d.len() != t.byte_len() {
                p.invalid(
                    tensor_loc(g, TensorId(i as u32)),
                    format!(
                        "constant has {} bytes, its type and shape need {}",
                        d.len(),
                        t.byte_len()
                    ),
                );
            }
        }
    }
    let mut producer: Vec<Option<u32>> = vec![None; n];
    for &t in &g.inputs {
        if t.index() >= n {
            p.invalid(
                Location::model(),
                format!("model input {} is not a tensor", t.0),
            );
        } else if g.tensor(t).is_const() {
            p.invalid(tensor_loc(g, t), "a model input is a constant");
        }
    }
    for &t in &g.outputs {
        if t.index() >= n {
            p.invalid(
                Location::model(),
                format!("model output {} is not a tensor", t.0),
            );
        }
    }
    let order = match g.topo_order() {
        Ok(o) => o,
        Err(op) => {
            let node = g.op(op);
            p.invalid(
                Location::operator(node.tflite_index, node.op.kind().tflite_name()),
                "the graph has a cycle through this operator",
            );
            return p.finish(());
        }
    };
    let mut available: Vec<bool> = g.tensors.iter().map(|t| t.is_const()).collect();
    for &t in &g.inputs {
        if let Some(a) = available.get_mut(t.index()) {
            *a = true;
        }
    }
    for &id in &order {
        let node = g.op(id);
        let loc = Location::operator(node.tflite_index, node.op.kind().tflite_name());
        let mut ok = true;
        for t in node.inputs.iter().flatten() {
            if t.index() >= n {
                p.invalid(loc.clone(), format!("input tensor {} does not exist", t.0));
                ok = false;
            } else if !available[t.index()] {
                p.invalid(
                    loc.clone().with_tensor(g.tensor(*t).tflite_index, &g.tensor(*t).name),
                    "input is neither a constant, a model input, nor produced by an earlier operator",
                );
                ok = false;
            }
        }
        for &t in &node.outputs {
            if t.index() >= n {
                p.invalid(loc.clone(), format!("output tensor {} does not exist", t.0));
                ok = false;
                continue;
            }
            let tt = g.tensor(t);
            let tloc = loc.clone().with_tensor(tt.tflite_index, &tt.name);
            if tt.is_const() {
                p.invalid(tloc, "output is a constant tensor");
                ok = false;
            } else if g.inputs.contains(&t) {
                p.invalid(tloc, "output is a model input");
                ok = false;
            } else if let Some(prev) = producer[t.index()] {
                p.invalid(tloc, format!("tensor is also written by operator {prev}"));
                ok = false;
            } else {
                producer[t.index()] = Some(node.tflite_index.unwrap_or(u32::MAX));
            }
            available[t.index()] = true;
        }
        if !ok {
            continue;
        }
        match ops::infer(g, id) {
            Ok(shapes) => {
                for (k, (&t, shape)) in node.outputs.iter().zip(&shapes).enumerate() {
                    let tt = g.tensor(t);
                    if &tt.shape != shape {
                        p.invalid(
                            loc.clone().with_tensor(tt.tflite_index, &tt.name),
                            format!(
                                "output {k} has shape {:?}, the op computes {:?}",
                                tt.shape, shape
                            ),
                        );
                    }
                }
                if shapes.len() != node.outputs.len() {
                    p.invalid(
                        loc,
                        format!(
                            "expected {} outputs, got {}",
                            shapes.len(),
                            node.outputs.len()
                        ),
                    );
                }
            }
            Err(e) => p.extend(e),
        }
    }
    for &t in &g.outputs {
        if t.index() < n && !available[t.index()] {
            p.invalid(tensor_loc(g, t), "model output is never computed");
        }
    }
    p.finish(())
}
