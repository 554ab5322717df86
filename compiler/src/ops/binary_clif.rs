//! Cranelift code for the `binary` family, and the element-wise machinery the other
//! element-wise families (`activation`, `logistic_tanh`, `unary`, `quantize`) share.
//!
//! [`map_broadcast`] writes the loop nest of an element-wise kernel over a broadcast layout: the
//! layout's dimensions are collapsed where every operand walks them contiguously (so an ADD of
//! two same-shaped tensors is one loop, and a per-channel broadcast is two), the outer ones become
//! runtime loops, and the innermost is walked four floats at a time where every operand is either
//! contiguous or broadcast along it (`f32x4`), with a scalar tail. The kernel's arithmetic is a
//! closure written once for scalars and vectors (see [`fconst`], [`sel`], [`fclamp`]).
//!
//! Quantized kernels run scalar, with [`KernelCx`]'s fixed-point helpers, which reproduce
//! `mvcc_kernels::fixedpoint` bit for bit; quantized ADD, SUB and SQUARED_DIFFERENCE look each
//! operand's rescaled value up in a 256-entry table (it depends on the byte alone), leaving one
//! rescale per element. One-operand 8-bit kernels are a 256-entry table built by running the
//! reference kernel on every possible input byte ([`byte_table`], [`lut8`]), so they are the
//! reference kernel's results by construction.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use mvcc_kernels::fixedpoint::multiply_by_quantized_multiplier_smaller_than_one_exp;
use mvcc_kernels::kernels::binary::{AddQParams, BroadcastShape, MulQParams, MAX_RANK};
use mvcc_kernels::kernels::common::{ActF32, ActQ, Requant};

use super::{Arith, Kernel};
use crate::clif::cx::{KernelCx, Region};
use crate::error::Result;
use crate::ir::DType;
use crate::ops::softmax::clif::{one_over_one_plus_x, srdhm_var};

/// Memory flags of vector accesses: never trapping, but not `aligned` (a vector of four floats
/// starts at any float; x86-64 folds `aligned` vector loads into SSE operands that must be
/// 16-byte aligned).
pub(crate) fn vflags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Scalar memory flags (elements are always aligned to their size).
fn sflags() -> MemFlagsData {
    crate::clif::cx::flags()
}

/// One operand of an element-wise kernel: its address, element type, and the element stride of
/// each output dimension (0 where it is broadcast).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Src {
    /// Address of element 0.
    pub base: Value,
    /// Element type (scalar).
    pub ty: Type,
    /// Element stride per output dimension.
    pub strides: [usize; MAX_RANK],
}

/// Dense row-major strides of `dims`.
fn dense(dims: &[usize; MAX_RANK]) -> [usize; MAX_RANK] {
    let mut s = [0; MAX_RANK];
    let mut acc = 1usize;
    for i in (0..MAX_RANK).rev() {
        s[i] = acc;
        acc = acc.saturating_mul(dims[i]);
    }
    s
}

/// One collapsed loop level: its extent and the element stride of every operand (the output
/// last).
type Level = (usize, Vec<usize>);

/// Collapses `dims` (outermost first) where every operand's stride over the outer dimension is its
/// stride over the inner group times the group's extent; extents of 1 vanish. At least one
/// level.
fn collapse(dims: &[usize; MAX_RANK], strides: &[[usize; MAX_RANK]]) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    for k in (0..MAX_RANK).rev() {
        let d = dims[k];
        if d == 1 {
            continue;
        }
        let st: Vec<usize> = strides.iter().map(|s| s[k]).collect();
        if let Some((ld, ls)) = levels.last_mut() {
            if st.iter().zip(ls.iter()).all(|(&so, &si)| so == si * *ld) {
                *ld *= d;
                continue;
            }
        }
        levels.push((d, st));
    }
    levels.reverse();
    if levels.is_empty() {
        levels.push((1, vec![0; strides.len()]));
    }
    levels
}

/// `base + index · size` for a pointer-sized element index.
fn elem_addr(cx: &mut KernelCx<'_, '_>, base: Value, index: Value, size: u32) -> Value {
    cx.addr(base, index, size as usize)
}

/// The vector type of `lanes` elements of `ty`.
fn vec_of(ty: Type, lanes: usize) -> Option<Type> {
    ty.by(u32::try_from(lanes).ok()?)
}

/// Writes `out[o] = f(src_0[i_0], src_1[i_1], ...)` over every element of the layout `dims`, each
/// source indexed through its strides. With `simd`, the innermost level runs 16 bytes at a time
/// when every source and the output have elements of one size; `f` then receives and returns
/// vectors (and scalars in the tail), so it must be written for both.
pub(crate) fn map_broadcast(
    cx: &mut KernelCx<'_, '_>,
    dims: &[usize; MAX_RANK],
    srcs: &[Src],
    out: (Value, Type),
    simd: bool,
    mut f: impl FnMut(&mut KernelCx<'_, '_>, &[Value]) -> Value,
) -> Result<()> {
    if dims.contains(&0) {
        return Ok(());
    }
    let mut strides: Vec<[usize; MAX_RANK]> = srcs.iter().map(|s| s.strides).collect();
    strides.push(dense(dims));
    let levels = collapse(dims, &strides);
    let size = out.1.bytes() as usize;
    let lanes = if simd && size > 0 && srcs.iter().all(|s| s.ty.bytes() as usize == size) {
        16 / size
    } else {
        1
    };
    let zero = cx.iconst(0);
    let offs = vec![zero; srcs.len() + 1];
    nest(cx, &levels, offs, &mut |cx, (m, st), offs| {
        inner(cx, m, st, offs, srcs, out, lanes, &mut f)
    })
}

