//! Descriptions as text: what `mvcc inspect --nnapi` prints and the goldens hold. Constants show
//! their value when small and a size and FNV-1a hash otherwise, so a change of weight layout shows.

use std::fmt::Write as _;

use super::desc::{Description, Lifetime, Partition, Place, SegmentKind};

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn value(o: &super::desc::Operand, weights: &[u8]) -> String {
    let Some(b) = o.const_bytes(weights) else {
        return "<out of the weights>".into();
    };
    if let Some(v) = o.scalar_i32(weights) {
        return v.to_string();
    }
    if let Some(v) = o.scalar_f32(weights) {
        return format!("{v:?}");
    }
    if let Some(v) = o.scalar_bool(weights) {
        return v.to_string();
    }
    if o.ty == super::desc::OperandType::TensorInt32 && b.len() <= 32 {
        let v: Vec<String> = b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
            .collect();
        return format!("[{}]", v.join(", "));
    }
    format!("{} bytes fnv1a={:016x}", b.len(), fnv1a(&b))
}

/// One description as text.
pub fn describe(d: &Description, weights: &[u8]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nnapi model: API level {}, {} operands, {} operations",
        d.api_level,
        d.operands.len(),
        d.operations.len()
    );
    for (i, o) in d.operands.iter().enumerate() {
        let dims: Vec<String> = o.dims.iter().map(u32::to_string).collect();
        let mut line = format!("  %{i} {}", o.ty);
        if !o.dims.is_empty() {
            let _ = write!(line, " [{}]", dims.join(","));
        }
        if o.scale != 0.0 || o.zero_point != 0 {
            let _ = write!(line, " scale={:?} zp={}", o.scale, o.zero_point);
        }
        if let Some(c) = &o.channel_quant {
            let _ = write!(
                line,
                " per-channel dim {} ({} scales, first {:?})",
                c.channel_dim,
                c.scales.len(),
                c.scales.first().copied().unwrap_or(0.0)
            );
        }
        match &o.lifetime {
            Lifetime::Temporary => line.push_str(" temporary"),
            Lifetime::Input => line.push_str(" input"),
            Lifetime::Output => line.push_str(" output"),
            Lifetime::NoValue => line.push_str(" no value"),
            Lifetime::Inline(_) => {
                let _ = write!(line, " = {}", value(o, weights));
            }
            Lifetime::Weight(r) => {
                let _ = write!(line, " = weights@{}: {}", r.offset, value(o, weights));
            }
            Lifetime::Blocked(b) => {
                let _ = write!(
                    line,
                    " = unpacked from the CPU's blocked copy at weights@{}: {}",
                    b.range.offset,
                    value(o, weights)
                );
            }
        }
        let _ = writeln!(out, "{line}  \"{}\"", o.name);
    }
    for (i, op) in d.operations.iter().enumerate() {
        let ins: Vec<String> = op.inputs.iter().map(|i| format!("%{i}")).collect();
        let outs: Vec<String> = op.outputs.iter().map(|i| format!("%{i}")).collect();
        let _ = writeln!(
            out,
            "  op{i} {}({}) -> {}",
            op.ty,
            ins.join(", "),
            outs.join(", ")
        );
    }
    let list = |v: &[u32]| {
        v.iter()
            .map(|i| format!("%{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "  inputs: {}", list(&d.inputs));
    let _ = writeln!(out, "  outputs: {}", list(&d.outputs));
    out
}

fn place(p: &Place) -> String {
    match *p {
        Place::Arena { offset, len } => format!("arena@{offset}+{len}"),
        Place::ModelInput { index, offset, len } => format!("input{index}@{offset}+{len}"),
        Place::ModelOutput { index, offset, len } => format!("output{index}@{offset}+{len}"),
    }
}

/// A partition as text: every segment, and every NNAPI model with its input and output places.
pub fn partition(p: &Partition, weights: &[u8]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "partition: API level {}, {} steps, {} segments",
        p.api_level,
        p.steps,
        p.segments.len()
    );
    for (k, s) in p.segments.iter().enumerate() {
        match &s.kind {
            SegmentKind::Cpu => {
                let _ = writeln!(
                    out,
                    "segment {k}: CPU steps {}..{}",
                    s.steps.start, s.steps.end
                );
            }
            SegmentKind::Nnapi {
                desc,
                inputs,
                outputs,
            } => {
                let _ = writeln!(
                    out,
                    "segment {k}: NNAPI steps {}..{}: {} operations, {} inputs, {} outputs",
                    s.steps.start,
                    s.steps.end,
                    desc.operations.len(),
                    inputs.len(),
                    outputs.len()
                );
                let ins: Vec<String> = inputs.iter().map(place).collect();
                let outs: Vec<String> = outputs.iter().map(place).collect();
                let _ = writeln!(out, "  reads {}", ins.join(", "));
                let _ = writeln!(out, "  writes {}", outs.join(", "));
                out.push_str(&describe(desc, weights));
            }
        }
    }
    out
}
