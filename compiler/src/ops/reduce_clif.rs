//! Cranelift code for the `reduce` family (MEAN, SUM, REDUCE_MAX), and the lane engine it shares
//! with the pools ([`Lanes`]).
//!
//! A reduction walks the merged shape of [`ReduceShape`]. When the last dimension is kept, its
//! elements are adjacent outputs: blocks of 16 of them are accumulated side by side in SIMD
//! registers while loops over the reduced dimensions (outermost first) visit the inputs of each
//! output in increasing offset order, the order of the reference kernels (it matters for float
//! sums). When the last dimension is reduced, each output is accumulated alone (one scalar
//! lane), in the same order. The finish (divide, requantize, store) is per kernel.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::Variable;
use mvcc_kernels::kernels::reduce::{QuantizedMeanOrSumParams, ReduceShape, SumI8FloatParams};

use super::Kernel;
use crate::clif::cx::{flags, KernelCx, Region};
use crate::error::Result;

/// Element types the lane engine loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    I8,
    U8,
    I16,
    I32,
    I64,
}

impl Elem {
    /// Bytes per element.
    pub(crate) fn bytes(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 => 1,
            Elem::I16 => 2,
            Elem::F32 | Elem::I32 => 4,
            Elem::I64 => 8,
        }
    }

    /// The element's Cranelift type in memory.
    pub(crate) fn ty(self) -> Type {
        match self {
            Elem::F32 => types::F32,
            Elem::I8 | Elem::U8 => types::I8,
            Elem::I16 => types::I16,
            Elem::I32 => types::I32,
            Elem::I64 => types::I64,
        }
    }

    /// Smallest value (integers).
    pub(crate) fn min(self) -> i64 {
        match self {
            Elem::I8 => i64::from(i8::MIN),
            Elem::U8 => 0,
            Elem::I16 => i64::from(i16::MIN),
            Elem::I32 => i64::from(i32::MIN),
            Elem::I64 => i64::MIN,
            Elem::F32 => 0,
        }
    }

    /// Largest value (integers).
    pub(crate) fn max(self) -> i64 {
        match self {
            Elem::I8 => i64::from(i8::MAX),
            Elem::U8 => i64::from(u8::MAX),
            Elem::I16 => i64::from(i16::MAX),
            Elem::I32 => i64::from(i32::MAX),
            Elem::I64 => i64::MAX,
            Elem::F32 => 0,
        }
    }

    /// The type scalar lanes are kept in: `f32`, `i64` for 64-bit elements, `i32` otherwise.
    fn wide(self) -> Type {
        match self {
            Elem::F32 => types::F32,
            Elem::I64 => types::I64,
            _ => types::I32,
        }
    }

    /// Loads one element at `addr`, widened to [`Elem::wide`].
    pub(crate) fn load_wide(self, cx: &mut KernelCx<'_, '_>, addr: Value) -> Value {
        let f = flags();
        match self {
            Elem::F32 => cx.b.ins().load(types::F32, f, addr, 0),
            Elem::I8 => cx.b.ins().sload8(types::I32, f, addr, 0),
            Elem::U8 => cx.b.ins().uload8(types::I32, f, addr, 0),
            Elem::I16 => cx.b.ins().sload16(types::I32, f, addr, 0),
            Elem::I32 => cx.b.ins().load(types::I32, f, addr, 0),
            Elem::I64 => cx.b.ins().load(types::I64, f, addr, 0),
        }
    }
}

/// How lanes accumulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acc {
    /// `f32` lanes (`f32x4` vectors).
    F32,
    /// `i32` lanes widened from 8-, 16- or 32-bit integers (`i32x4` vectors).
    I32,
    /// `i64` scalar lanes (from `i32` or `i64`).
    I64,
    /// Integer lanes in the element's own type (`i8x16`, `i16x8`, `i32x4`; scalars as `i32` or
    /// `i64`), for maxima.
    Native,
}

/// The accumulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `acc + x` (wrapping for integers).
    Sum,
    /// `x > acc ? x : acc` (a NaN never replaces the accumulator).
    Max,
}

/// A run of lanes accumulated in one group of variables.
#[derive(Clone, Debug)]
pub(crate) struct Piece {
    /// First lane (element offset from the block's start).
    pub lane: usize,
    /// Number of lanes.
    pub lanes: usize,
    vars: Vec<(Variable, Type)>,
}

/// A block of at most 16 adjacent lanes being accumulated.
#[derive(Clone, Debug)]
pub(crate) struct Lanes {
    pub elem: Elem,
    pub acc: Acc,
    pub op: Op,
    pub pieces: Vec<Piece>,
}

/// The vector widths (in lanes) a block is cut into, widest first; the rest are scalar lanes.
fn widths(elem: Elem, acc: Acc) -> &'static [usize] {
    match (acc, elem) {
        (Acc::F32, _) => &[4],
        (Acc::I32, Elem::I8 | Elem::U8) => &[16, 8],
        (Acc::I32, Elem::I16) => &[8, 4],
        (Acc::I32, Elem::I32) => &[4],
        (Acc::Native, Elem::I8 | Elem::U8) => &[16],
        (Acc::Native, Elem::I16) => &[8],
        (Acc::Native, Elem::I32) => &[4],
        _ => &[],
    }
}

