//! The text form of a plan: a summary line, the schedule, one line per value (place, size, live
//! range, in-place marks), then scratch areas. Deterministic, for `mvcc inspect --plan` and
//! goldens.

use std::fmt::Write as _;

use super::liveness::value_ranges;
use super::{Place, Plan};
use crate::lower::{Operand, Program, ValueId};

/// Arena size relative to the lower bound, as `+2.3%`.
pub fn overhead(plan: &Plan) -> String {
    if plan.lower_bound_bytes == 0 {
        return "+0.0%".into();
    }
    let r = plan.arena_bytes as f64 / plan.lower_bound_bytes as f64 - 1.0;
    format!("{:+.1}%", r * 100.0)
}

/// The plan of `p` as text.
pub fn plan_to_text(p: &Program, plan: &Plan) -> String {
    let mut s = String::new();
    let ranges = value_ranges(p);
    let in_place_steps = plan.in_place.iter().filter(|&&b| b).count();
    let _ = writeln!(
        s,
        "arena {} bytes, lower bound {} bytes ({}), {}; {} steps, {} in place",
        plan.arena_bytes,
        plan.lower_bound_bytes,
        overhead(plan),
        plan.strategy.name(),
        p.steps.len(),
        in_place_steps
    );
    let _ = writeln!(s, "\nschedule:");
    for (i, step) in p.steps.iter().enumerate() {
        let outs: Vec<String> = step.outputs.iter().map(|v| format!("v{}", v.0)).collect();
        let ins: Vec<String> = step
            .inputs
            .iter()
            .map(|o| match o {
                Some(Operand::Value(v)) => format!("v{}", v.0),
                Some(Operand::Weight(_)) => "w".into(),
                None => "-".into(),
            })
            .collect();
        let ops: Vec<String> = step.origin.ops.iter().map(|o| o.to_string()).collect();
        let mut line = format!(
            "  {i:>4}  {:<24} {} = {}({})",
            step.kernel.name(),
            outs.join(", "),
            step.origin.op.to_ascii_lowercase(),
            ins.join(", ")
        );
        if !ops.is_empty() {
            let _ = write!(line, "  op {}", ops.join("+"));
        }
        if plan.in_place.get(i).copied().unwrap_or(false) {
            let _ = write!(line, "  in place");
        }
        if step.scratch_bytes > 0 {
            let _ = write!(line, "  scratch {}", step.scratch_bytes);
        }
        if let Some(b) = step.block {
            let _ = write!(line, "  block {b}");
        }
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\n{:<6} {:>6}  {:<14} {:>10}  {:<11} name",
        "value", "tensor", "offset", "bytes", "live"
    );
    // The step writing each value over its operand (in place), for the marks.
    let mut over: Vec<Option<(usize, ValueId)>> = vec![None; p.values.len()];
    for (i, step) in p.steps.iter().enumerate() {
        if !plan.in_place.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let (Some(k), Some(&out)) = (step.in_place, step.outputs.first()) {
            if let Some(Some(Operand::Value(x))) = step.inputs.get(k) {
                over[out.index()] = Some((i, *x));
            }
        }
    }
    for (v, val) in p.values.iter().enumerate() {
        let id = ValueId(v as u32);
        let tensor = val.tflite_index.map_or("-".to_string(), |t| t.to_string());
        let place = match (val.alias, plan.place(p, id)) {
            (Some(a), _) => format!("=v{}+{}", a.of.0, a.offset),
            (None, Place::Input(n, _)) => format!("input {n}"),
            (None, Place::Output(n, _)) => format!("output {n}"),
            (None, Place::Arena(o)) if plan.offsets[v].is_some() => o.to_string(),
            (None, Place::Arena(_)) => "unused".into(),
        };
        let live = match ranges[v] {
            Some((a, b)) => format!("{a}..{b}"),
            None => "-".into(),
        };
        // TFLite joins the names of fused ops with ';': the first names the tensor.
        let name = match val.name.split_once(';') {
            Some((first, _)) => format!("\"{first}\"…"),
            None => format!("\"{}\"", val.name),
        };
        let mut line = format!(
            "v{v:<5} {tensor:>6}  {place:<14} {:>10}  {live:<11} {name}",
            val.bytes
        );
        if let Some((step, x)) = over[v] {
            let _ = write!(line, "  in place over v{} at step {step}", x.0);
        }
        let _ = writeln!(s, "{line}");
    }
    let scratch: Vec<(usize, usize)> = plan
        .scratch
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.map(|o| (i, o)))
        .collect();
    if !scratch.is_empty() {
        let _ = writeln!(s, "\nscratch:");
        for (i, o) in scratch {
            let _ = writeln!(s, "  step {i:>4}  {o:<14} {:>10}", p.steps[i].scratch_bytes);
        }
    }
    s
}