/// The inner level's loop emitter: `(extent, strides)` and the operands' element offsets.
type Inner<'c> = dyn FnMut(&mut KernelCx<'_, '_>, (usize, &[usize]), &[Value]) -> Result<()> + 'c;

/// The outer levels as runtime loops, each adding `index · stride` to every operand's offset.
fn nest(
    cx: &mut KernelCx<'_, '_>,
    levels: &[Level],
    offs: Vec<Value>,
    inner: &mut Inner<'_>,
) -> Result<()> {
    let ((m, st), outer) = levels.split_last().expect("at least one level");
    if outer.is_empty() {
        return inner(cx, (*m, st), &offs);
    }
    let (d, ost) = &outer[0];
    let rest = &levels[1..];
    cx.for_range(*d, |cx, i| {
        let next: Vec<Value> = offs
            .iter()
            .zip(ost)
            .map(|(&o, &s)| {
                if s == 0 {
                    o
                } else {
                    let step = cx.b.ins().imul_imm_s(i, s as i64);
                    cx.b.ins().iadd(o, step)
                }
            })
            .collect();
        nest(cx, rest, next, &mut *inner)
    })
}

/// The innermost level: `m` elements, vectors of `lanes` where possible, then scalars.
#[allow(clippy::too_many_arguments)] // one loop's operands, their layout and its body
fn inner(
    cx: &mut KernelCx<'_, '_>,
    m: usize,
    st: &[usize],
    offs: &[Value],
    srcs: &[Src],
    out: (Value, Type),
    lanes: usize,
    f: &mut dyn FnMut(&mut KernelCx<'_, '_>, &[Value]) -> Value,
) -> Result<()> {
    let n = srcs.len();
    let contiguous = st.iter().all(|&s| s <= 1) && st[n] == 1;
    let chunks = if lanes > 1 && contiguous {
        m / lanes
    } else {
        0
    };
    // Broadcast sources along this level: one load, outside the loops.
    let fixed: Vec<Option<Value>> = srcs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (st[k] == 0).then(|| {
                let a = elem_addr(cx, s.base, offs[k], s.ty.bytes());
                cx.b.ins().load(s.ty, sflags(), a, 0)
            })
        })
        .collect();
    if chunks > 0 {
        let splats: Vec<Option<Value>> = fixed
            .iter()
            .zip(srcs)
            .map(|(v, s)| {
                v.map(|v| {
                    let vt = vec_of(s.ty, lanes).expect("16-byte vector");
                    cx.b.ins().splat(vt, v)
                })
            })
            .collect();
        let ovt = vec_of(out.1, lanes).expect("16-byte vector");
        cx.for_range(chunks, |cx, i| {
            let e = cx.b.ins().imul_imm_s(i, lanes as i64);
            let mut vals = Vec::with_capacity(n);
            for (k, s) in srcs.iter().enumerate() {
                vals.push(match splats[k] {
                    Some(v) => v,
                    None => {
                        let idx = cx.b.ins().iadd(offs[k], e);
                        let a = elem_addr(cx, s.base, idx, s.ty.bytes());
                        let vt = vec_of(s.ty, lanes).expect("16-byte vector");
                        cx.b.ins().load(vt, vflags(), a, 0)
                    }
                });
            }
            let r = f(cx, &vals);
            debug_assert_eq!(cx.b.func.dfg.value_type(r), ovt);
            let idx = cx.b.ins().iadd(offs[n], e);
            let a = elem_addr(cx, out.0, idx, out.1.bytes());
            cx.b.ins().store(vflags(), r, a, 0);
            Ok(())
        })?;
    }
    let done = chunks * lanes;
    cx.for_range(m - done, |cx, i| {
        let j = cx.b.ins().iadd_imm_s(i, done as i64);
        let mut vals = Vec::with_capacity(n);
        for (k, s) in srcs.iter().enumerate() {
            vals.push(match fixed[k] {
                Some(v) => v,
                None => {
                    let step = if st[k] == 1 {
                        j
                    } else {
                        cx.b.ins().imul_imm_s(j, st[k] as i64)
                    };
                    let idx = cx.b.ins().iadd(offs[k], step);
                    let a = elem_addr(cx, s.base, idx, s.ty.bytes());
                    cx.b.ins().load(s.ty, sflags(), a, 0)
                }
            });
        }
        let r = f(cx, &vals);
        let step = if st[n] == 1 {
            j
        } else {
            cx.b.ins().imul_imm_s(j, st[n] as i64)
        };
        let idx = cx.b.ins().iadd(offs[n], step);
        let a = elem_addr(cx, out.0, idx, out.1.bytes());
        cx.b.ins().store(sflags(), r, a, 0);
        Ok(())
    })
}

/// `out[i] = f(src[i])` over `n` elements (see [`map_broadcast`] for `simd`).
pub(crate) fn map_unary(
    cx: &mut KernelCx<'_, '_>,
    n: usize,
    src: (Value, Type),
    out: (Value, Type),
    simd: bool,
    mut f: impl FnMut(&mut KernelCx<'_, '_>, Value) -> Value,
) -> Result<()> {
    let mut dims = [1; MAX_RANK];
    dims[MAX_RANK - 1] = n;
    let mut strides = [0; MAX_RANK];
    strides[MAX_RANK - 1] = 1;
    let s = Src {
        base: src.0,
        ty: src.1,
        strides,
    };
    map_broadcast(cx, &dims, &[s], out, simd, |cx, v| f(cx, v[0]))
}

