//! BatchNorm folding: a per-channel MUL, ADD or SUB by a constant that follows a CONV_2D,
//! DEPTHWISE_CONV_2D or FULLY_CONNECTED is folded into the op's weights and bias. Chains (MUL then
//! ADD, ADD then MUL, several) fold one link per rewrite until none is left.
//!
//! Precondition: a verified graph; constants already folded (weights behind a DEQUANTIZE are plain
//! constants by then).
//!
//! Matched when the producer has no fused activation, its result `y` is read only by the MUL/ADD/
//! SUB (and is not a model output), the other operand is a constant whose shape is all ones but
//! for the last dimension, which is 1 or the number of output channels (so it broadcasts along
//! the channels and leaves `y`'s shape unchanged), and the producer's weights (and bias, if any)
//! are constants. The producer then writes the MUL/ADD/SUB's result tensor and takes over its
//! fused activation; new weight and bias constants are added (the old ones are left to
//! dead-code elimination, since another op may share them).
//!
//! Guarantee, float32: with `s` and `c` the per-channel constants, `conv(x, W) · s + b · s` and
//! `conv(x, W) + (b + c)` replace `(conv(x, W) + b) · s` and `(conv(x, W) + b) + c` (SUB: `b − c`,
//! or `−W` and `c − b` for `c − y`). These are equal in exact arithmetic; in float32 the results
//! differ by rounding only (the products are rounded in another order), well inside the
//! conformance tolerance of 1e-5 of a tensor's largest magnitude. Links whose constant, or whose
//! folded weights or bias, are not all finite are left alone.
//!
//! Guarantee, int8/uint8: bit-exact. A quantized MUL/ADD/SUB cannot be folded into integer
//! weights without changing rounding, so only links that are provably the identity are removed:
//! `y` and the result have the same quantization and the op, evaluated with the reference kernels
//! on every one of the 256 codes in every channel, gives back each code (a MUL by exactly 1, an
//! ADD or SUB of exactly 0). Everything else is left alone.

use super::rewrite::{
    all_codes, const_f32, eval_alone, f32_bytes, fused_activation, fused_activation_mut, input,
    same_type_and_quant, sane_per_tensor, tensor_like, topo, Uses,
};
use super::{Changed, PassCx};
use crate::error::Result;
use crate::ir::{Activation, DType, Graph, Op, OpId, OpKind, Tensor, TensorId};

/// Most channels of a quantized identity proof (each is evaluated on all 256 codes).
const MAX_PROOF_CHANNELS: usize = 1 << 14;

/// How the constant combines with the producer's result `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// `y · c`.
    Mul,
    /// `y + c`.
    Add,
    /// `y − c`.
    SubConst,
    /// `c − y`.
    SubFrom,
}

/// A foldable link: the MUL/ADD/SUB, its producer, the constant.
struct Match {
    op: OpId,
    producer: OpId,
    link: Link,
    y: TensorId,
    c: TensorId,
    out: TensorId,
    act: Activation,
}

/// Runs the pass.
///
/// # Errors
/// None in practice (a cycle, which the verifier rules out).
pub fn run(g: &mut Graph, _cx: &mut PassCx) -> Result<Changed> {
    let mut folded = 0;
    let mut uses = Uses::new(g);
    for id in topo(g)? {
        if !g.contains_op(id) {
            continue;
        }
        let Some(m) = find(g, &uses, id) else {
            continue;
        };
        let done = match g.tensor(m.y).dtype {
            DType::F32 => fold_float(g, &m),
            DType::I8 | DType::U8 => remove_quantized_identity(g, &m),
            _ => false,
        };
        if done {
            g.relink();
            uses = Uses::new(g);
            folded += 1;
        }
    }
    Ok(Changed(folded))
}

/// The output-channel count and the filter dimension of the output channels of a producer.
fn channels(g: &Graph, producer: OpId) -> Option<(usize, usize)> {
    let node = g.op(producer);
    let w = g.tensor(input(node, 1)?);
    match (&node.op, w.shape.as_slice()) {
        (Op::Conv2d(_), [co, _, _, _]) => Some((*co, 0)),
        (Op::DepthwiseConv2d(_), [1, _, _, co]) => Some((*co, 3)),
        (Op::FullyConnected(_), [co, _]) => Some((*co, 0)),
        _ => None,
    }
}

fn find(g: &Graph, uses: &Uses, id: OpId) -> Option<Match> {
    let node = g.op(id);
    let (a, b) = (input(node, 0)?, input(node, 1)?);
    let out = *node.outputs.first()?;
    let (y, c, y_first) = match (g.tensor(a).is_const(), g.tensor(b).is_const()) {
        (false, true) => (a, b, true),
        (true, false) => (b, a, false),
        _ => return None,
    };
    let (link, act) = match &node.op {
        Op::Mul(x) => (Link::Mul, x.act),
        Op::Add(x) => (Link::Add, x.act),
        Op::Sub(x) if y_first => (Link::SubConst, x.act),
        Op::Sub(x) => (Link::SubFrom, x.act),
        _ => return None,
    };
    if uses.sole_reader(y) != Some(id) {
        return None;
    }
    let producer = g.producer(y)?;
    let pnode = g.op(producer);
    if !matches!(
        pnode.op.kind(),
        OpKind::Conv2d | OpKind::DepthwiseConv2d | OpKind::FullyConnected
    ) || fused_activation(&pnode.op) != Some(Activation::None)
        || matches!(&pnode.op, Op::Conv2d(a) if a.residual.is_some())
        || pnode.outputs.first() != Some(&y)
    {
        return None;
    }
    let (co, _) = channels(g, producer)?;
    let (yt, ct, ot) = (g.tensor(y), g.tensor(c), g.tensor(out));
    if yt.shape != ot.shape || yt.shape.last() != Some(&co) || yt.dtype != ct.dtype {
        return None;
    }
    // The constant broadcasts along the channels only.
    let Some((&last, lead)) = ct.shape.split_last() else {
        // A scalar.
        return Some(Match {
            op: id,
            producer,
            link,
            y,
            c,
            out,
            act,
        });
    };
    if ct.shape.len() > yt.shape.len() || lead.iter().any(|&d| d != 1) || (last != 1 && last != co)
    {
        return None;
    }
    Some(Match {
        op: id,
        producer,
        link,
        y,
        c,
        out,
        act,
    })
}

