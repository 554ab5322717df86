//! Cranelift code shared by the data-movement families (transpose, slice, depth-to-space, pad,
//! concatenation, split/pack, gather): byte copies with the widest accesses, pattern fills, rows
//! of copies and strided gathers.
//!
//! Every size, stride and offset is a compile-time constant. Copies run 64 bytes per loop
//! iteration (four 16-byte vectors) and finish with overlapping vector (or 8/4/2-byte) accesses,
//! so a copy of `n` bytes never touches a byte outside `[0, n)` of either region. The regions a
//! step reads and writes never overlap (none of these families runs in place), which overlapping
//! accesses need.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};

use super::Width;
use crate::clif::cx::{KernelCx, Region};
use crate::error::Result;

/// Flags of every access here: non-trapping, not assumed aligned (rows start anywhere).
fn mflags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// The integer type of an element of width `w` (bit patterns are only moved).
pub(crate) fn int_type(w: Width) -> Type {
    match w {
        Width::X8 => types::I8,
        Width::X16 => types::I16,
        Width::X32 => types::I32,
        Width::X64 => types::I64,
    }
}

/// `(base', off)` with `base' + off == base + offset` and `off` an `i32` load/store offset.
fn at(cx: &mut KernelCx<'_, '_>, base: Value, offset: i64) -> (Value, i32) {
    match i32::try_from(offset) {
        Ok(o) => (base, o),
        Err(_) => (cx.b.ins().iadd_imm_s(base, offset), 0),
    }
}

/// Loads a `ty` at `base + offset` bytes.
fn load_at(cx: &mut KernelCx<'_, '_>, ty: Type, base: Value, offset: i64) -> Value {
    let (b, o) = at(cx, base, offset);
    cx.b.ins().load(ty, mflags(), b, o)
}

/// Stores `v` at `base + offset` bytes.
fn store_at(cx: &mut KernelCx<'_, '_>, v: Value, base: Value, offset: i64) {
    let (b, o) = at(cx, base, offset);
    cx.b.ins().store(mflags(), v, b, o);
}

/// `base + index · scale` for a pointer-sized `index` and a constant (possibly negative) scale.
pub(crate) fn offset(cx: &mut KernelCx<'_, '_>, base: Value, index: Value, scale: i64) -> Value {
    let off = match scale {
        0 => return base,
        1 => index,
        _ => cx.b.ins().imul_imm_s(index, scale),
    };
    cx.b.ins().iadd(base, off)
}

/// The accesses of a straight-line copy or fill of `[from, bytes)`: `(offset, size)` pairs with
/// sizes 16, 8, 4, 2 or 1, covering the range exactly once or overlapping (never past either
/// end, never before 0).
fn pieces(from: usize, bytes: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if from >= bytes {
        return out;
    }
    if bytes >= 16 {
        let mut o = from;
        while o < bytes {
            out.push((o.min(bytes - 16), 16));
            o += 16;
        }
        return out;
    }
    // Shorter than one vector: the whole range (`from` is 0: loops only run for long ranges).
    let len = bytes - from;
    for size in [8usize, 4, 2] {
        if len >= size {
            out.push((from, size));
            if len > size {
                // The rest is shorter than `size` (len < 2 · size): one access ending at `bytes`.
                out.push((bytes - size, size));
            }
            return out;
        }
    }
    out.push((from, 1));
    out
}

/// The type of an access of `size` bytes.
fn piece_type(size: usize) -> Type {
    match size {
        16 => types::I8X16,
        8 => types::I64,
        4 => types::I32,
        2 => types::I16,
        _ => types::I8,
    }
}

/// Copies `bytes` bytes from `src` to `dst` (pointer values; the regions do not overlap).
pub(crate) fn copy(cx: &mut KernelCx<'_, '_>, src: Value, dst: Value, bytes: usize) {
    const STEP: usize = 64;
    let mut from = 0;
    if bytes >= 2 * STEP {
        let n = bytes / STEP;
        // The body cannot fail.
        let _ = cx.for_range(n, |cx, i| {
            let off = cx.b.ins().imul_imm_s(i, STEP as i64);
            let s = cx.b.ins().iadd(src, off);
            let d = cx.b.ins().iadd(dst, off);
            let v: Vec<Value> = (0..STEP / 16)
                .map(|k| cx.b.ins().load(types::I8X16, mflags(), s, (k * 16) as i32))
                .collect();
            for (k, v) in v.into_iter().enumerate() {
                cx.b.ins().store(mflags(), v, d, (k * 16) as i32);
            }
            Ok(())
        });
        from = n * STEP;
    }
    for (o, size) in pieces(from, bytes) {
        let v = load_at(cx, piece_type(size), src, o as i64);
        store_at(cx, v, dst, o as i64);
    }
}

/// A value repeated over 16 bytes, for [`fill`]: the vector (`i64x2`) and the 8-byte scalar.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pattern {
    vec: Value,
    x64: Value,
}

