//! Cranelift code for QUANTIZE, DEQUANTIZE and CAST.
//!
//! - QUANTIZE float → 8-bit: `x / S` in float, rounded half away from zero and converted as
//!   x86-64's `cvttss2si` does (NaN and out-of-range values give `i32::MIN`), plus `Z`
//!   (wrapping), clamped. The rounding is written with a truncating conversion and a comparison
//!   of the remainder with ½ (`round`/`nearest` instructions would be library calls on x86-64
//!   without SSE4.1).
//! - Requantization 8-bit → 8-bit: a lookup in the table of the reference kernel's results.
//! - DEQUANTIZE per tensor: `S·(q − Z)` in double, rounded to float, as the reference kernel;
//!   per axis: `S[c]·(q − Z[c])` in float with the scales and zero points in a constant table;
//!   float16: the exact bit conversion (normals, subnormals renormalized by one float
//!   subtraction, infinities and NaNs).
//! - CAST: each pair of types as `mvcc_kernels::kernels::quantize::CastElem` defines it.
//!
//! All scalar: these steps sit at a model's edges.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use mvcc_kernels::kernels::quantize::{self as k, AffineQuantizeParams, DequantizeParams};

use super::{Kernel, PerChannel};
use crate::clif::cx::KernelCx;
use crate::error::Result;
use crate::ir::DType;
use crate::ops::binary::clif::{elem_type, lut8, map_unary, narrow8, table_of, unary_operands};

/// `f32_to_i32_x86(roundf(y))`: round half away from zero, `i32::MIN` for NaN and values outside
/// the `i32` range.
fn round_to_i32_x86(cx: &mut KernelCx<'_, '_>, y: Value) -> Value {
    // Truncation; exact below 2^31 in magnitude, where the remainder is exact too (and 0 from
    // 2^23 on, where every float is an integer).
    let t = cx.b.ins().fcvt_to_sint_sat(types::I32, y);
    let tf = cx.b.ins().fcvt_from_sint(types::F32, t);
    let d = cx.b.ins().fsub(y, tf);
    let half = cx.f32const(0.5);
    let mhalf = cx.f32const(-0.5);
    let up = cx.b.ins().fcmp(FloatCC::GreaterThanOrEqual, d, half);
    let down = cx.b.ins().fcmp(FloatCC::LessThanOrEqual, d, mhalf);
    let up = cx.b.ins().uextend(types::I32, up);
    let down = cx.b.ins().uextend(types::I32, down);
    let r = cx.b.ins().iadd(t, up);
    let r = cx.b.ins().isub(r, down);
    let lo = cx.f32const(-2_147_483_648.0);
    let hi = cx.f32const(2_147_483_648.0);
    let ge = cx.b.ins().fcmp(FloatCC::GreaterThanOrEqual, y, lo);
    let lt = cx.b.ins().fcmp(FloatCC::LessThan, y, hi);
    let inside = cx.b.ins().band(ge, lt);
    let min = cx.i32const(i32::MIN);
    cx.b.ins().select(inside, r, min)
}

/// QUANTIZE float → `dtype` (`I8` or `U8`).
fn quantize(cx: &mut KernelCx<'_, '_>, p: &AffineQuantizeParams, dtype: DType) -> Result<()> {
    let (x, y, n) = unary_operands(cx, 4, 1)?;
    let p = *p;
    map_unary(
        cx,
        n,
        (x.base, types::F32),
        (y.base, types::I8),
        false,
        |cx, v| {
            let s = cx.f32const(p.scale);
            let q = cx.b.ins().fdiv(v, s);
            let r = round_to_i32_x86(cx, q);
            let r = cx.b.ins().iadd_imm_s(r, i64::from(p.zero_point));
            narrow8(cx, r, None, dtype)
        },
    )
}

/// A loaded integer element widened to `ty` by its type's signedness.
fn widen(cx: &mut KernelCx<'_, '_>, v: Value, from: DType, ty: Type) -> Value {
    let vt = cx.b.func.dfg.value_type(v);
    if vt == ty {
        v
    } else if from == DType::U8 || from == DType::Bool {
        cx.b.ins().uextend(ty, v)
    } else {
        cx.b.ins().sextend(ty, v)
    }
}

