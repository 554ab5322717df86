//! The stable text form of a graph: one op per line, types inline, in topological order.
//!
//! ```text
//! %3:i8[1,16,16,8] q(0.0235,-3) = conv_2d(%0, %1, %2) {stride=[1,1], dilation=[1,1], pad=same, act=relu6}
//! ```
//!
//! Tensors print as `%N` with `N` their index in the tensor table (the `.tflite` tensor index for
//! imported tensors). Constants are listed first with a short summary of their data. An op in a
//! fused block ([`Graph::block`]) ends its attributes with `block=N`. The form is deterministic:
//! it is the format of golden tests and of `mvcc inspect --ir`.

use std::fmt::Write;

use super::graph::{Graph, Tensor, TensorId};

/// Writes a tensor's type: `i8[1,16,16,8] q(0.0235,-3)`.
pub fn tensor_type(t: &Tensor) -> String {
    let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
    let mut s = format!("{}[{}]", t.dtype, dims.join(","));
    if let Some(q) = &t.quant {
        if q.scale.len() == 1 {
            let _ = write!(s, " q({},{})", q.scale[0], q.zero_point[0]);
        } else {
            let _ = write!(s, " q(axis={}, {} scales)", q.axis, q.scale.len());
        }
    }
    s
}

fn name(id: TensorId) -> String {
    format!("%{}", id.0)
}

/// The whole graph as text.
pub fn graph_to_text(g: &Graph) -> String {
    let mut out = String::new();
    let ins: Vec<String> = g
        .inputs
        .iter()
        .map(|&t| format!("{}:{}", name(t), tensor_type(g.tensor(t))))
        .collect();
    let _ = writeln!(out, "inputs({})", ins.join(", "));
    for (i, t) in g.tensors.iter().enumerate() {
        if t.is_const() {
            let _ = writeln!(out, "%{i}:{} = const \"{}\"", tensor_type(t), t.name);
        }
    }
    let order = match g.topo_order() {
        Ok(o) => o,
        Err(_) => g.op_ids(),
    };
    for id in order {
        let node = g.op(id);
        let outs: Vec<String> = node
            .outputs
            .iter()
            .map(|&t| format!("{}:{}", name(t), tensor_type(g.tensor(t))))
            .collect();
        let args: Vec<String> = node
            .inputs
            .iter()
            .map(|t| t.map(name).unwrap_or_else(|| "_".into()))
            .collect();
        let mut attrs: Vec<String> = node
            .op
            .attr_pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some(b) = g.block(id) {
            attrs.push(format!("block={b}"));
        }
        let _ = write!(
            out,
            "{} = {}({})",
            outs.join(", "),
            node.op.kind().name(),
            args.join(", ")
        );
        if !attrs.is_empty() {
            let _ = write!(out, " {{{}}}", attrs.join(", "));
        }
        out.push('\n');
    }
    let outs: Vec<String> = g.outputs.iter().map(|&t| name(t)).collect();
    let _ = writeln!(out, "outputs({})", outs.join(", "));
    out
}