/// A float function over operand 0 into result 0, `f32x4`.
pub(crate) fn map_f32(
    cx: &mut KernelCx<'_, '_>,
    f: impl FnMut(&mut KernelCx<'_, '_>, Value) -> Value,
) -> Result<()> {
    let (x, y, n) = unary_operands(cx, 4, 4)?;
    map_unary(cx, n, (x.base, types::F32), (y.base, types::F32), true, f)
}

/// Operand 0 and result 0 of a one-operand element-wise step, checked to hold the same number of
/// elements of `in_size` and `out_size` bytes; returns them and the element count.
pub(crate) fn unary_operands(
    cx: &mut KernelCx<'_, '_>,
    in_size: usize,
    out_size: usize,
) -> Result<(Region, Region, usize)> {
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    let n = x.len(in_size);
    if y.len(out_size) != n || x.bytes != n * in_size || y.bytes != n * out_size {
        return Err(cx.err("operand and result have different element counts"));
    }
    Ok((x, y, n))
}

/// Operands 0 and 1 and result 0 of a broadcasting step, checked against `shape` (elements of
/// `size` bytes), as [`Src`]s and the output address.
pub(crate) fn broadcast_operands(
    cx: &mut KernelCx<'_, '_>,
    shape: &BroadcastShape,
    ty: Type,
) -> Result<([Src; 2], Value)> {
    let size = ty.bytes() as usize;
    let a = cx.input(0)?;
    let b = cx.input(1)?;
    let o = cx.output(0)?;
    if a.bytes != shape.len1() * size || b.bytes != shape.len2() * size {
        return Err(cx.err("operand sizes do not match their shapes"));
    }
    if o.bytes != shape.num_elements() * size {
        return Err(cx.err("result size does not match the broadcast shape"));
    }
    Ok((
        [
            Src {
                base: a.base,
                ty,
                strides: shape.strides1,
            },
            Src {
                base: b.base,
                ty,
                strides: shape.strides2,
            },
        ],
        o.base,
    ))
}

/// An `f32` constant of `like`'s shape (scalar or `f32x4`).
pub(crate) fn fconst(cx: &mut KernelCx<'_, '_>, like: Value, v: f32) -> Value {
    let c = cx.f32const(v);
    let ty = cx.b.func.dfg.value_type(like);
    if ty.is_vector() {
        cx.b.ins().splat(ty, c)
    } else {
        c
    }
}

/// `cond ? a : b` lane-wise: `cond` is a comparison result (a boolean, or a lane mask).
pub(crate) fn sel(cx: &mut KernelCx<'_, '_>, cond: Value, a: Value, b: Value) -> Value {
    let ty = cx.b.func.dfg.value_type(a);
    if ty.is_vector() {
        let ct = cx.b.func.dfg.value_type(cond);
        let mask = if ct == ty {
            cond
        } else {
            cx.b.ins().bitcast(ty, MemFlagsData::new(), cond)
        };
        cx.b.ins().bitselect(mask, a, b)
    } else {
        cx.b.ins().select(cond, a, b)
    }
}

/// TFLite's float clamp `x < min ? min : x`, then `> max ? max`, lane-wise (NaN passes).
pub(crate) fn fclamp(cx: &mut KernelCx<'_, '_>, x: Value, min: f32, max: f32) -> Value {
    let lo = fconst(cx, x, min);
    let hi = fconst(cx, x, max);
    let below = cx.b.ins().fcmp(FloatCC::LessThan, x, lo);
    let a = sel(cx, below, lo, x);
    let above = cx.b.ins().fcmp(FloatCC::GreaterThan, a, hi);
    sel(cx, above, hi, a)
}

/// [`fclamp`] to an activation range.
pub(crate) fn fact(cx: &mut KernelCx<'_, '_>, x: Value, act: ActF32) -> Value {
    fclamp(cx, x, act.min, act.max)
}

/// The scalar Cranelift type of an element type (bool and 8-bit types are `i8`).
pub(crate) fn elem_type(dtype: DType) -> Type {
    match dtype {
        DType::I8 | DType::U8 | DType::Bool => types::I8,
        DType::I16 | DType::F16 => types::I16,
        DType::I32 => types::I32,
        DType::I64 => types::I64,
        DType::F32 => types::F32,
    }
}

/// A loaded 8-bit element widened to `i32` (sign-extended for `I8`, zero-extended for `U8`).
pub(crate) fn widen8(cx: &mut KernelCx<'_, '_>, v: Value, dtype: DType) -> Value {
    if dtype == DType::U8 {
        cx.b.ins().uextend(types::I32, v)
    } else {
        cx.b.ins().sextend(types::I32, v)
    }
}

/// `T::from_i32_saturating(act.apply(x))` for an 8-bit `T`: the activation clamp, the type's
/// clamp, and the narrowing to `i8`.
pub(crate) fn narrow8(
    cx: &mut KernelCx<'_, '_>,
    x: Value,
    act: Option<ActQ>,
    dtype: DType,
) -> Value {
    let x = match act {
        Some(a) => cx.clamp_i32(x, a.min, a.max),
        None => x,
    };
    let (lo, hi) = if dtype == DType::U8 {
        (0, 255)
    } else {
        (-128, 127)
    };
    let x = cx.clamp_i32(x, lo, hi);
    cx.b.ins().ireduce(types::I8, x)
}

/// `MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m)`: the doubling high multiply, then the
/// rounding right shift by `-shift` (clamped to `0..=31`).
fn stoe(cx: &mut KernelCx<'_, '_>, x: Value, r: Requant) -> Value {
    let h = cx.srdhm(x, r.multiplier);
    cx.rdbpot(h, r.shift.saturating_neg())
}

