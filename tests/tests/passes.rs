//! The optimization passes, one small model per pattern, written with `mvcc::tflite::builder`
//! (the TFLite converter folds most of these patterns itself, so fixtures rarely contain them).
//!
//! For each pattern: the pass rewrites it — the IR text after the pipeline is compared with
//! `tests/out/opt/<case>.txt` (`MVCC_BLESS=1 cargo test -p mvcc-tests --test passes` rewrites
//! them) — and the optimized graph computes what the unoptimized one does (every output and every
//! tensor that still exists: floats within 1e-5 of the tensor's largest magnitude, integers
//! exactly). For each near miss (two readers, a non-constant operand, an activation already fused,
//! a scale that is not exactly 1, …) the graph comes out untouched.

use std::path::Path;

use mvcc::interp::{Buf, Interpreter};
use mvcc::ir::{text, DType, Graph};
use mvcc::passes::{self, PassCx, PassOptions};
use mvcc::tflite::builder::{ModelSpec, OperatorSpec, OptionsSpec, TensorSpec};

// TFLite builtin codes.
const ADD: i32 = 0;
const AVERAGE_POOL_2D: i32 = 1;
const CONV_2D: i32 = 3;
const DEPTHWISE_CONV_2D: i32 = 4;
const DEQUANTIZE: i32 = 6;
const FULLY_CONNECTED: i32 = 9;
const MAX_POOL_2D: i32 = 17;
const MUL: i32 = 18;
const RELU: i32 = 19;
const RELU_N1_TO_1: i32 = 20;
const RELU6: i32 = 21;
const RESHAPE: i32 = 22;
const SUB: i32 = 41;
const DIV: i32 = 42;
const SQUEEZE: i32 = 43;
const PAD: i32 = 34;
const CAST: i32 = 53;
const MAXIMUM: i32 = 55;
const MINIMUM: i32 = 57;
const PADV2: i32 = 60;
const MIRROR_PAD: i32 = 100;
const QUANTIZE: i32 = 114;

// TFLite tensor types.
const F32: i8 = 0;
const F16: i8 = 1;
const I32: i8 = 2;
const U8: i8 = 3;
const I8: i8 = 9;

// Fused activation codes.
const NONE: i8 = 0;
const A_RELU: i8 = 1;
const A_RELU6: i8 = 3;

/// A model under construction.
struct M {
    spec: ModelSpec,
}

impl M {
    fn new() -> M {
        M {
            spec: ModelSpec::default(),
        }
    }

    fn code(&mut self, builtin: i32) -> u32 {
        match self.spec.opcodes.iter().position(|&(c, _)| c == builtin) {
            Some(i) => i as u32,
            None => self.spec.add_opcode(builtin, 1),
        }
    }

    fn tensor(&mut self, name: &str, shape: &[i32], dtype: i8, q: Option<(f32, i64)>) -> i32 {
        let (scale, zero_point) = match q {
            Some((s, z)) => (vec![s], vec![z]),
            None => (Vec::new(), Vec::new()),
        };
        self.spec.add_tensor(TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            scale,
            zero_point,
            ..Default::default()
        })
    }

    fn f32(&mut self, name: &str, shape: &[i32]) -> i32 {
        self.tensor(name, shape, F32, None)
    }

    fn q(&mut self, name: &str, shape: &[i32], dtype: i8, scale: f32, zp: i64) -> i32 {
        self.tensor(name, shape, dtype, Some((scale, zp)))
    }

    fn input(&mut self, t: i32) -> i32 {
        self.spec.inputs.push(t);
        t
    }

    fn output(&mut self, t: i32) {
        self.spec.outputs.push(t);
    }

    fn constant(&mut self, mut t: TensorSpec, data: Vec<u8>) -> i32 {
        t.buffer = self.spec.add_buffer(data);
        self.spec.add_tensor(t)
    }

    fn c_f32(&mut self, name: &str, shape: &[i32], v: &[f32]) -> i32 {
        let t = TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: F32,
            ..Default::default()
        };
        self.constant(t, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn c_i32(&mut self, name: &str, shape: &[i32], v: &[i32], scale: Vec<f32>) -> i32 {
        let zero_point = vec![0; scale.len()];
        let t = TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: I32,
            scale,
            zero_point,
            ..Default::default()
        };
        self.constant(t, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    /// An 8-bit quantized constant (`dtype` I8 or U8), per tensor or per axis (axis 0).
    fn c_q(
        &mut self,
        name: &str,
        shape: &[i32],
        dtype: i8,
        v: &[i32],
        scale: Vec<f32>,
        zp: Vec<i64>,
    ) -> i32 {
        let t = TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            scale,
            zero_point: zp,
            ..Default::default()
        };
        self.constant(t, v.iter().map(|&x| x as u8).collect())
    }

    fn op(&mut self, builtin: i32, inputs: &[i32], outputs: &[i32], options: OptionsSpec) {
        let opcode_index = self.code(builtin);
        self.spec.operators.push(OperatorSpec {
            opcode_index,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            options,
        });
    }

    fn load(&self) -> Graph {
        mvcc::load_model(&self.spec.to_bytes())
            .unwrap_or_else(|e| panic!("the test model does not import: {e}"))
    }
}

fn conv(act: i8) -> OptionsSpec {
    OptionsSpec::Conv2d {
        padding: 0,
        stride: [1, 1],
        act,
        dilation: [1, 1],
    }
}

fn dwconv(mult: i32, act: i8) -> OptionsSpec {
    OptionsSpec::DepthwiseConv2d {
        padding: 0,
        stride: [1, 1],
        depth_multiplier: mult,
        act,
        dilation: [1, 1],
    }
}

/// Deterministic values in `[-range, range]`.
fn values(n: usize, seed: u64, range: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * range
        })
        .collect()
}

/// float16 bits of a value with at most 11 significant bits (exact), normal range.
fn f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let sign = if v < 0.0 { 0x8000 } else { 0 };
    let a = v.abs();
    let e = a.log2().floor() as i32;
    let m = ((a / 2f32.powi(e) - 1.0) * 1024.0).round() as u16;
    sign | (((e + 15) as u16) << 10) | m
}

/// Random inputs for every model input, by type.
fn inputs_for(g: &Graph) -> Vec<Buf> {
    g.inputs
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let tt = g.tensor(t);
            let n = tt.num_elements();
            let v = values(n, 7 + i as u64, 5.0);
            match tt.dtype {
                DType::F32 => Buf::from_slice(&v),
                DType::I8 => Buf::from_bytes(
                    &v.iter()
                        .map(|x| ((x / 5.0 * 127.5).round() as i32).clamp(-128, 127) as i8 as u8)
                        .collect::<Vec<_>>(),
                ),
                DType::U8 => Buf::from_bytes(
                    &v.iter()
                        .map(|x| ((x / 5.0 * 127.5 + 127.5).round() as i32).clamp(0, 255) as u8)
                        .collect::<Vec<_>>(),
                ),
                d => panic!("no test inputs for {d}"),
            }
        })
        .collect()
}

/// Runs `g` as it is (no passes): lowered, planned, interpreted; every value by TFLite index.
/// Every value of a run: TFLite tensor index, type, bytes.
type Values = Vec<(u32, DType, Vec<u8>)>;

fn run(g: &Graph, inputs: &[Buf]) -> (Vec<Buf>, Values) {
    let program = mvcc::lower::lower(g).unwrap_or_else(|e| panic!("lowering failed: {e}"));
    let plan = mvcc::plan::plan(&program);
    let (outs, values) = Interpreter::new(&program, &plan)
        .run_values(inputs, true)
        .unwrap_or_else(|e| panic!("run failed: {e}"));
    let mut by_index = Vec::new();
    for (v, b) in program.values.iter().zip(&values) {
        if let (Some(idx), Some(b)) = (v.tflite_index, b) {
            by_index.push((idx, v.dtype, b.bytes().to_vec()));
        }
    }
    (outs, by_index)
}

/// Compares one tensor: floats within 1e-5 of the reference's largest magnitude, others exactly.
fn same(what: &str, dtype: DType, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: sizes differ");
    if dtype == DType::F32 {
        let f = |b: &[u8]| -> Vec<f32> {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let (g, w) = (f(got), f(want));
        let scale = w
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(f32::MIN_POSITIVE);
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{what}[{i}]: optimized {a}, unoptimized {b} (scale {scale})"
            );
        }
    } else {
        assert_eq!(got, want, "{what}: optimized and unoptimized values differ");
    }
}

/// Runs the pipeline (verifying after every pass) on a copy of `g`.
fn optimize(g: &Graph, options: PassOptions) -> (Graph, PassCx) {
    let mut opt = g.clone();
    let mut cx = PassCx::new(PassOptions {
        verify: true,
        ..options
    });
    passes::run(&mut opt, &mut cx).unwrap_or_else(|e| panic!("passes failed: {e}"));
    (opt, cx)
}

