//! Host-side validation of an NNAPI [`Description`]: the checks `ANeuralNetworksModel_finish`
//! and the NNAPI runtime's per-operation `validate`/`prepare` make, run before a description
//! reaches a device, so that a wrong lowering is a compile-time error with a location instead of
//! `ANEURALNETWORKS_BAD_DATA` on the phone.
//!
//! The rules are NNAPI's documented ones (`NeuralNetworksTypes.h`, per operation) as the AOSP
//! runtime enforces them (`common/Validation.cpp`, `common/operations/*Validation.cpp`):
//!
//! - **graph**: operand indices in range; model inputs/outputs listed once, with the `Input` /
//!   `Output` lifetime, and every operand of that lifetime listed; operations in execution
//!   (topological) order, every temporary and model output written by exactly one operation,
//!   nothing else written;
//! - **operands**: scalars have no dimensions; tensors have known, non-zero dimensions (mvcc's
//!   descriptions are static); constants hold exactly `dims × element size` bytes (weight ranges
//!   inside the blob); quantization parameters by type (`TENSOR_QUANT8_ASYMM` zero point in
//!   `0..=255`, `…_SIGNED` in `-128..=127`, symmetric types zero point 0, scale > 0 for quantized
//!   types, scale 0 and zero point 0 for the others, `TENSOR_INT32` scale ≥ 0); per-channel
//!   parameters (channel dimension in range, one positive scale per index);
//! - **operations** (`validate/cx.rs`, `windowed.rs`, `tensor_ops.rs`): input/output counts of each form, operand types per position,
//!   parameters that must be constants and their ranges (padding code, `FuseCode`, strides,
//!   dilation, …), ranks, filter and bias shapes, output shapes, quantization relations (bias
//!   scale = input scale × filter scale within NNAPI's `1e-6` relative tolerance, fixed output
//!   scales of LOGISTIC, TANH and SOFTMAX, outputs that must share their input's scale);
//! - **API level**: each operand type, operation, data type of an operation and optional argument
//!   form has a first API level (27 = NNAPI 1.0 … 30 = 1.3); anything above
//!   [`Description::api_level`] is an issue.
//!
//! [`validate`] never panics, whatever the description holds: an index out of range is an issue,
//! and an operation whose operand indices are not all valid gets no per-operation checks.

use std::fmt;

use super::desc::{Description, Lifetime, Operand, OperandType, OperationType};

mod cx;
mod tensor_ops;
mod windowed;

/// Which operand list of an operation an [`Issue`] points into, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Position in the operation's inputs.
    Input(usize),
    /// Position in the operation's outputs.
    Output(usize),
}

/// One violation of NNAPI's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// The operation (index in [`Description::operations`]), if the issue is about one.
    pub operation: Option<usize>,
    /// The operand (index in [`Description::operands`]), if the issue is about one.
    pub operand: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// The operation's type (for messages).
    pub op_type: Option<OperationType>,
    /// Where in the operation's operand lists.
    pub slot: Option<Slot>,
    /// The operand's name (for messages).
    pub operand_name: Option<String>,
}