/// The output bytes of a kernel from one 8-bit type to another for every input byte: `kernel`
/// runs on the 256 values of `In` (indexed by their byte).
pub(crate) fn table_of<In: bytemuck::Pod, Out: bytemuck::Pod>(
    kernel: impl FnOnce(&[In], &mut [Out]),
) -> [u8; 256] {
    assert!(std::mem::size_of::<In>() == 1 && std::mem::size_of::<Out>() == 1);
    let bytes: Vec<u8> = (0..=255).collect();
    let mut table = [0u8; 256];
    kernel(
        bytemuck::cast_slice(&bytes),
        bytemuck::cast_slice_mut(&mut table),
    );
    table
}

/// [`table_of`] for a kernel generic over its 8-bit type, on `dtype` (`U8`, else `I8`).
pub(crate) fn byte_table(
    dtype: DType,
    kernel_i8: impl FnOnce(&[i8], &mut [i8]),
    kernel_u8: impl FnOnce(&[u8], &mut [u8]),
) -> [u8; 256] {
    if dtype == DType::U8 {
        table_of(kernel_u8)
    } else {
        table_of(kernel_i8)
    }
}

/// `out[i] = table[in[i]]` on bytes; with `check`, each input byte (as `i8`) is also compared
/// with the zero point, and a smaller one fails the step (int8 RSQRT and SQRT).
pub(crate) fn lut8(cx: &mut KernelCx<'_, '_>, table: &[u8; 256], check: Option<i32>) -> Result<()> {
    const UNROLL: usize = 4;
    let (x, y, n) = unary_operands(cx, 1, 1)?;
    let t = cx.const_data(table)?;
    let ptr = cx.ptr;
    // Element `i + k` (`k` an immediate offset).
    let elem = |cx: &mut KernelCx<'_, '_>, i: Value, k: usize| {
        let k = k as i32;
        let a = cx.b.ins().iadd(x.base, i);
        let v = cx.b.ins().uload8(ptr, sflags(), a, k);
        if let Some(zp) = check {
            let s = cx.b.ins().sload8(types::I32, sflags(), a, k);
            let neg =
                cx.b.ins()
                    .icmp_imm_s(IntCC::SignedLessThan, s, i64::from(zp));
            cx.fail_if(neg);
        }
        let ta = cx.b.ins().iadd(t, v);
        let r = cx.b.ins().load(types::I8, sflags(), ta, 0);
        let oa = cx.b.ins().iadd(y.base, i);
        cx.b.ins().store(sflags(), r, oa, k);
    };
    cx.for_range(n / UNROLL, |cx, i| {
        let i = cx.b.ins().imul_imm_s(i, UNROLL as i64);
        for k in 0..UNROLL {
            elem(cx, i, k);
        }
        Ok(())
    })?;
    let zero = cx.iconst(0);
    for k in n / UNROLL * UNROLL..n {
        elem(cx, zero, k);
    }
    Ok(())
}

/// Float ADD, SUB, MUL, DIV with the clamp, `f32x4`.
fn arith_f32(
    cx: &mut KernelCx<'_, '_>,
    op: Arith,
    shape: &BroadcastShape,
    act: ActF32,
) -> Result<()> {
    let (srcs, out) = broadcast_operands(cx, shape, types::F32)?;
    map_broadcast(cx, &shape.dims, &srcs, (out, types::F32), true, |cx, v| {
        let r = match op {
            Arith::Add => cx.b.ins().fadd(v[0], v[1]),
            Arith::Sub => cx.b.ins().fsub(v[0], v[1]),
            Arith::Mul => cx.b.ins().fmul(v[0], v[1]),
            Arith::Div => cx.b.ins().fdiv(v[0], v[1]),
        };
        fact(cx, r, act)
    })
}

/// int32 ADD, SUB, MUL (wrapping), DIV (truncating; a stored zero divisor anywhere fails the
/// step, and `i32::MIN / −1` gives 0 as the reference kernel's `checked_div` does).
fn arith_i32(
    cx: &mut KernelCx<'_, '_>,
    op: Arith,
    shape: &BroadcastShape,
    act: ActQ,
) -> Result<()> {
    let (srcs, out) = broadcast_operands(cx, shape, types::I32)?;
    if op == Arith::Div {
        // TFLite checks the whole divisor operand before computing anything.
        let b = srcs[1].base;
        cx.for_range(shape.len2(), |cx, i| {
            let v = cx.load(types::I32, b, i);
            let zero = cx.b.ins().icmp_imm_s(IntCC::Equal, v, 0);
            cx.fail_if(zero);
            Ok(())
        })?;
    }
    map_broadcast(cx, &shape.dims, &srcs, (out, types::I32), false, |cx, v| {
        let (a, b) = (v[0], v[1]);
        let r = match op {
            Arith::Add => cx.b.ins().iadd(a, b),
            Arith::Sub => cx.b.ins().isub(a, b),
            Arith::Mul => cx.b.ins().imul(a, b),
            Arith::Div => {
                let zero = cx.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
                let a_min = cx.b.ins().icmp_imm_s(IntCC::Equal, a, i64::from(i32::MIN));
                let b_m1 = cx.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
                let ovf = cx.b.ins().band(a_min, b_m1);
                let undefined = cx.b.ins().bor(zero, ovf);
                let one = cx.i32const(1);
                let d = cx.b.ins().select(undefined, one, b);
                let q = cx.b.ins().sdiv(a, d);
                let z = cx.i32const(0);
                cx.b.ins().select(undefined, z, q)
            }
        };
        cx.clamp_i32(r, act.min, act.max)
    })
}

