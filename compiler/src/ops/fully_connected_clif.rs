//! Cranelift code for the `fully_connected` family, and the quantized vector arithmetic it shares
//! with the `conv_2d` family's code (`crate::ops::conv_2d`'s `clif` module uses the `pub(crate)`
//! items here).
//!
//! # Quantized dot products
//!
//! Packed weights come in blocks of 16 output channels (`[ceil(n/16)][k][16]`). A block's
//! accumulators are four `i32x4` vectors. The zero-point corrections folded into the bias leave
//! `acc = bias' + Σ (w + filter_offset) · x` (wrapping `i32`, so any summation order gives the
//! same bits). Two taps at a time, the weights of both are interleaved lane by lane, widened to
//! `i16` (with `filter_offset` added; `|w + filter_offset| ≤ 255`), and multiplied by the input
//! pair `[x0, x1, x0, x1, …]` with a pairwise-adding multiply (`pmaddwd` on x86, `smull` +
//! `addp` on aarch64).
//!
//! # Requantization
//!
//! TFLite's `MultiplyByQuantizedMultiplier` on `i32x4` with a multiplier and shift per lane: the
//! doubling high multiply is `(x · m + 2^30) >> 31` on the exact 64-bit product (that is
//! gemmlowp's rounding: the nudge `1 − 2^30` of negative products followed by C's truncating
//! division gives the same floor); the rounding right shift takes its remainder mask and
//! threshold per lane, and shifts each lane by its own amount with selects (Cranelift has no
//! per-lane shift). [`mbqm4`] takes the constants as immediates (uniform ones: the residual
//! ADD); [`RequantTables`] reads them from tables, for loops over blocks of channels.
//!
//! # FULLY_CONNECTED
//!
//! Packed weights: a run-time loop over blocks of 16 units, each over the input rows; float
//! sums in the reference's order (multiply then add, bit for bit), quantized ones eight depth
//! steps per iteration. LiteRT's reference quantized FULLY_CONNECTED rescales in double
//! precision: `round(f64(acc) · scale[n])` (half away from zero) then `as i32` (saturating). The
//! generated code multiplies in `f64` (the scales from a table), truncates with a saturating
//! conversion, and corrects by one where the exact remainder reaches a half, so no rounding
//! instruction (a libcall on some targets) is needed. Weights in the model's form: scalar loops
//! in the reference's order.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, BlockArg, ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use mvcc_kernels::kernels::common::{ActF32, ActQ, Requant};
use mvcc_kernels::kernels::conv_2d::{blocked_len, OC_BLOCK};
use mvcc_kernels::kernels::fully_connected::{FullyConnectedParams, FullyConnectedQuant};

use crate::clif::cx::{flags, KernelCx, Region};
use crate::error::Result;
use crate::ir::DType;
use crate::ops::conv_2d::Weights;

pub(crate) const I8X16: Type = types::I8X16;
pub(crate) const I16X8: Type = types::I16X8;
pub(crate) const I32X4: Type = types::I32X4;
pub(crate) const I64X2: Type = types::I64X2;
pub(crate) const F32X4: Type = types::F32X4;

/// Memory flags for accesses that may be unaligned (activations: a vector of 16 bytes at a
/// channel offset): never trapping, but not claimed aligned, so no SSE instruction that needs
/// 16-byte alignment reads them.
pub(crate) fn uflags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// A lane-reinterpreting bitcast (little-endian lane order).
pub(crate) fn bitcast(cx: &mut KernelCx<'_, '_>, ty: Type, v: Value) -> Value {
    let f = MemFlagsData::new().with_endianness(Endianness::Little);
    cx.b.ins().bitcast(ty, f, v)
}

/// A 128-bit vector constant from its little-endian bytes.
pub(crate) fn vconst(cx: &mut KernelCx<'_, '_>, ty: Type, bytes: [u8; 16]) -> Value {
    let c =
        cx.b.func
            .dfg
            .constants
            .insert(ConstantData::from(&bytes[..]));
    cx.b.ins().vconst(ty, c)
}

/// An `i32x4` constant.
pub(crate) fn vconst_i32(cx: &mut KernelCx<'_, '_>, v: [i32; 4]) -> Value {
    let mut b = [0u8; 16];
    for (i, x) in v.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&x.to_le_bytes());
    }
    vconst(cx, I32X4, b)
}

/// An `i16x8` constant.
pub(crate) fn vconst_i16(cx: &mut KernelCx<'_, '_>, v: [i16; 8]) -> Value {
    let mut b = [0u8; 16];
    for (i, x) in v.iter().enumerate() {
        b[i * 2..i * 2 + 2].copy_from_slice(&x.to_le_bytes());
    }
    vconst(cx, I16X8, b)
}

/// `v` in every lane of an `i32x4`.
pub(crate) fn splat_i32(cx: &mut KernelCx<'_, '_>, v: i32) -> Value {
    vconst_i32(cx, [v; 4])
}

/// A shuffle of two `i8x16` by a constant byte mask (`0..16` from `a`, `16..32` from `b`).
pub(crate) fn shuffle(cx: &mut KernelCx<'_, '_>, a: Value, b: Value, mask: [u8; 16]) -> Value {
    let imm = cx.b.func.dfg.immediates.push(ConstantData::from(&mask[..]));
    cx.b.ins().shuffle(a, b, imm)
}

/// Declares a variable of type `ty` holding `init`.
pub(crate) fn var(cx: &mut KernelCx<'_, '_>, ty: Type, init: Value) -> Variable {
    let v = cx.b.declare_var(ty);
    cx.b.def_var(v, init);
    v
}

/// `var += x` (integer).
pub(crate) fn add_to(cx: &mut KernelCx<'_, '_>, v: Variable, x: Value) {
    let a = cx.b.use_var(v);
    let s = cx.b.ins().iadd(a, x);
    cx.b.def_var(v, s);
}

/// Runs `then` or `other` on `cond`.
///
/// # Errors
/// The bodies'.
pub(crate) fn if_else(
    cx: &mut KernelCx<'_, '_>,
    cond: Value,
    then: impl FnOnce(&mut KernelCx<'_, '_>) -> Result<()>,
    other: impl FnOnce(&mut KernelCx<'_, '_>) -> Result<()>,
) -> Result<()> {
    let a = cx.b.create_block();
    let b = cx.b.create_block();
    let done = cx.b.create_block();
    cx.b.ins().brif(cond, a, &[], b, &[]);
    cx.b.seal_block(a);
    cx.b.seal_block(b);
    cx.b.switch_to_block(a);
    then(cx)?;
    cx.b.ins().jump(done, &[]);
    cx.b.switch_to_block(b);
    other(cx)?;
    cx.b.ins().jump(done, &[]);
    cx.b.seal_block(done);
    cx.b.switch_to_block(done);
    Ok(())
}

/// The element type of a quantized kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QType {
    /// `i8`.
    I8,
    /// `u8`.
    U8,
}

impl QType {
    /// `U8` for `DType::U8`, `I8` otherwise (the kernels' own dispatch).
    pub(crate) fn of(dtype: DType) -> QType {
        if dtype == DType::U8 {
            QType::U8
        } else {
            QType::I8
        }
    }

    /// Whether the type is signed.
    pub(crate) fn signed(self) -> bool {
        self == QType::I8
    }

    /// Smallest value.
    pub(crate) fn min(self) -> i32 {
        if self.signed() {
            -128
        } else {
            0
        }
    }