/// Checks that the optimized graph computes what the unoptimized one does.
fn numerically_equal(g: &Graph, opt: &Graph) {
    let inputs = inputs_for(g);
    let (outs0, vals0) = run(g, &inputs);
    let (outs1, vals1) = run(opt, &inputs);
    assert_eq!(outs0.len(), outs1.len());
    for (i, (a, b)) in outs1.iter().zip(&outs0).enumerate() {
        let dtype = g.tensor(g.outputs[i]).dtype;
        same(&format!("output {i}"), dtype, a.bytes(), b.bytes());
    }
    // Every tensor that still exists after the passes holds the same value.
    let mut compared = 0;
    for (idx, dtype, bytes) in &vals1 {
        if let Some((_, _, want)) = vals0.iter().find(|(i, _, _)| i == idx) {
            same(&format!("tensor {idx}"), *dtype, bytes, want);
            compared += 1;
        }
    }
    assert!(compared >= g.outputs.len());
}

fn golden(case: &str, got: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/opt");
    let path = dir.join(format!("{case}.txt"));
    if std::env::var_os("MVCC_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == got,
        "{} differs (re-bless with MVCC_BLESS=1 if the change is intended)\n--- expected\n{want}\n--- got\n{got}",
        path.display()
    );
}

/// The pattern is rewritten by `pass`: golden text, numerical equality.
fn rewritten(case: &str, m: &M, pass: &str) -> Graph {
    let g = m.load();
    let (opt, cx) = optimize(&g, PassOptions::default());
    let fired: usize = cx
        .stats
        .iter()
        .filter(|s| s.pass == pass)
        .map(|s| s.rewrites)
        .sum();
    assert!(
        fired > 0,
        "{case}: pass {pass} did not rewrite anything:\n{}",
        passes::report(&cx.stats)
    );
    assert_ne!(
        text::graph_to_text(&g),
        text::graph_to_text(&opt),
        "{case}: the graph is unchanged"
    );
    golden(case, &text::graph_to_text(&opt));
    numerically_equal(&g, &opt);
    opt
}

/// The near miss is left alone by every pass.
fn untouched(case: &str, m: &M) {
    let g = m.load();
    let (opt, cx) = optimize(&g, PassOptions::default());
    assert_eq!(
        text::graph_to_text(&g),
        text::graph_to_text(&opt),
        "{case}: the passes changed a graph they should not touch:\n{}",
        passes::report(&cx.stats)
    );
    assert!(
        cx.stats.iter().all(|s| s.rewrites == 0),
        "{case}:\n{}",
        passes::report(&cx.stats)
    );
    numerically_equal(&g, &opt);
}

fn count(g: &Graph, kind: &str) -> usize {
    g.op_ids()
        .into_iter()
        .filter(|&o| g.op(o).op.kind().name() == kind)
        .count()
}

// ---------------------------------------------------------------------------------------------
// fold_constants

/// `x + ((c1 + c2) · c3)`: the constant chain folds into one constant.
fn constant_chain() -> M {
    let mut m = M::new();
    let x = m.f32("x", &[4]);
    m.input(x);
    let c1 = m.c_f32("c1", &[4], &[1.0, 2.0, 3.0, 4.0]);
    let c2 = m.c_f32("c2", &[1], &[0.5]);
    let c3 = m.c_f32("c3", &[4], &[2.0, -1.0, 0.25, 3.0]);
    let t1 = m.f32("t1", &[4]);
    let t2 = m.f32("t2", &[4]);
    let y = m.f32("y", &[4]);
    m.op(ADD, &[c1, c2], &[t1], OptionsSpec::Add { act: NONE });
    m.op(MUL, &[t1, c3], &[t2], OptionsSpec::Mul { act: NONE });
    m.op(ADD, &[x, t2], &[y], OptionsSpec::Add { act: NONE });
    m.output(y);
    m
}

#[test]
fn fold_constants_chain() {
    let g = rewritten("fold_constants_chain", &constant_chain(), "fold_constants");
    assert_eq!(g.num_ops(), 1);
}

#[test]
fn fold_constants_respects_its_size_cap() {
    let g = constant_chain().load();
    let (opt, _) = optimize(
        &g,
        PassOptions {
            fold_max_bytes: 8,
            ..PassOptions::default()
        },
    );
    assert_eq!(opt.num_ops(), 3, "a result over the cap was folded");
    let (opt, _) = optimize(
        &g,
        PassOptions {
            fold_budget_bytes: 16,
            ..PassOptions::default()
        },
    );
    assert_eq!(opt.num_ops(), 2, "only the first op fits the budget");
}

#[test]
fn fold_constants_float16_weights() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w: Vec<f32> = values(54, 3, 2.0)
        .iter()
        .map(|v| (v * 8.0).round() / 8.0)
        .collect();
    let wb: Vec<u8> = w.iter().flat_map(|&v| f16_bits(v).to_le_bytes()).collect();
    let w16 = m.constant(
        TensorSpec {
            name: "w16".into(),
            shape: vec![3, 3, 3, 2],
            dtype: F16,
            ..Default::default()
        },
        wb,
    );
    let wf = m.f32("w", &[3, 3, 3, 2]);
    let b = m.c_f32("b", &[3], &[0.1, -0.2, 0.3]);
    let y = m.f32("y", &[1, 5, 5, 3]);
    m.op(DEQUANTIZE, &[w16], &[wf], OptionsSpec::None);
    m.op(CONV_2D, &[x, wf, b], &[y], conv(NONE));
    m.output(y);
    let g = rewritten("fold_constants_f16_weights", &m, "fold_constants");
    assert_eq!(count(&g, "dequantize"), 0);
    // The folded weights are exactly the float16 values.
    let conv_op = g.op_ids()[0];
    let wt = g.tensor(g.op(conv_op).inputs[1].unwrap());
    let got: Vec<f32> = wt
        .data
        .as_ref()
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(got, w);
}

#[test]
fn fold_constants_int8_weights() {
    let mut m = M::new();
    let x = m.f32("x", &[2, 6]);
    m.input(x);
    let codes: Vec<i32> = (0..24).map(|i| (i * 37 % 255) - 127).collect();
    let w8 = m.c_q(
        "w8",
        &[4, 6],
        I8,
        &codes,
        vec![0.01, 0.02, 0.005, 0.04],
        vec![0; 4],
    );
    let wf = m.f32("w", &[4, 6]);
    let y = m.f32("y", &[2, 4]);
    m.op(DEQUANTIZE, &[w8], &[wf], OptionsSpec::None);
    m.op(
        FULLY_CONNECTED,
        &[x, wf, -1],
        &[y],
        OptionsSpec::FullyConnected { act: NONE },
    );
    m.output(y);
    let g = rewritten("fold_constants_i8_weights", &m, "fold_constants");
    assert_eq!(count(&g, "dequantize"), 0);
}

#[test]
fn fold_constants_near_miss_non_constant_operand() {
    let mut m = M::new();
    let x = m.q("x", &[2, 3], I8, 0.5, 3);
    m.input(x);
    let y = m.f32("y", &[2, 3]);
    m.op(DEQUANTIZE, &[x], &[y], OptionsSpec::None);
    m.output(y);
    untouched("fold_constants_near_miss", &m);
}

// ---------------------------------------------------------------------------------------------
// remove_dead_ops

#[test]
fn remove_dead_ops_unused_results() {
    let mut m = M::new();
    let x = m.f32("x", &[4]);
    m.input(x);
    let c = m.c_f32("c", &[4], &[1.0, 2.0, 3.0, 4.0]);
    let (d1, d2, y) = (m.f32("dead1", &[4]), m.f32("dead2", &[4]), m.f32("y", &[4]));
    m.op(RELU, &[x], &[d1], OptionsSpec::None);
    m.op(MUL, &[d1, c], &[d2], OptionsSpec::Mul { act: NONE });
    m.op(ADD, &[x, x], &[y], OptionsSpec::Add { act: NONE });
    m.output(y);
    let g = rewritten("remove_dead_ops", &m, "remove_dead_ops");
    assert_eq!(g.num_ops(), 1);
}

#[test]
fn remove_dead_ops_near_miss_every_result_used() {
    let mut m = M::new();
    let x = m.f32("x", &[4]);
    m.input(x);
    let (y1, y2) = (m.f32("y1", &[4]), m.f32("y2", &[4]));
    m.op(RELU, &[x], &[y1], OptionsSpec::None);
    m.op(ADD, &[x, x], &[y2], OptionsSpec::Add { act: NONE });
    m.output(y1);
    m.output(y2);
    untouched("remove_dead_ops_near_miss", &m);
}

// ---------------------------------------------------------------------------------------------
// fold_batch_norm

