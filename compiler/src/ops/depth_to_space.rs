//! DEPTH_TO_SPACE and SPACE_TO_DEPTH (TFLite `depth_to_space.cc`, `space_to_depth.cc`): 4-D NHWC
//! tensors, block size at least 1, float32, uint8, int8, int32 or int64. Depth-to-space needs the
//! channels divisible by `block²`, space-to-depth the height and width divisible by `block`.
//! Values are moved, never requantized (TFLite does not check quantization).

use mvcc_kernels::kernels::depth_to_space::{self as kernel, BlockParams};

use super::transpose::{expect_io_dtype, in_out, with_width, DataKernel, Width};
use super::{EvalCx, InferCx};
use crate::error::Result;
use crate::interp::StepIo;
use crate::ir::{BlockAttrs, DType, Shape};
use crate::lower::{LowerCx, Step};
use crate::rust::step::StepCx;

/// Element types both TFLite kernels accept.
const DTYPES: &[DType] = &[DType::F32, DType::U8, DType::I8, DType::I32, DType::I64];

/// The NHWC input shape and the block size, checked.
fn input_nhwc(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<([usize; 4], usize)> {
    let input = expect_io_dtype(cx, DTYPES)?;
    let [n, h, w, c] = input.shape[..] else {
        return Err(cx.err(format!(
            "the input must be 4-D (NHWC), got shape {:?}",
            input.shape
        )));
    };
    if a.block_size < 1 {
        return Err(cx.err(format!("block size {} must be at least 1", a.block_size)));
    }
    Ok(([n, h, w, c], a.block_size))
}

/// DEPTH_TO_SPACE: `[N, H, W, C·s²]` to `[N, H·s, W·s, C]`.
pub fn infer_depth_to_space(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let ([n, h, w, c], s) = input_nhwc(cx, a)?;
    let ss = s
        .checked_mul(s)
        .ok_or_else(|| cx.err("block size too large"))?;
    if c % ss != 0 {
        return Err(cx.err(format!("{c} channels do not divide into blocks of {s}×{s}")));
    }
    let (oh, ow) = match (h.checked_mul(s), w.checked_mul(s)) {
        (Some(oh), Some(ow)) => (oh, ow),
        _ => return Err(cx.err("block size too large")),
    };
    Ok(vec![vec![n, oh, ow, c / ss]])
}

/// SPACE_TO_DEPTH: `[N, H·s, W·s, C]` to `[N, H, W, C·s²]`.
pub fn infer_space_to_depth(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<Vec<Shape>> {
    cx.arity(1, 1, 1)?;
    let ([n, h, w, c], s) = input_nhwc(cx, a)?;
    if h % s != 0 || w % s != 0 {
        return Err(cx.err(format!(
            "height {h} and width {w} must be multiples of the block size {s}"
        )));
    }
    let oc = s
        .checked_mul(s)
        .and_then(|ss| ss.checked_mul(c))
        .ok_or_else(|| cx.err("block size too large"))?;
    Ok(vec![vec![n, h / s, w / s, oc]])
}

/// Parameters of DEPTH_TO_SPACE (described on the small, deep side: the input).
pub fn depth_to_space_params(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<BlockParams> {
    let ([n, h, w, c], s) = input_nhwc(cx, a)?;
    let ss = s
        .checked_mul(s)
        .ok_or_else(|| cx.err("block size too large"))?;
    Ok(BlockParams {
        batches: n,
        height: h,
        width: w,
        channels: c / ss,
        block: s,
    })
}

/// Parameters of SPACE_TO_DEPTH (described on the small, deep side: the output).
pub fn space_to_depth_params(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<BlockParams> {
    let ([n, h, w, c], s) = input_nhwc(cx, a)?;
    Ok(BlockParams {
        batches: n,
        height: h / s,
        width: w / s,
        channels: c,
        block: s,
    })
}

fn depth_to_space_kernel(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<DataKernel<Kernel>> {
    let p = depth_to_space_params(cx, a)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    Ok(DataKernel::new(Kernel::DepthToSpace(p, w), [0]))
}

fn space_to_depth_kernel(cx: &InferCx<'_>, a: &BlockAttrs) -> Result<DataKernel<Kernel>> {
    let p = space_to_depth_params(cx, a)?;
    let w = Width::of(cx, cx.input(0)?.dtype)?;
    Ok(DataKernel::new(Kernel::SpaceToDepth(p, w), [0]))
}

/// DEPTH_TO_SPACE with [`kernel::depth_to_space`].
pub fn eval_depth_to_space(cx: &mut EvalCx<'_>, a: &BlockAttrs) -> Result<()> {
    depth_to_space_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// SPACE_TO_DEPTH with [`kernel::space_to_depth`].
pub fn eval_space_to_depth(cx: &mut EvalCx<'_>, a: &BlockAttrs) -> Result<()> {
    space_to_depth_kernel(&cx.infer_cx(), a)?.eval(cx, Kernel::exec)
}

/// Lowers DEPTH_TO_SPACE to one step.
pub fn lower_depth_to_space(cx: &mut LowerCx<'_>, a: &BlockAttrs) -> Result<Vec<Step>> {
    depth_to_space_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::DepthToSpace)
}

/// Lowers SPACE_TO_DEPTH to one step.
pub fn lower_space_to_depth(cx: &mut LowerCx<'_>, a: &BlockAttrs) -> Result<Vec<Step>> {
    space_to_depth_kernel(&cx.icx, a)?.lower(cx, crate::lower::Kernel::DepthToSpace)
}

/// The `depth_to_space` family's kernels, each with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// DEPTH_TO_SPACE of elements of a width.
    DepthToSpace(BlockParams, Width),
    /// SPACE_TO_DEPTH of elements of a width.
    SpaceToDepth(BlockParams, Width),
}

impl Kernel {
    /// A short name for listings.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::DepthToSpace(_, w) => w.pick([
                "depth_to_space_x8",
                "depth_to_space_x16",
                "depth_to_space_x32",
                "depth_to_space_x64",
            ]),
            Kernel::SpaceToDepth(_, w) => w.pick([
                "space_to_depth_x8",
                "space_to_depth_x16",
                "space_to_depth_x32",
                "space_to_depth_x64",
            ]),
        }
    }

    /// Runs the kernel on a step's operands.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn exec(&self, io: &mut StepIo<'_>) -> Result<()> {
        match self {
            Kernel::DepthToSpace(p, w) => with_width!(*w, T => {
                let n = p.elements();
                let (x, y) = in_out::<T>(io, 0, n, n)?;
                kernel::depth_to_space(p, x, y);
                Ok(())
            }),
            Kernel::SpaceToDepth(p, w) => with_width!(*w, T => {
                let n = p.elements();
                let (x, y) = in_out::<T>(io, 0, n, n)?;
                kernel::space_to_depth(p, x, y);
                Ok(())
            }),
        }
    }
}