    /// Largest value.
    pub(crate) fn max(self) -> i32 {
        if self.signed() {
            127
        } else {
            255
        }
    }

    /// Loads one element at `p + off`, widened to `i32`.
    pub(crate) fn load(self, cx: &mut KernelCx<'_, '_>, p: Value, off: i32) -> Value {
        if self.signed() {
            cx.b.ins().sload8(types::I32, flags(), p, off)
        } else {
            cx.b.ins().uload8(types::I32, flags(), p, off)
        }
    }

    /// Loads element `index` (pointer-sized) of `base`, widened to `i32`.
    pub(crate) fn load_at(self, cx: &mut KernelCx<'_, '_>, base: Value, index: Value) -> Value {
        let a = cx.b.ins().iadd(base, index);
        self.load(cx, a, 0)
    }

    /// Stores `x` (`i32`) saturated to the type (`T::from_i32_saturating`) at `p + off`.
    pub(crate) fn store(self, cx: &mut KernelCx<'_, '_>, x: Value, p: Value, off: i32) {
        let v = cx.clamp_i32(x, self.min(), self.max());
        let v = cx.b.ins().ireduce(types::I8, v);
        cx.b.ins().store(flags(), v, p, off);
    }

    /// The low half of a vector widened to lanes twice as wide.
    pub(crate) fn widen_low(self, cx: &mut KernelCx<'_, '_>, v: Value) -> Value {
        if self.signed() {
            cx.b.ins().swiden_low(v)
        } else {
            cx.b.ins().uwiden_low(v)
        }
    }

    /// The high half of a vector widened to lanes twice as wide.
    pub(crate) fn widen_high(self, cx: &mut KernelCx<'_, '_>, v: Value) -> Value {
        if self.signed() {
            cx.b.ins().swiden_high(v)
        } else {
            cx.b.ins().uwiden_high(v)
        }
    }

    /// Sixteen elements as four `i32x4`.
    pub(crate) fn widen4(self, cx: &mut KernelCx<'_, '_>, v: Value) -> [Value; 4] {
        let l = self.widen_low(cx, v);
        let h = self.widen_high(cx, v);
        [
            cx.b.ins().swiden_low(l),
            cx.b.ins().swiden_high(l),
            cx.b.ins().swiden_low(h),
            cx.b.ins().swiden_high(h),
        ]
    }

    /// Four `i32x4` narrowed to sixteen elements, saturating.
    pub(crate) fn narrow4(self, cx: &mut KernelCx<'_, '_>, v: [Value; 4]) -> Value {
        let a = cx.b.ins().snarrow(v[0], v[1]);
        let b = cx.b.ins().snarrow(v[2], v[3]);
        if self.signed() {
            cx.b.ins().snarrow(a, b)
        } else {
            cx.b.ins().unarrow(a, b)
        }
    }
}

/// Sixteen bytes at `p`, or the first `lanes` of them (zeros after) without reading further.
pub(crate) fn load_bytes16(cx: &mut KernelCx<'_, '_>, p: Value, lanes: usize) -> Value {
    if lanes >= 16 {
        return cx.b.ins().load(I8X16, uflags(), p, 0);
    }
    let mut v = vconst(cx, I8X16, [0; 16]);
    for l in 0..lanes {
        let x = cx.b.ins().load(types::I8, flags(), p, l as i32);
        v = cx.b.ins().insertlane(v, x, l as u8);
    }
    v
}

/// Stores the first `lanes` (≤ 16) bytes of an `i8x16` at `p`.
pub(crate) fn store_bytes16(cx: &mut KernelCx<'_, '_>, v: Value, p: Value, lanes: usize) {
    if lanes >= 16 {
        cx.b.ins().store(uflags(), v, p, 0);
        return;
    }
    let mut from = 0;
    if lanes >= 8 {
        let w = bitcast(cx, I64X2, v);
        let lo = cx.b.ins().extractlane(w, 0);
        cx.b.ins().store(uflags(), lo, p, 0);
        from = 8;
    }
    for l in from..lanes {
        let e = cx.b.ins().extractlane(v, l as u8);
        cx.b.ins().store(flags(), e, p, l as i32);
    }
}

/// Sixteen `i32` at `p` (`lanes` of them, zeros after) as four `i32x4`.
pub(crate) fn load_i32x16(cx: &mut KernelCx<'_, '_>, p: Value, lanes: usize) -> [Value; 4] {
    let mut out = [p; 4];
    for (j, o) in out.iter_mut().enumerate() {
        *o = if (j + 1) * 4 <= lanes {
            cx.b.ins().load(I32X4, uflags(), p, (j * 16) as i32)
        } else {
            let mut v = splat_i32(cx, 0);
            for l in 0..4 {
                if j * 4 + l < lanes {
                    let x =
                        cx.b.ins()
                            .load(types::I32, flags(), p, ((j * 4 + l) * 4) as i32);
                    v = cx.b.ins().insertlane(v, x, l as u8);
                }
            }
            v
        };
    }
    out
}

/// The weights of two consecutive taps for a pairwise dot product: `w0` the 16 weights at
/// `wp`, `w1` the 16 after them (or `w0` again when `single`), interleaved lane by lane and
/// widened to `i16` with `fo` added: four `i16x8` `[w0[c] + fo, w1[c] + fo, …]` for channels
/// `0..4`, `4..8`, `8..12`, `12..16`.
pub(crate) fn weight_pair(
    cx: &mut KernelCx<'_, '_>,
    q: QType,
    (wp, single): (Value, bool),
    fo: i32,
) -> [Value; 4] {
    let w0 = cx.b.ins().load(I8X16, flags(), wp, 0);
    let w1 = if single {
        w0
    } else {
        cx.b.ins().load(I8X16, flags(), wp, 16)
    };
    let mut lo_mask = [0u8; 16];
    let mut hi_mask = [0u8; 16];
    for i in 0..8 {
        lo_mask[2 * i] = i as u8;
        lo_mask[2 * i + 1] = 16 + i as u8;
        hi_mask[2 * i] = 8 + i as u8;
        hi_mask[2 * i + 1] = 24 + i as u8;
    }
    let lo = shuffle(cx, w0, w1, lo_mask);
    let hi = shuffle(cx, w0, w1, hi_mask);
    let mut parts = [
        q.widen_low(cx, lo),
        q.widen_high(cx, lo),
        q.widen_low(cx, hi),
        q.widen_high(cx, hi),
    ];
    if fo != 0 {
        let f = vconst_i16(cx, [fo as i16; 8]);
        for p in &mut parts {
            *p = cx.b.ins().iadd(*p, f);
        }
    }
    parts
}

/// Adds `w0·x0 + w1·x1` per channel to the four accumulators of a block: `parts` from
/// [`weight_pair`], `xp` the input pair as `i16x8` `[x0, x1, x0, x1, …]` ([`xpair`],
/// [`xsingle`], [`xpair_const`]). The pattern is the one Cranelift lowers to `pmaddwd` (x86) or
/// `smull` + `addp` (aarch64).
pub(crate) fn dot_parts(
    cx: &mut KernelCx<'_, '_>,
    parts: &[Value; 4],
    xp: Value,
    acc: &[Variable; 4],
) {
    let xl = cx.b.ins().swiden_low(xp);
    let xh = cx.b.ins().swiden_high(xp);
    for (part, a) in parts.iter().zip(acc) {
        let pl = cx.b.ins().swiden_low(*part);
        let ph = cx.b.ins().swiden_high(*part);
        let ml = cx.b.ins().imul(pl, xl);
        let mh = cx.b.ins().imul(ph, xh);
        let d = cx.b.ins().iadd_pairwise(ml, mh);
        add_to(cx, *a, d);
    }
}