/// conv → MUL by a per-channel scale → ADD of a per-channel shift with a fused RELU6.
#[test]
fn fold_batch_norm_conv_mul_add() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[3, 3, 3, 2], &values(54, 1, 1.0));
    let s = m.c_f32("bn_scale", &[3], &[0.5, -2.0, 1.25]);
    let c = m.c_f32("bn_shift", &[1, 1, 1, 3], &[0.1, 0.2, -0.3]);
    let (t0, t1, y) = (
        m.f32("conv", &[1, 5, 5, 3]),
        m.f32("scaled", &[1, 5, 5, 3]),
        m.f32("y", &[1, 5, 5, 3]),
    );
    m.op(CONV_2D, &[x, w, -1], &[t0], conv(NONE));
    m.op(MUL, &[t0, s], &[t1], OptionsSpec::Mul { act: NONE });
    m.op(ADD, &[c, t1], &[y], OptionsSpec::Add { act: A_RELU6 });
    m.output(y);
    let g = rewritten("fold_batch_norm_conv_mul_add", &m, "fold_batch_norm");
    assert_eq!(g.num_ops(), 1);
}

/// depthwise conv (with bias) → ADD of a scalar → MUL by a per-channel scale.
#[test]
fn fold_batch_norm_depthwise_add_mul() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[1, 3, 3, 4], &values(36, 2, 1.0));
    let b = m.c_f32("b", &[4], &[0.5, 0.25, -0.5, 1.0]);
    let c = m.c_f32("shift", &[], &[0.75]);
    let s = m.c_f32("scale", &[4], &[2.0, 0.5, -1.0, 3.0]);
    let (t0, t1, y) = (
        m.f32("dw", &[1, 5, 5, 4]),
        m.f32("shifted", &[1, 5, 5, 4]),
        m.f32("y", &[1, 5, 5, 4]),
    );
    m.op(DEPTHWISE_CONV_2D, &[x, w, b], &[t0], dwconv(2, NONE));
    m.op(ADD, &[t0, c], &[t1], OptionsSpec::Add { act: NONE });
    m.op(MUL, &[s, t1], &[y], OptionsSpec::Mul { act: NONE });
    m.output(y);
    let g = rewritten("fold_batch_norm_depthwise_add_mul", &m, "fold_batch_norm");
    assert_eq!(g.num_ops(), 1);
}

/// fully connected → SUB from a constant → SUB of a constant.
#[test]
fn fold_batch_norm_fully_connected_subs() {
    let mut m = M::new();
    let x = m.f32("x", &[2, 6]);
    m.input(x);
    let w = m.c_f32("w", &[4, 6], &values(24, 4, 1.0));
    let b = m.c_f32("b", &[4], &[0.5, 0.25, -0.5, 1.0]);
    let c1 = m.c_f32("c1", &[4], &[1.0, 2.0, 3.0, 4.0]);
    let c2 = m.c_f32("c2", &[1, 4], &[0.5, 0.5, -1.5, 2.0]);
    let (t0, t1, y) = (
        m.f32("fc", &[2, 4]),
        m.f32("neg", &[2, 4]),
        m.f32("y", &[2, 4]),
    );
    m.op(
        FULLY_CONNECTED,
        &[x, w, b],
        &[t0],
        OptionsSpec::FullyConnected { act: NONE },
    );
    m.op(SUB, &[c1, t0], &[t1], OptionsSpec::Sub { act: NONE });
    m.op(SUB, &[t1, c2], &[y], OptionsSpec::Sub { act: A_RELU });
    m.output(y);
    let g = rewritten(
        "fold_batch_norm_fully_connected_subs",
        &m,
        "fold_batch_norm",
    );
    assert_eq!(g.num_ops(), 1);
}

/// An int8 conv: per-tensor (not per-channel) weights: input, filter, bias, output quantization.
fn conv_i8(m: &mut M, out_scale: f32, out_zp: i64, act: i8) -> (i32, i32) {
    let x = m.q("x", &[1, 4, 4, 3], I8, 0.05, -10);
    m.input(x);
    let codes: Vec<i32> = (0..108).map(|i| (i * 53 % 255) - 127).collect();
    let ws = [0.01f32, 0.02, 0.015, 0.03];
    let w = m.c_q("w", &[4, 3, 3, 3], I8, &codes, ws.to_vec(), vec![0; 4]);
    let bs: Vec<f32> = ws.iter().map(|s| 0.05 * s).collect();
    let b = m.c_i32("b", &[4], &[100, -200, 300, 0], bs);
    let y = m.q("conv", &[1, 4, 4, 4], I8, out_scale, out_zp);
    m.op(CONV_2D, &[x, w, b], &[y], conv(act));
    (x, y)
}

/// int8 conv → MUL by exactly 1 → ADD of exactly 0: both removed (provably identical).
#[test]
fn fold_batch_norm_int8_identities() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.1, -5, NONE);
    let one = m.c_q("one", &[4], I8, &[1, 1, 1, 1], vec![1.0], vec![0]);
    let zero = m.c_q("zero", &[1], I8, &[-5], vec![0.1], vec![-5]);
    let t1 = m.q("times_one", &[1, 4, 4, 4], I8, 0.1, -5);
    let y = m.q("y", &[1, 4, 4, 4], I8, 0.1, -5);
    m.op(MUL, &[t0, one], &[t1], OptionsSpec::Mul { act: NONE });
    m.op(ADD, &[t1, zero], &[y], OptionsSpec::Add { act: NONE });
    m.output(y);
    let g = rewritten("fold_batch_norm_int8_identities", &m, "fold_batch_norm");
    assert_eq!(g.num_ops(), 1);
}

#[test]
fn fold_batch_norm_near_miss_int8_scale_not_one() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.1, -5, NONE);
    let two = m.c_q("two", &[4], I8, &[2, 2, 2, 2], vec![1.0], vec![0]);
    let y = m.q("y", &[1, 4, 4, 4], I8, 0.1, -5);
    m.op(MUL, &[t0, two], &[y], OptionsSpec::Mul { act: NONE });
    m.output(y);
    untouched("fold_batch_norm_near_miss_int8", &m);
}

/// Float near misses, one branch each: a second reader, an activation already fused, a
/// non-constant multiplier, a constant that broadcasts along another axis.
#[test]
fn fold_batch_norm_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let s = m.c_f32("scale", &[3], &[0.5, -2.0, 1.25]);
    let h = m.c_f32("per_row", &[1, 5, 1, 1], &[1.0, 2.0, 3.0, 4.0, 5.0]);
    let branch = |m: &mut M, name: &str, act: i8| {
        let w = m.c_f32(&format!("w_{name}"), &[3, 3, 3, 2], &values(54, 9, 1.0));
        let t = m.f32(&format!("conv_{name}"), &[1, 5, 5, 3]);
        m.op(CONV_2D, &[x, w, -1], &[t], conv(act));
        t
    };
    // Two readers: the MUL and a model output.
    let t_a = branch(&mut m, "two_readers", NONE);
    let y_a = m.f32("y_two_readers", &[1, 5, 5, 3]);
    m.op(MUL, &[t_a, s], &[y_a], OptionsSpec::Mul { act: NONE });
    m.output(t_a);
    m.output(y_a);
    // Activation already fused.
    let t_b = branch(&mut m, "fused_relu", A_RELU);
    let y_b = m.f32("y_fused_relu", &[1, 5, 5, 3]);
    m.op(MUL, &[t_b, s], &[y_b], OptionsSpec::Mul { act: NONE });
    m.output(y_b);
    // Non-constant multiplier.
    let t_c = branch(&mut m, "non_const", NONE);
    let t_d = branch(&mut m, "other", NONE);
    let y_c = m.f32("y_non_const", &[1, 5, 5, 3]);
    m.op(MUL, &[t_c, t_d], &[y_c], OptionsSpec::Mul { act: NONE });
    m.output(y_c);
    // Not per channel.
    let t_e = branch(&mut m, "per_row", NONE);
    let y_e = m.f32("y_per_row", &[1, 5, 5, 3]);
    m.op(MUL, &[t_e, h], &[y_e], OptionsSpec::Mul { act: NONE });
    m.output(y_e);
    untouched("fold_batch_norm_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// fuse_activation

/// conv → RELU; ADD → RELU6; max pool → MAXIMUM(·, −1) → MINIMUM(·, 1); MUL → MAXIMUM(0, ·);
/// average pool → RELU_N1_TO_1.
#[test]
fn fuse_activation_float() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[3, 3, 3, 2], &values(54, 5, 1.0));
    let c = m.c_f32("c", &[3], &[0.5, -1.0, 2.0]);
    let (lo, hi, zero) = (
        m.c_f32("lo", &[], &[-1.0]),
        m.c_f32("hi", &[1], &[1.0]),
        m.c_f32("zero", &[1, 1], &[0.0]),
    );
    let t = |m: &mut M, n: &str| m.f32(n, &[1, 5, 5, 3]);
    let (t0, a) = (t(&mut m, "conv"), t(&mut m, "relu"));
    m.op(CONV_2D, &[x, w, -1], &[t0], conv(NONE));
    m.op(RELU, &[t0], &[a], OptionsSpec::None);
    let (t1, b) = (t(&mut m, "add"), t(&mut m, "relu6"));
    m.op(ADD, &[a, c], &[t1], OptionsSpec::Add { act: NONE });
    m.op(RELU6, &[t1], &[b], OptionsSpec::None);
    let (t2, t3, y) = (t(&mut m, "pool"), t(&mut m, "max"), t(&mut m, "y"));
    m.op(
        MAX_POOL_2D,
        &[b],
        &[t2],
        OptionsSpec::Pool2d {
            padding: 0,
            stride: [1, 1],
            filter: [2, 2],
            act: NONE,
        },
    );
    m.op(MAXIMUM, &[t2, lo], &[t3], OptionsSpec::None);
    m.op(MINIMUM, &[hi, t3], &[y], OptionsSpec::None);
    m.output(y);
    let (t4, y2) = (m.f32("mul", &[1, 5, 5, 2]), m.f32("y2", &[1, 5, 5, 2]));
    m.op(MUL, &[x, x], &[t4], OptionsSpec::Mul { act: NONE });
    m.op(MAXIMUM, &[zero, t4], &[y2], OptionsSpec::None);
    m.output(y2);
    let (t5, y3) = (m.f32("avg", &[1, 5, 5, 2]), m.f32("y3", &[1, 5, 5, 2]));
    m.op(
        AVERAGE_POOL_2D,
        &[x],
        &[t5],
        OptionsSpec::Pool2d {
            padding: 0,
            stride: [1, 1],
            filter: [2, 2],
            act: NONE,
        },
    );
    m.op(RELU_N1_TO_1, &[t5], &[y3], OptionsSpec::None);
    m.output(y3);
    let g = rewritten("fuse_activation_f32", &m, "fuse_activation");
    for k in ["relu", "relu6", "relu_n1_to_1", "maximum", "minimum"] {
        assert_eq!(count(&g, k), 0, "{k} left");
    }
}