/// The two offset operands of a quantized kernel: `offset + q` in `i32`.
fn offsets(
    cx: &mut KernelCx<'_, '_>,
    v: &[Value],
    dtype: DType,
    o1: i32,
    o2: i32,
) -> (Value, Value) {
    let a = widen8(cx, v[0], dtype);
    let b = widen8(cx, v[1], dtype);
    let a = cx.b.ins().iadd_imm_s(a, i64::from(o1));
    let b = cx.b.ins().iadd_imm_s(b, i64::from(o2));
    (a, b)
}

/// The rescaled operand of a quantized ADD for every stored byte:
/// `stoe((offset + q) · 2^left_shift, m)`, as little-endian `i32`s (both targets are
/// little-endian).
fn rescale_table(dtype: DType, offset: i32, left_shift: i32, m: Requant) -> Vec<u8> {
    (0..=255u8)
        .flat_map(|b| {
            let q = if dtype == DType::U8 {
                i32::from(b)
            } else {
                i32::from(b as i8)
            };
            let v = offset
                .wrapping_add(q)
                .wrapping_mul(1i32.wrapping_shl(left_shift as u32));
            multiply_by_quantized_multiplier_smaller_than_one_exp(v, m.multiplier, m.shift)
                .to_le_bytes()
        })
        .collect()
}

/// Quantized ADD / SUB (`add_q`) or, with `squared`, SQUARED_DIFFERENCE (`squared_difference_q`).
/// Each operand's rescaled value depends on its byte alone: two 256-entry tables give them, and
/// the code per element is the sum (or squared difference) and the output rescale.
fn add_q(cx: &mut KernelCx<'_, '_>, dtype: DType, p: &AddQParams, squared: bool) -> Result<()> {
    let (srcs, out) = broadcast_operands(cx, &p.shape, types::I8)?;
    let p = *p;
    let t1 = rescale_table(dtype, p.input1_offset, p.left_shift, p.input1);
    let t2 = rescale_table(dtype, p.input2_offset, p.left_shift, p.input2);
    let t1 = cx.const_data(&t1)?;
    let t2 = cx.const_data(&t2)?;
    let ptr = cx.ptr;
    map_broadcast(
        cx,
        &p.shape.dims,
        &srcs,
        (out, types::I8),
        false,
        |cx, v| {
            let i1 = cx.b.ins().uextend(ptr, v[0]);
            let i2 = cx.b.ins().uextend(ptr, v[1]);
            let s1 = cx.load(types::I32, t1, i1);
            let s2 = cx.load(types::I32, t2, i2);
            let sum = if squared {
                let d = cx.b.ins().isub(s1, s2);
                cx.b.ins().imul(d, d)
            } else {
                cx.b.ins().iadd(s1, s2)
            };
            let raw = stoe(cx, sum, p.output);
            let raw = cx.b.ins().iadd_imm_s(raw, i64::from(p.output_offset));
            narrow8(cx, raw, Some(p.act), dtype)
        },
    )
}

/// Quantized MUL (`mul_q`).
fn mul_q(cx: &mut KernelCx<'_, '_>, dtype: DType, p: &MulQParams) -> Result<()> {
    let (srcs, out) = broadcast_operands(cx, &p.shape, types::I8)?;
    let p = *p;
    map_broadcast(
        cx,
        &p.shape.dims,
        &srcs,
        (out, types::I8),
        false,
        |cx, v| {
            let (v1, v2) = offsets(cx, v, dtype, p.input1_offset, p.input2_offset);
            let prod = cx.b.ins().imul(v1, v2);
            let raw = cx.mbqm(prod, p.output.multiplier, p.output.shift);
            let raw = cx.b.ins().iadd_imm_s(raw, i64::from(p.output_offset));
            narrow8(cx, raw, Some(p.act), dtype)
        },
    )
}

/// Quantized DIV (`div_q`): the divisor's fixed-point reciprocal (`GetReciprocal`), the dividend
/// shifted up by its headroom, one rescale with a runtime exponent.
fn div_q(cx: &mut KernelCx<'_, '_>, dtype: DType, p: &MulQParams) -> Result<()> {
    let (srcs, out) = broadcast_operands(cx, &p.shape, types::I8)?;
    let p = *p;
    map_broadcast(
        cx,
        &p.shape.dims,
        &srcs,
        (out, types::I8),
        false,
        |cx, v| {
            let (v1, v2) = offsets(cx, v, dtype, p.input1_offset, p.input2_offset);
            let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, v2, 0);
            let n1 = cx.b.ins().ineg(v1);
            let n2 = cx.b.ins().ineg(v2);
            let v1 = cx.b.ins().select(neg, n1, v1);
            let v2 = cx.b.ins().select(neg, n2, v2);
            // GetReciprocal(v2, 31).
            let hpo = cx.b.ins().clz(v2);
            let shifted = cx.b.ins().ishl(v2, hpo);
            let ssmo = cx.b.ins().iadd_imm_s(shifted, i64::from(i32::MIN));
            let inv = one_over_one_plus_x(cx, ssmo);
            // recip_shift = 31 − hpo.
            let headroom = cx.b.ins().cls(v1);
            let c30 = cx.i32const(30);
            let hs = cx.b.ins().umin(headroom, c30);
            let shifted_v1 = cx.b.ins().ishl(v1, hs);
            let unscaled = srdhm_var(cx, shifted_v1, inv);
            // total_shift = out.shift − (31 − hpo) − headroom; exponent = −total_shift.
            let e = cx.b.ins().isub(headroom, hpo);
            let e = cx.b.ins().iadd_imm_s(e, i64::from(31 - p.output.shift));
            let h = cx.srdhm(unscaled, p.output.multiplier);
            let scaled = rdbpot_wide(cx, h, e);
            let raw = cx.b.ins().iadd_imm_s(scaled, i64::from(p.output_offset));
            narrow8(cx, raw, Some(p.act), dtype)
        },
    )
}