/// [`weight_pair`] then [`dot_parts`].
pub(crate) fn dot_pair(
    cx: &mut KernelCx<'_, '_>,
    q: QType,
    w: (Value, bool),
    fo: i32,
    xp: Value,
    acc: &[Variable; 4],
) {
    let parts = weight_pair(cx, q, w, fo);
    dot_parts(cx, &parts, xp, acc);
}

/// The input pair at `p` (two consecutive elements) as `i16x8` `[x0, x1, x0, x1, …]`.
pub(crate) fn xpair(cx: &mut KernelCx<'_, '_>, q: QType, p: Value) -> Value {
    let v = cx.b.ins().load(types::I16, uflags(), p, 0);
    let s = cx.b.ins().splat(I16X8, v);
    let b = bitcast(cx, I8X16, s);
    q.widen_low(cx, b)
}

/// The eight elements at `p` as four input pairs (`[x0, x1, …]`, `[x2, x3, …]`, …): one load,
/// one widening, a lane broadcast per pair.
pub(crate) fn xpairs4(cx: &mut KernelCx<'_, '_>, q: QType, p: Value) -> [Value; 4] {
    let v = cx.b.ins().load(types::I64, uflags(), p, 0);
    let s = cx.b.ins().splat(I64X2, v);
    let b = bitcast(cx, I8X16, s);
    let w = q.widen_low(cx, b);
    let w = bitcast(cx, I8X16, w);
    std::array::from_fn(|j| {
        let mut mask = [0u8; 16];
        for (i, m) in mask.iter_mut().enumerate() {
            *m = (j * 4 + i % 4) as u8;
        }
        let r = shuffle(cx, w, w, mask);
        bitcast(cx, I16X8, r)
    })
}

/// Ends the current block with a branch to a new one that receives the variables `vars` (of
/// type `ty`) as block parameters; `cond` is any run-time value (both edges carry the same
/// values).
///
/// Why: Cranelift places a pure instruction where its result is first needed, and loop-carried
/// accumulators are needed only at the loop's back edge: there every accumulator's chain would
/// be computed one after the other, each pulling in all its operands first and keeping them all
/// live (spills). Passing the accumulators to a new block after each step makes each step's
/// arithmetic happen in its own block. A plain `jump` would not do: Cranelift removes block
/// parameters that receive the same value on every edge before it optimizes, so the second
/// edge passes `band(v, v)` (a distinct value then, simplified to `v` afterwards).
pub(crate) fn split_block(cx: &mut KernelCx<'_, '_>, cond: Value, ty: Type, vars: &[Variable]) {
    let next = cx.b.create_block();
    let mut args = Vec::with_capacity(vars.len());
    let mut same = Vec::with_capacity(vars.len());
    for v in vars {
        cx.b.append_block_param(next, ty);
        let x = cx.b.use_var(*v);
        args.push(BlockArg::Value(x));
        same.push(BlockArg::Value(cx.b.ins().band(x, x)));
    }
    cx.b.ins().brif(cond, next, &args, next, &same);
    cx.b.switch_to_block(next);
    cx.b.seal_block(next);
    let params = cx.b.block_params(next).to_vec();
    for (v, p) in vars.iter().zip(params) {
        cx.b.def_var(*v, p);
    }
}

/// The element at `p` as the pair `[x0, 0, x0, 0, …]`.
pub(crate) fn xsingle(cx: &mut KernelCx<'_, '_>, q: QType, p: Value) -> Value {
    let v = q.load(cx, p, 0);
    let v = cx.b.ins().band_imm_s(v, 0xffff);
    let s = cx.b.ins().splat(I32X4, v);
    bitcast(cx, I16X8, s)
}

/// The constant pair `[x0, x1, …]`.
pub(crate) fn xpair_const(cx: &mut KernelCx<'_, '_>, x0: i16, x1: i16) -> Value {
    vconst_i16(cx, [x0, x1, x0, x1, x0, x1, x0, x1])
}

/// Whether the packed dot products above can run: `|filter_offset| ≤ 255` keeps the offset
/// weights in `i16`.
pub(crate) fn dot_ok(filter_offset: i32) -> bool {
    (-255..=255).contains(&filter_offset)
}

/// `SaturatingRoundingDoublingHighMul(x, m)` per lane (`m` constant per lane).
pub(crate) fn srdhm4(cx: &mut KernelCx<'_, '_>, x: Value, m: [i32; 4]) -> Value {
    let mv = vconst_i32(cx, m);
    let r = srdhm_v(cx, x, mv);
    if !m.contains(&i32::MIN) {
        return r;
    }
    let lanes = vconst_i32(cx, m.map(|v| if v == i32::MIN { -1 } else { 0 }));
    saturate_min(cx, x, lanes, r)
}

/// The saturating case of the doubling high multiply: `i32::MAX` in the lanes of `lanes`
/// (−1 where the multiplier is `i32::MIN`) where `x == i32::MIN`.
fn saturate_min(cx: &mut KernelCx<'_, '_>, x: Value, lanes: Value, r: Value) -> Value {
    let min = splat_i32(cx, i32::MIN);
    let eq = cx.b.ins().icmp(IntCC::Equal, x, min);
    let sat = cx.b.ins().band(eq, lanes);
    let max = splat_i32(cx, i32::MAX);
    cx.b.ins().bitselect(sat, max, r)
}

/// `(x · m + 2^30) >> 31` per lane on the exact 64-bit products (the doubling high multiply
/// but for its saturating case), `m` an `i32x4` value.
pub(crate) fn srdhm_v(cx: &mut KernelCx<'_, '_>, x: Value, mv: Value) -> Value {
    let mut nudge = [0u8; 16];
    nudge[..8].copy_from_slice(&(1i64 << 30).to_le_bytes());
    nudge[8..].copy_from_slice(&(1i64 << 30).to_le_bytes());
    let nudge = vconst(cx, I64X2, nudge);
    let xl = cx.b.ins().swiden_low(x);
    let ml = cx.b.ins().swiden_low(mv);
    let lo = cx.b.ins().imul(xl, ml);
    let xh = cx.b.ins().swiden_high(x);
    let mh = cx.b.ins().swiden_high(mv);
    let hi = cx.b.ins().imul(xh, mh);
    let lo = cx.b.ins().iadd(lo, nudge);
    let hi = cx.b.ins().iadd(hi, nudge);
    // Bits 31..62 of each product: the low halves after a logical shift.
    let lo = cx.b.ins().ushr_imm_s(lo, 31);
    let hi = cx.b.ins().ushr_imm_s(hi, 31);
    let lo = bitcast(cx, I8X16, lo);
    let hi = bitcast(cx, I8X16, hi);
    let r = shuffle(
        cx,
        lo,
        hi,
        [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27],
    );
    bitcast(cx, I32X4, r)
}