/// The Cranelift types of a piece's variables.
fn piece_types(elem: Elem, acc: Acc, lanes: usize) -> Vec<Type> {
    if lanes == 1 {
        return vec![match acc {
            Acc::F32 => types::F32,
            Acc::I32 => types::I32,
            Acc::I64 => types::I64,
            Acc::Native => elem.wide(),
        }];
    }
    match acc {
        Acc::F32 => vec![types::F32X4; lanes / 4],
        Acc::I32 => vec![types::I32X4; lanes / 4],
        Acc::Native => vec![
            match elem {
                Elem::I8 | Elem::U8 => types::I8X16,
                Elem::I16 => types::I16X8,
                _ => types::I32X4,
            };
            1
        ],
        Acc::I64 => vec![types::I64],
    }
}

/// Whether `v` is a vector.
pub(crate) fn is_vec(cx: &KernelCx<'_, '_>, v: Value) -> bool {
    cx.b.func.dfg.value_type(v).is_vector()
}

/// A constant of `v`'s type (splatted for vectors) from an integer or a float.
pub(crate) fn const_like(cx: &mut KernelCx<'_, '_>, like: Value, i: i64, f: f32) -> Value {
    let ty = cx.b.func.dfg.value_type(like);
    const_of(cx, ty, i, f)
}

/// A constant of type `ty` (splatted for vectors): `f` for float lanes, `i` for integer lanes.
pub(crate) fn const_of(cx: &mut KernelCx<'_, '_>, ty: Type, i: i64, f: f32) -> Value {
    let lane = ty.lane_type();
    let s = if lane == types::F32 {
        cx.b.ins().f32const(f)
    } else {
        cx.b.ins().iconst(lane, i)
    };
    if ty.is_vector() {
        cx.b.ins().splat(ty, s)
    } else {
        s
    }
}

/// `mask ? a : b` for a scalar condition or a lane mask (from `icmp`/`fcmp` on vectors).
pub(crate) fn sel(cx: &mut KernelCx<'_, '_>, mask: Value, a: Value, b: Value) -> Value {
    let ty = cx.b.func.dfg.value_type(a);
    if ty.is_vector() {
        let m = if cx.b.func.dfg.value_type(mask) == ty {
            mask
        } else {
            cx.b.ins().bitcast(ty, MemFlagsData::new(), mask)
        };
        cx.b.ins().bitselect(m, a, b)
    } else {
        cx.b.ins().select(mask, a, b)
    }
}

/// TFLite's float activation clamp `x < lo ? lo : x`, then `> hi ? hi`, lane-wise.
pub(crate) fn clamp_f(cx: &mut KernelCx<'_, '_>, x: Value, lo: f32, hi: f32) -> Value {
    let l = const_like(cx, x, 0, lo);
    let h = const_like(cx, x, 0, hi);
    let below = cx.b.ins().fcmp(FloatCC::LessThan, x, l);
    let a = sel(cx, below, l, x);
    let above = cx.b.ins().fcmp(FloatCC::GreaterThan, a, h);
    sel(cx, above, h, a)
}

/// `min(max(x, lo), hi)` lane-wise on signed integers (unsigned for `u8` vectors).
pub(crate) fn clamp_i(
    cx: &mut KernelCx<'_, '_>,
    x: Value,
    lo: i64,
    hi: i64,
    unsigned: bool,
) -> Value {
    let l = const_like(cx, x, lo, 0.0);
    let h = const_like(cx, x, hi, 0.0);
    if unsigned {
        let a = cx.b.ins().umax(x, l);
        cx.b.ins().umin(a, h)
    } else {
        let a = cx.b.ins().smax(x, l);
        cx.b.ins().smin(a, h)
    }
}

impl Lanes {
    /// A block of `lanes` (1 to 16) lanes; the variables are declared, not yet defined.
    pub(crate) fn new(
        cx: &mut KernelCx<'_, '_>,
        elem: Elem,
        acc: Acc,
        op: Op,
        lanes: usize,
    ) -> Lanes {
        let mut pieces = Vec::new();
        let mut lane = 0;
        for &w in widths(elem, acc) {
            while lanes - lane >= w {
                pieces.push((lane, w));
                lane += w;
            }
        }
        while lane < lanes {
            pieces.push((lane, 1));
            lane += 1;
        }
        let pieces = pieces
            .into_iter()
            .map(|(lane, lanes)| Piece {
                lane,
                lanes,
                vars: piece_types(elem, acc, lanes)
                    .into_iter()
                    .map(|t| (cx.b.declare_var(t), t))
                    .collect(),
            })
            .collect();
        Lanes {
            elem,
            acc,
            op,
            pieces,
        }
    }

    /// Sets every lane to `i` (integer accumulators) or `f` (float ones).
    pub(crate) fn init(&self, cx: &mut KernelCx<'_, '_>, i: i64, f: f32) {
        for p in &self.pieces {
            for &(v, ty) in &p.vars {
                let c = const_of(cx, ty, i, f);
                cx.b.def_var(v, c);
            }
        }
    }