/// Per-tensor DEQUANTIZE of `from` (`I8`, `U8`, `I16`): `(S as f64 · (q − Z) as f64) as f32`.
fn dequantize(cx: &mut KernelCx<'_, '_>, p: &DequantizeParams, from: DType) -> Result<()> {
    let ty = elem_type(from);
    let (x, y, n) = unary_operands(cx, ty.bytes() as usize, 4)?;
    let p = *p;
    map_unary(cx, n, (x.base, ty), (y.base, types::F32), false, |cx, v| {
        let q = widen(cx, v, from, types::I32);
        let q = cx.b.ins().iadd_imm_s(q, -i64::from(p.zero_point));
        let qd = cx.b.ins().fcvt_from_sint(types::F64, q);
        let s = cx.b.ins().f64const(f64::from(p.scale));
        let r = cx.b.ins().fmul(s, qd);
        cx.b.ins().fdemote(types::F32, r)
    })
}

/// float16 bits → float32, exactly (Fabian Giesen's `half_to_float`).
fn f16_to_f32(cx: &mut KernelCx<'_, '_>, h: Value) -> Value {
    let h = cx.b.ins().uextend(types::I32, h);
    let em = cx.b.ins().band_imm_s(h, 0x7fff);
    let o = cx.b.ins().ishl_imm_s(em, 13);
    let shifted_exp = 0x7c00 << 13;
    let exp = cx.b.ins().band_imm_s(o, shifted_exp);
    let o = cx.b.ins().iadd_imm_s(o, (127 - 15) << 23);
    // Infinity or NaN: the exponent goes to all ones.
    let special = cx.b.ins().icmp_imm_s(IntCC::Equal, exp, shifted_exp);
    let o_special = cx.b.ins().iadd_imm_s(o, (128 - 16) << 23);
    // Zero or subnormal: one more exponent step, then subtract the implicit one (exact).
    let tiny = cx.b.ins().icmp_imm_s(IntCC::Equal, exp, 0);
    let o_tiny = cx.b.ins().iadd_imm_s(o, 1 << 23);
    let f_tiny = cx.b.ins().bitcast(types::F32, MemFlagsData::new(), o_tiny);
    let magic = cx.f32const(f32::from_bits(113 << 23));
    let f_tiny = cx.b.ins().fsub(f_tiny, magic);
    let o_tiny = cx.b.ins().bitcast(types::I32, MemFlagsData::new(), f_tiny);
    let o = cx.b.ins().select(special, o_special, o);
    let o = cx.b.ins().select(tiny, o_tiny, o);
    let sign = cx.b.ins().band_imm_s(h, 0x8000);
    let sign = cx.b.ins().ishl_imm_s(sign, 16);
    let o = cx.b.ins().bor(o, sign);
    cx.b.ins().bitcast(types::F32, MemFlagsData::new(), o)
}

/// Per-axis DEQUANTIZE of `from` (`I8` or `U8`): rows of `inner` elements, row `r` with the
/// scale and zero point of channel `r % channels`.
fn per_channel(cx: &mut KernelCx<'_, '_>, pc: &PerChannel, from: DType) -> Result<()> {
    let p = pc.params;
    let (x, y, n) = unary_operands(cx, 1, 4)?;
    let total = p
        .outer
        .checked_mul(p.channels)
        .and_then(|v| v.checked_mul(p.inner));
    if total != Some(n) || pc.scales.len() != p.channels || pc.zero_points.len() != p.channels {
        return Err(cx.err("operand size does not match the per-axis quantization"));
    }
    if n == 0 {
        return Ok(());
    }
    let scales: Vec<u8> = pc.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let zps: Vec<u8> = pc
        .zero_points
        .iter()
        .flat_map(|z| z.to_le_bytes())
        .collect();
    let st = cx.const_data(&scales)?;
    let zt = cx.const_data(&zps)?;
    cx.for_range(p.outer, |cx, o| {
        cx.for_range(p.channels, |cx, c| {
            let s = cx.load(types::F32, st, c);
            let z = cx.load(types::I32, zt, c);
            let row = cx.b.ins().imul_imm_s(o, p.channels as i64);
            let row = cx.b.ins().iadd(row, c);
            let first = cx.b.ins().imul_imm_s(row, p.inner as i64);
            let xr = cx.b.ins().iadd(x.base, first);
            let yr = cx.addr(y.base, first, 4);
            cx.for_range(p.inner, |cx, i| {
                let v = cx.load(types::I8, xr, i);
                let q = widen(cx, v, from, types::I32);
                let q = cx.b.ins().isub(q, z);
                let qf = cx.b.ins().fcvt_from_sint(types::F32, q);
                let r = cx.b.ins().fmul(s, qf);
                cx.store(r, yr, i);
                Ok(())
            })
        })
    })
}