/// `RoundingDivideByPOT(x, e)` per lane (`e` constant per lane, clamped to `0..=31`).
pub(crate) fn rdbpot4(cx: &mut KernelCx<'_, '_>, x: Value, e: [i32; 4]) -> Value {
    let e = e.map(|v| v.clamp(0, 31));
    if e.iter().all(|&v| v == 0) {
        return x;
    }
    let mask = e.map(|v| ((1i64 << v) - 1) as i32);
    let maskv = vconst_i32(cx, mask);
    let rem = cx.b.ins().band(x, maskv);
    let zero = splat_i32(cx, 0);
    let neg = cx.b.ins().icmp(IntCC::SignedLessThan, x, zero);
    let half = vconst_i32(cx, mask.map(|m| m >> 1));
    // `neg` is −1 in negative lanes: the threshold is one more there.
    let threshold = cx.b.ins().isub(half, neg);
    let up = cx.b.ins().icmp(IntCC::SignedGreaterThan, rem, threshold);
    let mut shifted: Option<Value> = None;
    let mut done: Vec<i32> = Vec::new();
    for &s in &e {
        if done.contains(&s) {
            continue;
        }
        done.push(s);
        let v = if s == 0 {
            x
        } else {
            cx.b.ins().sshr_imm_s(x, i64::from(s))
        };
        shifted = Some(match shifted {
            None => v,
            Some(prev) => {
                let lanes = vconst_i32(cx, e.map(|t| if t == s { -1 } else { 0 }));
                cx.b.ins().bitselect(lanes, v, prev)
            }
        });
    }
    let shifted = shifted.unwrap_or(x);
    // `up` is −1 where the result rounds up.
    cx.b.ins().isub(shifted, up)
}

/// `MultiplyByQuantizedMultiplier(x, m, shift)` per lane, as
/// `mvcc_kernels::fixedpoint::multiply_by_quantized_multiplier` computes it.
pub(crate) fn mbqm4(cx: &mut KernelCx<'_, '_>, x: Value, r: [Requant; 4]) -> Value {
    let left = r.map(|r| r.shift.clamp(0, 30));
    let right = r.map(|r| r.shift.saturating_neg().clamp(0, 31));
    let x = if left.iter().any(|&l| l > 0) {
        let f = vconst_i32(cx, left.map(|l| 1i32 << l));
        cx.b.ins().imul(x, f)
    } else {
        x
    };
    let h = srdhm4(cx, x, r.map(|r| r.multiplier));
    rdbpot4(cx, h, right)
}

/// Per-channel requantization as constant tables, for loops over blocks of 16 channels that
/// run at run time: [`RequantTables::apply`] is `MultiplyByQuantizedMultiplier` on four lanes
/// whose multipliers, shifts and rounding masks it loads.
///
/// The right shifts of a step's channels lie in `emin ..= emin + 2^bits − 1`: every lane is
/// shifted by `emin`, then by `2^b` where bit `b` of its `e − emin` is set (a per-lane select
/// per bit; Cranelift has no per-lane shift).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequantTables {
    base: Value,
    /// Bytes per table (channels rounded up to 16, 4 bytes each).
    stride: usize,
    left: bool,
    saturate: bool,
    emin: i32,
    bits: usize,
}

impl RequantTables {
    const MULT: usize = 0;
    const LEFT: usize = 1;
    const MASK: usize = 2;
    const HALF: usize = 3;
    const SAT: usize = 4;
    const BITS: usize = 5;

    /// The tables of `requant` (one entry per channel).
    ///
    /// # Errors
    /// A module error.
    pub(crate) fn new(cx: &mut KernelCx<'_, '_>, requant: &[Requant]) -> Result<RequantTables> {
        let n = requant.len().div_ceil(OC_BLOCK) * OC_BLOCK;
        let rq = |c: usize| requant.get(c).copied().unwrap_or_default();
        let right = |c: usize| rq(c).shift.saturating_neg().clamp(0, 31);
        let emin = (0..requant.len()).map(right).min().unwrap_or(0);
        let emax = (0..requant.len()).map(right).max().unwrap_or(0);
        let bits = (32 - ((emax - emin) as u32).leading_zeros()) as usize;
        let columns: Vec<Box<dyn Fn(usize) -> i32>> = vec![
            Box::new(|c| rq(c).multiplier),
            Box::new(|c| 1i32 << rq(c).shift.clamp(0, 30)),
            Box::new(|c| ((1i64 << right(c)) - 1) as i32),
            Box::new(|c| (((1i64 << right(c)) - 1) as i32) >> 1),
            Box::new(|c| if rq(c).multiplier == i32::MIN { -1 } else { 0 }),
        ];
        let mut bytes = Vec::new();
        for col in &columns {
            bytes.extend((0..n).flat_map(|c| col(c).to_le_bytes()));
        }
        for b in 0..bits {
            let bit = |c: usize| -(((right(c) - emin) >> b) & 1);
            bytes.extend((0..n).flat_map(|c| bit(c).to_le_bytes()));
        }
        let base = cx.const_data(&bytes)?;
        Ok(RequantTables {
            base,
            stride: n * 4,
            left: requant.iter().any(|r| r.shift > 0),
            saturate: requant.iter().any(|r| r.multiplier == i32::MIN),
            emin,
            bits,
        })
    }

    fn load(&self, cx: &mut KernelCx<'_, '_>, table: usize, off: Value) -> Value {
        let a = cx.b.ins().iadd(self.base, off);
        cx.b.ins()
            .load(I32X4, flags(), a, (table * self.stride) as i32)
    }

    /// `MultiplyByQuantizedMultiplier` of `x` (`i32x4`) with the requantization of the four
    /// channels at byte offset `off` (`4 ·` the first channel) of the tables.
    pub(crate) fn apply(&self, cx: &mut KernelCx<'_, '_>, x: Value, off: Value) -> Value {
        let x = if self.left {
            let f = self.load(cx, Self::LEFT, off);
            cx.b.ins().imul(x, f)
        } else {
            x
        };
        let m = self.load(cx, Self::MULT, off);
        let mut h = srdhm_v(cx, x, m);
        if self.saturate {
            let lanes = self.load(cx, Self::SAT, off);
            h = saturate_min(cx, x, lanes, h);
        }
        if self.emin == 0 && self.bits == 0 {
            return h;
        }
        // RoundingDivideByPOT per lane.
        let mask = self.load(cx, Self::MASK, off);
        let rem = cx.b.ins().band(h, mask);
        let zero = splat_i32(cx, 0);
        let neg = cx.b.ins().icmp(IntCC::SignedLessThan, h, zero);
        let half = self.load(cx, Self::HALF, off);
        let threshold = cx.b.ins().isub(half, neg);
        let up = cx.b.ins().icmp(IntCC::SignedGreaterThan, rem, threshold);
        let mut s = if self.emin > 0 {
            cx.b.ins().sshr_imm_s(h, i64::from(self.emin))
        } else {
            h
        };
        for b in 0..self.bits {
            let t = cx.b.ins().sshr_imm_s(s, 1i64 << b);
            let sel = self.load(cx, Self::BITS + b, off);
            s = cx.b.ins().bitselect(sel, t, s);
        }
        cx.b.ins().isub(s, up)
    }
}

/// `min(max(x, lo), hi)` per lane.
pub(crate) fn clamp4(cx: &mut KernelCx<'_, '_>, x: Value, act: ActQ) -> Value {
    let lo = splat_i32(cx, act.min);
    let hi = splat_i32(cx, act.max);
    let a = cx.b.ins().smax(x, lo);
    cx.b.ins().smin(a, hi)
}