    /// Sets every lane to its element's lowest value (`f32::MIN` for floats), the start of a max.
    pub(crate) fn init_lowest(&self, cx: &mut KernelCx<'_, '_>) {
        match self.acc {
            Acc::F32 => self.init(cx, 0, f32::MIN),
            _ => self.init(cx, self.elem.min(), 0.0),
        }
    }

    /// Sets the lanes to the elements at `addr` (lane 0 at `addr`).
    pub(crate) fn init_load(&self, cx: &mut KernelCx<'_, '_>, addr: Value) {
        for p in &self.pieces {
            let vals = self.load_piece(cx, addr, p);
            for (&(var, _), v) in p.vars.iter().zip(vals) {
                cx.b.def_var(var, v);
            }
        }
    }

    /// Combines the elements at `addr` (lane 0 at `addr`) into the lanes.
    pub(crate) fn add(&self, cx: &mut KernelCx<'_, '_>, addr: Value) {
        for p in &self.pieces {
            let vals = self.load_piece(cx, addr, p);
            for (&(var, _), x) in p.vars.iter().zip(vals) {
                let a = cx.b.use_var(var);
                let r = self.combine(cx, a, x);
                cx.b.def_var(var, r);
            }
        }
    }

    /// The current values of each piece.
    pub(crate) fn values(&self, cx: &mut KernelCx<'_, '_>) -> Vec<(Piece, Vec<Value>)> {
        self.pieces
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    p.vars.iter().map(|&(v, _)| cx.b.use_var(v)).collect(),
                )
            })
            .collect()
    }

    fn combine(&self, cx: &mut KernelCx<'_, '_>, a: Value, x: Value) -> Value {
        match (self.op, self.acc) {
            (Op::Sum, Acc::F32) => cx.b.ins().fadd(a, x),
            (Op::Sum, _) => cx.b.ins().iadd(a, x),
            (Op::Max, Acc::F32) => {
                let lt = cx.b.ins().fcmp(FloatCC::LessThan, a, x);
                sel(cx, lt, x, a)
            }
            (Op::Max, _) => {
                if self.elem == Elem::U8 && is_vec(cx, a) {
                    cx.b.ins().umax(a, x)
                } else {
                    cx.b.ins().smax(a, x)
                }
            }
        }
    }

    /// Loads piece `p`'s elements (lane 0 of the block at `addr`) as accumulator values.
    fn load_piece(&self, cx: &mut KernelCx<'_, '_>, addr: Value, p: &Piece) -> Vec<Value> {
        let f = flags();
        let off = (p.lane * self.elem.bytes()) as i32;
        if p.lanes == 1 {
            let a = cx.b.ins().iadd_imm_s(addr, i64::from(off));
            let v = self.elem.load_wide(cx, a);
            return vec![match (self.acc, self.elem) {
                (Acc::I64, Elem::I32) => cx.b.ins().sextend(types::I64, v),
                _ => v,
            }];
        }
        let signed = self.elem != Elem::U8;
        let widen = |cx: &mut KernelCx<'_, '_>, v: Value, high: bool| match (signed, high) {
            (true, false) => cx.b.ins().swiden_low(v),
            (true, true) => cx.b.ins().swiden_high(v),
            (false, false) => cx.b.ins().uwiden_low(v),
            (false, true) => cx.b.ins().uwiden_high(v),
        };
        match (self.acc, self.elem, p.lanes) {
            (Acc::F32, _, 4) => vec![cx.b.ins().load(types::F32X4, f, addr, off)],
            (Acc::I32, Elem::I32, 4) | (Acc::Native, Elem::I32, 4) => {
                vec![cx.b.ins().load(types::I32X4, f, addr, off)]
            }
            (Acc::Native, Elem::I8 | Elem::U8, 16) => {
                vec![cx.b.ins().load(types::I8X16, f, addr, off)]
            }
            (Acc::Native, Elem::I16, 8) => vec![cx.b.ins().load(types::I16X8, f, addr, off)],
            (Acc::I32, Elem::I8 | Elem::U8, 16) => {
                let v = cx.b.ins().load(types::I8X16, f, addr, off);
                let lo = widen(cx, v, false);
                let hi = widen(cx, v, true);
                let a = widen(cx, lo, false);
                let b = widen(cx, lo, true);
                let c = widen(cx, hi, false);
                let d = widen(cx, hi, true);
                vec![a, b, c, d]
            }
            (Acc::I32, Elem::I8 | Elem::U8, 8) => {
                let v = if signed {
                    cx.b.ins().sload8x8(f, addr, off)
                } else {
                    cx.b.ins().uload8x8(f, addr, off)
                };
                let a = widen(cx, v, false);
                let b = widen(cx, v, true);
                vec![a, b]
            }
            (Acc::I32, Elem::I16, 8) => {
                let v = cx.b.ins().load(types::I16X8, f, addr, off);
                let a = widen(cx, v, false);
                let b = widen(cx, v, true);
                vec![a, b]
            }
            (Acc::I32, Elem::I16, 4) => vec![cx.b.ins().sload16x4(f, addr, off)],
            _ => unreachable!(
                "no piece of {} lanes for {:?}/{:?}",
                p.lanes, self.acc, self.elem
            ),
        }
    }
}