impl Kernel {
    /// Writes the step's Rust code: the same kernel [`Kernel::exec`] runs, with every parameter a
    /// `static` (the elements viewed as any type of their width).
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_rust(&self, cx: &mut StepCx<'_>) -> Result<()> {
        let (p, w, path) = match self {
            Kernel::DepthToSpace(p, w) => (p, w, "k::depth_to_space::depth_to_space"),
            Kernel::SpaceToDepth(p, w) => (p, w, "k::depth_to_space::space_to_depth"),
        };
        let t = w.pick(["u8", "u16", "i32", "i64"]);
        let n = p.elements();
        let x = cx.input(0, t)?;
        let y = cx.output(0, t)?;
        if x.len != n || y.len != n {
            return Err(cx.err(format!(
                "operand of {} and result of {} elements do not match the parameters ({n} and \
                 {n})",
                x.len, y.len
            )));
        }
        let name = cx.param("params", p);
        cx.call(path, &[format!("&{name}"), x.expr, y.expr]);
        Ok(())
    }
}

#[cfg(feature = "cranelift")]
impl Kernel {
    /// Writes the step's Cranelift code: both kernels are a 6-D strided walk of the input in the
    /// output's order (a transpose of `[B, H, W, s, s, C]` and `[B, H, s, W, s, C]`), copied a
    /// row of `s · C` elements at a time.
    ///
    /// # Errors
    /// Operand sizes that do not match the parameters.
    pub fn emit_clif(&self, cx: &mut crate::clif::cx::KernelCx<'_, '_>) -> Result<()> {
        use super::transpose::clif;
        let (Kernel::DepthToSpace(p, w) | Kernel::SpaceToDepth(p, w)) = self;
        let n = p.elements();
        let x = cx.input(0)?;
        let y = cx.output(0)?;
        clif::expect_len(cx, "the operand", &x, *w, n)?;
        clif::expect_len(cx, "the result", &y, *w, n)?;
        let (b, h, wd, c, s) = (p.batches, p.height, p.width, p.channels, p.block);
        let is = |v: usize| v as isize;
        let (shape, strides) = match self {
            // Output (b, y, by, x, bx, ch) reads the deep input ((b·H + y)·W + x)·s²C + (by·s +
            // bx)·C + ch.
            Kernel::DepthToSpace(..) => (
                [b, h, s, wd, s, c],
                [
                    is(h * wd * s * s * c),
                    is(wd * s * s * c),
                    is(s * c),
                    is(s * s * c),
                    is(c),
                    1,
                ],
            ),
            // Output (b, y, x, by, bx, ch) reads the shallow input ((b·H·s + y·s + by)·W·s +
            // x·s + bx)·C + ch.
            Kernel::SpaceToDepth(..) => (
                [b, h, wd, s, s, c],
                [
                    is(h * s * wd * s * c),
                    is(s * wd * s * c),
                    is(s * c),
                    is(wd * s * c),
                    is(c),
                    1,
                ],
            ),
        };
        clif::strided_gather(cx, x.base, y.base, *w, 0, &shape, &strides);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::Buf;
    use crate::ir::{BlockAttrs, DType, Op};
    use crate::ops::transpose::testutil::{fails_with, infer, kernels, lower_and_run, t};

    #[cfg(feature = "cranelift")]
    #[test]
    fn jit_block_moves_match_the_interpreter() {
        use crate::ops::transpose::testutil::{jit_matches, noise};
        let shapes: &[[usize; 4]] = &[[1, 2, 3, 8], [2, 3, 2, 36], [1, 4, 4, 4], [1, 1, 1, 9]];
        for block in [1, 2, 3] {
            for dtype in [DType::F32, DType::U8, DType::I64] {
                for (k, &[n, h, w, c]) in shapes.iter().enumerate() {
                    if c % (block * block) == 0 {
                        jit_matches(
                            Op::DepthToSpace(BlockAttrs { block_size: block }),
                            vec![t(dtype, &[n, h, w, c])],
                            vec![t(dtype, &[1])],
                            &[noise(n * h * w * c * dtype.size(), k as u64)],
                        )
                        .unwrap_or_else(|e| panic!("d2s {block} {dtype} {:?}: {e}", [n, h, w, c]));
                    }
                    let (hs, ws) = (h * block, w * block);
                    jit_matches(
                        Op::SpaceToDepth(BlockAttrs { block_size: block }),
                        vec![t(dtype, &[n, hs, ws, c])],
                        vec![t(dtype, &[1])],
                        &[noise(n * hs * ws * c * dtype.size(), k as u64)],
                    )
                    .unwrap_or_else(|e| panic!("s2d {block} {dtype} {:?}: {e}", [n, hs, ws, c]));
                }
            }
        }
    }

    #[test]
    fn lowered_round_trip() {
        let input: Vec<i64> = (0..8).collect();
        let (p, out) = lower_and_run(
            Op::DepthToSpace(BlockAttrs { block_size: 2 }),
            vec![t(DType::I64, &[1, 1, 1, 8])],
            vec![t(DType::I64, &[1, 2, 2, 2])],
            &[Buf::from_slice(&input)],
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("depth_to_space_x64".to_string(), 1)]);
        let (p, back) = lower_and_run(
            Op::SpaceToDepth(BlockAttrs { block_size: 2 }),
            vec![t(DType::I64, &[1, 2, 2, 2])],
            vec![t(DType::I64, &[1, 1, 1, 8])],
            &out,
        )
        .unwrap();
        assert_eq!(kernels(&p), vec![("space_to_depth_x64".to_string(), 1)]);
        assert_eq!(back[0].as_slice::<i64>().unwrap(), &input[..]);
    }

    #[test]
    fn shapes_and_divisibility() {
        let d2s = Op::DepthToSpace(BlockAttrs { block_size: 3 });
        let s2d = Op::SpaceToDepth(BlockAttrs { block_size: 3 });
        assert_eq!(
            infer(
                d2s.clone(),
                vec![t(DType::U8, &[1, 2, 3, 18])],
                vec![t(DType::U8, &[1])]
            )
            .unwrap(),
            vec![vec![1, 6, 9, 2]]
        );
        assert_eq!(
            infer(
                s2d.clone(),
                vec![t(DType::U8, &[1, 6, 9, 2])],
                vec![t(DType::U8, &[1])]
            )
            .unwrap(),
            vec![vec![1, 2, 3, 18]]
        );
        assert!(fails_with(
            infer(
                d2s,
                vec![t(DType::U8, &[1, 2, 3, 12])],
                vec![t(DType::U8, &[1])]
            ),
            "divide"
        ));
        assert!(fails_with(
            infer(
                s2d,
                vec![t(DType::U8, &[1, 4, 9, 2])],
                vec![t(DType::U8, &[1])]
            ),
            "multiples"
        ));
    }
}