/// TFLite's float clamp per lane: `x < min ? min : x`, then `> max ? max`.
pub(crate) fn clamp_f32x4(cx: &mut KernelCx<'_, '_>, x: Value, act: ActF32) -> Value {
    let lo = cx.f32const(act.min);
    let lo = cx.b.ins().splat(F32X4, lo);
    let hi = cx.f32const(act.max);
    let hi = cx.b.ins().splat(F32X4, hi);
    let below = cx.b.ins().fcmp(FloatCC::LessThan, x, lo);
    let below = cx.b.ins().bitcast(F32X4, MemFlagsData::new(), below);
    let a = cx.b.ins().bitselect(below, lo, x);
    let above = cx.b.ins().fcmp(FloatCC::GreaterThan, a, hi);
    let above = cx.b.ins().bitcast(F32X4, MemFlagsData::new(), above);
    cx.b.ins().bitselect(above, hi, a)
}

/// Scalar `MultiplyByQuantizedMultiplier(x, m, shift)` with the multiplier, the left shift
/// (`shift.clamp(0, 30)`) and the right shift (`(−shift).clamp(0, 31)`) as run-time `i32`
/// values (read from tables by loops over channels).
pub(crate) fn mbqm_dyn(
    cx: &mut KernelCx<'_, '_>,
    x: Value,
    m: Value,
    left: Value,
    right: Value,
) -> Value {
    let x = cx.b.ins().ishl(x, left);
    // SaturatingRoundingDoublingHighMul: (x·m + 2^30) >> 31 on the exact product.
    let x64 = cx.b.ins().sextend(types::I64, x);
    let m64 = cx.b.ins().sextend(types::I64, m);
    let p = cx.b.ins().imul(x64, m64);
    let p = cx.b.ins().iadd_imm_s(p, 1 << 30);
    let p = cx.b.ins().sshr_imm_s(p, 31);
    let h = cx.b.ins().ireduce(types::I32, p);
    let xmin = cx.b.ins().icmp_imm_s(IntCC::Equal, x, i64::from(i32::MIN));
    let mmin = cx.b.ins().icmp_imm_s(IntCC::Equal, m, i64::from(i32::MIN));
    let sat = cx.b.ins().band(xmin, mmin);
    let max = cx.i32const(i32::MAX);
    let h = cx.b.ins().select(sat, max, h);
    // RoundingDivideByPOT(h, right).
    let one = cx.i32const(1);
    let bit = cx.b.ins().ishl(one, right);
    let mask = cx.b.ins().iadd_imm_s(bit, -1);
    let rem = cx.b.ins().band(h, mask);
    let neg = cx.b.ins().icmp_imm_s(IntCC::SignedLessThan, h, 0);
    let neg = cx.b.ins().uextend(types::I32, neg);
    let half = cx.b.ins().sshr_imm_s(mask, 1);
    let threshold = cx.b.ins().iadd(half, neg);
    let up = cx.b.ins().icmp(IntCC::SignedGreaterThan, rem, threshold);
    let up = cx.b.ins().uextend(types::I32, up);
    let s = cx.b.ins().sshr(h, right);
    cx.b.ins().iadd(s, up)
}

/// Constant tables of per-channel multipliers, left shifts and right shifts (`i32` each) for
/// [`mbqm_dyn`].
pub(crate) fn requant_tables(cx: &mut KernelCx<'_, '_>, requant: &[Requant]) -> Result<[Value; 3]> {
    let bytes = |f: &dyn Fn(&Requant) -> i32| -> Vec<u8> {
        requant.iter().flat_map(|r| f(r).to_le_bytes()).collect()
    };
    let m = bytes(&|r| r.multiplier);
    let l = bytes(&|r| r.shift.clamp(0, 30));
    let rr = bytes(&|r| r.shift.saturating_neg().clamp(0, 31));
    Ok([cx.const_data(&m)?, cx.const_data(&l)?, cx.const_data(&rr)?])
}

/// `mbqm` of `x` with the requantization of channel `c` (pointer-sized) from
/// [`requant_tables`].
pub(crate) fn mbqm_table(cx: &mut KernelCx<'_, '_>, x: Value, t: [Value; 3], c: Value) -> Value {
    let m = cx.load(types::I32, t[0], c);
    let l = cx.load(types::I32, t[1], c);
    let r = cx.load(types::I32, t[2], c);
    mbqm_dyn(cx, x, m, l, r)
}

/// `libm::round(x) as i32` for an `f64` `x` that is not NaN: round half away from zero,
/// saturating to `i32`.
pub(crate) fn round_f64_to_i32(cx: &mut KernelCx<'_, '_>, x: Value) -> Value {
    round_with(cx.b, x)
}

/// [`round_f64_to_i32`] with a bare function builder.
pub(crate) fn round_with(b: &mut FunctionBuilder<'_>, x: Value) -> Value {
    // Beyond ±2^40 the result saturates anyway; inside, the i64 truncation is exact and so is
    // the remainder x − trunc(x).
    let big = b.ins().f64const(1_099_511_627_776.0);
    let nbig = b.ins().f64const(-1_099_511_627_776.0);
    let hi = b.ins().fcmp(FloatCC::GreaterThan, x, big);
    let x = b.ins().select(hi, big, x);
    let lo = b.ins().fcmp(FloatCC::LessThan, x, nbig);
    let x = b.ins().select(lo, nbig, x);
    let t = b.ins().fcvt_to_sint_sat(types::I64, x);
    let tf = b.ins().fcvt_from_sint(types::F64, t);
    let d = b.ins().fsub(x, tf);
    let half = b.ins().f64const(0.5);
    let nhalf = b.ins().f64const(-0.5);
    let up = b.ins().fcmp(FloatCC::GreaterThanOrEqual, d, half);
    let up = b.ins().uextend(types::I64, up);
    let down = b.ins().fcmp(FloatCC::LessThanOrEqual, d, nhalf);
    let down = b.ins().uextend(types::I64, down);
    let t = b.ins().iadd(t, up);
    let t = b.ins().isub(t, down);
    let lo = b.ins().iconst(types::I64, i64::from(i32::MIN));
    let hi = b.ins().iconst(types::I64, i64::from(i32::MAX));
    let t = b.ins().smax(t, lo);
    let t = b.ins().smin(t, hi);
    b.ins().ireduce(types::I32, t)
}

/// Checks that region `r` holds `want` elements of `size` bytes.
pub(crate) fn expect(
    cx: &KernelCx<'_, '_>,
    what: &str,
    r: &Region,
    size: usize,
    want: usize,
) -> Result<()> {
    if r.bytes == want * size {
        Ok(())
    } else {
        Err(cx.err(format!(
            "{what} has {} bytes, the kernel expects {}",
            r.bytes,
            want * size
        )))
    }
}

/// The FULLY_CONNECTED operands `(input, weights, bias, output)` checked against the kernel
/// (`size` bytes per element; the bias is present with packed weights).
fn operands(
    cx: &mut KernelCx<'_, '_>,
    p: &FullyConnectedParams,
    weights: Weights,
    size: usize,
) -> Result<(Region, Region, Option<Region>, Region)> {
    let x = cx.input(0)?;
    let w = cx.input(1)?;
    let b = match weights {
        Weights::Packed => Some(cx.input(2)?),
        Weights::Model => cx.opt_input(2)?,
    };
    let out = cx.output(0)?;
    expect(cx, "the input", &x, size, p.batches * p.depth)?;
    let w_len = match weights {
        Weights::Packed => blocked_len(p.units, p.depth),
        Weights::Model => p.units * p.depth,
    };
    expect(cx, "the weights", &w, size, w_len)?;
    if let Some(b) = &b {
        expect(cx, "the bias", b, 4, p.units)?;
    }
    expect(cx, "the output", &out, size, p.batches * p.units)?;
    Ok((x, w, b, out))
}