impl Issue {
    /// An issue about the whole model.
    pub fn model(message: String) -> Issue {
        Issue {
            operation: None,
            operand: None,
            message,
            op_type: None,
            slot: None,
            operand_name: None,
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(i) = self.operation {
            write!(f, "operation {i}")?;
            if let Some(t) = self.op_type {
                write!(f, " ({t})")?;
            }
            match self.slot {
                Some(Slot::Input(k)) => write!(f, ", input {k}")?,
                Some(Slot::Output(k)) => write!(f, ", output {k}")?,
                None => {}
            }
            wrote = true;
        }
        if let Some(n) = self.operand {
            if wrote {
                write!(f, " (operand {n}")?;
            } else {
                write!(f, "operand {n}")?;
            }
            if let Some(name) = self.operand_name.as_deref().filter(|s| !s.is_empty()) {
                write!(f, " {name:?}")?;
            }
            if wrote {
                f.write_str(")")?;
            }
            wrote = true;
        }
        if wrote {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of `desc` (constants of lifetime [`Lifetime::Weight`] read from `weights`), in a
/// deterministic order: model-level, then operands, model inputs and outputs, graph order, then
/// operations one by one. Empty when the description is valid for its
/// [`Description::api_level`].
pub fn validate(desc: &Description, weights: &[u8]) -> Vec<Issue> {
    checked(desc, weights, 0, 0, true)
}

/// The problems of what was added to `desc` since it had `operands` operands and `operations`
/// operations: the new operands, and the new operations (their operands' order included). The
/// lowering checks each op's NNAPI operations this way before keeping them.
pub fn validate_since(
    desc: &Description,
    weights: &[u8],
    operands: usize,
    operations: usize,
) -> Vec<Issue> {
    checked(desc, weights, operands, operations, false)
}

/// The operands from `operands` on and the operations from `operations` on; with `whole`, also
/// the model-level checks and the model inputs and outputs.
fn checked(
    desc: &Description,
    weights: &[u8],
    operands: usize,
    operations: usize,
    whole: bool,
) -> Vec<Issue> {
    let mut v = Validator {
        desc,
        issues: Vec::new(),
    };
    if whole {
        v.model();
    }
    for (i, o) in desc.operands.iter().enumerate().skip(operands) {
        v.operand(i as u32, o, weights);
    }
    if whole {
        v.io(&desc.inputs, true);
        v.io(&desc.outputs, false);
    }
    let checked = v.issues.len();
    let indices_ok = v.order();
    // `order` looks at every operation: unless `whole`, keep what it says of the new ones.
    let mut issues: Vec<Issue> = v
        .issues
        .into_iter()
        .enumerate()
        .filter(|(k, issue)| {
            whole || *k < checked || issue.operation.is_some_and(|op| op >= operations)
        })
        .map(|(_, issue)| issue)
        .collect();
    for i in operations..desc.operations.len() {
        if indices_ok.get(i).copied().unwrap_or(false) {
            cx::check(desc, weights, i, &mut issues);
        }
    }
    issues
}

/// The checks that do not look inside operations.
struct Validator<'a> {
    desc: &'a Description,
    issues: Vec<Issue>,
}

/// `dims × element size` in bytes, `None` on overflow.
pub(crate) fn byte_size(o: &Operand) -> Option<u64> {
    o.dims
        .iter()
        .try_fold(o.ty.element_size() as u64, |acc, &d| {
            acc.checked_mul(u64::from(d))
        })
}

impl Validator<'_> {
    fn model(&mut self) {
        let api = self.desc.api_level;
        if api < 27 {
            self.issues.push(Issue::model(format!(
                "API level {api}: NNAPI starts at API 27"
            )));
        }
        if self.desc.operands.is_empty() {
            self.issues
                .push(Issue::model("the model has no operands".to_string()));
        }
        if self.desc.operations.is_empty() {
            self.issues
                .push(Issue::model("the model has no operations".to_string()));
        }
        if self.desc.operands.len() > u32::MAX as usize {
            self.issues
                .push(Issue::model("more than 2^32 - 1 operands".to_string()));
        }
    }

    fn at(&mut self, i: u32, message: String) {
        let name = self.desc.operand(i).map(|o| o.name.clone());
        self.issues.push(Issue {
            operation: None,
            operand: Some(i),
            message,
            op_type: None,
            slot: None,
            operand_name: name,
        });
    }

    fn operand(&mut self, i: u32, o: &Operand, weights: &[u8]) {
        use OperandType as T;
        let api = self.desc.api_level;
        if o.ty.min_api() > api {
            self.at(
                i,
                format!(
                    "type {} needs API {}; the description is API {api}",
                    o.ty,
                    o.ty.min_api()
                ),
            );
        }
        if !o.scale.is_finite() {
            self.at(i, format!("scale {} is not finite", o.scale));
        }
        if o.ty.is_scalar() {
            if !o.dims.is_empty() {
                self.at(
                    i,
                    format!("scalar of type {} has dimensions {:?}", o.ty, o.dims),
                );
            }
        } else if o.dims.is_empty() {
            if o.lifetime != Lifetime::NoValue {
                self.at(
                    i,
                    "tensor of unknown rank: every tensor of an mvcc description has a shape"
                        .to_string(),
                );
            }
        } else if let Some(k) = o.dims.iter().position(|&d| d == 0) {
            self.at(
                i,
                format!(
                    "dimension {k} of {:?} is 0 (unknown or zero-sized): mvcc's descriptions are static",
                    o.dims
                ),
            );
        }
        let size = byte_size(o);
        match size {
            Some(s) if s <= u64::from(u32::MAX) => {}
            _ => self.at(
                i,
                format!(
                    "{:?} × {} bytes exceeds 2^32 - 1 bytes",
                    o.dims,
                    o.ty.element_size()
                ),
            ),
        }
        // Quantization parameters by type (Validation.cpp validateOperandScale/ZeroPoint).
        match o.ty {
            T::TensorQuant8Asymm
            | T::TensorQuant8AsymmSigned
            | T::TensorQuant8Symm
            | T::TensorQuant16Asymm
            | T::TensorQuant16Symm => {
                if o.scale.is_nan() || o.scale <= 0.0 {
                    self.at(i, format!("{} needs a scale > 0, has {}", o.ty, o.scale));
                }
                let (lo, hi) = match o.ty {
                    T::TensorQuant8Asymm => (0, 255),
                    T::TensorQuant8AsymmSigned => (-128, 127),
                    T::TensorQuant16Asymm => (0, 65535),
                    _ => (0, 0),
                };
                if !(lo..=hi).contains(&o.zero_point) {
                    self.at(
                        i,
                        format!(
                            "{} zero point {} is outside {lo}..={hi}",
                            o.ty, o.zero_point
                        ),
                    );
                }
            }
            T::TensorInt32 => {
                if o.scale.is_nan() || o.scale < 0.0 {
                    self.at(i, format!("TENSOR_INT32 scale {} is negative", o.scale));
                }
                if o.zero_point != 0 {
                    self.at(
                        i,
                        format!("TENSOR_INT32 zero point must be 0, is {}", o.zero_point),
                    );
                }
            }
            _ => {
                if o.scale != 0.0 || o.zero_point != 0 {
                    self.at(
                        i,
                        format!(
                            "{} takes no quantization: scale {} and zero point {} must be 0",
                            o.ty, o.scale, o.zero_point
                        ),
                    );
                }
            }
        }
        match (o.ty, &o.channel_quant) {
            (T::TensorQuant8SymmPerChannel, None) => self.at(
                i,
                "TENSOR_QUANT8_SYMM_PER_CHANNEL without per-channel parameters".to_string(),
            ),
            (T::TensorQuant8SymmPerChannel, Some(cq)) => {
                match o.dims.get(cq.channel_dim as usize) {
                    None => self.at(
                        i,
                        format!(
                            "channel dimension {} is outside the rank {}",
                            cq.channel_dim,
                            o.dims.len()
                        ),
                    ),
                    Some(&d) if d as usize != cq.scales.len() => self.at(
                        i,
                        format!(
                            "{} per-channel scales for dimension {} of size {d}",
                            cq.scales.len(),
                            cq.channel_dim
                        ),
                    ),
                    Some(_) => {}
                }
                if let Some(k) = cq.scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                    self.at(
                        i,
                        format!(
                            "per-channel scale {k} is {}: scales must be > 0",
                            cq.scales.get(k).copied().unwrap_or(0.0)
                        ),
                    );
                }
            }
            (_, Some(_)) => self.at(i, format!("{} carries per-channel parameters", o.ty)),
            (_, None) => {}
        }
        // Data of constants.
        let want = size.unwrap_or(u64::MAX);
        match &o.lifetime {
            Lifetime::Inline(b) => {
                if b.len() as u64 != want {
                    self.at(
                        i,
                        format!(
                            "constant holds {} bytes; {} {:?} needs {want}",
                            b.len(),
                            o.ty,
                            o.dims
                        ),
                    );
                }
            }
            Lifetime::Weight(r) => {
                if r.offset
                    .checked_add(r.len)
                    .is_none_or(|end| end > weights.len())
                {
                    self.at(
                        i,
                        format!(
                            "weight range {}..+{} is outside the {}-byte weight blob",
                            r.offset,
                            r.len,
                            weights.len()
                        ),
                    );
                }
                if r.len as u64 != want {
                    self.at(
                        i,
                        format!(
                            "weight range holds {} bytes; {} {:?} needs {want}",
                            r.len, o.ty, o.dims
                        ),
                    );
                }
            }
            Lifetime::Blocked(b) => {
                if b.unpack(weights).is_none() {
                    self.at(
                        i,
                        format!(
                            "weight range {}..+{} is outside the {}-byte weight blob or does not \
                             hold {} × {} blocked elements of {} bytes",
                            b.range.offset,
                            b.range.len,
                            weights.len(),
                            b.layout.channels,
                            b.layout.taps,
                            b.layout.elem
                        ),
                    );
                }
                if b.layout.elem != o.ty.element_size() {
                    self.at(
                        i,
                        format!(
                            "blocked copy of {}-byte elements for a {} operand",
                            b.layout.elem, o.ty
                        ),
                    );
                }
                if b.layout.unpacked_len().map(|l| l as u64) != Some(want) {
                    self.at(
                        i,
                        format!(
                            "blocked copy holds {} × {} elements of {} bytes; {} {:?} needs {want} bytes",
                            b.layout.channels, b.layout.taps, b.layout.elem, o.ty, o.dims
                        ),
                    );
                }
            }
            Lifetime::Input | Lifetime::Output | Lifetime::Temporary | Lifetime::NoValue => {}
        }
    }

    fn io(&mut self, list: &[u32], inputs: bool) {
        let (what, lifetime) = if inputs {
            ("input", Lifetime::Input)
        } else {
            ("output", Lifetime::Output)
        };
        let n = self.desc.operands.len();
        let mut listed = vec![false; n];
        for (k, &i) in list.iter().enumerate() {
            let Some(o) = self.desc.operand(i) else {
                self.issues.push(Issue::model(format!(
                    "model {what} {k} is operand {i}, out of range ({n} operands)"
                )));
                continue;
            };
            if o.lifetime != lifetime {
                self.at(
                    i,
                    format!(
                        "model {what} {k} has lifetime {:?}, not {lifetime:?}",
                        o.lifetime
                    ),
                );
            }
            if let Some(seen) = listed.get_mut(i as usize) {
                if *seen {
                    self.at(i, format!("listed twice as a model {what}"));
                }
                *seen = true;
            }
        }
        for (i, o) in self.desc.operands.iter().enumerate() {
            if o.lifetime == lifetime && !listed.get(i).copied().unwrap_or(true) {
                self.at(
                    i as u32,
                    format!("lifetime {lifetime:?} but not listed as a model {what}"),
                );
            }
        }
    }

    /// Index ranges, single writers, execution order. Returns, per operation, whether all its
    /// operand indices are valid.
    fn order(&mut self) -> Vec<bool> {
        let desc = self.desc;
        let n = desc.operands.len();
        // The first operation writing each operand.
        let mut writer: Vec<Option<usize>> = vec![None; n];
        for (i, op) in desc.operations.iter().enumerate() {
            for &x in &op.outputs {
                if let Some(w) = writer.get_mut(x as usize) {
                    w.get_or_insert(i);
                }
            }
        }
        let mut known: Vec<bool> = desc
            .operands
            .iter()
            .map(|o| !matches!(o.lifetime, Lifetime::Temporary | Lifetime::Output))
            .collect();
        let mut ok = vec![true; desc.operations.len()];
        for (i, op) in desc.operations.iter().enumerate() {
            let mut at = |slot: Slot, x: Option<u32>, message: String| {
                self.issues.push(Issue {
                    operation: Some(i),
                    operand: x,
                    message,
                    op_type: Some(op.ty),
                    slot: Some(slot),
                    operand_name: x.and_then(|x| desc.operand(x)).map(|o| o.name.clone()),
                });
            };
            if op.outputs.is_empty() {
                self.issues.push(Issue {
                    operation: Some(i),
                    operand: None,
                    message: "the operation has no outputs".to_string(),
                    op_type: Some(op.ty),
                    slot: None,
                    operand_name: None,
                });
                continue;
            }
            for (k, &x) in op.inputs.iter().enumerate() {
                if x as usize >= n {
                    at(
                        Slot::Input(k),
                        None,
                        format!("operand index {x} is out of range ({n} operands)"),
                    );
                    ok[i] = false;
                    continue;
                }
                if !known.get(x as usize).copied().unwrap_or(true) {
                    let msg = match writer.get(x as usize).copied().flatten() {
                        Some(w) if w == i => {
                            format!("operand {x} is read by the operation that writes it (a cycle)")
                        }
                        Some(w) => format!(
                            "operand {x} is read before operation {w} writes it: operations \
                             must be in topological order (a cycle cannot be)"
                        ),
                        None => format!("operand {x} is read but never written"),
                    };
                    at(Slot::Input(k), Some(x), msg);
                }
            }
            for (k, &x) in op.outputs.iter().enumerate() {
                let Some(o) = desc.operand(x) else {
                    at(
                        Slot::Output(k),
                        None,
                        format!("operand index {x} is out of range ({n} operands)"),
                    );
                    ok[i] = false;
                    continue;
                };
                let why = match o.lifetime {
                    Lifetime::Input => Some("a model input"),
                    Lifetime::Inline(_) | Lifetime::Weight(_) | Lifetime::Blocked(_) => {
                        Some("a constant")
                    }
                    Lifetime::NoValue => Some("an omitted operand"),
                    Lifetime::Temporary | Lifetime::Output => None,
                };
                if let Some(why) = why {
                    at(
                        Slot::Output(k),
                        Some(x),
                        format!("operand {x} is {why} and cannot be written"),
                    );
                } else if known.get(x as usize).copied().unwrap_or(false) {
                    let first = writer.get(x as usize).copied().flatten().unwrap_or(i);
                    at(
                        Slot::Output(k),
                        Some(x),
                        format!("operand {x} is already written by operation {first}"),
                    );
                }
                if let Some(kn) = known.get_mut(x as usize) {
                    *kn = true;
                }
            }
        }
        for (x, o) in desc.operands.iter().enumerate() {
            if !known.get(x).copied().unwrap_or(true) {
                let what = if o.lifetime == Lifetime::Output {
                    "model output"
                } else {
                    "temporary"
                };
                self.at(
                    x as u32,
                    format!("{what} is never written by any operation"),
                );
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::WeightRange;
    use crate::nnapi::desc::{fuse, padding, ChannelQuant, Operation};

    fn tensor(ty: OperandType, dims: &[u32], scale: f32, zp: i32, lt: Lifetime) -> Operand {
        Operand {
            name: String::new(),
            ty,
            dims: dims.to_vec(),
            scale,
            zero_point: zp,
            lifetime: lt,
            channel_quant: None,
        }
    }

    /// A uint8 1×1 CONV_2D over a [1, 4, 4, 2] input, 3 output channels, implicit SAME padding.
    fn conv_u8() -> Description {
        let mut d = Description {
            api_level: 27,
            ..Description::default()
        };
        let u8t = OperandType::TensorQuant8Asymm;
        let x = d.add_operand(tensor(u8t, &[1, 4, 4, 2], 0.5, 128, Lifetime::Input));
        let w = d.add_operand(tensor(
            u8t,
            &[3, 1, 1, 2],
            0.25,
            100,
            Lifetime::Inline(vec![1; 6]),
        ));
        let b = d.add_operand(tensor(
            OperandType::TensorInt32,
            &[3],
            0.125,
            0,
            Lifetime::Inline(vec![0; 12]),
        ));
        let p = d.int32("padding", padding::SAME);
        let s = d.int32("stride", 1);
        let a = d.int32("act", fuse::RELU6);
        let y = d.add_operand(tensor(u8t, &[1, 4, 4, 3], 1.0, 0, Lifetime::Output));
        d.operations.push(Operation {
            ty: OperationType::Conv2d,
            inputs: vec![x, w, b, p, s, s, a],
            outputs: vec![y],
        });
        d.inputs = vec![x];
        d.outputs = vec![y];
        d
    }

    fn messages(d: &Description, weights: &[u8]) -> Vec<String> {
        validate(d, weights).iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn a_valid_conv_has_no_issues() {
        assert_eq!(messages(&conv_u8(), &[]), Vec::<String>::new());
    }

    #[test]
    fn bias_scale_must_be_input_times_filter_scale() {
        let mut d = conv_u8();
        d.operands[2].scale = 0.126;
        let issues = validate(&d, &[]);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].operation, Some(0));
        assert_eq!(issues[0].slot, Some(Slot::Input(2)));
        assert!(issues[0].message.contains("bias scale"), "{}", issues[0]);
        // Within NNAPI's 1e-6 relative tolerance: fine.
        d.operands[2].scale = 0.125 * (1.0 + 5e-7);
        assert_eq!(messages(&d, &[]), Vec::<String>::new());
    }

    #[test]
    fn zero_point_range_depends_on_the_type() {
        let mut d = conv_u8();
        d.operands[0].zero_point = 256;
        let m = messages(&d, &[]);
        assert!(
            m.iter()
                .any(|m| m.contains("zero point 256 is outside 0..=255")),
            "{m:?}"
        );
    }

    #[test]
    fn input_count_api_level_and_display() {
        let mut d = conv_u8();
        let layout = d.bool("layout", false);
        d.operations[0].inputs.push(layout);
        let m = messages(&d, &[]);
        assert_eq!(
            m,
            [
                "operand 7 \"layout\": type BOOL needs API 29; the description is API 27",
                "operation 0 (CONV_2D): the layout argument of CONV_2D needs API 29; the \
                 description is API 27"
            ]
        );
        d.operations[0].inputs.push(layout);
        let m = messages(&d, &[]);
        assert!(m.iter().any(|m| m.contains("9 inputs")), "{m:?}");
    }

    #[test]
    fn per_channel_filter_dimension_and_bias_scale() {
        let mut d = conv_u8();
        d.api_level = 29;
        d.operands[1] = Operand {
            ty: OperandType::TensorQuant8SymmPerChannel,
            scale: 0.0,
            zero_point: 0,
            channel_quant: Some(ChannelQuant {
                channel_dim: 0,
                scales: vec![0.5, 0.25, 0.125],
            }),
            ..d.operands[1].clone()
        };
        d.operands[2].scale = 0.0;
        assert_eq!(messages(&d, &[]), Vec::<String>::new());
        d.operands[2].scale = 0.125;
        let m = messages(&d, &[]);
        assert!(
            m.iter()
                .any(|m| m.contains("per-channel") && m.contains("scale 0")),
            "{m:?}"
        );
        d.operands[2].scale = 0.0;
        d.operands[1].channel_quant = Some(ChannelQuant {
            channel_dim: 3,
            scales: vec![0.5, 0.25],
        });
        let m = messages(&d, &[]);
        assert!(
            m.iter()
                .any(|m| m.contains("channel dimension 3") && m.contains("must be 0")),
            "{m:?}"
        );
    }

    #[test]
    fn graph_order_and_ranges() {
        let mut d = conv_u8();
        d.operations[0].inputs[1] = 99;
        let issues = validate(&d, &[]);
        assert!(
            issues.iter().any(|i| i.message.contains("out of range")),
            "{issues:?}"
        );
        // The filter is now unused (fine) but the conv is not checked further.
        let mut d = conv_u8();
        let y = d.outputs[0];
        d.operands[y as usize].lifetime = Lifetime::Temporary;
        d.outputs.clear();
        let m = messages(&d, &[]);
        assert!(m.is_empty(), "{m:?}");
        let z = d.add_operand(tensor(
            OperandType::TensorQuant8Asymm,
            &[1, 4, 4, 3],
            1.0,
            0,
            Lifetime::Output,
        ));
        d.outputs.push(z);
        d.operations.insert(
            0,
            Operation {
                ty: OperationType::Relu,
                inputs: vec![y],
                outputs: vec![z],
            },
        );
        let m = messages(&d, &[]);
        assert!(
            m.iter().any(|m| m.contains("before operation 1 writes it")),
            "{m:?}"
        );
    }

    #[test]
    fn weight_ranges_and_constant_sizes() {
        let mut d = conv_u8();
        d.operands[1].lifetime = Lifetime::Weight(WeightRange { offset: 64, len: 6 });
        assert_eq!(messages(&d, &[0; 70]), Vec::<String>::new());
        let m = messages(&d, &[0; 65]);
        assert!(
            m.iter()
                .any(|m| m.contains("outside the 65-byte weight blob")),
            "{m:?}"
        );
        d.operands[1].lifetime = Lifetime::Inline(vec![0; 5]);
        let m = messages(&d, &[]);
        assert!(
            m.iter()
                .any(|m| m.contains("holds 5 bytes") && m.contains("needs 6")),
            "{m:?}"
        );
    }

    #[test]
    fn blocked_copies_must_hold_the_value() {
        // The 6-byte filter as one block of 16 channels × taps (channels × taps = 6 elements).
        let mut d = conv_u8();
        let dims = d.operands[1].dims.clone();
        let channels = dims[0] as usize;
        let taps = 6 / channels;
        let blocked = |elem: usize, len: usize| {
            Lifetime::Blocked(super::super::desc::Blocked {
                range: WeightRange { offset: 64, len },
                layout: super::super::desc::BlockedLayout {
                    channels,
                    taps,
                    taps_first: false,
                    elem,
                },
            })
        };
        d.operands[1].lifetime = blocked(1, 16 * taps);
        assert_eq!(messages(&d, &[0; 64 + 16 * 6]), Vec::<String>::new());
        let m = messages(&d, &[0; 70]);
        assert!(m.iter().any(|m| m.contains("outside the 70-byte")), "{m:?}");
        d.operands[1].lifetime = blocked(1, 16 * taps + 1);
        let m = messages(&d, &[0; 200]);
        assert!(m.iter().any(|m| m.contains("blocked elements")), "{m:?}");
        d.operands[1].lifetime = blocked(2, 32 * taps);
        let m = messages(&d, &[0; 200]);
        assert!(
            m.iter().any(|m| m.contains("2-byte elements"))
                && m.iter().any(|m| m.contains("needs 6")),
            "{m:?}"
        );
    }

    #[test]
    fn never_panics_on_nonsense() {
        let mut d = conv_u8();
        d.operations[0].inputs.clear();
        d.operations.push(Operation {
            ty: OperationType::DepthwiseConv2d,
            inputs: vec![0; 14],
            outputs: vec![6],
        });
        d.operands[3].dims = vec![u32::MAX, u32::MAX, u32::MAX];
        d.operands[1].channel_quant = Some(ChannelQuant {
            channel_dim: 9,
            scales: vec![f32::NAN],
        });
        d.api_level = 0;
        assert!(!validate(&d, &[]).is_empty());
        // Huge shapes everywhere: arithmetic must not overflow.
        for ty in OperationType::ALL {
            let mut d = conv_u8();
            d.operations[0].ty = *ty;
            for o in &mut d.operands {
                if !o.ty.is_scalar() {
                    o.dims = vec![u32::MAX; 40];
                }
            }
            let _ = validate(&d, &[]);
        }
        for ty in OperationType::ALL {
            for n in 0..15 {
                let mut d = conv_u8();
                d.operations[0].ty = *ty;
                d.operations[0].inputs.truncate(n);
                while d.operations[0].inputs.len() < n {
                    d.operations[0].inputs.push(3);
                }
                let _ = validate(&d, &[]);
            }
        }
    }
}
