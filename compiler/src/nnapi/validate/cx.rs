//! The context of one operation's checks ([`Cx`]: reporting at a slot, API levels, counts, types,
//! ranks, constant parameters) and [`check`], which dispatches to the rules of the operation's
//! family in [`super::windowed`] and [`super::tensor_ops`]. Called only for operations whose
//! operand indices are all in range.

use super::tensor_ops::{
    activation, binary, concatenation, depth_to_space, dequantize, fully_connected, mean, pad,
    prelu, quantize, reshape, resize_bilinear, softmax,
};
use super::windowed::{conv, pool};
use super::{Issue, Slot};
use crate::nnapi::desc::{
    Description, Lifetime, Operand, OperandType as T, Operation, OperationType as Op,
};

pub(super) const DATA: [T; 4] = [
    T::TensorFloat32,
    T::TensorFloat16,
    T::TensorQuant8Asymm,
    T::TensorQuant8AsymmSigned,
];

/// The first API level at which an operation takes data of type `t`.
pub(super) fn data_api(t: T) -> u32 {
    match t {
        T::TensorFloat16 => 29,
        T::TensorQuant8AsymmSigned => 30,
        _ => 27,
    }
}

pub(super) fn is_q8(t: T) -> bool {
    matches!(t, T::TensorQuant8Asymm | T::TensorQuant8AsymmSigned)
}

/// NNAPI's bias-scale rule (`GetQuantizedConvolutionMultipler`): the product of the input and
/// filter scales, rounded to f32, equals the bias scale within a relative `1e-6`.
pub(super) fn bias_scale_ok(input: f32, filter: f32, bias: f32) -> bool {
    let p = f64::from(input * filter);
    let b = f64::from(bias);
    p >= 0.0 && (p - b).abs() <= 1e-6 * p.min(b)
}

pub(super) fn elements(dims: &[u32]) -> u128 {
    dims.iter()
        .fold(1u128, |acc, &d| acc.saturating_mul(u128::from(d)))
}

/// NumPy-style broadcast of two shapes, `None` if they do not broadcast.
pub(super) fn broadcast(a: &[u32], b: &[u32]) -> Option<Vec<u32>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let da = (i + a.len())
            .checked_sub(n)
            .and_then(|j| a.get(j))
            .copied()
            .unwrap_or(1);
        let db = (i + b.len())
            .checked_sub(n)
            .and_then(|j| b.get(j))
            .copied()
            .unwrap_or(1);
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

pub(super) fn type_list(allowed: &[T]) -> String {
    allowed
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(" or ")
}

pub(super) fn count_list(allowed: &[usize]) -> String {
    allowed
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the rules of `desc.operations[index]`.
pub(super) fn check(desc: &Description, weights: &[u8], index: usize, issues: &mut Vec<Issue>) {
    let Some(op) = desc.operations.get(index) else {
        return;
    };
    let ins: Vec<&Operand> = op.inputs.iter().filter_map(|&i| desc.operand(i)).collect();
    let outs: Vec<&Operand> = op.outputs.iter().filter_map(|&i| desc.operand(i)).collect();
    if ins.len() != op.inputs.len() || outs.len() != op.outputs.len() {
        return;
    }
    let mut cx = Cx {
        desc,
        weights,
        index,
        op,
        issues,
    };
    for (k, o) in ins.iter().enumerate() {
        if o.lifetime == Lifetime::NoValue {
            cx.input(
                k,
                "is omitted (no value), but the operation needs it".to_string(),
            );
        }
    }
    let first = match op.ty {
        Op::Mean | Op::Pad => 28,
        Op::Prelu | Op::Quantize => 29,
        Op::HardSwish => 30,
        _ => 27,
    };
    cx.need(first, &op.ty.to_string());
    match op.ty {
        Op::Add | Op::Mul => binary(&mut cx, &ins, &outs),
        Op::AveragePool2d | Op::MaxPool2d => pool(&mut cx, &ins, &outs),
        Op::Concatenation => concatenation(&mut cx, &ins, &outs),
        Op::Conv2d => conv(&mut cx, &ins, &outs, false),
        Op::DepthwiseConv2d => conv(&mut cx, &ins, &outs, true),
        Op::DepthToSpace => depth_to_space(&mut cx, &ins, &outs),
        Op::Dequantize => dequantize(&mut cx, &ins, &outs),
        Op::FullyConnected => fully_connected(&mut cx, &ins, &outs),
        Op::Logistic | Op::Tanh | Op::Relu | Op::Relu1 | Op::Relu6 | Op::HardSwish => {
            activation(&mut cx, &ins, &outs)
        }
        Op::Reshape => reshape(&mut cx, &ins, &outs),
        Op::ResizeBilinear => resize_bilinear(&mut cx, &ins, &outs),
        Op::Softmax => softmax(&mut cx, &ins, &outs),
        Op::Mean => mean(&mut cx, &ins, &outs),
        Op::Pad => pad(&mut cx, &ins, &outs),
        Op::Prelu => prelu(&mut cx, &ins, &outs),
        Op::Quantize => quantize(&mut cx, &ins, &outs),
    }
}

/// One operation being checked.
pub(super) struct Cx<'a> {
    pub(super) desc: &'a Description,
    pub(super) weights: &'a [u8],
    pub(super) index: usize,
    pub(super) op: &'a Operation,
    pub(super) issues: &'a mut Vec<Issue>,
}