/// Calls `f(cx, lane, value)` for every lane of a piece's values (vectors split into lanes).
pub(crate) fn for_each_lane(
    cx: &mut KernelCx<'_, '_>,
    p: &Piece,
    vals: &[Value],
    mut f: impl FnMut(&mut KernelCx<'_, '_>, usize, Value),
) {
    let mut lane = p.lane;
    for &v in vals {
        let ty = cx.b.func.dfg.value_type(v);
        if ty.is_vector() {
            for l in 0..ty.lane_count() {
                let e = cx.b.ins().extractlane(v, l as u8);
                f(cx, lane, e);
                lane += 1;
            }
        } else {
            f(cx, lane, v);
            lane += 1;
        }
    }
}

/// Flags for a bitcast between vectors of different lane counts (lane 0 in the low bytes).
fn little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// Stores a piece's values at `addr` (lane 0 of the block) as `out` elements: `f32` and native
/// values as they are, `i32` lanes narrowed (saturating; callers clamp first), `i64` lanes as
/// `i64` or truncated to `i32`.
pub(crate) fn store_piece(
    cx: &mut KernelCx<'_, '_>,
    out: Elem,
    p: &Piece,
    vals: &[Value],
    addr: Value,
) {
    let f = flags();
    let off = (p.lane * out.bytes()) as i32;
    let first = vals[0];
    let ty = cx.b.func.dfg.value_type(first);
    if !ty.is_vector() {
        let v = if ty.is_int() && ty.bits() > out.ty().bits() {
            cx.b.ins().ireduce(out.ty(), first)
        } else {
            first
        };
        cx.b.ins().store(f, v, addr, off);
        return;
    }
    let lane_bits = ty.lane_type().bits();
    if ty.lane_type() == types::F32 || lane_bits as usize == out.bytes() * 8 {
        for (k, &v) in vals.iter().enumerate() {
            cx.b.ins().store(f, v, addr, off + (k * 16) as i32);
        }
        return;
    }
    // i32x4 lanes into 16- or 8-bit elements.
    let narrow16: Vec<Value> = vals
        .chunks(2)
        .map(|c| {
            let b = if c.len() == 2 { c[1] } else { c[0] };
            cx.b.ins().snarrow(c[0], b)
        })
        .collect();
    let lanes = p.lanes;
    if out == Elem::I16 {
        if lanes >= 8 {
            for (k, &v) in narrow16.iter().enumerate() {
                cx.b.ins().store(f, v, addr, off + (k * 16) as i32);
            }
        } else {
            let w = cx.b.ins().bitcast(types::I64X2, little(), narrow16[0]);
            let e = cx.b.ins().extractlane(w, 0);
            cx.b.ins().store(f, e, addr, off);
        }
        return;
    }
    let narrow = |cx: &mut KernelCx<'_, '_>, a: Value, b: Value| {
        if out == Elem::U8 {
            cx.b.ins().unarrow(a, b)
        } else {
            cx.b.ins().snarrow(a, b)
        }
    };
    if lanes >= 16 {
        let v = narrow(cx, narrow16[0], narrow16[1]);
        cx.b.ins().store(f, v, addr, off);
    } else {
        let v = narrow(cx, narrow16[0], narrow16[0]);
        let w = cx.b.ins().bitcast(types::I64X2, little(), v);
        let e = cx.b.ins().extractlane(w, 0);
        cx.b.ins().store(f, e, addr, off);
    }
}

/// A counted loop `for i in start..end` over pointer-sized runtime bounds (signed).
///
/// # Errors
/// The body's.
pub(crate) fn for_dyn(
    cx: &mut KernelCx<'_, '_>,
    start: Value,
    end: Value,
    mut body: impl FnMut(&mut KernelCx<'_, '_>, Value) -> Result<()>,
) -> Result<()> {
    use cranelift_codegen::ir::BlockArg;
    let header = cx.b.create_block();
    let inner = cx.b.create_block();
    let exit = cx.b.create_block();
    cx.b.append_block_param(header, cx.ptr);
    cx.b.ins().jump(header, &[BlockArg::Value(start)]);
    cx.b.switch_to_block(header);
    let i = cx.b.block_params(header)[0];
    let more = cx.b.ins().icmp(IntCC::SignedLessThan, i, end);
    cx.b.ins().brif(more, inner, &[], exit, &[]);
    cx.b.switch_to_block(inner);
    cx.b.seal_block(inner);
    body(cx, i)?;
    let next = cx.b.ins().iadd_imm_s(i, 1);
    cx.b.ins().jump(header, &[BlockArg::Value(next)]);
    cx.b.seal_block(header);
    cx.b.switch_to_block(exit);
    cx.b.seal_block(exit);
    Ok(())
}

/// `base + index · scale` for a pointer-sized `index`.
pub(crate) fn elem_addr(
    cx: &mut KernelCx<'_, '_>,
    base: Value,
    index: Value,
    scale: usize,
) -> Value {
    cx.addr(base, index, scale)
}