/// int8 conv → RELU6 (same quantization in and out); int8 ADD → MAXIMUM/MINIMUM clamp on the
/// codes of [0, 6]; uint8 average pool → RELU.
#[test]
fn fuse_activation_quantized() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.05, -100, NONE);
    let y0 = m.q("relu6", &[1, 4, 4, 4], I8, 0.05, -100);
    m.op(RELU6, &[t0], &[y0], OptionsSpec::None);
    m.output(y0);
    // ADD of two inputs, then the clamp pair on the codes of 0 and 6 (scale 0.05, zero point −100).
    let a = m.q("a", &[2, 8], I8, 0.04, 3);
    let b = m.q("b", &[2, 8], I8, 0.03, -7);
    m.input(a);
    m.input(b);
    let s = m.q("sum", &[2, 8], I8, 0.05, -100);
    m.op(ADD, &[a, b], &[s], OptionsSpec::Add { act: NONE });
    let lo = m.c_q("lo", &[1], I8, &[-100], vec![0.05], vec![-100]);
    let hi = m.c_q("hi", &[1], I8, &[20], vec![0.05], vec![-100]);
    let u = m.q("max", &[2, 8], I8, 0.05, -100);
    let y1 = m.q("clamped", &[2, 8], I8, 0.05, -100);
    m.op(MAXIMUM, &[s, lo], &[u], OptionsSpec::None);
    m.op(MINIMUM, &[u, hi], &[y1], OptionsSpec::None);
    m.output(y1);
    // uint8 average pool → RELU.
    let p = m.q("p", &[1, 4, 4, 2], U8, 0.1, 128);
    m.input(p);
    let pooled = m.q("pooled", &[1, 3, 3, 2], U8, 0.1, 128);
    let y2 = m.q("relu_u8", &[1, 3, 3, 2], U8, 0.1, 128);
    m.op(
        AVERAGE_POOL_2D,
        &[p],
        &[pooled],
        OptionsSpec::Pool2d {
            padding: 1,
            stride: [1, 1],
            filter: [2, 2],
            act: NONE,
        },
    );
    m.op(RELU, &[pooled], &[y2], OptionsSpec::None);
    m.output(y2);
    let g = rewritten("fuse_activation_quantized", &m, "fuse_activation");
    assert_eq!(g.num_ops(), 3);
}

