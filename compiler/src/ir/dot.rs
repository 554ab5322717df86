//! The graph as Graphviz (`mvcc inspect --dot`): ops as boxes labelled with their kind,
//! attributes, result types and constant operands; model inputs and outputs as ellipses; every
//! tensor flowing between them as an edge labelled `%N type`.
//!
//! Deterministic: nodes are numbered in the graph's topological order. Render with
//! `dot -Tsvg graph.dot > graph.svg`.

use std::fmt::Write;

use super::graph::{Graph, TensorId};
use super::text::tensor_type;

/// Escapes a string for a double-quoted Graphviz label.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// At most this many constant operands are listed in an op's label.
const MAX_CONSTS: usize = 4;

/// Writes `g` as a Graphviz digraph.
pub fn graph_to_dot(g: &Graph) -> String {
    let mut out = String::new();
    out.push_str("digraph mvcc {\n");
    out.push_str("  rankdir=TB;\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n");
    // Where each tensor comes from: a node name.
    let mut source: Vec<Option<String>> = vec![None; g.tensors.len()];
    for (i, &t) in g.inputs.iter().enumerate() {
        let tt = g.tensor(t);
        let label = format!("input {i}\n\"{}\"\n{}", tt.name, tensor_type(tt));
        let _ = writeln!(
            out,
            "  in{i} [shape=ellipse, fillcolor=\"#e3f4e1\", label=\"{}\"];",
            esc(&label)
        );
        if let Some(s) = source.get_mut(t.index()) {
            *s = Some(format!("in{i}"));
        }
    }
    let order = g.topo_order().unwrap_or_else(|_| g.op_ids());
    for (n, &id) in order.iter().enumerate() {
        let node = g.op(id);
        for &t in &node.outputs {
            if let Some(s) = source.get_mut(t.index()) {
                *s = Some(format!("op{n}"));
            }
        }
    }
    let edge_label = |t: TensorId| format!("%{} {}", t.0, tensor_type(g.tensor(t)));
    for (n, &id) in order.iter().enumerate() {
        let node = g.op(id);
        let mut label = node.op.kind().name().to_string();
        if let Some(i) = node.tflite_index {
            let _ = write!(label, "  #{i}");
        }
        let attrs: Vec<String> = node
            .op
            .attr_pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !attrs.is_empty() {
            let _ = write!(label, "\n{}", attrs.join(" "));
        }
        for &t in &node.outputs {
            let _ = write!(label, "\n→ {}", tensor_type(g.tensor(t)));
        }
        let consts: Vec<TensorId> = node
            .inputs
            .iter()
            .flatten()
            .copied()
            .filter(|&t| g.tensor(t).is_const())
            .collect();
        for &t in consts.iter().take(MAX_CONSTS) {
            let _ = write!(label, "\nconst %{} {}", t.0, tensor_type(g.tensor(t)));
        }
        if consts.len() > MAX_CONSTS {
            let _ = write!(label, "\n+{} more constants", consts.len() - MAX_CONSTS);
        }
        let _ = writeln!(out, "  op{n} [label=\"{}\"];", esc(&label));
        for &t in node.inputs.iter().flatten() {
            if let Some(Some(src)) = source.get(t.index()) {
                let _ = writeln!(out, "  {src} -> op{n} [label=\"{}\"];", esc(&edge_label(t)));
            }
        }
    }
    for (i, &t) in g.outputs.iter().enumerate() {
        let tt = g.tensor(t);
        let label = format!("output {i}\n\"{}\"", tt.name);
        let _ = writeln!(
            out,
            "  out{i} [shape=ellipse, fillcolor=\"#fbeee3\", label=\"{}\"];",
            esc(&label)
        );
        match source.get(t.index()) {
            Some(Some(src)) => {
                let _ = writeln!(
                    out,
                    "  {src} -> out{i} [label=\"{}\"];",
                    esc(&edge_label(t))
                );
            }
            _ => {
                // A constant output.
                let _ = writeln!(
                    out,
                    "  outc{i} [shape=note, label=\"{}\"];\n  outc{i} -> out{i};",
                    esc(&format!("const {}", edge_label(t)))
                );
            }
        }
    }
    out.push_str("}\n");
    out
}