/// Nested counted loops over `dims` (`(size, stride)`, outermost first), calling `body` with the
/// sum of `index · stride` plus `base`.
fn nest(
    cx: &mut KernelCx<'_, '_>,
    dims: &[(usize, usize)],
    base: Value,
    body: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value) -> Result<()>,
) -> Result<()> {
    match dims.split_first() {
        None => body(cx, base),
        Some((&(n, stride), rest)) => cx.for_range(n, |cx, i| {
            let off = cx.b.ins().imul_imm_s(i, stride as i64);
            let at = cx.b.ins().iadd(base, off);
            nest(cx, rest, at, body)
        }),
    }
}

/// What a reduction does with an accumulated piece: `finish(cx, piece, values, out_addr)` with
/// `out_addr` the block's first output.
type Finish<'f> = dyn FnMut(&mut KernelCx<'_, '_>, &Piece, &[Value], Value) -> Result<()> + 'f;

/// Lanes per SIMD block.
pub(crate) const BLOCK: usize = 16;

/// The reduction loops: every output accumulated from its inputs in increasing offset order.
#[allow(clippy::too_many_arguments)] // shape, types, operands and the finish
fn reduce_loops(
    cx: &mut KernelCx<'_, '_>,
    s: &ReduceShape,
    (elem, acc, op): (Elem, Acc, Op),
    out_elem: Elem,
    x: &Region,
    y: &Region,
    finish: &mut Finish<'_>,
) -> Result<()> {
    let rank = s.rank;
    let dims = &s.dims[..rank];
    let reduced = &s.reduced[..rank];
    let mut in_stride = vec![1usize; rank];
    let mut out_stride = vec![0usize; rank];
    let mut k = 1;
    for d in (0..rank).rev() {
        if d + 1 < rank {
            in_stride[d] = in_stride[d + 1] * dims[d + 1];
        }
        if !reduced[d] {
            out_stride[d] = k;
            k *= dims[d];
        }
    }
    let lane_dim = (rank > 0 && !reduced[rank - 1]).then_some(rank - 1);
    let kept: Vec<usize> = (0..rank)
        .filter(|&d| !reduced[d] && Some(d) != lane_dim)
        .collect();
    let red: Vec<(usize, usize)> = (0..rank)
        .filter(|&d| reduced[d])
        .map(|d| (dims[d], in_stride[d]))
        .collect();
    let all_dims = rank == 1 && reduced[0];
    let (ebytes, obytes) = (elem.bytes(), out_elem.bytes());
    let (xb, yb) = (x.base, y.base);
    // Kept dimensions walk input and output offsets together: encode both in one loop each.
    let mut block =
        |cx: &mut KernelCx<'_, '_>, in0: Value, out0: Value, lanes: usize| -> Result<()> {
            let l = Lanes::new(cx, elem, acc, op, lanes);
            let start = elem_addr(cx, xb, in0, ebytes);
            match op {
                Op::Sum => l.init(cx, 0, 0.0),
                Op::Max if all_dims => l.init_load(cx, start),
                Op::Max => l.init_lowest(cx),
            }
            nest(cx, &red, in0, &mut |cx, at| {
                let a = elem_addr(cx, xb, at, ebytes);
                l.add(cx, a);
                Ok(())
            })?;
            let oa = elem_addr(cx, yb, out0, obytes);
            for (p, vals) in l.values(cx) {
                finish(cx, &p, &vals, oa)?;
            }
            Ok(())
        };
    let lanes_total = lane_dim.map_or(1, |d| dims[d]);
    let mut outer = |cx: &mut KernelCx<'_, '_>, in0: Value, out0: Value| -> Result<()> {
        let full = lanes_total / BLOCK;
        let tail = lanes_total % BLOCK;
        if lane_dim.is_some() && full > 0 {
            cx.for_range(full, |cx, b| {
                let off = cx.b.ins().imul_imm_s(b, BLOCK as i64);
                let i0 = cx.b.ins().iadd(in0, off);
                let o0 = cx.b.ins().iadd(out0, off);
                block(cx, i0, o0, BLOCK)
            })?;
        }
        if lane_dim.is_none() {
            block(cx, in0, out0, 1)
        } else if tail > 0 {
            let i0 = cx.b.ins().iadd_imm_s(in0, (full * BLOCK) as i64);
            let o0 = cx.b.ins().iadd_imm_s(out0, (full * BLOCK) as i64);
            block(cx, i0, o0, tail)
        } else {
            Ok(())
        }
    };
    // Loops over the kept dimensions (outside the lane dimension), tracking both offsets.
    fn kept_nest(
        cx: &mut KernelCx<'_, '_>,
        dims: &[(usize, usize, usize)],
        in0: Value,
        out0: Value,
        body: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, Value) -> Result<()>,
    ) -> Result<()> {
        match dims.split_first() {
            None => body(cx, in0, out0),
            Some((&(n, is, os), rest)) => cx.for_range(n, |cx, i| {
                let a = cx.b.ins().imul_imm_s(i, is as i64);
                let a = cx.b.ins().iadd(in0, a);
                let b = cx.b.ins().imul_imm_s(i, os as i64);
                let b = cx.b.ins().iadd(out0, b);
                kept_nest(cx, rest, a, b, body)
            }),
        }
    }
    let kd: Vec<(usize, usize, usize)> = kept
        .iter()
        .map(|&d| (dims[d], in_stride[d], out_stride[d]))
        .collect();
    let zero = cx.iconst(0);
    kept_nest(cx, &kd, zero, zero, &mut outer)
}