/// Near misses: an activation already fused; two readers; an int8 RELU that changes the scale;
/// float clamp bounds that are no activation's; MINIMUM(·, 6) alone.
#[test]
fn fuse_activation_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[3, 3, 3, 2], &values(54, 5, 1.0));
    let t = |m: &mut M, n: &str| m.f32(n, &[1, 5, 5, 3]);
    let (t0, y0) = (t(&mut m, "conv_relu"), t(&mut m, "relu6"));
    m.op(CONV_2D, &[x, w, -1], &[t0], conv(A_RELU));
    m.op(RELU6, &[t0], &[y0], OptionsSpec::None);
    m.output(y0);
    let (t1, y1) = (t(&mut m, "conv2"), t(&mut m, "relu"));
    m.op(CONV_2D, &[x, w, -1], &[t1], conv(NONE));
    m.op(RELU, &[t1], &[y1], OptionsSpec::None);
    m.output(t1);
    m.output(y1);
    let (lo, hi, six) = (
        m.c_f32("lo", &[1], &[-0.5]),
        m.c_f32("hi", &[1], &[5.0]),
        m.c_f32("six", &[1], &[6.0]),
    );
    let u = |m: &mut M, n: &str| m.f32(n, &[1, 5, 5, 2]);
    let (t2, u2, y2) = (u(&mut m, "add"), u(&mut m, "max"), u(&mut m, "clamp05"));
    m.op(ADD, &[x, x], &[t2], OptionsSpec::Add { act: NONE });
    m.op(MAXIMUM, &[t2, lo], &[u2], OptionsSpec::None);
    m.op(MINIMUM, &[u2, hi], &[y2], OptionsSpec::None);
    m.output(y2);
    let (t3, y3) = (u(&mut m, "mul"), u(&mut m, "min6"));
    m.op(MUL, &[x, x], &[t3], OptionsSpec::Mul { act: NONE });
    m.op(MINIMUM, &[t3, six], &[y3], OptionsSpec::None);
    m.output(y3);
    // int8: RELU with another output scale.
    let q = m.q("q", &[2, 8], I8, 0.04, 3);
    m.input(q);
    let s = m.q("sum", &[2, 8], I8, 0.05, -100);
    let y4 = m.q("relu_rescaled", &[2, 8], I8, 0.025, -128);
    m.op(ADD, &[q, q], &[s], OptionsSpec::Add { act: NONE });
    m.op(RELU, &[s], &[y4], OptionsSpec::None);
    m.output(y4);
    untouched("fuse_activation_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// recognize_hard_swish

/// Three spellings of `x · relu6(x + 3) / 6` on three inputs.
#[test]
fn recognize_hard_swish_float() {
    let mut m = M::new();
    let sh = [1, 4, 4, 3];
    let three = m.c_f32("three", &[1], &[3.0]);
    let six = m.c_f32("six", &[], &[6.0]);
    let sixth = m.c_f32("sixth", &[1], &[1.0 / 6.0]);
    let (zero, six_b) = (
        m.c_f32("zero", &[1], &[0.0]),
        m.c_f32("six_b", &[1], &[6.0]),
    );
    // (x · relu6(x + 3)) · (1/6)
    let x = m.f32("x", &sh);
    m.input(x);
    let (a, r, p, y) = (
        m.f32("a", &sh),
        m.f32("r", &sh),
        m.f32("p", &sh),
        m.f32("y", &sh),
    );
    m.op(ADD, &[x, three], &[a], OptionsSpec::Add { act: NONE });
    m.op(RELU6, &[a], &[r], OptionsSpec::None);
    m.op(MUL, &[x, r], &[p], OptionsSpec::Mul { act: NONE });
    m.op(MUL, &[p, sixth], &[y], OptionsSpec::Mul { act: NONE });
    m.output(y);
    // (relu6(3 + x2) · x2) / 6, the RELU6 fused into the ADD.
    let x2 = m.f32("x2", &sh);
    m.input(x2);
    let (r2, p2, y2) = (m.f32("r2", &sh), m.f32("p2", &sh), m.f32("y2", &sh));
    m.op(ADD, &[three, x2], &[r2], OptionsSpec::Add { act: A_RELU6 });
    m.op(MUL, &[r2, x2], &[p2], OptionsSpec::Mul { act: NONE });
    m.op(DIV, &[p2, six], &[y2], OptionsSpec::Div { act: NONE });
    m.output(y2);
    // x3 · (min(max(x3 + 3, 0), 6) / 6)
    let x3 = m.f32("x3", &sh);
    m.input(x3);
    let (a3, u3, r3, s3, y3) = (
        m.f32("a3", &sh),
        m.f32("u3", &sh),
        m.f32("r3", &sh),
        m.f32("s3", &sh),
        m.f32("y3", &sh),
    );
    m.op(ADD, &[x3, three], &[a3], OptionsSpec::Add { act: NONE });
    m.op(MAXIMUM, &[a3, zero], &[u3], OptionsSpec::None);
    m.op(MINIMUM, &[u3, six_b], &[r3], OptionsSpec::None);
    m.op(DIV, &[r3, six], &[s3], OptionsSpec::Div { act: NONE });
    m.op(MUL, &[x3, s3], &[y3], OptionsSpec::Mul { act: NONE });
    m.output(y3);
    let g = rewritten("recognize_hard_swish_f32", &m, "recognize_hard_swish");
    assert_eq!(count(&g, "hard_swish"), 3);
    assert_eq!(g.num_ops(), 3);
}

/// Near misses: `x + 2.5`; a pattern whose `relu6` is also a model output; an int8 pattern.
#[test]
fn recognize_hard_swish_near_misses() {
    let mut m = M::new();
    let sh = [1, 4, 4, 3];
    let not_three = m.c_f32("two_and_a_half", &[1], &[2.5]);
    let three = m.c_f32("three", &[1], &[3.0]);
    let six = m.c_f32("six", &[], &[6.0]);
    for (k, c) in [(0, not_three), (1, three)] {
        let x = m.f32(&format!("x{k}"), &sh);
        m.input(x);
        let (r, p, y) = (
            m.f32(&format!("r{k}"), &sh),
            m.f32(&format!("p{k}"), &sh),
            m.f32(&format!("y{k}"), &sh),
        );
        m.op(ADD, &[x, c], &[r], OptionsSpec::Add { act: A_RELU6 });
        m.op(MUL, &[x, r], &[p], OptionsSpec::Mul { act: NONE });
        m.op(DIV, &[p, six], &[y], OptionsSpec::Div { act: NONE });
        m.output(y);
        if k == 1 {
            m.output(r);
        }
    }
    // int8: (x · relu6(x + 3)) · (1/6) in quantized ops.
    let x = m.q("xq", &sh, I8, 0.05, 0);
    m.input(x);
    let three_q = m.c_q("three_q", &[1], I8, &[60], vec![0.05], vec![0]);
    let sixth_q = m.c_q(
        "sixth_q",
        &[1],
        I8,
        &[127],
        vec![1.0 / 6.0 / 127.0],
        vec![0],
    );
    let (r, p, y) = (
        m.q("rq", &sh, I8, 6.0 / 255.0, -128),
        m.q("pq", &sh, I8, 0.2, 0),
        m.q("yq", &sh, I8, 0.05, 0),
    );
    m.op(ADD, &[x, three_q], &[r], OptionsSpec::Add { act: A_RELU6 });
    m.op(MUL, &[x, r], &[p], OptionsSpec::Mul { act: NONE });
    m.op(MUL, &[p, sixth_q], &[y], OptionsSpec::Mul { act: NONE });
    m.output(y);
    untouched("recognize_hard_swish_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// remove_identity

/// RESHAPE to the same shape → CAST to the same type → SQUEEZE with nothing to squeeze → RELU.
#[test]
fn remove_identity_float() {
    let mut m = M::new();
    let sh = [2, 3, 4];
    let x = m.f32("x", &sh);
    m.input(x);
    let shape = m.c_i32("shape", &[3], &sh, Vec::new());
    let (a, b, c, y) = (
        m.f32("reshaped", &sh),
        m.f32("cast", &sh),
        m.f32("squeezed", &sh),
        m.f32("y", &sh),
    );
    m.op(
        RESHAPE,
        &[x, shape],
        &[a],
        OptionsSpec::Reshape {
            new_shape: sh.to_vec(),
        },
    );
    m.op(CAST, &[a], &[b], OptionsSpec::None);
    m.op(
        SQUEEZE,
        &[b],
        &[c],
        OptionsSpec::Squeeze { dims: Vec::new() },
    );
    m.op(RELU, &[c], &[y], OptionsSpec::None);
    m.output(y);
    let g = rewritten("remove_identity_f32", &m, "remove_identity");
    assert_eq!(g.num_ops(), 1);
}

/// int8 conv → DEQUANTIZE → QUANTIZE (same parameters) → QUANTIZE (same parameters) → RELU6:
/// the identities go, which lets the RELU6 fuse into the conv.
#[test]
fn remove_identity_int8() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.05, -100, NONE);
    let sh = [1, 4, 4, 4];
    let f = m.f32("dequantized", &sh);
    let q1 = m.q("requantized", &sh, I8, 0.05, -100);
    let q2 = m.q("requantized2", &sh, I8, 0.05, -100);
    let y = m.q("y", &sh, I8, 0.05, -100);
    m.op(DEQUANTIZE, &[t0], &[f], OptionsSpec::None);
    m.op(QUANTIZE, &[f], &[q1], OptionsSpec::None);
    m.op(QUANTIZE, &[q1], &[q2], OptionsSpec::None);
    m.op(RELU6, &[q2], &[y], OptionsSpec::None);
    m.output(y);
    let g = rewritten("remove_identity_i8", &m, "remove_identity");
    assert_eq!(g.num_ops(), 1);
}

/// The identity's result is a model output: the conv writes it directly.
#[test]
fn remove_identity_model_output() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[3, 3, 3, 2], &values(54, 5, 1.0));
    let shape = m.c_i32("shape", &[4], &[1, 5, 5, 3], Vec::new());
    let (t0, y) = (m.f32("conv", &[1, 5, 5, 3]), m.f32("y", &[1, 5, 5, 3]));
    m.op(CONV_2D, &[x, w, -1], &[t0], conv(A_RELU));
    m.op(
        RESHAPE,
        &[t0, shape],
        &[y],
        OptionsSpec::Reshape {
            new_shape: vec![1, 5, 5, 3],
        },
    );
    m.output(y);
    let g = rewritten("remove_identity_model_output", &m, "remove_identity");
    assert_eq!(g.num_ops(), 1);
    assert_eq!(g.outputs, m.load().outputs);
}

/// Near misses: a RESHAPE that changes the shape; DEQUANTIZE → QUANTIZE to another scale;
/// QUANTIZE int8 → int8 to another zero point; a RESHAPE from a model input to a model output.
#[test]
fn remove_identity_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[2, 3, 4]);
    m.input(x);
    let shape = m.c_i32("shape", &[2], &[6, 4], Vec::new());
    let y0 = m.f32("y0", &[6, 4]);
    m.op(
        RESHAPE,
        &[x, shape],
        &[y0],
        OptionsSpec::Reshape {
            new_shape: vec![6, 4],
        },
    );
    m.output(y0);
    let shape3 = m.c_i32("shape3", &[3], &[2, 3, 4], Vec::new());
    let y1 = m.f32("y1", &[2, 3, 4]);
    m.op(
        RESHAPE,
        &[x, shape3],
        &[y1],
        OptionsSpec::Reshape {
            new_shape: vec![2, 3, 4],
        },
    );
    m.output(y1);
    let q = m.q("q", &[8], I8, 0.05, 3);
    m.input(q);
    let (f, q1) = (m.f32("dq", &[8]), m.q("q_other_scale", &[8], I8, 0.1, 3));
    m.op(DEQUANTIZE, &[q], &[f], OptionsSpec::None);
    m.op(QUANTIZE, &[f], &[q1], OptionsSpec::None);
    m.output(q1);
    let q2 = m.q("q_other_zp", &[8], I8, 0.05, 4);
    m.op(QUANTIZE, &[q], &[q2], OptionsSpec::None);
    m.output(q2);
    untouched("remove_identity_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// fold_pad

fn conv_opts(padding: i8, stride: [i32; 2], dilation: [i32; 2], act: i8) -> OptionsSpec {
    OptionsSpec::Conv2d {
        padding,
        stride,
        act,
        dilation,
    }
}

fn dwconv_opts(padding: i8, stride: [i32; 2], dilation: [i32; 2], act: i8) -> OptionsSpec {
    OptionsSpec::DepthwiseConv2d {
        padding,
        stride,
        depth_multiplier: 1,
        act,
        dilation,
    }
}

const SAME: i8 = 0;
const VALID: i8 = 1;

/// A `[4, 2]` paddings constant for `[top, bottom]`, `[left, right]` (batch and channels 0).
fn hw_paddings(m: &mut M, name: &str, h: [i32; 2], w: [i32; 2]) -> i32 {
    m.c_i32(
        name,
        &[4, 2],
        &[0, 0, h[0], h[1], w[0], w[1], 0, 0],
        Vec::new(),
    )
}

/// Float: PAD [0,1]×[0,1] → 3×3 stride-2 VALID conv (the converters' "same" for stride 2); a
/// PAD [1,2]×[2,1] read by a SAME depthwise conv and a dilated VALID conv (the amounts add); a
/// PADV2 with −0.0 → conv; two PADs in a row → conv.
#[test]
fn fold_pad_float() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 7, 7, 2]);
    m.input(x);
    let w = m.c_f32("w", &[3, 3, 3, 2], &values(54, 11, 1.0));
    let b = m.c_f32("b", &[3], &[0.5, -0.25, 1.0]);
    let p0 = hw_paddings(&mut m, "p0", [0, 1], [0, 1]);
    let (t0, y0) = (m.f32("padded0", &[1, 8, 8, 2]), m.f32("y0", &[1, 3, 3, 3]));
    m.op(PAD, &[x, p0], &[t0], OptionsSpec::None);
    m.op(
        CONV_2D,
        &[t0, w, b],
        &[y0],
        conv_opts(VALID, [2, 2], [1, 1], A_RELU6),
    );
    m.output(y0);
    let p1 = hw_paddings(&mut m, "p1", [1, 2], [2, 1]);
    let t1 = m.f32("padded1", &[1, 10, 10, 2]);
    m.op(PAD, &[x, p1], &[t1], OptionsSpec::None);
    let wd = m.c_f32("wd", &[1, 3, 3, 2], &values(18, 12, 1.0));
    let y1 = m.f32("y1", &[1, 10, 10, 2]);
    m.op(
        DEPTHWISE_CONV_2D,
        &[t1, wd, -1],
        &[y1],
        dwconv_opts(SAME, [1, 1], [1, 1], NONE),
    );
    m.output(y1);
    let y2 = m.f32("y2", &[1, 3, 4, 3]);
    m.op(
        CONV_2D,
        &[t1, w, -1],
        &[y2],
        conv_opts(VALID, [3, 2], [2, 2], NONE),
    );
    m.output(y2);
    let zero = m.c_f32("minus_zero", &[1], &[-0.0]);
    let t3 = m.f32("padded3", &[1, 8, 8, 2]);
    m.op(PADV2, &[x, p0, zero], &[t3], OptionsSpec::None);
    let y3 = m.f32("y3", &[1, 4, 4, 3]);
    m.op(
        CONV_2D,
        &[t3, w, b],
        &[y3],
        conv_opts(SAME, [2, 2], [1, 1], NONE),
    );
    m.output(y3);
    let (t4, t5) = (
        m.f32("padded4", &[1, 8, 8, 2]),
        m.f32("padded5", &[1, 10, 10, 2]),
    );
    m.op(PAD, &[x, p0], &[t4], OptionsSpec::None);
    m.op(PAD, &[t4, p0], &[t5], OptionsSpec::None);
    let y4 = m.f32("y4", &[1, 8, 8, 3]);
    m.op(
        CONV_2D,
        &[t5, w, b],
        &[y4],
        conv_opts(VALID, [1, 1], [1, 1], NONE),
    );
    m.output(y4);
    let g = rewritten("fold_pad_f32", &m, "fold_pad");
    assert_eq!(count(&g, "pad") + count(&g, "pad_v2"), 0);
}