/// `rounding_divide_by_pot_wide(x, e)` with a runtime exponent: clamped to `0..=63`, the mask
/// `(1 << e) − 1` truncated to 32 bits, the shift by `min(e, 31)`.
fn rdbpot_wide(cx: &mut KernelCx<'_, '_>, x: Value, e: Value) -> Value {
    let zero = cx.i32const(0);
    let e = cx.b.ins().smax(e, zero);
    let c63 = cx.i32const(63);
    let e = cx.b.ins().smin(e, c63);
    let e64 = cx.b.ins().uextend(types::I64, e);
    let one = cx.b.ins().iconst(types::I64, 1);
    let m = cx.b.ins().ishl(one, e64);
    let m = cx.b.ins().iadd_imm_s(m, -1);
    let mask = cx.b.ins().ireduce(types::I32, m);
    let rem = cx.b.ins().band(x, mask);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
    let neg = cx.b.ins().uextend(types::I32, neg);
    let half = cx.b.ins().sshr_imm_s(mask, 1);
    let threshold = cx.b.ins().iadd(half, neg);
    let up = cx.b.ins().icmp(IntCC::SignedGreaterThan, rem, threshold);
    let up = cx.b.ins().uextend(types::I32, up);
    let c31 = cx.i32const(31);
    let s = cx.b.ins().umin(e, c31);
    let shifted = cx.b.ins().sshr(x, s);
    cx.b.ins().iadd(shifted, up)
}

/// MAXIMUM / MINIMUM on stored values: `a > b ? a : b` (`a < b ? a : b`), `f32x4` for floats.
fn max_min(
    cx: &mut KernelCx<'_, '_>,
    dtype: DType,
    shape: &BroadcastShape,
    max: bool,
) -> Result<()> {
    let ty = elem_type(dtype);
    let (srcs, out) = broadcast_operands(cx, shape, ty)?;
    let float = dtype == DType::F32;
    map_broadcast(cx, &shape.dims, &srcs, (out, ty), float, |cx, v| {
        let (a, b) = (v[0], v[1]);
        let pick_a = if float {
            let cc = if max {
                FloatCC::GreaterThan
            } else {
                FloatCC::LessThan
            };
            cx.b.ins().fcmp(cc, a, b)
        } else {
            let cc = match (max, dtype == DType::U8) {
                (true, true) => IntCC::UnsignedGreaterThan,
                (true, false) => IntCC::SignedGreaterThan,
                (false, true) => IntCC::UnsignedLessThan,
                (false, false) => IntCC::SignedLessThan,
            };
            cx.b.ins().icmp(cc, a, b)
        };
        sel(cx, pick_a, a, b)
    })
}

/// Float SQUARED_DIFFERENCE `(a − b)²`, `f32x4`; int32 wrapping.
fn squared_difference(
    cx: &mut KernelCx<'_, '_>,
    shape: &BroadcastShape,
    float: bool,
) -> Result<()> {
    let ty = if float { types::F32 } else { types::I32 };
    let (srcs, out) = broadcast_operands(cx, shape, ty)?;
    map_broadcast(cx, &shape.dims, &srcs, (out, ty), float, |cx, v| {
        if float {
            let d = cx.b.ins().fsub(v[0], v[1]);
            cx.b.ins().fmul(d, d)
        } else {
            let d = cx.b.ins().isub(v[0], v[1]);
            cx.b.ins().imul(d, d)
        }
    })
}

/// The step's code for every kernel of the family.
pub(crate) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    let q = |cx: &KernelCx<'_, '_>, dtype: DType| match dtype {
        DType::I8 | DType::U8 => Ok(dtype),
        t => Err(cx.err(format!("no quantized kernel for {t}"))),
    };
    match k {
        Kernel::F32 { op, params } => arith_f32(cx, *op, &params.shape, params.act),
        Kernel::I32 { op, params } => arith_i32(cx, *op, &params.shape, params.act),
        Kernel::AddQ { dtype, params, .. } => add_q(cx, q(cx, *dtype)?, params, false),
        Kernel::MulQ { dtype, params } => mul_q(cx, q(cx, *dtype)?, params),
        Kernel::DivQ { dtype, params } => div_q(cx, q(cx, *dtype)?, params),
        Kernel::SquaredDifferenceF32(s) => squared_difference(cx, s, true),
        Kernel::SquaredDifferenceI32(s) => squared_difference(cx, s, false),
        Kernel::SquaredDifferenceQ { dtype, params } => add_q(cx, q(cx, *dtype)?, params, true),
        Kernel::Maximum { dtype, shape } => max_min(cx, *dtype, shape, true),
        Kernel::Minimum { dtype, shape } => max_min(cx, *dtype, shape, false),
    }
}