/// Fills `y` with copies of the element `bits` (`size` bytes, little-endian).
fn fill(cx: &mut KernelCx<'_, '_>, y: &Region, size: usize, bits: u64) -> Result<()> {
    let (ty, v) = match size {
        1 => (types::I8, i64::from(bits as u8 as i8)),
        2 => (types::I16, i64::from(bits as u16 as i16)),
        4 => (types::I32, i64::from(bits as u32 as i32)),
        _ => (types::I64, bits as i64),
    };
    let v = cx.b.ins().iconst(ty, v);
    let base = y.base;
    cx.for_range(y.bytes / size, |cx, i| {
        cx.store(v, base, i);
        Ok(())
    })
}

/// The quantized MEAN/SUM finish of one `i32` sum: `M·(s − n·Z_in) + Z_out`, saturated to `out`.
fn quantized_finish(
    cx: &mut KernelCx<'_, '_>,
    p: &QuantizedMeanOrSumParams,
    n: usize,
    out: Elem,
    s: Value,
) -> Value {
    let offset = (i64::from(p.input_zero_point) * n as i64) as i32;
    let shifted = cx.b.ins().iadd_imm_s(s, i64::from(offset.wrapping_neg()));
    let v = cx.mbqm(shifted, p.multiplier, p.shift);
    let v = cx.b.ins().iadd_imm_s(v, i64::from(p.output_zero_point));
    clamp_i(cx, v, out.min(), out.max(), false)
}

/// `roundf(x)` (half away from zero) followed by C's `(int32_t)` as x86-64 executes it: NaN and
/// values outside `[−2^31, 2^31)` give `i32::MIN`. Scalar `f32` in, `i32` out; no libcalls.
pub(crate) fn round_to_i32_x86(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    let t = cx.b.ins().fcvt_to_sint_sat(types::I32, x);
    let tf = cx.b.ins().fcvt_from_sint(types::F32, t);
    let frac = cx.b.ins().fsub(x, tf);
    let half = cx.f32const(0.5);
    let nhalf = cx.f32const(-0.5);
    let up = cx.b.ins().fcmp(FloatCC::GreaterThanOrEqual, frac, half);
    let down = cx.b.ins().fcmp(FloatCC::LessThanOrEqual, frac, nhalf);
    let up = cx.b.ins().uextend(types::I32, up);
    let down = cx.b.ins().uextend(types::I32, down);
    let r = cx.b.ins().iadd(t, up);
    let r = cx.b.ins().isub(r, down);
    let lo = cx.f32const(-2_147_483_648.0);
    let hi = cx.f32const(2_147_483_648.0);
    let ge = cx.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, lo);
    let lt = cx.b.ins().fcmp(FloatCC::LessThan, x, hi);
    let ok = cx.b.ins().band(ge, lt);
    let min = cx.i32const(i32::MIN);
    cx.b.ins().select(ok, r, min)
}

/// The `int8` SUM finish: `round(s · scale + bias) + Z_out` in float, saturated to `int8`.
fn sum_i8_float_finish(cx: &mut KernelCx<'_, '_>, p: &SumI8FloatParams, s: Value) -> Value {
    let f = cx.b.ins().fcvt_from_sint(types::F32, s);
    let scale = cx.f32const(p.scale);
    let bias = cx.f32const(p.bias);
    let m = cx.b.ins().fmul(f, scale);
    let a = cx.b.ins().fadd(m, bias);
    let r = round_to_i32_x86(cx, a);
    let v = cx.b.ins().iadd_imm_s(r, i64::from(p.output_zero_point));
    clamp_i(cx, v, -128, 127, false)
}