/// CAST of one value from `from` to `to` (element types as stored; bool is one byte).
fn cast_value(cx: &mut KernelCx<'_, '_>, v: Value, from: DType, to: DType) -> Value {
    let to_ty = elem_type(to);
    match (from, to) {
        (DType::F32, DType::F32) => v,
        (DType::F32, DType::Bool) => {
            let zero = cx.f32const(0.0);
            cx.b.ins().fcmp(FloatCC::NotEqual, v, zero)
        }
        (DType::F32, _) => {
            // Truncation saturating at the type's limits; NaN becomes the maximum.
            let wide = if to == DType::I64 {
                types::I64
            } else {
                types::I32
            };
            let t = cx.b.ins().fcvt_to_sint_sat(wide, v);
            let (lo, hi): (i64, i64) = match to {
                DType::I8 => (-128, 127),
                DType::U8 => (0, 255),
                DType::I16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
                DType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            let t = if matches!(to, DType::I8 | DType::U8 | DType::I16) {
                let lo = cx.b.ins().iconst(types::I32, lo);
                let hi = cx.b.ins().iconst(types::I32, hi);
                let t = cx.b.ins().smax(t, lo);
                cx.b.ins().smin(t, hi)
            } else {
                t
            };
            let nan = cx.b.ins().fcmp(FloatCC::Unordered, v, v);
            let max = cx.b.ins().iconst(wide, hi);
            let t = cx.b.ins().select(nan, max, t);
            if wide == to_ty {
                t
            } else {
                cx.b.ins().ireduce(to_ty, t)
            }
        }
        (DType::Bool, _) => {
            let b = cx.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0);
            match to {
                DType::F32 => {
                    let one = cx.f32const(1.0);
                    let zero = cx.f32const(0.0);
                    cx.b.ins().select(b, one, zero)
                }
                _ if to_ty == types::I8 => b,
                _ => cx.b.ins().uextend(to_ty, b),
            }
        }
        (_, DType::Bool) => cx.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0),
        (_, DType::F32) => {
            let w = widen(cx, v, from, types::I64);
            cx.b.ins().fcvt_from_sint(types::F32, w)
        }
        _ => {
            let w = widen(cx, v, from, types::I64);
            if to_ty == types::I64 {
                w
            } else {
                cx.b.ins().ireduce(to_ty, w)
            }
        }
    }
}

/// CAST from `from` to `to`.
fn cast(cx: &mut KernelCx<'_, '_>, from: DType, to: DType) -> Result<()> {
    const TYPES: [DType; 7] = [
        DType::F32,
        DType::I32,
        DType::I64,
        DType::I16,
        DType::I8,
        DType::U8,
        DType::Bool,
    ];
    if !TYPES.contains(&from) || !TYPES.contains(&to) {
        return Err(cx.err(format!("CAST from {from} to {to} is not supported")));
    }
    let (ft, tt) = (elem_type(from), elem_type(to));
    let (x, y, n) = unary_operands(cx, ft.bytes() as usize, tt.bytes() as usize)?;
    map_unary(cx, n, (x.base, ft), (y.base, tt), false, |cx, v| {
        cast_value(cx, v, from, to)
    })
}