impl Pattern {
    /// The element `bits` (of width `w`, zero-extended) repeated.
    pub(crate) fn constant(cx: &mut KernelCx<'_, '_>, w: Width, bits: u64) -> Pattern {
        let x64 = cx.b.ins().iconst(types::I64, repeat(w, bits) as i64);
        let vec = cx.b.ins().splat(types::I64X2, x64);
        Pattern { vec, x64 }
    }

    /// The element of width `w` at `ptr` repeated (read at run time).
    pub(crate) fn load(cx: &mut KernelCx<'_, '_>, w: Width, ptr: Value) -> Pattern {
        let x = cx.b.ins().load(int_type(w), mflags(), ptr, 0);
        let x = if w == Width::X64 {
            x
        } else {
            cx.b.ins().uextend(types::I64, x)
        };
        let x64 = match w {
            Width::X64 => x,
            _ => cx.b.ins().imul_imm_s(x, repeat(w, 1) as i64),
        };
        let vec = cx.b.ins().splat(types::I64X2, x64);
        Pattern { vec, x64 }
    }
}

/// `bits` (an element of width `w`) repeated over 64 bits.
fn repeat(w: Width, bits: u64) -> u64 {
    match w {
        Width::X8 => (bits & 0xff) * 0x0101_0101_0101_0101,
        Width::X16 => (bits & 0xffff) * 0x0001_0001_0001_0001,
        Width::X32 => (bits & 0xffff_ffff) * 0x0000_0001_0000_0001,
        Width::X64 => bits,
    }
}

/// Fills `bytes` bytes at `dst` (a whole number of elements of the pattern's width) with `pat`.
pub(crate) fn fill(cx: &mut KernelCx<'_, '_>, pat: Pattern, dst: Value, bytes: usize) {
    const STEP: usize = 64;
    let mut from = 0;
    if bytes >= 2 * STEP {
        let n = bytes / STEP;
        let _ = cx.for_range(n, |cx, i| {
            let d = offset(cx, dst, i, STEP as i64);
            for k in 0..STEP / 16 {
                cx.b.ins().store(mflags(), pat.vec, d, (k * 16) as i32);
            }
            Ok(())
        });
        from = n * STEP;
    }
    // Every access starts at a multiple of the element width (sizes and `bytes` are multiples
    // of it, the width divides 16), so the repeated pattern lines up.
    for (o, size) in pieces(from, bytes) {
        let v = match size {
            16 => pat.vec,
            8 => pat.x64,
            _ => cx.b.ins().ireduce(piece_type(size), pat.x64),
        };
        store_at(cx, v, dst, o as i64);
    }
}

/// `rows` rows of `row_bytes` bytes from `src` (rows `src_stride` bytes apart) to `dst` (rows
/// `dst_stride` bytes apart); one copy when both sides are contiguous.
pub(crate) fn copy_rows(
    cx: &mut KernelCx<'_, '_>,
    (src, src_stride): (Value, usize),
    (dst, dst_stride): (Value, usize),
    rows: usize,
    row_bytes: usize,
) {
    if rows == 0 || row_bytes == 0 {
        return;
    }
    if rows == 1 || (src_stride == row_bytes && dst_stride == row_bytes) {
        copy(cx, src, dst, rows * row_bytes);
        return;
    }
    let _ = cx.for_range(rows, |cx, r| {
        let s = offset(cx, src, r, src_stride as i64);
        let d = offset(cx, dst, r, dst_stride as i64);
        copy(cx, s, d, row_bytes);
        Ok(())
    });
}

/// `n` elements of type `ty` from `src` (`src_step` bytes apart, possibly negative) to `dst`
/// (`dst_step` bytes apart): eight per loop iteration, the rest straight-line.
pub(crate) fn copy_strided(
    cx: &mut KernelCx<'_, '_>,
    ty: Type,
    (src, src_step): (Value, i64),
    (dst, dst_step): (Value, i64),
    n: usize,
) {
    const UNROLL: usize = 8;
    let group = |cx: &mut KernelCx<'_, '_>, s: Value, d: Value, count: usize| {
        let v: Vec<Value> = (0..count)
            .map(|k| load_at(cx, ty, s, k as i64 * src_step))
            .collect();
        for (k, v) in v.into_iter().enumerate() {
            store_at(cx, v, d, k as i64 * dst_step);
        }
    };
    let loops = if n >= 2 * UNROLL { n / UNROLL } else { 0 };
    let _ = cx.for_range(loops, |cx, i| {
        let s = offset(cx, src, i, src_step * UNROLL as i64);
        let d = offset(cx, dst, i, dst_step * UNROLL as i64);
        group(cx, s, d, UNROLL);
        Ok(())
    });
    let done = loops * UNROLL;
    if done < n {
        let s = cx.b.ins().iadd_imm_s(src, done as i64 * src_step);
        let d = cx.b.ins().iadd_imm_s(dst, done as i64 * dst_step);
        group(cx, s, d, n - done);
    }
}