/// The constant as one value per output channel.
fn per_channel(ct: &Tensor, co: usize) -> Option<Vec<f32>> {
    let v = const_f32(ct)?;
    match v.len() {
        1 => Some(vec![v[0]; co]),
        n if n == co => Some(v),
        _ => None,
    }
}

/// The name of a constant folded from `name` (once, however many links fold into it).
fn folded_name(name: &str) -> String {
    if name.ends_with("/folded") {
        name.to_string()
    } else {
        format!("{name}/folded")
    }
}

fn fold_float(g: &mut Graph, m: &Match) -> bool {
    let Some((co, axis)) = channels(g, m.producer) else {
        return false;
    };
    let node = g.op(m.producer).clone();
    let Some(wt) = input(&node, 1) else {
        return false;
    };
    let (w_tensor, c_tensor) = (g.tensor(wt), g.tensor(m.c));
    let (Some(mut w), Some(c)) = (const_f32(w_tensor), per_channel(c_tensor, co)) else {
        return false;
    };
    let bias_id = input(&node, 2);
    let mut bias = match bias_id {
        Some(b) => match const_f32(g.tensor(b)) {
            Some(v) if v.len() == co => v,
            _ => return false,
        },
        None => vec![0.0; co],
    };
    // Output channel of weight element i.
    let inner = if axis == 0 { w.len() / co.max(1) } else { 1 };
    let channel = |i: usize| if axis == 0 { i / inner.max(1) } else { i % co };
    let mut new_w = false;
    match m.link {
        Link::Mul => {
            for (i, x) in w.iter_mut().enumerate() {
                *x *= c[channel(i)];
            }
            for (b, s) in bias.iter_mut().zip(&c) {
                *b *= s;
            }
            new_w = true;
        }
        Link::Add => bias.iter_mut().zip(&c).for_each(|(b, s)| *b += s),
        Link::SubConst => bias.iter_mut().zip(&c).for_each(|(b, s)| *b -= s),
        Link::SubFrom => {
            w.iter_mut().for_each(|x| *x = -*x);
            bias.iter_mut().zip(&c).for_each(|(b, s)| *b = s - *b);
            new_w = true;
        }
    }
    // Non-finite constants or results (inf · 0, overflow) would not change by rounding only.
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    if !finite(&c) || !finite(&bias) || (new_w && !finite(&w)) {
        return false;
    }
    let mut inputs = node.inputs.clone();
    if new_w {
        let t = g.tensor(wt);
        let folded = Tensor {
            name: folded_name(&t.name),
            data: Some(f32_bytes(&w)),
            tflite_index: None,
            ..t.clone()
        };
        inputs[1] = Some(g.add_tensor(folded));
    }
    let bias_name = match bias_id {
        Some(b) => folded_name(&g.tensor(b).name),
        None => format!("{}/bias/folded", g.tensor(m.y).name),
    };
    let b = g.add_tensor(Tensor {
        name: bias_name,
        dtype: DType::F32,
        shape: vec![co],
        quant: None,
        data: Some(f32_bytes(&bias)),
        tflite_index: None,
    });
    inputs.resize(3, None);
    inputs[2] = Some(b);
    let p = g.op_mut(m.producer);
    p.inputs = inputs;
    p.outputs[0] = m.out;
    if let Some(a) = fused_activation_mut(&mut p.op) {
        *a = m.act;
    }
    g.remove_op(m.op);
    true
}

fn remove_quantized_identity(g: &mut Graph, m: &Match) -> bool {
    let (yt, ct, ot) = (g.tensor(m.y), g.tensor(m.c), g.tensor(m.out));
    if !same_type_and_quant(yt, ot) || !sane_per_tensor(yt) {
        return false;
    }
    let Some(codes) = all_codes(yt.dtype) else {
        return false;
    };
    let k = ct.num_elements();
    let n = codes.len();
    // Bounded work: every code in up to 16384 channels.
    if k > MAX_PROOF_CHANNELS {
        return false;
    }
    // Every code in every channel: an [n, k] operand against the constant as a [k] row.
    let x: Vec<u8> = codes
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, k))
        .collect();
    let Some(cdata) = ct.data.clone() else {
        return false;
    };
    let xs = tensor_like(yt, vec![n, k], Some(x.clone()));
    let cs = tensor_like(ct, vec![k], Some(cdata));
    let ins = match m.link {
        Link::SubFrom => vec![Some(cs), Some(xs)],
        _ => vec![Some(xs), Some(cs)],
    };
    let op = g.op(m.op).op.clone();
    let identity = match eval_alone(op, ins, vec![tensor_like(ot, vec![n, k], None)]) {
        Ok(out) => out.first().is_some_and(|b| b.bytes() == x.as_slice()),
        Err(_) => false,
    };
    if !identity {
        return false;
    }
    let p = g.op_mut(m.producer);
    p.outputs[0] = m.out;
    g.remove_op(m.op);
    true
}