impl Cx<'_> {
    pub(super) fn push(&mut self, slot: Option<Slot>, message: String) {
        let operand = match slot {
            Some(Slot::Input(k)) => self.op.inputs.get(k).copied(),
            Some(Slot::Output(k)) => self.op.outputs.get(k).copied(),
            None => None,
        };
        let operand_name = operand
            .and_then(|x| self.desc.operand(x))
            .map(|o| o.name.clone());
        self.issues.push(Issue {
            operation: Some(self.index),
            operand,
            message,
            op_type: Some(self.op.ty),
            slot,
            operand_name,
        });
    }

    pub(super) fn whole(&mut self, message: String) {
        self.push(None, message);
    }

    pub(super) fn input(&mut self, k: usize, message: String) {
        self.push(Some(Slot::Input(k)), message);
    }

    pub(super) fn output(&mut self, k: usize, message: String) {
        self.push(Some(Slot::Output(k)), message);
    }

    pub(super) fn at(&mut self, slot: Slot, message: String) {
        self.push(Some(slot), message);
    }

    /// `what` needs API `level`.
    pub(super) fn need(&mut self, level: u32, what: &str) {
        let api = self.desc.api_level;
        if level > api {
            self.whole(format!(
                "{what} needs API {level}; the description is API {api}"
            ));
        }
    }

    /// The input count is one of `allowed` and there are `outputs` outputs.
    pub(super) fn counts(&mut self, allowed: &[usize], outputs: usize) -> bool {
        let (ni, no) = (self.op.inputs.len(), self.op.outputs.len());
        let mut ok = true;
        if !allowed.contains(&ni) {
            self.whole(format!(
                "{ni} inputs; {} takes {} inputs",
                self.op.ty,
                count_list(allowed)
            ));
            ok = false;
        }
        if no != outputs {
            self.whole(format!("{no} outputs; {} has {outputs}", self.op.ty));
            ok = false;
        }
        ok
    }

    pub(super) fn ty(&mut self, slot: Slot, o: &Operand, allowed: &[T]) -> bool {
        if allowed.contains(&o.ty) {
            return true;
        }
        self.at(
            slot,
            format!("type {} here; expected {}", o.ty, type_list(allowed)),
        );
        false
    }

    /// A data tensor of one of `allowed` types, and the API level its type needs here.
    pub(super) fn data(&mut self, slot: Slot, o: &Operand, allowed: &[T]) -> bool {
        if !self.ty(slot, o, allowed) {
            return false;
        }
        let what = format!("{} on {}", self.op.ty, o.ty);
        self.need(data_api(o.ty), &what);
        true
    }

    pub(super) fn rank(&mut self, slot: Slot, o: &Operand, lo: usize, hi: usize) -> bool {
        let r = o.dims.len();
        if (lo..=hi).contains(&r) {
            return true;
        }
        let want = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo} to {hi}")
        };
        self.at(
            slot,
            format!(
                "rank {r} (shape {:?}); {} takes rank {want}",
                o.dims, self.op.ty
            ),
        );
        false
    }

    pub(super) fn dims(&mut self, slot: Slot, o: &Operand, want: &[u32], rule: &str) {
        if o.dims != want {
            self.at(
                slot,
                format!("shape {:?}; expected {want:?} ({rule})", o.dims),
            );
        }
    }

    /// Output `k` has the same type as `like`.
    pub(super) fn same_type(&mut self, k: usize, o: &Operand, like: &Operand) -> bool {
        if o.ty == like.ty {
            return true;
        }
        self.output(
            k,
            format!("type {}; must be {} like the input", o.ty, like.ty),
        );
        false
    }

    /// A quantized `o` has the scale and zero point of `like`.
    pub(super) fn same_quant(&mut self, slot: Slot, o: &Operand, like: &Operand, which: &str) {
        if is_q8(o.ty)
            && o.ty == like.ty
            && (o.scale != like.scale || o.zero_point != like.zero_point)
        {
            self.at(
                slot,
                format!(
                    "scale {} and zero point {} must equal {which}'s ({}, {})",
                    o.scale, o.zero_point, like.scale, like.zero_point
                ),
            );
        }
    }

    /// Whether `o` is a constant, reporting a parameter that is not one.
    pub(super) fn constant(&mut self, k: usize, o: &Operand) -> bool {
        if o.is_const() {
            return true;
        }
        if o.lifetime != Lifetime::NoValue {
            self.input(
                k,
                "must be a constant: mvcc's descriptions fix every parameter when the model is \
                 compiled"
                    .to_string(),
            );
        }
        false
    }

    pub(super) fn int(&mut self, k: usize, o: &Operand) -> Option<i32> {
        if !self.ty(Slot::Input(k), o, &[T::Int32]) {
            return None;
        }
        if !self.constant(k, o) {
            return None;
        }
        o.scalar_i32(self.weights)
    }

    pub(super) fn boolean(&mut self, k: usize, o: &Operand) -> Option<bool> {
        if !self.ty(Slot::Input(k), o, &[T::Bool]) {
            return None;
        }
        if !self.constant(k, o) {
            return None;
        }
        o.scalar_bool(self.weights)
    }

    /// An INT32 constant of at least `min`.
    pub(super) fn int_min(&mut self, k: usize, o: &Operand, min: i32, what: &str) -> Option<i32> {
        let v = self.int(k, o)?;
        if v < min {
            self.input(k, format!("{what} {v} must be at least {min}"));
            return None;
        }
        Some(v)
    }

    pub(super) fn fuse(&mut self, k: usize, o: &Operand) -> Option<i32> {
        let v = self.int(k, o)?;
        if !(0..=3).contains(&v) {
            self.input(
                k,
                format!("FuseCode {v} is not NONE 0, RELU 1, RELU1 2 or RELU6 3"),
            );
            return None;
        }
        Some(v)
    }

    /// An optional layout flag at `k` (API 29): `Some(nchw)`, `None` if malformed.
    pub(super) fn layout(&mut self, k: usize, o: Option<&&Operand>) -> Option<bool> {
        match o {
            None => Some(false),
            Some(o) => {
                self.need(29, &format!("the layout argument of {}", self.op.ty));
                self.boolean(k, o)
            }
        }
    }

    /// The values of a `TENSOR_INT32` constant (`None` if not one).
    pub(super) fn ints(&self, o: &Operand) -> Option<Vec<i32>> {
        if o.ty != T::TensorInt32 {
            return None;
        }
        let b = o.const_bytes(self.weights)?;
        if b.len() % 4 != 0 {
            return None;
        }
        Some(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_scale_tolerance_is_relative() {
        assert!(bias_scale_ok(0.5, 0.25, 0.125));
        assert!(bias_scale_ok(0.5, 0.25, 0.125 * (1.0 + 9e-7)));
        assert!(!bias_scale_ok(0.5, 0.25, 0.125 * (1.0 + 3e-6)));
        assert!(!bias_scale_ok(0.5, 0.25, 0.0));
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast(&[2, 3], &[4, 3]), None);
    }
}