/// One-op programs run by the interpreter and by the JIT.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::interp::Buf;
    use crate::ir::{Op, Tensor};
    use crate::lower::Program;
    use crate::ops::transpose::testutil::graph;

    /// A deterministic byte stream (xorshift64*).
    #[derive(Debug)]
    pub struct Rng(pub u64);

    impl Rng {
        /// The next 64 random bits.
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// `n` random bytes.
        pub fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| (self.next() >> 32) as u8).collect()
        }

        /// `n` floats uniform in `[lo, hi)`.
        pub fn floats(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
            (0..n)
                .map(|_| lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32))
                .collect()
        }
    }

    /// The one-op program: non-constant operands are the model's inputs, results its outputs.
    pub fn program(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>) -> Program {
        let (mut g, id) = graph(op, inputs.into_iter().map(Some).collect(), outputs);
        let shapes = crate::ops::infer(&g, id).expect("shapes");
        let node = g.op(id).clone();
        for (&o, s) in node.outputs.iter().zip(shapes) {
            g.tensor_mut(o).shape = s;
        }
        g.inputs = node
            .inputs
            .iter()
            .flatten()
            .copied()
            .filter(|&t| !g.tensor(t).is_const())
            .collect();
        g.outputs = node.outputs.clone();
        crate::lower::lower(&g).expect("lowering")
    }

    /// The interpreter's results and the JIT's (an `Err` where one refuses the data).
    pub fn both(
        op: Op,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
        values: &[Buf],
    ) -> (Result<Vec<Buf>, String>, Result<Vec<Buf>, String>) {
        let program = program(op, inputs, outputs);
        let plan = crate::plan::plan(&program);
        let want = crate::interp::Interpreter::new(&program, &plan)
            .run(values)
            .map_err(|e| e.to_string());
        let got = crate::clif::Jit::new(&program, &plan)
            .map_err(|e| e.to_string())
            .and_then(|j| j.run(values).map_err(|e| e.to_string()));
        (want, got)
    }

    /// Asserts that the JIT computes the interpreter's bytes exactly.
    pub fn exact(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>, values: &[Buf]) {
        let what = format!(
            "{op:?} {:?}",
            inputs
                .iter()
                .map(|t| (t.dtype, t.shape.clone()))
                .collect::<Vec<_>>()
        );
        let (want, got) = both(op, inputs, outputs, values);
        let want = want.unwrap_or_else(|e| panic!("{what}: interpreter: {e}"));
        let got = got.unwrap_or_else(|e| panic!("{what}: JIT: {e}"));
        for (w, g) in want.iter().zip(&got) {
            if w != g {
                let pos = w.bytes().iter().zip(g.bytes()).position(|(a, b)| a != b);
                panic!("{what}: results differ at byte {pos:?}");
            }
        }
    }

    /// Asserts that the JIT's floats are within `rel` of the interpreter's (relative to the
    /// largest magnitude of the result, as the conformance suite compares).
    pub fn close(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>, values: &[Buf], rel: f32) {
        let what = format!("{op:?}");
        let (want, got) = both(op, inputs, outputs, values);
        let want = want.unwrap_or_else(|e| panic!("{what}: interpreter: {e}"));
        let got = got.unwrap_or_else(|e| panic!("{what}: JIT: {e}"));
        for (w, g) in want.iter().zip(&got) {
            let (w, g) = (w.as_slice::<f32>().unwrap(), g.as_slice::<f32>().unwrap());
            let max = w
                .iter()
                .fold(0f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                let ok = a.to_bits() == b.to_bits()
                    || (a.is_nan() && b.is_nan())
                    || (a - b).abs() <= rel * max.max(f32::MIN_POSITIVE);
                assert!(ok, "{what}: element {i}: {a} vs {b} (max {max})");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{both, close, exact, Rng};
    use crate::interp::Buf;
    use crate::ir::{Activation, DType, FusedActAttrs, NoAttrs, Op};
    use crate::ops::transpose::testutil::{t, tq};

    const SHAPES: &[(&[usize], &[usize])] = &[
        (&[2, 3, 5, 7], &[2, 3, 5, 7]),
        (&[2, 3, 5, 7], &[7]),
        (&[2, 3, 5, 8], &[8]),
        (&[2, 3, 5, 8], &[1]),
        (&[1], &[2, 3, 5, 9]),
        (&[2, 1, 5, 1], &[1, 3, 1, 4]),
        (&[3, 1], &[3, 17]),
        (&[4, 2, 1, 3, 1, 2], &[2, 5, 1, 4, 1]),
        (&[13], &[13]),
    ];

    fn arith_ops(act: Activation) -> Vec<Op> {
        let a = FusedActAttrs { act };
        vec![
            Op::Add(a.clone()),
            Op::Sub(a.clone()),
            Op::Mul(a.clone()),
            Op::Div(a),
        ]
    }

    fn out_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
        let r = a.len().max(b.len());
        (0..r)
            .map(|i| {
                let x = if i + a.len() >= r {
                    a[i + a.len() - r]
                } else {
                    1
                };
                let y = if i + b.len() >= r {
                    b[i + b.len() - r]
                } else {
                    1
                };
                x.max(y)
            })
            .collect()
    }

    #[test]
    fn float_arithmetic_is_exact() {
        let mut rng = Rng(7);
        for &(a, b) in SHAPES {
            let o = out_shape(a, b);
            for act in [Activation::None, Activation::Relu, Activation::ReluN1To1] {
                let mut ops = arith_ops(act);
                ops.extend([
                    Op::SquaredDifference(NoAttrs),
                    Op::Maximum(NoAttrs),
                    Op::Minimum(NoAttrs),
                ]);
                for op in ops {
                    let x = rng.floats(a.iter().product(), -3.0, 3.0);
                    let mut y = rng.floats(b.iter().product(), -3.0, 3.0);
                    y[0] = 0.0;
                    exact(
                        op,
                        vec![t(DType::F32, a), t(DType::F32, b)],
                        vec![t(DType::F32, &o)],
                        &[Buf::from_slice(&x), Buf::from_slice(&y)],
                    );
                }
            }
        }
    }

    #[test]
    fn quantized_arithmetic_is_exact() {
        let mut rng = Rng(11);
        let scales = [
            (0.05f32, 3i64, 0.07f32, -5i64, 0.1f32, 2i64),
            (0.5, -128, 0.02, 100, 0.003, -7),
        ];
        for &(a, b) in SHAPES {
            let o = out_shape(a, b);
            for dtype in [DType::I8, DType::U8] {
                let zp = |z: i64| if dtype == DType::U8 { z + 128 } else { z };
                for &(s1, z1, s2, z2, so, zo) in &scales {
                    let mut ops = arith_ops(Activation::None);
                    ops.extend(arith_ops(Activation::Relu6));
                    ops.extend([Op::Maximum(NoAttrs), Op::Minimum(NoAttrs)]);
                    if dtype == DType::I8 {
                        ops.push(Op::SquaredDifference(NoAttrs));
                    }
                    for op in ops {
                        let x = rng.bytes(a.iter().product());
                        let y = rng.bytes(b.iter().product());
                        exact(
                            op,
                            vec![tq(dtype, a, s1, zp(z1)), tq(dtype, b, s2, zp(z2))],
                            vec![tq(dtype, &o, so, zp(zo))],
                            &[Buf::from_bytes(&x), Buf::from_bytes(&y)],
                        );
                    }
                }
            }
        }
    }

    /// Quantized DIV on every pair of bytes.
    #[test]
    fn quantized_div_on_every_pair() {
        let x: Vec<u8> = (0..65536).map(|i| (i / 256) as u8).collect();
        let y: Vec<u8> = (0..65536).map(|i| (i % 256) as u8).collect();
        for dtype in [DType::I8, DType::U8] {
            for &(s1, z1, s2, z2, so, zo) in &[
                (0.1f32, 0i64, 0.1f32, 0i64, 0.1f32, 0i64),
                (0.02, 7, 0.5, -3, 0.004, 1),
                (1.5, -100, 0.01, 90, 2.0, 5),
            ] {
                let zp = |z: i64| if dtype == DType::U8 { z + 128 } else { z };
                exact(
                    Op::Div(FusedActAttrs {
                        act: Activation::None,
                    }),
                    vec![
                        tq(dtype, &[65536], s1, zp(z1)),
                        tq(dtype, &[65536], s2, zp(z2)),
                    ],
                    vec![tq(dtype, &[65536], so, zp(zo))],
                    &[Buf::from_bytes(&x), Buf::from_bytes(&y)],
                );
            }
        }
    }

    #[test]
    fn integer_arithmetic_and_max_min_are_exact() {
        let mut rng = Rng(5);
        for &(a, b) in SHAPES {
            let o = out_shape(a, b);
            for act in [Activation::None, Activation::Relu6] {
                for op in arith_ops(act)
                    .into_iter()
                    .chain([Op::SquaredDifference(NoAttrs)])
                {
                    let mut x: Vec<i32> = (0..a.iter().product::<usize>())
                        .map(|_| rng.next() as i32 >> (rng.next() % 31))
                        .collect();
                    let y: Vec<i32> = (0..b.iter().product::<usize>())
                        .map(|_| (rng.next() as i32 >> (rng.next() % 31)) | 1)
                        .collect();
                    x[0] = i32::MIN;
                    exact(
                        op,
                        vec![t(DType::I32, a), t(DType::I32, b)],
                        vec![t(DType::I32, &o)],
                        &[Buf::from_slice(&x), Buf::from_slice(&y)],
                    );
                }
            }
            for dtype in [DType::I8, DType::U8, DType::I16, DType::I32, DType::I64] {
                for op in [Op::Maximum(NoAttrs), Op::Minimum(NoAttrs)] {
                    let x = rng.bytes(a.iter().product::<usize>() * dtype.size());
                    let y = rng.bytes(b.iter().product::<usize>() * dtype.size());
                    exact(
                        op,
                        vec![t(dtype, a), t(dtype, b)],
                        vec![t(dtype, &o)],
                        &[Buf::from_bytes(&x), Buf::from_bytes(&y)],
                    );
                }
            }
        }
    }

    #[test]
    fn int32_div_by_a_stored_zero_fails() {
        let run = |y: [i32; 3]| {
            both(
                Op::Div(FusedActAttrs {
                    act: Activation::None,
                }),
                vec![t(DType::I32, &[3]), t(DType::I32, &[3])],
                vec![t(DType::I32, &[3])],
                &[Buf::from_slice(&[6i32, i32::MIN, 9]), Buf::from_slice(&y)],
            )
        };
        let (want, got) = run([3, -1, -4]);
        assert_eq!(want.unwrap(), got.unwrap());
        let (want, got) = run([3, 0, -4]);
        assert!(want.is_err() && got.is_err(), "{want:?} {got:?}");
    }

    #[test]
    fn float_special_values() {
        let x = [
            0.0f32,
            -0.0,
            1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            -1.0,
        ];
        let y = [0.0f32, 0.0, 0.0, 2.0, f32::INFINITY, 1.0, 2.0, -0.0];
        for op in arith_ops(Activation::None)
            .into_iter()
            .chain([Op::Maximum(NoAttrs), Op::Minimum(NoAttrs)])
        {
            close(
                op,
                vec![t(DType::F32, &[8]), t(DType::F32, &[8])],
                vec![t(DType::F32, &[8])],
                &[Buf::from_slice(&x), Buf::from_slice(&y)],
                0.0,
            );
        }
    }
}