/// int8 PAD → conv (stride 2); uint8 PADV2 with the zero point as its value (4 rows on top)
/// → depthwise SAME.
#[test]
fn fold_pad_quantized() {
    let mut m = M::new();
    let x = m.q("x", &[1, 6, 6, 3], I8, 0.05, -10);
    m.input(x);
    let codes: Vec<i32> = (0..108).map(|i| (i * 53 % 255) - 127).collect();
    let ws = [0.01f32, 0.02, 0.015, 0.03];
    let w = m.c_q("w", &[4, 3, 3, 3], I8, &codes, ws.to_vec(), vec![0; 4]);
    let bs: Vec<f32> = ws.iter().map(|s| 0.05 * s).collect();
    let b = m.c_i32("b", &[4], &[100, -200, 300, 0], bs);
    let p = hw_paddings(&mut m, "p", [1, 1], [1, 1]);
    let t = m.q("padded", &[1, 8, 8, 3], I8, 0.05, -10);
    m.op(PAD, &[x, p], &[t], OptionsSpec::None);
    let y = m.q("y", &[1, 3, 3, 4], I8, 0.1, 5);
    m.op(
        CONV_2D,
        &[t, w, b],
        &[y],
        conv_opts(VALID, [2, 2], [1, 1], NONE),
    );
    m.output(y);
    let u = m.q("u", &[1, 5, 5, 2], U8, 0.1, 128);
    m.input(u);
    // More rows of padding than the filter reaches: whole windows in the padding.
    let pu = hw_paddings(&mut m, "pu", [4, 0], [0, 2]);
    let zp = m.c_q("zp", &[1], U8, &[128], vec![0.1], vec![128]);
    let tu = m.q("padded_u8", &[1, 9, 7, 2], U8, 0.1, 128);
    m.op(PADV2, &[u, pu, zp], &[tu], OptionsSpec::None);
    let wu = m.c_q(
        "wu",
        &[1, 3, 3, 2],
        U8,
        &(0..18).map(|i| i * 13 % 256).collect::<Vec<_>>(),
        vec![0.02],
        vec![120],
    );
    let yu = m.q("yu", &[1, 9, 7, 2], U8, 0.2, 100);
    m.op(
        DEPTHWISE_CONV_2D,
        &[tu, wu, -1],
        &[yu],
        dwconv_opts(SAME, [1, 1], [1, 1], A_RELU),
    );
    m.output(yu);
    let g = rewritten("fold_pad_quantized", &m, "fold_pad");
    assert_eq!(count(&g, "pad") + count(&g, "pad_v2"), 0);
}

/// Near misses: padding of the channels; a pool reading the PAD; a PAD whose result is also a
/// model output; a PAD read by a conv and an ADD; a PADV2 with value 1; MIRROR_PAD; an int8 PAD
/// whose output is quantized differently from its input; an int8 PADV2 with another value.
#[test]
fn fold_pad_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 2]);
    m.input(x);
    let w = m.c_f32("w", &[2, 3, 3, 2], &values(36, 13, 1.0));
    let w3 = m.c_f32("w3", &[2, 3, 3, 3], &values(54, 14, 1.0));
    let p_hw = hw_paddings(&mut m, "p_hw", [1, 1], [1, 1]);
    let p_c = m.c_i32("p_c", &[4, 2], &[0, 0, 0, 0, 0, 0, 0, 1], Vec::new());
    let conv_valid = || conv_opts(VALID, [1, 1], [1, 1], NONE);
    // Channels.
    let t = m.f32("padded_c", &[1, 5, 5, 3]);
    m.op(PAD, &[x, p_c], &[t], OptionsSpec::None);
    let y = m.f32("y_c", &[1, 3, 3, 2]);
    m.op(CONV_2D, &[t, w3, -1], &[y], conv_valid());
    m.output(y);
    // A pool.
    let t = m.f32("padded_pool", &[1, 7, 7, 2]);
    m.op(PAD, &[x, p_hw], &[t], OptionsSpec::None);
    let y = m.f32("y_pool", &[1, 3, 3, 2]);
    m.op(
        MAX_POOL_2D,
        &[t],
        &[y],
        OptionsSpec::Pool2d {
            padding: VALID,
            stride: [2, 2],
            filter: [3, 3],
            act: NONE,
        },
    );
    m.output(y);
    // Also a model output.
    let t = m.f32("padded_out", &[1, 7, 7, 2]);
    m.op(PAD, &[x, p_hw], &[t], OptionsSpec::None);
    let y = m.f32("y_out", &[1, 5, 5, 2]);
    m.op(CONV_2D, &[t, w, -1], &[y], conv_valid());
    m.output(t);
    m.output(y);
    // A conv and an ADD.
    let t = m.f32("padded_add", &[1, 7, 7, 2]);
    m.op(PAD, &[x, p_hw], &[t], OptionsSpec::None);
    let (y, z) = (m.f32("y_add", &[1, 5, 5, 2]), m.f32("z_add", &[1, 7, 7, 2]));
    m.op(CONV_2D, &[t, w, -1], &[y], conv_valid());
    m.op(ADD, &[t, t], &[z], OptionsSpec::Add { act: NONE });
    m.output(y);
    m.output(z);
    // PADV2 with 1.0.
    let one = m.c_f32("one", &[1], &[1.0]);
    let t = m.f32("padded_one", &[1, 7, 7, 2]);
    m.op(PADV2, &[x, p_hw, one], &[t], OptionsSpec::None);
    let y = m.f32("y_one", &[1, 5, 5, 2]);
    m.op(CONV_2D, &[t, w, -1], &[y], conv_valid());
    m.output(y);
    // MIRROR_PAD.
    let t = m.f32("mirrored", &[1, 7, 7, 2]);
    m.op(MIRROR_PAD, &[x, p_hw], &[t], OptionsSpec::None);
    let y = m.f32("y_mirror", &[1, 5, 5, 2]);
    m.op(CONV_2D, &[t, w, -1], &[y], conv_valid());
    m.output(y);
    // int8: requantizing PAD; PADV2 with a value other than the zero point.
    let q = m.q("q", &[1, 5, 5, 2], I8, 0.05, -10);
    m.input(q);
    let wq = m.c_q(
        "wq",
        &[2, 3, 3, 2],
        I8,
        &(0..36).map(|i| i * 7 % 200 - 100).collect::<Vec<_>>(),
        vec![0.01, 0.02],
        vec![0, 0],
    );
    let bq = m.c_i32("bq", &[2], &[10, -10], vec![0.0005, 0.001]);
    let t = m.q("padded_rescaled", &[1, 7, 7, 2], I8, 0.1, -10);
    m.op(PAD, &[q, p_hw], &[t], OptionsSpec::None);
    let y = m.q("y_rescaled", &[1, 5, 5, 2], I8, 0.2, 0);
    m.op(CONV_2D, &[t, wq, -1], &[y], conv_valid());
    m.output(y);
    let v = m.c_q("v", &[1], I8, &[-9], vec![0.05], vec![-10]);
    let t = m.q("padded_v", &[1, 7, 7, 2], I8, 0.05, -10);
    m.op(PADV2, &[q, p_hw, v], &[t], OptionsSpec::None);
    let y = m.q("y_v", &[1, 5, 5, 2], I8, 0.2, 0);
    m.op(CONV_2D, &[t, wq, bq], &[y], conv_valid());
    m.output(y);
    untouched("fold_pad_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// fuse_residual_add

/// Float: a 1×1 projection + shortcut with a fused RELU6 (`ADD(conv, x)`); a 3×3 conv without
/// bias as the ADD's second operand (`ADD(y0, conv)`); a grouped 1×1 conv whose RELU (a separate
/// op) fuses into the ADD first.
#[test]
fn fuse_residual_add_float() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 4]);
    m.input(x);
    let w1 = m.c_f32("w1", &[4, 1, 1, 4], &values(16, 21, 1.0));
    let b1 = m.c_f32("b1", &[4], &[0.5, -0.25, 1.0, 0.0]);
    let (t0, y0) = (m.f32("proj", &[1, 5, 5, 4]), m.f32("y0", &[1, 5, 5, 4]));
    m.op(CONV_2D, &[x, w1, b1], &[t0], conv(NONE));
    m.op(ADD, &[t0, x], &[y0], OptionsSpec::Add { act: A_RELU6 });
    let w3 = m.c_f32("w3", &[4, 3, 3, 4], &values(144, 22, 0.5));
    let (t1, y1) = (m.f32("conv3", &[1, 5, 5, 4]), m.f32("y1", &[1, 5, 5, 4]));
    m.op(
        CONV_2D,
        &[y0, w3],
        &[t1],
        conv_opts(SAME, [1, 1], [1, 1], NONE),
    );
    m.op(ADD, &[y0, t1], &[y1], OptionsSpec::Add { act: NONE });
    let wg = m.c_f32("wg", &[4, 1, 1, 2], &values(8, 23, 1.0));
    let (t2, t3, y2) = (
        m.f32("grouped", &[1, 5, 5, 4]),
        m.f32("sum", &[1, 5, 5, 4]),
        m.f32("y2", &[1, 5, 5, 4]),
    );
    m.op(CONV_2D, &[y1, wg, -1], &[t2], conv(NONE));
    m.op(ADD, &[t2, x], &[t3], OptionsSpec::Add { act: NONE });
    m.op(RELU, &[t3], &[y2], OptionsSpec::None);
    m.output(y2);
    let g = rewritten("fuse_residual_add_f32", &m, "fuse_residual_add");
    assert_eq!(count(&g, "add") + count(&g, "relu"), 0);
    assert_eq!(g.num_ops(), 3);
    // The result may overwrite the residual, unless the residual is also the conv's input.
    let program = mvcc::lower::lower(&g).unwrap();
    let hints: Vec<(String, bool, Option<usize>)> = program
        .steps
        .iter()
        .map(|s| (s.kernel.name(), s.inputs[0] == s.inputs[3], s.in_place))
        .collect();
    let want = |same: bool| ("conv_2d_add_f32".to_string(), same, (!same).then_some(3));
    assert_eq!(hints, [want(true), want(true), want(false)]);
}