/// Float FULLY_CONNECTED.
///
/// Packed: per row of the input and block of 16 units, four `f32x4` sums over the depth (in
/// order, multiply then add, as the reference: bit-identical), then the bias and the clamp. Model form: scalar, in the
/// reference's order.
///
/// # Errors
/// Operand sizes that do not match.
pub(crate) fn fully_connected_f32(
    cx: &mut KernelCx<'_, '_>,
    p: &FullyConnectedParams,
    act: ActF32,
    weights: Weights,
) -> Result<()> {
    let (x, w, b, out) = operands(cx, p, weights, 4)?;
    let d = p.depth;
    let units = p.units;
    if weights == Weights::Model {
        return cx.for_range(p.batches, |cx, row| {
            let xr = cx.b.ins().imul_imm_s(row, (d * 4) as i64);
            let xr = cx.b.ins().iadd(x.base, xr);
            let orow = cx.b.ins().imul_imm_s(row, (units * 4) as i64);
            let orow = cx.b.ins().iadd(out.base, orow);
            cx.for_range(units, |cx, n| {
                let wr = cx.b.ins().imul_imm_s(n, (d * 4) as i64);
                let wr = cx.b.ins().iadd(w.base, wr);
                let zero = cx.f32const(0.0);
                let total = var(cx, types::F32, zero);
                cx.for_range(d, |cx, k| {
                    let xv = cx.load(types::F32, xr, k);
                    let wv = cx.load(types::F32, wr, k);
                    let m = cx.b.ins().fmul(xv, wv);
                    let t = cx.b.use_var(total);
                    let s = cx.b.ins().fadd(t, m);
                    cx.b.def_var(total, s);
                    Ok(())
                })?;
                let mut t = cx.b.use_var(total);
                if let Some(b) = &b {
                    let bv = cx.load(types::F32, b.base, n);
                    t = cx.b.ins().fadd(t, bv);
                }
                let v = cx.clamp_f32(t, act.min, act.max);
                cx.store(v, orow, n);
                Ok(())
            })
        });
    }
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let mut block = |cx: &mut KernelCx<'_, '_>, blk: Value, lanes: usize| {
        let wblk = cx.b.ins().imul_imm_s(blk, (d * OC_BLOCK * 4) as i64);
        let wblk = cx.b.ins().iadd(w.base, wblk);
        let c0 = cx.b.ins().imul_imm_s(blk, (OC_BLOCK * 4) as i64);
        let bp = cx.b.ins().iadd(b.base, c0);
        cx.for_range(p.batches, |cx, row| {
            let xr = cx.b.ins().imul_imm_s(row, (d * 4) as i64);
            let xr = cx.b.ins().iadd(x.base, xr);
            let zero = cx.f32const(0.0);
            let zero = cx.b.ins().splat(F32X4, zero);
            let acc = [zero; 4].map(|z| var(cx, F32X4, z));
            cx.for_range(d, |cx, k| {
                let xo = cx.b.ins().imul_imm_s(k, 4);
                let xa = cx.b.ins().iadd(xr, xo);
                let xv = cx.b.ins().load(types::F32, flags(), xa, 0);
                let xs = cx.b.ins().splat(F32X4, xv);
                let wo = cx.b.ins().imul_imm_s(k, (OC_BLOCK * 4) as i64);
                let wa = cx.b.ins().iadd(wblk, wo);
                for (j, a) in acc.iter().enumerate() {
                    let wv = cx.b.ins().load(F32X4, flags(), wa, (j * 16) as i32);
                    let av = cx.b.use_var(*a);
                    let m = cx.b.ins().fmul(xs, wv);
                    let s = cx.b.ins().fadd(av, m);
                    cx.b.def_var(*a, s);
                }
                Ok(())
            })?;
            let orow = cx.b.ins().imul_imm_s(row, (units * 4) as i64);
            let orow = cx.b.ins().iadd(out.base, orow);
            let op = cx.b.ins().iadd(orow, c0);
            for (j, a) in acc.iter().enumerate() {
                if j * 4 >= lanes {
                    break;
                }
                let n = (lanes - j * 4).min(4);
                let av = cx.b.use_var(*a);
                let bias = load_f32s(cx, bp, j * 4, n);
                let s = cx.b.ins().fadd(av, bias);
                let v = clamp_f32x4(cx, s, act);
                store_f32s(cx, v, op, j * 4, n);
            }
            Ok(())
        })
    };
    for_each_unit_block(cx, units, &mut block)
}

/// `block(cx, blk, lanes)` for every block of 16 units: a runtime loop over the full blocks,
/// then the last partial one.
fn for_each_unit_block(
    cx: &mut KernelCx<'_, '_>,
    units: usize,
    block: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, usize) -> Result<()>,
) -> Result<()> {
    let (full, tail) = (units / OC_BLOCK, units % OC_BLOCK);
    cx.for_range(full, |cx, blk| block(cx, blk, OC_BLOCK))?;
    if tail > 0 {
        let blk = cx.iconst(full as i64);
        block(cx, blk, tail)?;
    }
    Ok(())
}

/// `n` (≤ 4) floats at element `first` of `p` as an `f32x4` (zeros after).
pub(crate) fn load_f32s(cx: &mut KernelCx<'_, '_>, p: Value, first: usize, n: usize) -> Value {
    if n == 4 {
        return cx.b.ins().load(F32X4, uflags(), p, (first * 4) as i32);
    }
    let zero = cx.f32const(0.0);
    let mut v = cx.b.ins().splat(F32X4, zero);
    for l in 0..n {
        let x =
            cx.b.ins()
                .load(types::F32, flags(), p, ((first + l) * 4) as i32);
        v = cx.b.ins().insertlane(v, x, l as u8);
    }
    v
}

/// Stores the first `n` (≤ 4) lanes of an `f32x4` at element `first` of `p`.
pub(crate) fn store_f32s(cx: &mut KernelCx<'_, '_>, v: Value, p: Value, first: usize, n: usize) {
    if n == 4 {
        cx.b.ins().store(uflags(), v, p, (first * 4) as i32);
        return;
    }
    for l in 0..n {
        let e = cx.b.ins().extractlane(v, l as u8);
        cx.b.ins().store(flags(), e, p, ((first + l) * 4) as i32);
    }
}

/// The stored result of a quantized FULLY_CONNECTED from its accumulator (`i32`):
/// `round(f64(acc) · scale) + output_offset`, clamped, saturated to the type.
fn fc_finish(
    cx: &mut KernelCx<'_, '_>,
    qt: QType,
    q: &FullyConnectedQuant,
    acc: Value,
    scale: Value,
) -> Value {
    let a = cx.b.ins().fcvt_from_sint(types::F64, acc);
    let m = cx.b.ins().fmul(a, scale);
    let r = round_f64_to_i32(cx, m);
    let v = cx.b.ins().iadd_imm_s(r, i64::from(q.output_offset));
    let v = cx.clamp_i32(v, q.act.min, q.act.max);
    cx.clamp_i32(v, qt.min(), qt.max())
}