/// Emits one reduction kernel.
pub(crate) fn emit(k: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    let (s, elem) = match k {
        Kernel::Copy => {
            let src = cx.input(0)?;
            let dst = cx.output(0)?;
            if src.bytes != dst.bytes {
                return Err(cx.err("copy between values of different sizes"));
            }
            crate::clif::copy_bytes(cx, src.base, dst.base, src.bytes);
            return Ok(());
        }
        Kernel::MeanF32(s) | Kernel::SumF32(s) | Kernel::MaxF32(s) => (*s, Elem::F32),
        Kernel::MeanI32(s) | Kernel::SumI32(s) | Kernel::MaxI32(s) => (*s, Elem::I32),
        Kernel::MeanI64(s) | Kernel::SumI64(s) | Kernel::MaxI64(s) => (*s, Elem::I64),
        Kernel::MeanOrSumI8(p) => (p.shape, Elem::I8),
        Kernel::MeanOrSumU8(p) => (p.shape, Elem::U8),
        Kernel::SumI8Float(p) => (p.shape, Elem::I8),
        Kernel::MaxI8(s) => (*s, Elem::I8),
        Kernel::MaxU8(s) => (*s, Elem::U8),
        Kernel::MaxI16(s) => (*s, Elem::I16),
    };
    let x = cx.input(0)?;
    let y = cx.output(0)?;
    if x.len(elem.bytes()) != s.input_len()
        || y.len(elem.bytes()) != s.output_len()
        || s.rank > s.dims.len()
    {
        return Err(cx.err("operand or result sizes do not match the reduction"));
    }
    if s.output_len() == 0 {
        return Ok(());
    }
    let n = s.reduced_len();
    let is_max = matches!(
        k,
        Kernel::MaxF32(_)
            | Kernel::MaxI32(_)
            | Kernel::MaxI64(_)
            | Kernel::MaxI8(_)
            | Kernel::MaxU8(_)
            | Kernel::MaxI16(_)
    );
    if n == 0 {
        // Nothing reduced: zeros for sums and means, the lowest value for maxima.
        let bits = match (is_max, elem) {
            (false, _) => 0u64,
            (true, Elem::F32) => u64::from(f32::MIN.to_bits()),
            (true, e) => e.min() as u64,
        };
        return fill(cx, &y, elem.bytes(), bits);
    }
    let acc = match (k, elem) {
        (_, Elem::F32) => Acc::F32,
        _ if is_max => Acc::Native,
        (Kernel::MeanI32(_), _) | (_, Elem::I64) => Acc::I64,
        _ => Acc::I32,
    };
    let op = if is_max { Op::Max } else { Op::Sum };
    let k = k.clone();
    let nf = n as f32;
    let mut finish =
        move |cx: &mut KernelCx<'_, '_>, p: &Piece, vals: &[Value], oa: Value| -> Result<()> {
            match &k {
                Kernel::MeanF32(_) => {
                    let vals: Vec<Value> = vals
                        .iter()
                        .map(|&v| {
                            let d = const_like(cx, v, 0, nf);
                            cx.b.ins().fdiv(v, d)
                        })
                        .collect();
                    store_piece(cx, Elem::F32, p, &vals, oa);
                }
                Kernel::MeanI32(_) | Kernel::MeanI64(_) => {
                    let out = if matches!(k, Kernel::MeanI32(_)) {
                        Elem::I32
                    } else {
                        Elem::I64
                    };
                    let d = cx.b.ins().iconst(types::I64, n as i64);
                    let q = cx.b.ins().sdiv(vals[0], d);
                    store_piece(cx, out, p, &[q], oa);
                }
                Kernel::MeanOrSumI8(qp) | Kernel::MeanOrSumU8(qp) => {
                    let out = elem;
                    for_each_lane(cx, p, vals, |cx, lane, s| {
                        let v = quantized_finish(cx, qp, n, out, s);
                        let v = cx.b.ins().ireduce(types::I8, v);
                        cx.b.ins().store(flags(), v, oa, lane as i32);
                    });
                }
                Kernel::SumI8Float(fp) => {
                    for_each_lane(cx, p, vals, |cx, lane, s| {
                        let v = sum_i8_float_finish(cx, fp, s);
                        let v = cx.b.ins().ireduce(types::I8, v);
                        cx.b.ins().store(flags(), v, oa, lane as i32);
                    });
                }
                _ => store_piece(cx, elem, p, vals, oa),
            }
            Ok(())
        };
    reduce_loops(cx, &s, (elem, acc, op), elem, &x, &y, &mut finish)
}