/// int8: `ADD(other, conv)` with a RELU, the conv requantized to a scale of its own; uint8:
/// `ADD(conv, x)` (the residual is the conv's own input).
#[test]
fn fuse_residual_add_quantized() {
    let mut m = M::new();
    let (x, t0) = conv_i8(&mut m, 0.1, -5, NONE);
    let other = m.q("other", &[1, 4, 4, 4], I8, 0.07, 12);
    m.input(other);
    let y = m.q("y", &[1, 4, 4, 4], I8, 0.12, -20);
    m.op(ADD, &[other, t0], &[y], OptionsSpec::Add { act: A_RELU });
    m.output(y);
    let _ = x;
    let u = m.q("u", &[1, 3, 3, 2], U8, 0.05, 120);
    m.input(u);
    let wu = m.c_q(
        "wu",
        &[2, 1, 1, 2],
        U8,
        &[200, 50, 90, 160],
        vec![0.01],
        vec![128],
    );
    let bu = m.c_i32("bu", &[2], &[300, -700], vec![0.0005]);
    let (tu, yu) = (
        m.q("proj_u8", &[1, 3, 3, 2], U8, 0.03, 130),
        m.q("yu", &[1, 3, 3, 2], U8, 0.06, 125),
    );
    m.op(CONV_2D, &[u, wu, bu], &[tu], conv(NONE));
    m.op(ADD, &[tu, u], &[yu], OptionsSpec::Add { act: NONE });
    m.output(yu);
    let g = rewritten("fuse_residual_add_quantized", &m, "fuse_residual_add");
    assert_eq!(count(&g, "add"), 0);
}

/// Near misses: a conv with a fused activation; a conv result that is also a model output; a
/// broadcasting ADD; a depthwise conv; `ADD(c, c)`; a SUB.
#[test]
fn fuse_residual_add_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 5, 5, 4]);
    m.input(x);
    let w = m.c_f32("w", &[4, 1, 1, 4], &values(16, 24, 1.0));
    let bc = m.f32("bc", &[1, 1, 1, 4]);
    m.input(bc);
    let t = |m: &mut M, n: &str| m.f32(n, &[1, 5, 5, 4]);
    let (t0, y0) = (t(&mut m, "conv_relu"), t(&mut m, "y_relu"));
    m.op(CONV_2D, &[x, w, -1], &[t0], conv(A_RELU));
    m.op(ADD, &[t0, x], &[y0], OptionsSpec::Add { act: NONE });
    m.output(y0);
    let (t1, y1) = (t(&mut m, "conv_out"), t(&mut m, "y_out"));
    m.op(CONV_2D, &[x, w, -1], &[t1], conv(NONE));
    m.op(ADD, &[t1, x], &[y1], OptionsSpec::Add { act: NONE });
    m.output(t1);
    m.output(y1);
    let (t2, y2) = (t(&mut m, "conv_bc"), t(&mut m, "y_bc"));
    m.op(CONV_2D, &[x, w, -1], &[t2], conv(NONE));
    m.op(ADD, &[t2, bc], &[y2], OptionsSpec::Add { act: NONE });
    m.output(y2);
    let wd = m.c_f32("wd", &[1, 3, 3, 4], &values(36, 25, 1.0));
    let (t3, y3) = (t(&mut m, "dw"), t(&mut m, "y_dw"));
    m.op(DEPTHWISE_CONV_2D, &[x, wd, -1], &[t3], dwconv(1, NONE));
    m.op(ADD, &[t3, x], &[y3], OptionsSpec::Add { act: NONE });
    m.output(y3);
    let (t4, y4) = (t(&mut m, "conv_twice"), t(&mut m, "y_twice"));
    m.op(CONV_2D, &[x, w, -1], &[t4], conv(NONE));
    m.op(ADD, &[t4, t4], &[y4], OptionsSpec::Add { act: NONE });
    m.output(y4);
    let (t5, y5) = (t(&mut m, "conv_sub"), t(&mut m, "y_sub"));
    m.op(CONV_2D, &[x, w, -1], &[t5], conv(NONE));
    m.op(SUB, &[x, t5], &[y5], OptionsSpec::Sub { act: NONE });
    m.output(y5);
    untouched("fuse_residual_add_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// pair_depthwise_pointwise

/// float: 3×3 depthwise → 1×1 conv; 5×5 stride-2 depthwise → 1×1 conv with a residual; int8:
/// 3×3 depthwise (RELU6) → 1×1 conv. The blocks reach the lowered steps, which are consecutive.
#[test]
fn pair_depthwise_pointwise() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 6, 6, 4]);
    m.input(x);
    let wd3 = m.c_f32("wd3", &[1, 3, 3, 4], &values(36, 31, 1.0));
    let wd5 = m.c_f32("wd5", &[1, 5, 5, 4], &values(100, 32, 1.0));
    let wp = m.c_f32("wp", &[4, 1, 1, 4], &values(16, 33, 1.0));
    let (d0, p0) = (m.f32("dw3", &[1, 6, 6, 4]), m.f32("pw0", &[1, 6, 6, 4]));
    m.op(DEPTHWISE_CONV_2D, &[x, wd3, -1], &[d0], dwconv(1, A_RELU6));
    m.op(CONV_2D, &[d0, wp, -1], &[p0], conv(NONE));
    let (d1, p1, y1) = (
        m.f32("dw5", &[1, 3, 3, 4]),
        m.f32("pw1", &[1, 3, 3, 4]),
        m.f32("y1", &[1, 3, 3, 4]),
    );
    m.op(
        DEPTHWISE_CONV_2D,
        &[p0, wd5, -1],
        &[d1],
        dwconv_opts(SAME, [2, 2], [1, 1], NONE),
    );
    m.op(CONV_2D, &[d1, wp, -1], &[p1], conv(NONE));
    let r = m.f32("r", &[1, 3, 3, 4]);
    m.input(r);
    m.op(ADD, &[p1, r], &[y1], OptionsSpec::Add { act: NONE });
    m.output(y1);
    let q = m.q("q", &[1, 4, 4, 2], I8, 0.05, 3);
    m.input(q);
    let wq = m.c_q(
        "wq",
        &[1, 3, 3, 2],
        I8,
        &(0..18).map(|i| i * 29 % 255 - 127).collect::<Vec<_>>(),
        vec![0.02],
        vec![0],
    );
    let wpq = m.c_q(
        "wpq",
        &[3, 1, 1, 2],
        I8,
        &[100, -50, 20, 7, -127, 64],
        vec![0.01, 0.02, 0.03],
        vec![0; 3],
    );
    let (dq, pq) = (
        m.q("dwq", &[1, 4, 4, 2], I8, 0.04, -128),
        m.q("pwq", &[1, 4, 4, 3], I8, 0.1, 0),
    );
    let mut opts = dwconv(1, A_RELU6);
    if let OptionsSpec::DepthwiseConv2d {
        ref mut padding, ..
    } = opts
    {
        *padding = SAME;
    }
    m.op(DEPTHWISE_CONV_2D, &[q, wq, -1], &[dq], opts);
    m.op(CONV_2D, &[dq, wpq, -1], &[pq], conv(NONE));
    m.output(pq);
    let g = rewritten("pair_depthwise_pointwise", &m, "pair_depthwise_pointwise");
    let program = mvcc::lower::lower(&g).unwrap();
    let blocks: Vec<(String, Option<u32>)> = program
        .steps
        .iter()
        .map(|s| (s.kernel.name(), s.block))
        .collect();
    let step = |k: &str, b: u32| (k.to_string(), Some(b));
    assert_eq!(
        blocks,
        [
            step("depthwise_conv_2d_f32", 0),
            step("conv_2d_f32", 0),
            step("depthwise_conv_2d_f32", 1),
            step("conv_2d_add_f32", 1),
            step("depthwise_conv_2d_i8", 2),
            step("conv_2d_i8", 2),
        ]
    );
    let plan = mvcc::plan::plan(&program);
    let text = mvcc::plan::text::plan_to_text(&program, &plan);
    assert_eq!(text.matches("  block ").count(), 6, "{text}");
}

