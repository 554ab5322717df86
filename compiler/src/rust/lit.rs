//! Rust literals for the runtime's parameter structs: every parameter a step's kernel takes is
//! written into the generated code as a `static` built from a literal, so nothing is computed at
//! run time.
//!
//! [`ToLit`] turns a value into a [`Lit`] tree; [`Lit::render`] lays it out in the style rustfmt
//! would (one line when it fits, otherwise one field or a packed row of numbers per line). Every
//! struct impl destructures the struct without `..`, so a field added to a runtime struct and not
//! here is a compile error, not silently missing generated code.

use mvcc_kernels::kernels::{
    activation, arg_max, binary, common, concatenation, conv_2d, depth_to_space, depthwise_conv_2d,
    fully_connected, gather, l2_normalization, logistic_tanh, pad, pool_2d, quantize, reduce,
    resize, slice, softmax, split_pack, transpose, transpose_conv, unary,
};

/// The line width the generated code is laid out for.
pub const WIDTH: usize = 100;

/// A Rust expression made only of literals, struct and tuple constructors and arrays.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// A number, a path or anything else that is one token group.
    Atom(String),
    /// `path { name: value, … }`.
    Struct(String, Vec<(&'static str, Lit)>),
    /// `path(value, …)` (a tuple struct or variant, `Some`).
    Tuple(String, Vec<Lit>),
    /// `[value, …]`.
    Array(Vec<Lit>),
}

impl Lit {
    /// The expression on one line.
    pub fn flat(&self) -> String {
        match self {
            Lit::Atom(s) => s.clone(),
            Lit::Struct(path, fields) if fields.is_empty() => format!("{path} {{}}"),
            Lit::Struct(path, fields) => {
                let f: Vec<String> = fields
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", v.flat()))
                    .collect();
                format!("{path} {{ {} }}", f.join(", "))
            }
            Lit::Tuple(path, items) => {
                let f: Vec<String> = items.iter().map(Lit::flat).collect();
                format!("{path}({})", f.join(", "))
            }
            Lit::Array(items) => {
                let f: Vec<String> = items.iter().map(Lit::flat).collect();
                format!("[{}]", f.join(", "))
            }
        }
    }

    /// The expression laid out for a line that already holds `used` characters at indentation
    /// `indent`, followed by `tail` more characters (`;`, `,`).
    pub fn render(&self, indent: usize, used: usize, tail: usize) -> String {
        let flat = self.flat();
        if used + flat.len() + tail <= WIDTH || matches!(self, Lit::Atom(_)) {
            return flat;
        }
        let pad = " ".repeat(indent + 4);
        let close = " ".repeat(indent);
        match self {
            Lit::Atom(_) => flat,
            Lit::Struct(path, fields) => {
                let mut s = format!("{path} {{\n");
                for (n, v) in fields {
                    let head = format!("{pad}{n}: ");
                    s.push_str(&head);
                    s.push_str(&v.render(indent + 4, head.len(), 1));
                    s.push_str(",\n");
                }
                s.push_str(&close);
                s.push('}');
                s
            }
            Lit::Tuple(path, items) => {
                let mut s = format!("{path}(\n");
                for v in items {
                    s.push_str(&pad);
                    s.push_str(&v.render(indent + 4, pad.len(), 1));
                    s.push_str(",\n");
                }
                s.push_str(&close);
                s.push(')');
                s
            }
            Lit::Array(items) => {
                let mut s = String::from("[\n");
                if items
                    .iter()
                    .all(|i| matches!(i, Lit::Atom(a) if a.len() <= 16))
                {
                    // Rows of short numbers, as rustfmt packs them.
                    let mut line = pad.clone();
                    for v in items {
                        let a = v.flat();
                        if line.len() > pad.len() && line.len() + a.len() + 2 > WIDTH {
                            s.push_str(line.trim_end());
                            s.push('\n');
                            line = pad.clone();
                        }
                        line.push_str(&a);
                        line.push_str(", ");
                    }
                    s.push_str(line.trim_end());
                    s.push('\n');
                } else {
                    for v in items {
                        s.push_str(&pad);
                        s.push_str(&v.render(indent + 4, pad.len(), 1));
                        s.push_str(",\n");
                    }
                }
                s.push_str(&close);
                s.push(']');
                s
            }
        }
    }
}

/// A value that can be written as a Rust literal of a known type.
pub trait ToLit {
    /// The Rust type of the literal, as generated code names it (`k::common::Requant`, `i32`).
    fn ty() -> String
    where
        Self: Sized;
    /// The literal.
    fn to_lit(&self) -> Lit;
}

macro_rules! lit_int {
    ($($t:ty),*) => {$(
        impl ToLit for $t {
            fn ty() -> String {
                stringify!($t).into()
            }
            fn to_lit(&self) -> Lit {
                Lit::Atom(self.to_string())
            }
        }
    )*};
}
lit_int!(u8, i8, i16, u16, i32, u32, i64, u64, usize, isize, bool);

impl ToLit for f32 {
    fn ty() -> String {
        "f32".into()
    }
    fn to_lit(&self) -> Lit {
        Lit::Atom(if self.is_finite() {
            // `{:?}` prints the shortest decimal that reads back as the same f32, always with a
            // `.` or an exponent.
            format!("{self:?}")
        } else if *self == f32::INFINITY {
            "f32::INFINITY".into()
        } else if *self == f32::NEG_INFINITY {
            "f32::NEG_INFINITY".into()
        } else {
            format!("f32::from_bits({:#010x})", self.to_bits())
        })
    }
}

impl ToLit for f64 {
    fn ty() -> String {
        "f64".into()
    }
    fn to_lit(&self) -> Lit {
        Lit::Atom(if self.is_finite() {
            format!("{self:?}")
        } else if *self == f64::INFINITY {
            "f64::INFINITY".into()
        } else if *self == f64::NEG_INFINITY {
            "f64::NEG_INFINITY".into()
        } else {
            format!("f64::from_bits({:#018x})", self.to_bits())
        })
    }
}

impl<T: ToLit, const N: usize> ToLit for [T; N] {
    fn ty() -> String {
        format!("[{}; {N}]", T::ty())
    }
    fn to_lit(&self) -> Lit {
        Lit::Array(self.iter().map(ToLit::to_lit).collect())
    }
}

impl<T: ToLit> ToLit for Option<T> {
    fn ty() -> String {
        format!("Option<{}>", T::ty())
    }
    fn to_lit(&self) -> Lit {
        match self {
            Some(v) => Lit::Tuple("Some".into(), vec![v.to_lit()]),
            None => Lit::Atom("None".into()),
        }
    }
}

/// `ToLit` for runtime structs: `lit_struct!(module::Type { field, … })`.
macro_rules! lit_struct {
    ($($m:ident :: $t:ident { $($f:ident),* $(,)? })*) => {$(
        impl ToLit for $m::$t {
            fn ty() -> String {
                concat!("k::", stringify!($m), "::", stringify!($t)).into()
            }
            fn to_lit(&self) -> Lit {
                let $m::$t { $($f),* } = self;
                Lit::Struct(Self::ty(), vec![$((stringify!($f), $f.to_lit())),*])
            }
        }
    )*};
}

lit_struct! {
    activation::ReluQParams { input_zero_point, output_zero_point, output, act }
    activation::LeakyReluQParams { input_zero_point, output_zero_point, identity, alpha }
    activation::PreluQParams {
        shape, input_offset, alpha_offset, output_offset, output1, output2
    }
    activation::HardSwishQParams {
        input_zero_point, output_zero_point, output_multiplier_fixedpoint_int16,
        output_multiplier_exponent, reluish_multiplier_fixedpoint_int16,
        reluish_multiplier_exponent
    }
    arg_max::ArgMaxParams { outer, axis, inner }
    binary::BroadcastShape { dims, strides1, strides2 }
    binary::BinaryF32Params { shape, act }
    binary::BinaryI32Params { shape, act }
    binary::AddQParams {
        shape, left_shift, input1_offset, input1, input2_offset, input2, output, output_offset,
        act
    }
    binary::MulQParams { shape, input1_offset, input2_offset, output, output_offset, act }
    common::Requant { multiplier, shift }
    common::ActF32 { min, max }
    common::ActQ { min, max }
    common::QParams { scale, zero_point }
    concatenation::ConcatParams { outer }
    concatenation::ConcatRescale { identity, scale, bias, output_zero_point }
    conv_2d::ConvGeometry {
        batches, in_h, in_w, in_c, out_h, out_w, out_c, filter_h, filter_w, stride, dilation, pad
    }
    conv_2d::ConvQuant { input_offset, filter_offset, output_offset, act }
    conv_2d::Conv2dParams { geom, groups }
    conv_2d::ResidualQ {
        left_shift, conv_offset, conv_multiplier, residual_offset, residual_multiplier, output,
        output_offset, act
    }
    depth_to_space::BlockParams { batches, height, width, channels, block }
    depthwise_conv_2d::DepthwiseConv2dParams { geom, depth_multiplier }
    fully_connected::FullyConnectedParams { batches, depth, units }
    fully_connected::FullyConnectedQuant { input_offset, filter_offset, output_offset, act }
    gather::GatherParams { batch, outer, axis_size, inner, coords }
    l2_normalization::L2NormalizationParams { outer, depth, input_zero_point }
    logistic_tanh::LutParams { table }
    pad::PadParams { rank, in_shape, out_shape, before }
    pad::MirrorPadParams { pad, offset }
    pool_2d::Pool2dParams { batches, in_h, in_w, channels, out_h, out_w, filter, stride, pad }
    quantize::AffineQuantizeParams { scale, zero_point }
    quantize::RequantizeParams { multiplier, shift, input_zero_point, output_zero_point }
    quantize::DequantizeParams { scale, zero_point }
    quantize::PerChannelDequantizeParams { outer, channels, inner }
    reduce::ReduceShape { rank, dims, reduced }
    reduce::QuantizedMeanOrSumParams {
        shape, multiplier, shift, input_zero_point, output_zero_point
    }
    reduce::SumI8FloatParams { shape, scale, bias, output_zero_point }
    resize::ResizeParams {
        batches, in_h, in_w, depth, out_h, out_w, align_corners, half_pixel_centers,
        height_scale, width_scale, height_scale_10, width_scale_10
    }
    slice::SliceParams { rank, out_shape, offset, strides }
    softmax::SoftmaxF32Params { outer, depth, beta }
    softmax::LogSoftmaxF32Params { outer, depth }
    softmax::SoftmaxQParams { outer, depth, input_multiplier, input_left_shift, diff_min }
    softmax::LogSoftmaxQParams {
        outer, depth, input_multiplier, input_left_shift, reverse_scaling_divisor,
        reverse_scaling_right_shift, diff_min
    }
    split_pack::SplitParams { outer }
    transpose::TransposeParams { rank, out_shape, in_strides }
    transpose_conv::TransposeConvParams { geom }
    unary::RsqrtQParams { input_zero_point, output_zero_point, output }
}

impl<T: ToLit> ToLit for unary::LutParams<T> {
    fn ty() -> String {
        format!("k::unary::LutParams<{}>", T::ty())
    }
    fn to_lit(&self) -> Lit {
        let unary::LutParams { table } = self;
        Lit::Struct(
            "k::unary::LutParams".into(),
            vec![("table", table.to_lit())],
        )
    }
}

impl ToLit for quantize::CastValue {
    fn ty() -> String {
        "k::quantize::CastValue".into()
    }
    fn to_lit(&self) -> Lit {
        let (variant, v) = match self {
            quantize::CastValue::F32(v) => ("F32", v.to_lit()),
            quantize::CastValue::Int(v) => ("Int", v.to_lit()),
            quantize::CastValue::Bool(v) => ("Bool", v.to_lit()),
        };
        Lit::Tuple(format!("k::quantize::CastValue::{variant}"), vec![v])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_back_exactly() {
        for v in [
            0.1f32,
            -0.0,
            1e-45,
            f32::MIN,
            f32::MAX,
            3.0,
            1e20,
            0.007843138,
        ] {
            let s = v.to_lit().flat();
            assert_eq!(s.parse::<f32>().unwrap().to_bits(), v.to_bits(), "{s}");
            assert!(
                s.contains('.') || s.contains('e'),
                "{s} is not a float literal"
            );
        }
        assert_eq!(f32::INFINITY.to_lit().flat(), "f32::INFINITY");
        assert_eq!(f32::NAN.to_lit().flat(), "f32::from_bits(0x7fc00000)");
        for v in [0.1f64, 1.0 / 3.0, 2.5e-300, -0.0] {
            let s = v.to_lit().flat();
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            assert!(
                s.contains('.') || s.contains('e'),
                "{s} is not a float literal"
            );
        }
    }

    #[test]
    fn long_literals_break_by_field_and_pack_numbers() {
        let g = conv_2d::ConvGeometry {
            batches: 1,
            in_h: 224,
            in_w: 224,
            in_c: 3,
            out_h: 112,
            out_w: 112,
            out_c: 32,
            filter_h: 3,
            filter_w: 3,
            stride: [2, 2],
            dilation: [1, 1],
            pad: [0, 0],
        };
        let s = g.to_lit().render(0, 0, 1);
        assert!(
            s.starts_with("k::conv_2d::ConvGeometry {\n    batches: 1,\n"),
            "{s}"
        );
        assert!(s.lines().all(|l| l.len() <= WIDTH));
        let table = [7u8; 256].to_lit().render(4, 20, 1);
        assert!(table.lines().count() < 20, "{table}");
        assert!(table.lines().all(|l| l.len() <= WIDTH));
    }
}