/// Quantized FULLY_CONNECTED (int8 per-tensor or per-channel, uint8).
///
/// Packed: per row and block of 16 units, the dot products two depth steps at a time (see the
/// module docs), then per unit the double-precision rescaling. Model form: scalar, as the
/// reference.
///
/// # Errors
/// Operand sizes that do not match.
pub(crate) fn fully_connected_q(
    cx: &mut KernelCx<'_, '_>,
    p: &FullyConnectedParams,
    dtype: DType,
    q: &FullyConnectedQuant,
    scale: &[f64],
    weights: Weights,
) -> Result<()> {
    let qt = QType::of(dtype);
    if scale.len() != p.units {
        return Err(cx.err("one scale per unit is needed"));
    }
    if scale.iter().any(|s| s.is_nan()) {
        return Err(cx.err("a rescaling factor is not a number"));
    }
    let (x, w, b, out) = operands(cx, p, weights, 1)?;
    let d = p.depth;
    let units = p.units;
    if weights == Weights::Model || !dot_ok(q.filter_offset) {
        return fc_q_scalar(cx, p, qt, q, scale, weights, (x, w, b, out));
    }
    let Some(b) = b else {
        return Err(cx.err("the packed bias is missing"));
    };
    let pairs = d / 2;
    let n = units.div_ceil(OC_BLOCK) * OC_BLOCK;
    let table: Vec<u8> = (0..n)
        .flat_map(|c| scale.get(c).copied().unwrap_or(0.0).to_le_bytes())
        .collect();
    let table = cx.const_data(&table)?;
    let mut block = |cx: &mut KernelCx<'_, '_>, blk: Value, lanes: usize| {
        let wblk = cx.b.ins().imul_imm_s(blk, (d * OC_BLOCK) as i64);
        let wblk = cx.b.ins().iadd(w.base, wblk);
        let c0 = cx.b.ins().imul_imm_s(blk, OC_BLOCK as i64);
        let bp = cx.b.ins().imul_imm_s(blk, (OC_BLOCK * 4) as i64);
        let bp = cx.b.ins().iadd(b.base, bp);
        let sp = cx.b.ins().imul_imm_s(blk, (OC_BLOCK * 8) as i64);
        let sp = cx.b.ins().iadd(table, sp);
        cx.for_range(p.batches, |cx, row| {
            let xr = cx.b.ins().imul_imm_s(row, d as i64);
            let xr = cx.b.ins().iadd(x.base, xr);
            let init = load_i32x16(cx, bp, lanes);
            let acc = init.map(|v| var(cx, I32X4, v));
            // Eight depth steps per iteration (one input load), then the other pairs.
            cx.for_range(d / 8, |cx, i| {
                let xo = cx.b.ins().imul_imm_s(i, 8);
                let xa = cx.b.ins().iadd(xr, xo);
                let xps = xpairs4(cx, qt, xa);
                let wo = cx.b.ins().imul_imm_s(i, (8 * OC_BLOCK) as i64);
                let wa = cx.b.ins().iadd(wblk, wo);
                for (j, xp) in xps.into_iter().enumerate() {
                    let wj = cx.b.ins().iadd_imm_s(wa, (j * 2 * OC_BLOCK) as i64);
                    dot_pair(cx, qt, (wj, false), q.filter_offset, xp, &acc);
                    if j < 3 {
                        split_block(cx, i, I32X4, &acc);
                    }
                }
                Ok(())
            })?;
            for j in (d / 8) * 4..pairs {
                let xa = cx.b.ins().iadd_imm_s(xr, (2 * j) as i64);
                let xp = xpair(cx, qt, xa);
                let wa = cx.b.ins().iadd_imm_s(wblk, (2 * j * OC_BLOCK) as i64);
                dot_pair(cx, qt, (wa, false), q.filter_offset, xp, &acc);
            }
            if d % 2 == 1 {
                let xa = cx.b.ins().iadd_imm_s(xr, (d - 1) as i64);
                let xp = xsingle(cx, qt, xa);
                let wa = cx.b.ins().iadd_imm_s(wblk, ((d - 1) * OC_BLOCK) as i64);
                dot_pair(cx, qt, (wa, true), q.filter_offset, xp, &acc);
            }
            let orow = cx.b.ins().imul_imm_s(row, units as i64);
            let orow = cx.b.ins().iadd(out.base, orow);
            let op = cx.b.ins().iadd(orow, c0);
            for l in 0..lanes {
                let av = cx.b.use_var(acc[l / 4]);
                let a = cx.b.ins().extractlane(av, (l % 4) as u8);
                let s = cx.b.ins().load(types::F64, flags(), sp, (l * 8) as i32);
                let v = fc_finish(cx, qt, q, a, s);
                let v = cx.b.ins().ireduce(types::I8, v);
                cx.b.ins().store(flags(), v, op, l as i32);
            }
            Ok(())
        })
    };
    for_each_unit_block(cx, units, &mut block)
}