/// Near misses: a 1×1 conv with stride 2; a depthwise result with two readers; a 2×2 and a 3×1
/// depthwise filter; a 3×3 conv after the depthwise one; a 1×1 conv whose filter is computed
/// after the depthwise conv (the pair would not be consecutive).
#[test]
fn pair_depthwise_pointwise_near_misses() {
    let mut m = M::new();
    let x = m.f32("x", &[1, 6, 6, 4]);
    m.input(x);
    let wd3 = m.c_f32("wd3", &[1, 3, 3, 4], &values(36, 41, 1.0));
    let wp = m.c_f32("wp", &[4, 1, 1, 4], &values(16, 42, 1.0));
    let t = |m: &mut M, n: &str| m.f32(n, &[1, 6, 6, 4]);
    // Stride 2.
    let (d, y) = (t(&mut m, "dw_s2"), m.f32("pw_s2", &[1, 3, 3, 4]));
    m.op(DEPTHWISE_CONV_2D, &[x, wd3, -1], &[d], dwconv(1, NONE));
    m.op(
        CONV_2D,
        &[d, wp, -1],
        &[y],
        conv_opts(VALID, [2, 2], [1, 1], NONE),
    );
    m.output(y);
    // Two readers.
    let (d, y) = (t(&mut m, "dw_two"), t(&mut m, "pw_two"));
    m.op(DEPTHWISE_CONV_2D, &[x, wd3, -1], &[d], dwconv(1, NONE));
    m.op(CONV_2D, &[d, wp, -1], &[y], conv(NONE));
    m.output(y);
    m.output(d);
    // 2×2 and 3×1 depthwise filters.
    for (name, f) in [("dw2x2", [2, 2]), ("dw3x1", [3, 1])] {
        let w = m.c_f32(
            &format!("w_{name}"),
            &[1, f[0], f[1], 4],
            &values(4 * (f[0] * f[1]) as usize, 43, 1.0),
        );
        let (d, y) = (t(&mut m, name), t(&mut m, &format!("pw_{name}")));
        m.op(
            DEPTHWISE_CONV_2D,
            &[x, w, -1],
            &[d],
            dwconv_opts(SAME, [1, 1], [1, 1], NONE),
        );
        m.op(CONV_2D, &[d, wp, -1], &[y], conv(NONE));
        m.output(y);
    }
    // 3×3 conv.
    let w33 = m.c_f32("w33", &[4, 3, 3, 4], &values(144, 44, 1.0));
    let (d, y) = (t(&mut m, "dw_33"), m.f32("conv_33", &[1, 4, 4, 4]));
    m.op(DEPTHWISE_CONV_2D, &[x, wd3, -1], &[d], dwconv(1, NONE));
    m.op(CONV_2D, &[d, w33, -1], &[y], conv(NONE));
    m.output(y);
    // A filter computed later.
    let wi = m.f32("w_in", &[4, 1, 1, 4]);
    m.input(wi);
    let (d, wr, y) = (
        t(&mut m, "dw_late"),
        m.f32("w_relu", &[4, 1, 1, 4]),
        t(&mut m, "pw_late"),
    );
    m.op(DEPTHWISE_CONV_2D, &[x, wd3, -1], &[d], dwconv(1, NONE));
    m.op(RELU, &[wi], &[wr], OptionsSpec::None);
    m.op(CONV_2D, &[d, wr, -1], &[y], conv(NONE));
    m.output(y);
    untouched("pair_depthwise_pointwise_near_misses", &m);
}

// ---------------------------------------------------------------------------------------------
// The pipeline: stop_after, errors, report, Graphviz.

#[test]
fn stop_after_bisects_the_pipeline() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.05, -100, NONE);
    let y = m.q("y", &[1, 4, 4, 4], I8, 0.05, -100);
    m.op(RELU6, &[t0], &[y], OptionsSpec::None);
    m.output(y);
    let g = m.load();
    let stop = |s: &str| {
        optimize(
            &g,
            PassOptions {
                stop_after: Some(s.into()),
                ..PassOptions::default()
            },
        )
    };
    let (opt, cx) = stop("none");
    assert!(cx.stats.is_empty());
    assert_eq!(opt.num_ops(), 2);
    let (opt, cx) = stop("recognize_hard_swish");
    assert_eq!(
        cx.stats.last().map(|s| s.pass),
        Some("recognize_hard_swish")
    );
    assert_eq!(opt.num_ops(), 2, "fuse_activation ran");
    let (opt, cx) = stop("fuse_activation");
    assert_eq!(cx.stats.last().map(|s| s.pass), Some("fuse_activation"));
    assert_eq!(opt.num_ops(), 1);
    let (_, cx) = stop("simplify");
    assert_eq!(
        cx.stats.last().map(|s| s.group.map(|g| g.1)),
        Some(Some(2)),
        "the group runs to its fixpoint"
    );
    let mut bad = g.clone();
    let mut cx = PassCx::new(PassOptions {
        stop_after: Some("no_such_pass".into()),
        ..PassOptions::default()
    });
    let e = passes::run(&mut bad, &mut cx).unwrap_err().to_string();
    assert!(
        e.contains("unknown pass `no_such_pass`") && e.contains("fuse_activation"),
        "{e}"
    );
}

#[test]
fn report_and_dot() {
    let mut m = M::new();
    let (_, t0) = conv_i8(&mut m, 0.05, -100, NONE);
    let y = m.q("y \"quoted\"", &[1, 4, 4, 4], I8, 0.05, -100);
    m.op(RELU6, &[t0], &[y], OptionsSpec::None);
    m.output(y);
    let g = m.load();
    let (opt, cx) = optimize(&g, PassOptions::default());
    let report = passes::report(&cx.stats);
    assert!(report.contains("simplify[1].fuse_activation"), "{report}");
    assert!(report.contains("relu6 1→0"), "{report}");
    assert!(report.contains("total: 2 → 1 ops"), "{report}");
    let dot = mvcc::ir::dot::graph_to_dot(&opt);
    assert!(
        dot.starts_with("digraph mvcc {") && dot.ends_with("}\n"),
        "{dot}"
    );
    assert!(
        dot.contains("conv_2d") && dot.contains("act=relu6") && dot.contains("\\\"quoted\\\""),
        "{dot}"
    );
    // Render it when Graphviz is installed.
    if let Ok(mut child) = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "dot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}