/// `output[i] = input[offset + Σ idx_d · strides_d]` over the row-major output index `idx` of
/// `shape` (elements of width `w`; strides in elements, possibly negative): the runtime's
/// `strided_gather`. Dimensions of size 1 are dropped and dimensions the input walks contiguously
/// merged; rows the input holds contiguously become copies.
pub(crate) fn strided_gather(
    cx: &mut KernelCx<'_, '_>,
    src: Value,
    dst: Value,
    w: Width,
    offset_elems: usize,
    shape: &[usize],
    strides: &[isize],
) {
    if shape.contains(&0) {
        return;
    }
    let wb = w.bytes() as i64;
    // (size, input stride), outermost first, without unit dimensions, merged.
    let mut dims: Vec<(usize, i64)> = Vec::new();
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        let s = s as i64;
        match dims.last_mut() {
            // The previous dimension steps over exactly one run of this one.
            Some(last) if last.1 == s * n as i64 => {
                last.0 *= n;
                last.1 = s;
            }
            _ => dims.push((n, s)),
        }
    }
    let base = cx.b.ins().iadd_imm_s(src, offset_elems as i64 * wb);
    let Some(&(inner, inner_stride)) = dims.last() else {
        // A single element.
        copy(cx, base, dst, w.bytes());
        return;
    };
    let outer = &dims[..dims.len() - 1];
    // Output strides (bytes) of the outer dimensions.
    let mut out_strides = vec![0i64; outer.len()];
    let mut s = inner as i64 * wb;
    for d in (0..outer.len()).rev() {
        out_strides[d] = s;
        s *= outer[d].0 as i64;
    }
    let ty = int_type(w);
    let mut row = |cx: &mut KernelCx<'_, '_>, s: Value, d: Value| {
        if inner_stride == 1 {
            copy(cx, s, d, inner * w.bytes());
        } else {
            copy_strided(cx, ty, (s, inner_stride * wb), (d, wb), inner);
        }
    };
    nest(cx, outer, &out_strides, wb, base, dst, &mut row);
}

/// Loops over `dims` (size, input stride in elements), outermost first, calling `leaf` with the
/// input and output pointers of each innermost row.
fn nest(
    cx: &mut KernelCx<'_, '_>,
    dims: &[(usize, i64)],
    out_strides: &[i64],
    wb: i64,
    src: Value,
    dst: Value,
    leaf: &mut dyn FnMut(&mut KernelCx<'_, '_>, Value, Value),
) {
    let Some((&(n, s), rest)) = dims.split_first() else {
        leaf(cx, src, dst);
        return;
    };
    let os = out_strides[0];
    let _ = cx.for_range(n, |cx, i| {
        let sp = offset(cx, src, i, s * wb);
        let dp = offset(cx, dst, i, os);
        nest(cx, rest, &out_strides[1..], wb, sp, dp, leaf);
        Ok(())
    });
}

/// Checks that region `r` holds `want` elements of width `w`.
///
/// # Errors
/// Another size.
pub(crate) fn expect_len(
    cx: &KernelCx<'_, '_>,
    what: &str,
    r: &Region,
    w: Width,
    want: usize,
) -> Result<()> {
    if r.bytes == want * w.bytes() {
        Ok(())
    } else {
        Err(cx.err(format!(
            "{what} has {} bytes, the kernel expects {want} elements of {} bytes",
            r.bytes,
            w.bytes()
        )))
    }
}

/// The step's operands, as many as it has (probed in order until one is missing).
pub(crate) fn all_inputs(cx: &mut KernelCx<'_, '_>) -> Vec<Region> {
    let mut v = Vec::new();
    while let Ok(r) = cx.input(v.len()) {
        v.push(r);
    }
    v
}

/// The step's results, as many as it has.
pub(crate) fn all_outputs(cx: &mut KernelCx<'_, '_>) -> Vec<Region> {
    let mut v = Vec::new();
    while let Ok(r) = cx.output(v.len()) {
        v.push(r);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::pieces;

    /// Every byte of `[from, bytes)` is covered, nothing outside.
    #[test]
    fn pieces_cover_exactly_the_range() {
        for bytes in 0..80 {
            for from in [0, 16, 32, 64] {
                if from > 0 && bytes < 16 {
                    continue;
                }
                let mut seen = vec![false; bytes];
                for (o, n) in pieces(from, bytes) {
                    assert!(o + n <= bytes, "{from} {bytes}: {o}+{n}");
                    for s in &mut seen[o..o + n] {
                        *s = true;
                    }
                }
                assert!(seen[from.min(bytes)..].iter().all(|&s| s), "{from} {bytes}");
            }
        }
    }
}