/// Scalar quantized FULLY_CONNECTED: packed weights with the folded bias, or the model's form
/// with TFLite's arithmetic.
fn fc_q_scalar(
    cx: &mut KernelCx<'_, '_>,
    p: &FullyConnectedParams,
    qt: QType,
    q: &FullyConnectedQuant,
    scale: &[f64],
    weights: Weights,
    (x, w, b, out): (Region, Region, Option<Region>, Region),
) -> Result<()> {
    let d = p.depth;
    let units = p.units;
    let table: Vec<u8> = scale.iter().flat_map(|s| s.to_le_bytes()).collect();
    let table = cx.const_data(&table)?;
    let packed = weights == Weights::Packed;
    cx.for_range(p.batches, |cx, row| {
        let xr = cx.b.ins().imul_imm_s(row, d as i64);
        let xr = cx.b.ins().iadd(x.base, xr);
        let orow = cx.b.ins().imul_imm_s(row, units as i64);
        let orow = cx.b.ins().iadd(out.base, orow);
        cx.for_range(units, |cx, n| {
            let init = match &b {
                Some(b) => cx.load(types::I32, b.base, n),
                None => cx.i32const(0),
            };
            let acc = var(cx, types::I32, init);
            // Packed: Σ (w + fo)·x over the blocked layout; model: Σ (w + fo)·(x + io).
            let (wrow, io) = if packed {
                let blk = cx.b.ins().ushr_imm_s(n, 4);
                let lane = cx.b.ins().band_imm_s(n, 15);
                let o = cx.b.ins().imul_imm_s(blk, (d * OC_BLOCK) as i64);
                let o = cx.b.ins().iadd(o, lane);
                (cx.b.ins().iadd(w.base, o), 0)
            } else {
                let o = cx.b.ins().imul_imm_s(n, d as i64);
                (cx.b.ins().iadd(w.base, o), q.input_offset)
            };
            let stride = if packed { OC_BLOCK } else { 1 };
            cx.for_range(d, |cx, k| {
                let xv = qt.load_at(cx, xr, k);
                let xv = cx.b.ins().iadd_imm_s(xv, i64::from(io));
                let wo = cx.b.ins().imul_imm_s(k, stride as i64);
                let wv = qt.load_at(cx, wrow, wo);
                let wv = cx.b.ins().iadd_imm_s(wv, i64::from(q.filter_offset));
                let m = cx.b.ins().imul(wv, xv);
                add_to(cx, acc, m);
                Ok(())
            })?;
            let a = cx.b.use_var(acc);
            let s = cx.load(types::F64, table, n);
            let v = fc_finish(cx, qt, q, a, s);
            let v = cx.b.ins().ireduce(types::I8, v);
            let oa = cx.b.ins().iadd(orow, n);
            cx.b.ins().store(flags(), v, oa, 0);
            Ok(())
        })
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::interp::Buf;
    use crate::ir::{Activation, DType, FullyConnectedAttrs, Op, Quant, Tensor};
    use crate::ops::conv_2d::tests::{random_bytes, Rng};
    use crate::ops::transpose::testutil::{lower_and_run, t};

    /// Random values of `dtype`; `i32` (biases) of the size real models have (`random_bytes`'
    /// ±2^20 would saturate every result).
    pub(crate) fn random_data(rng: &mut Rng, dtype: DType, n: usize) -> Vec<u8> {
        if dtype == DType::I32 {
            (0..n)
                .flat_map(|_| (rng.int(-4096, 4096) as i32).to_le_bytes())
                .collect()
        } else {
            random_bytes(rng, dtype, n)
        }
    }

    /// A tensor with random constant data.
    pub(crate) fn constant(
        rng: &mut Rng,
        dtype: DType,
        shape: &[usize],
        q: Option<Quant>,
    ) -> Tensor {
        Tensor {
            data: Some(random_data(rng, dtype, shape.iter().product())),
            quant: q,
            ..t(dtype, shape)
        }
    }

    /// A non-constant tensor.
    pub(crate) fn value(dtype: DType, shape: &[usize], q: Option<Quant>) -> Tensor {
        Tensor {
            quant: q,
            ..t(dtype, shape)
        }
    }

    /// Runs the one-op graph through the interpreter and the JIT on random inputs; checks the
    /// results agree bit for bit (and, with `spread`, that they vary: the case tests something)
    /// and returns the program's kernel names.
    pub(crate) fn run_both(
        seed: u64,
        op: Op,
        inputs: Vec<Tensor>,
        output: Tensor,
        spread: bool,
    ) -> Vec<String> {
        let mut rng = Rng(seed);
        let float = output.dtype == DType::F32;
        let values: Vec<Buf> = inputs
            .iter()
            .filter(|t| !t.is_const())
            .map(|t| Buf::from_bytes(&random_data(&mut rng, t.dtype, t.num_elements())))
            .collect();
        let (program, want) = lower_and_run(op, inputs, vec![output], &values).unwrap();
        let names: Vec<String> = program.steps.iter().map(|s| s.kernel.name()).collect();
        let plan = crate::plan::plan(&program);
        let jit = crate::clif::Jit::new(&program, &plan).unwrap();
        let got = jit.run(&values).unwrap();
        if float {
            // Every float kernel follows the reference's order of operations: bit for bit.
            let w = want[0].as_slice::<f32>().unwrap();
            let g = got[0].as_slice::<f32>().unwrap();
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{names:?}: element {i}: want {a}, got {b}"
                );
            }
        } else {
            let (w, g) = (want[0].bytes(), got[0].bytes());
            let bad = w.iter().zip(g).filter(|(a, b)| a != b).count();
            assert_eq!(bad, 0, "{names:?}: {bad} of {} elements differ", w.len());
            // The test means something only if the values vary.
            let distinct = w.iter().collect::<std::collections::BTreeSet<_>>().len();
            assert!(
                !spread || distinct > 2 || w.len() < 8,
                "{names:?}: degenerate output {w:?}"
            );
        }
        names
    }

    fn fc_case(
        seed: u64,
        dtype: DType,
        per_channel: bool,
        constant_w: bool,
        bias: bool,
        depth: usize,
    ) {
        let units = 37;
        let batches = 3;
        let mut rng = Rng(seed ^ 0x77);
        let (qx, qw, qy) = match dtype {
            DType::F32 => (None, None, None),
            DType::U8 => (
                Some(Quant::per_tensor(0.05, 140)),
                Some(Quant::per_tensor(0.01, 99)),
                Some(Quant::per_tensor(0.05 * (depth as f32).sqrt(), 20)),
            ),
            _ => (
                Some(Quant::per_tensor(0.05, -100)),
                Some(if per_channel {
                    Quant {
                        scale: (0..units).map(|c| 0.002 * (c % 7 + 1) as f32).collect(),
                        zero_point: vec![0; units],
                        axis: 0,
                    }
                } else {
                    Quant::per_tensor(0.01, 3)
                }),
                Some(Quant::per_tensor(0.05 * (depth as f32).sqrt(), 3)),
            ),
        };
        let bias_dtype = if dtype == DType::F32 {
            DType::F32
        } else {
            DType::I32
        };
        let w = if constant_w {
            constant(&mut rng, dtype, &[units, depth], qw)
        } else {
            value(dtype, &[units, depth], qw)
        };
        let mut ins = vec![value(dtype, &[batches, depth], qx), w];
        if bias {
            ins.push(if constant_w {
                constant(&mut rng, bias_dtype, &[units], None)
            } else {
                value(bias_dtype, &[units], None)
            });
        }
        let op = Op::FullyConnected(FullyConnectedAttrs {
            act: if depth == 16 {
                Activation::Relu6
            } else {
                Activation::None
            },
            keep_num_dims: false,
        });
        let names = run_both(seed, op, ins, value(dtype, &[batches, units], qy), true);
        assert_eq!(names[0].ends_with("unpacked"), !constant_w, "{names:?}");
    }

    #[test]
    fn fully_connected_matches_the_interpreter() {
        let mut seed = 1;
        for dtype in [DType::F32, DType::I8, DType::U8] {
            for per_channel in [false, true] {
                if per_channel && dtype != DType::I8 {
                    continue;
                }
                for constant_w in [true, false] {
                    for bias in [true, false] {
                        for depth in [1, 16, 37] {
                            seed += 1;
                            fc_case(seed, dtype, per_channel, constant_w, bias, depth);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rounding_matches_libm() {
        // round(x) as i32 for values around halves, large values and both signs.
        let mut xs = vec![
            0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
        ];
        xs.extend([
            1e10,
            -1e10,
            2147483647.4,
            2147483647.5,
            -2147483648.5,
            -2147483648.4,
            1e300,
            -1e300,
        ]);
        for i in 0..200 {
            xs.push((i as f64 - 100.0) * 0.25 + 1e-9 * (i % 3) as f64);
        }
        for x in xs {
            // f64::round rounds half away from zero, as libm's round does.
            let want = x.round() as i32;
            let got = eval_round(x);
            assert_eq!(got, want, "{x}");
        }
    }

    fn eval_round(x: f64) -> i32 {
        use cranelift_codegen::ir::{types, AbiParam, InstBuilder};
        use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
        use cranelift_module::{Linkage, Module};
        let isa = crate::clif::host_isa().unwrap();
        let builder =
            cranelift_jit::JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        let mut module = cranelift_jit::JITModule::new(builder);
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(types::F64));
        sig.returns.push(AbiParam::new(types::I32));
        let id = module
            .declare_function("round", Linkage::Local, &sig)
            .unwrap();
        let mut ctx = module.make_context();
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            b.seal_block(entry);
            let arg = b.block_params(entry)[0];
            let r = round_in(&mut b, arg);
            b.ins().return_(&[r]);
            b.finalize(module.target_config());
        }
        module.define_function(id, &mut ctx).unwrap();
        module.finalize_definitions().unwrap();
        let code = module.get_finalized_function(id);
        // SAFETY: defined above as (f64) -> i32 in the host's C convention.
        let f = unsafe { std::mem::transmute::<*const u8, extern "C" fn(f64) -> i32>(code) };
        f(x)
    }

    /// [`super::round_f64_to_i32`] outside a step (the test has no program to build a
    /// `KernelCx` from): the same instructions.
    fn round_in(
        b: &mut cranelift_frontend::FunctionBuilder<'_>,
        x: cranelift_codegen::ir::Value,
    ) -> cranelift_codegen::ir::Value {
        super::round_with(b, x)
    }
}