/// Helpers for the Cranelift tests of this family and its neighbours: one op lowered, run by
/// the interpreter and by the JIT (arena full of garbage), results compared.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::clif::{Arena, Jit};
    use crate::interp::Buf;
    use crate::ir::{DType, Op, Tensor};
    use crate::ops::transpose::testutil::lower_and_run;

    /// A deterministic pseudo-random generator (64-bit LCG, high bits).
    pub struct Rng(pub u64);

    impl Rng {
        /// The next 32 random bits.
        pub fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 32) as u32
        }

        /// `n` random bytes.
        pub fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }

        /// `n` floats in `[lo, hi)`.
        pub fn floats(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
            (0..n)
                .map(|_| lo + (hi - lo) * (self.next() as f32 / 4_294_967_296.0))
                .collect()
        }

        /// Random values for a tensor of `dtype` with `n` elements (floats in `[-8, 8)`).
        pub fn buf(&mut self, dtype: DType, n: usize) -> Buf {
            match dtype {
                DType::F32 => Buf::from_slice(&self.floats(n, -8.0, 8.0)),
                t => Buf::from_bytes(&self.bytes(n * t.size())),
            }
        }
    }

    /// Runs `op` through the interpreter and the JIT; returns `(interpreter, jit)` results.
    pub fn both(
        op: Op,
        inputs: Vec<Tensor>,
        outputs: Vec<Tensor>,
        values: &[Buf],
    ) -> (Vec<Buf>, Vec<Buf>) {
        let (program, want) = lower_and_run(op, inputs, outputs, values).expect("interpreter");
        let plan = crate::plan::plan(&program);
        // The code also compiles for the shipped targets, with no libcall.
        for name in ["x86_64-unknown-linux-gnu", "aarch64-linux-android"] {
            let target = crate::clif::target::Target::lookup(name).expect("target");
            let obj = crate::clif::object::object(&program, &plan, &target, "m").expect("object");
            for f in [
                "fmaf",
                "floorf",
                "ceilf",
                "truncf",
                "nearbyintf",
                "memcpy",
                "memset",
            ] {
                assert!(
                    !obj.windows(f.len() + 1)
                        .any(|w| &w[1..] == f.as_bytes() && w[0] == 0),
                    "{name}: the object refers to {f}"
                );
            }
        }
        let jit = Jit::new(&program, &plan).expect("jit");
        let mut arena = Arena::new(plan.arena_bytes);
        arena.bytes_mut().fill(0xA5);
        let mut got: Vec<Buf> = want.iter().map(|b| Buf::zeroed(b.len())).collect();
        for g in &mut got {
            g.bytes_mut().fill(0x5A);
        }
        jit.run_in(&mut arena, values, &mut got, None)
            .expect("jit run");
        (want, got)
    }

    /// Checks that the JIT matches the interpreter: integers exactly, floats within `tol` of the
    /// largest magnitude (`tol == 0`: bit for bit).
    pub fn check(op: Op, inputs: Vec<Tensor>, outputs: Vec<Tensor>, values: &[Buf], tol: f32) {
        let float = outputs
            .iter()
            .map(|t| t.dtype == DType::F32)
            .collect::<Vec<_>>();
        let (want, got) = both(op.clone(), inputs, outputs, values);
        for (k, (w, g)) in want.iter().zip(&got).enumerate() {
            if float[k] && tol > 0.0 {
                let w = w.as_slice::<f32>().unwrap();
                let g = g.as_slice::<f32>().unwrap();
                let m = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                for (i, (a, b)) in w.iter().zip(g).enumerate() {
                    assert!(
                        (a - b).abs() <= tol * m.max(1e-30) || (a.is_nan() && b.is_nan()),
                        "{op:?}: output {k}[{i}]: interpreter {a}, jit {b}"
                    );
                }
            } else if w.bytes() != g.bytes() {
                let i = w
                    .bytes()
                    .iter()
                    .zip(g.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap();
                panic!(
                    "{op:?}: output {k} differs first at byte {i}: interpreter {:?}, jit {:?}",
                    &w.bytes()[i.saturating_sub(4)..(i + 8).min(w.len())],
                    &g.bytes()[i.saturating_sub(4)..(i + 8).min(g.len())]
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{check, Rng};
    use crate::ir::{DType, Op, ReduceAttrs};
    use crate::ops::transpose::testutil::{c32, t, tq};

    fn run(which: usize, dtype: DType, shape: &[usize], axes: &[i32], seed: u64) {
        let mut rng = Rng(seed);
        let n: usize = shape.iter().product();
        let a = ReduceAttrs { keep_dims: false };
        let op = match which {
            0 => Op::Mean(a),
            1 => Op::Sum(a),
            _ => Op::ReduceMax(a),
        };
        let quant = matches!(dtype, DType::I8 | DType::U8 | DType::I16);
        let tin = if quant {
            tq(
                dtype,
                shape,
                0.05,
                if dtype == DType::U8 { 120 } else { -3 },
            )
        } else {
            t(dtype, shape)
        };
        let tout = if quant {
            let (s, z) = if which == 2 {
                (0.05, if dtype == DType::U8 { 120 } else { -3 })
            } else {
                (0.07, 5)
            };
            tq(dtype, &[1], s, z)
        } else {
            t(dtype, &[1])
        };
        let x = rng.buf(dtype, n);
        let tol = if dtype == DType::F32 { 1e-6 } else { 0.0 };
        check(
            op,
            vec![tin, c32(&[axes.len()], axes)],
            vec![tout],
            &[x],
            tol,
        );
    }

    #[test]
    fn reductions_match_the_interpreter() {
        let cases: &[(&[usize], &[i32])] = &[
            (&[1, 7, 7, 40], &[1, 2]),
            (&[2, 5, 3, 17], &[1, 2]),
            (&[2, 3, 4, 5], &[3]),
            (&[2, 3, 4, 5], &[0, 2]),
            (&[2, 3, 4, 5], &[0, 1, 2, 3]),
            (&[37], &[0]),
            (&[3, 64], &[0]),
            (&[4, 1, 1, 8], &[1, 2]),
            (&[2, 0, 3], &[1]),
        ];
        let mut seed = 7;
        for which in 0..3 {
            for dtype in [
                DType::F32,
                DType::I32,
                DType::I64,
                DType::I8,
                DType::U8,
                DType::I16,
            ] {
                if dtype == DType::I16 && which != 2 {
                    continue;
                }
                for (shape, axes) in cases {
                    run(which, dtype, shape, axes, seed);
                    seed += 1;
                }
            }
        }
    }
}