/// The step's code for every kernel of the family.
pub(crate) fn emit(kernel: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    match kernel {
        Kernel::QuantizeF32ToI8(p) => quantize(cx, p, DType::I8),
        Kernel::QuantizeF32ToU8(p) => quantize(cx, p, DType::U8),
        Kernel::RequantizeI8ToI8(p) => {
            lut8(cx, &table_of::<i8, i8>(|x, y| k::requantize(p, x, y)), None)
        }
        Kernel::RequantizeI8ToU8(p) => {
            lut8(cx, &table_of::<i8, u8>(|x, y| k::requantize(p, x, y)), None)
        }
        Kernel::RequantizeU8ToI8(p) => {
            lut8(cx, &table_of::<u8, i8>(|x, y| k::requantize(p, x, y)), None)
        }
        Kernel::RequantizeU8ToU8(p) => {
            lut8(cx, &table_of::<u8, u8>(|x, y| k::requantize(p, x, y)), None)
        }
        Kernel::DequantizeI8(p) => dequantize(cx, p, DType::I8),
        Kernel::DequantizeU8(p) => dequantize(cx, p, DType::U8),
        Kernel::DequantizeI16(p) => dequantize(cx, p, DType::I16),
        Kernel::DequantizeF16 => {
            let (x, y, n) = unary_operands(cx, 2, 4)?;
            map_unary(
                cx,
                n,
                (x.base, types::I16),
                (y.base, types::F32),
                false,
                f16_to_f32,
            )
        }
        Kernel::DequantizePerChannelI8(pc) => per_channel(cx, pc, DType::I8),
        Kernel::DequantizePerChannelU8(pc) => per_channel(cx, pc, DType::U8),
        Kernel::Cast { from, to } => cast(cx, *from, *to),
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{DType, NoAttrs, Op, OutTypeAttrs, Quant};
    use crate::ops::binary::clif::testutil::{exact, Rng};
    use crate::ops::transpose::testutil::{t, tq};

    fn specials() -> Vec<f32> {
        let mut rng = Rng(1);
        let mut v = rng.floats(3000, -300.0, 300.0);
        v.extend(rng.floats(500, -3e9, 3e9));
        v.extend(rng.floats(500, -3e20, 3e20));
        for i in -40..40 {
            v.push(i as f32 * 0.25);
            v.push(i as f32 * 0.5 + 0.000_001);
        }
        v.extend([
            0.0,
            -0.0,
            0.499_999_97,
            -0.499_999_97,
            2_147_483_520.0,
            -2_147_483_648.0,
            2_147_483_648.0,
            -2_147_483_904.0,
            8_388_607.5,
            -8_388_607.5,
            9e18,
            -9e18,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ]);
        v
    }

    #[test]
    fn quantize_and_requantize() {
        let x = specials();
        let n = x.len();
        for dtype in [DType::I8, DType::U8] {
            for (s, z) in [(0.5f32, 3i64), (1.0, 0), (0.01, -7), (3.0, 100)] {
                let z = if dtype == DType::U8 { z + 100 } else { z };
                exact(
                    Op::Quantize(NoAttrs),
                    vec![t(DType::F32, &[n])],
                    vec![tq(dtype, &[n], s, z)],
                    &[Buf::from_slice(&x)],
                );
            }
        }
        let b: Vec<u8> = (0..=255).collect();
        for from in [DType::I8, DType::U8] {
            for to in [DType::I8, DType::U8] {
                exact(
                    Op::Quantize(NoAttrs),
                    vec![tq(from, &[256], 0.3, 10)],
                    vec![tq(to, &[256], 0.07, 20)],
                    &[Buf::from_bytes(&b)],
                );
            }
        }
    }

    #[test]
    fn dequantize() {
        let mut rng = Rng(2);
        let b = rng.bytes(1000);
        for dtype in [DType::I8, DType::U8, DType::I16] {
            exact(
                Op::Dequantize(NoAttrs),
                vec![tq(dtype, &[500 / dtype.size()], 0.013, 7)],
                vec![t(DType::F32, &[500 / dtype.size()])],
                &[Buf::from_bytes(&b[..500])],
            );
            if dtype != DType::I16 {
                let mut x = tq(dtype, &[2, 3, 5], 1.0, 0);
                x.quant = Some(Quant {
                    scale: vec![0.5, 0.013, 2.0],
                    zero_point: vec![1, -2, 0],
                    axis: 1,
                });
                exact(
                    Op::Dequantize(NoAttrs),
                    vec![x],
                    vec![t(DType::F32, &[2, 3, 5])],
                    &[Buf::from_bytes(&b[..30])],
                );
            }
        }
    }

    #[test]
    fn float16_bits_convert_exactly() {
        let cx_free: Vec<u16> = (0..=u16::MAX).collect();
        let got = crate::ops::binary::clif::testutil::both(
            Op::Dequantize(NoAttrs),
            vec![t(DType::F16, &[65536])],
            vec![t(DType::F32, &[65536])],
            &[Buf::from_slice(&cx_free)],
        )
        .1
        .unwrap();
        let got = got[0].as_slice::<u32>().unwrap();
        for (h, &g) in cx_free.iter().zip(got) {
            let want = mvcc_kernels::kernels::quantize::f16_bits_to_f32(*h).to_bits();
            assert_eq!(want, g, "{h:#06x}");
        }
    }

    #[test]
    fn casts() {
        let types = [
            DType::F32,
            DType::I32,
            DType::I64,
            DType::I16,
            DType::I8,
            DType::U8,
            DType::Bool,
        ];
        let mut rng = Rng(4);
        let floats = specials();
        let n = floats.len();
        for from in types {
            let data = match from {
                DType::F32 => Buf::from_slice(&floats),
                DType::Bool => {
                    Buf::from_bytes(&rng.bytes(n).iter().map(|b| b & 1).collect::<Vec<u8>>())
                }
                _ => {
                    let mut v = rng.bytes(n * from.size());
                    // Some small values, zeros and extremes.
                    for (i, b) in v.iter_mut().enumerate().take(64 * from.size()) {
                        *b = if i % (2 * from.size()) < from.size() {
                            0
                        } else {
                            0xff
                        };
                    }
                    Buf::from_bytes(&v)
                }
            };
            for to in types {
                exact(
                    Op::Cast(OutTypeAttrs { out: to }),
                    vec![t(from, &[n])],
                    vec![t(to, &[n])],
                    std::slice::from_ref(&data),
                );
            }
        }
    }
}
