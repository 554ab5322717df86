//! The Rust back end: a lowered [`Program`] and its [`Plan`] become Rust source that calls
//! `mvcc-runtime`'s kernels with every parameter a `static` literal, every tensor a constant
//! offset into the arena, the caller's buffers or the weight blob.
//!
//! The generated items (see [`generate`]) are what `include_model!` expands to, what
//! [`crate::build`] writes for build scripts and what `mvcc build --emit rust` prints:
//!
//! - `ARENA_BYTES`, `Arena`, `INPUTS`, `OUTPUTS` and `INPUTn_LEN`/`OUTPUTn_LEN` constants;
//! - `Model`, owning its arena, with `const fn new()` (no work, no allocation) and a typed `run`;
//!   `run_in` for a caller's arena; `impl mvcc_runtime::CompiledModel for Model`;
//! - a private `run_raw` holding one commented kernel call per step.
//!
//! The plan the back end uses is the middle end's with in-place steps turned off ([`prepare`]):
//! safe Rust cannot hand a kernel a `&` and a `&mut` view of the same bytes, and the runtime's
//! kernels take separate input and output slices. Every region a step reads or writes is checked
//! at generation time (inside its buffer, aligned, writes overlapping nothing else the step
//! touches), which is what makes `run_raw`'s unchecked views sound (`mvcc_runtime::mem`).

pub mod lit;
pub mod step;

use std::fmt::Write as _;

use crate::error::{Error, Location, Result};
use crate::ir::{Graph, Quant};
use crate::lower::{Kernel, Program, Value};
use crate::plan::{Place, Plan};
use step::{rust_type, Buffer, Region, StepCx};

/// The identifier `include_model!` replaces with the weights' byte-string literal.
pub const WEIGHTS_PLACEHOLDER: &str = "__MVCC_WEIGHTS__";

/// How the weight blob gets into the generated code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsForm {
    /// `*__MVCC_WEIGHTS__`, for a proc macro to replace with a byte-string literal token.
    Placeholder,
    /// `*include_bytes!("FILE")`, a file written next to the source.
    File(String),
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The model's name (a Rust identifier fragment; see [`model_name`]).
    pub name: String,
    /// The model file's name, for the header comment.
    pub source: String,
    /// How the weights are embedded.
    pub weights: WeightsForm,
    /// Also generate `run_traced`, which calls a hook after every step (for tests that compare
    /// every intermediate tensor).
    pub trace: bool,
    /// Shapes for the model's inputs, in order (`None`: the file's); needed for models with
    /// dynamic dimensions (see [`crate::tflite::ImportOptions::input_shapes`]).
    pub input_shapes: Vec<Option<Vec<usize>>>,
    /// Also embed the NNAPI partition built with these options (their API level, segment limit;
    /// the plan never runs steps in place here), and let the model choose its target
    /// (`Model::set_target`: CPU, NNAPI, or NNAPI when available).
    pub nnapi: Option<crate::nnapi::partition::Options>,
}

impl Options {
    /// Options for a model called `name`: source `model.tflite`, weights as the placeholder, no
    /// trace, the file's input shapes.
    pub fn new(name: &str) -> Options {
        Options {
            name: model_name(name),
            source: "model.tflite".into(),
            weights: WeightsForm::Placeholder,
            trace: false,
            input_shapes: Vec::new(),
            nnapi: None,
        }
    }
}

/// Generated code and the weight blob it embeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    /// The Rust items.
    pub code: String,
    /// The weight blob (for [`WeightsForm::File`] and the proc macro).
    pub weights: Vec<u8>,
    /// Arena size in bytes.
    pub arena_bytes: usize,
}

/// A model name usable in identifiers: the file stem, lowercased, with every other character
/// than `[a-z0-9_]` replaced by `_`, prefixed with `m_` when it does not start with a letter.
pub fn model_name(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert_str(0, "m_");
    }
    s
}

/// The middle end as this back end uses it: passes, lowering, and a plan without in-place steps
/// (checked).
///
/// # Errors
/// Pass, lowering or plan-check errors.
pub fn prepare(graph: &Graph) -> Result<(Program, Plan)> {
    plan_program(crate::lower::lower(&crate::passes::optimize(graph)?)?)
}

/// Plans a lowered program as this back end needs it: in-place steps turned off, the plan
/// checked.
///
/// # Errors
/// Plan-check errors (a planner bug).
pub fn plan_program(mut program: Program) -> Result<(Program, Plan)> {
    for s in &mut program.steps {
        s.in_place = None;
    }
    let plan = crate::plan::plan(&program);
    crate::plan::check(&program, &plan)?;
    Ok((program, plan))
}

/// Imports `bytes` and generates its Rust code.
///
/// # Errors
/// Every import problem; pass, lowering or generation errors.
pub fn compile(bytes: &[u8], opts: &Options) -> Result<Generated> {
    let graph = crate::load_model_with_shapes(bytes, &opts.input_shapes)?;
    if let Some(nnapi) = opts.nnapi {
        let c = crate::nnapi::partition::compile_with(
            &graph,
            &crate::nnapi::partition::Options {
                in_place: false,
                ..nnapi
            },
        )?;
        crate::plan::check(&c.program, &c.plan)?;
        return generate_inner(&c.program, &c.plan, Some(&c.partition), opts);
    }
    let (program, plan) = prepare(&graph)?;
    generate(&program, &plan, opts)
}

fn io_info(v: &Value) -> String {
    let shape: Vec<String> = v.shape.iter().map(|d| d.to_string()).collect();
    let quant = match &v.quant {
        None => "None".to_string(),
        Some(Quant {
            scale,
            zero_point,
            axis,
        }) => {
            let s: Vec<String> = scale.iter().map(|x| lit::ToLit::to_lit(x).flat()).collect();
            let z: Vec<String> = zero_point.iter().map(|x| x.to_string()).collect();
            format!(
                "Some(mvcc_runtime::Quantization {{\n            scale: &[{}],\n            zero_point: &[{}],\n            axis: {axis},\n        }})",
                s.join(", "),
                z.join(", ")
            )
        }
    };
    let dtype = match v.dtype {
        crate::ir::DType::F32 => "F32",
        crate::ir::DType::I8 => "I8",
        crate::ir::DType::U8 => "U8",
        crate::ir::DType::I16 | crate::ir::DType::F16 => "I16",
        crate::ir::DType::I32 => "I32",
        crate::ir::DType::I64 => "I64",
        crate::ir::DType::Bool => "Bool",
    };
    format!(
        "    mvcc_runtime::TensorInfo {{\n        name: {:?},\n        dtype: mvcc_runtime::ElementType::{dtype},\n        shape: &[{}],\n        quant: {quant},\n    }},\n",
        v.name,
        shape.join(", ")
    )
}

fn emit_kernel(kernel: &Kernel, cx: &mut StepCx<'_>) -> Result<()> {
    match kernel {
        Kernel::Copy => {
            let src = cx.input(0, "u8")?;
            let dst = cx.output(0, "u8")?;
            if src.len != dst.len {
                return Err(cx.err("copy between values of different sizes"));
            }
            cx.stmt(format!(
                "        {}.copy_from_slice({});",
                dst.expr, src.expr
            ));
            Ok(())
        }
        Kernel::Activation(k) => k.emit_rust(cx),
        Kernel::ArgMax(k) => k.emit_rust(cx),
        Kernel::Binary(k) => k.emit_rust(cx),
        Kernel::Concatenation(k) => k.emit_rust(cx),
        Kernel::Conv2d(k) => k.emit_rust(cx),
        Kernel::DepthToSpace(k) => k.emit_rust(cx),
        Kernel::FullyConnected(k) => k.emit_rust(cx),
        Kernel::Gather(k) => k.emit_rust(cx),
        Kernel::L2Normalization(k) => k.emit_rust(cx),
        Kernel::LogisticTanh(k) => k.emit_rust(cx),
        Kernel::Pad(k) => k.emit_rust(cx),
        Kernel::Pool2d(k) => k.emit_rust(cx),
        Kernel::Quantize(k) => k.emit_rust(cx),
        Kernel::Reduce(k) => k.emit_rust(cx),
        Kernel::Resize(k) => k.emit_rust(cx),
        Kernel::Slice(k) => k.emit_rust(cx),
        Kernel::Softmax(k) => k.emit_rust(cx),
        Kernel::SplitPack(k) => k.emit_rust(cx),
        Kernel::Transpose(k) => k.emit_rust(cx),
        Kernel::Unary(k) => k.emit_rust(cx),
    }
}

/// Checks the regions of step `s`: inside their buffers, and no written region overlapping any
/// other region of the step.
fn check_regions(p: &Program, plan: &Plan, s: usize, regions: &[Region]) -> Result<()> {
    let o = &p.steps[s].origin;
    let loc = || Location::operator(o.ops.first().copied(), o.op);
    let limit = |b: Buffer| match b {
        Buffer::Arena => plan.arena_bytes,
        Buffer::Input(n) => p.inputs.get(n).map_or(0, |&v| p.value(v).bytes),
        Buffer::Output(n) => p.outputs.get(n).map_or(0, |&v| p.value(v).bytes),
        Buffer::Weights => p.weights.bytes.len(),
    };
    for (i, r) in regions.iter().enumerate() {
        if r.end > limit(r.buffer) {
            return Err(Error::invalid(
                loc(),
                format!(
                    "Rust back end: region {}..{} is outside {:?}",
                    r.start, r.end, r.buffer
                ),
            ));
        }
        if !r.write {
            continue;
        }
        for (j, q) in regions.iter().enumerate() {
            if i != j && q.buffer == r.buffer && q.start < r.end && r.start < q.end {
                return Err(Error::invalid(
                    loc(),
                    format!(
                        "Rust back end: the step writes {:?} {}..{} while it also views {}..{}",
                        r.buffer, r.start, r.end, q.start, q.end
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the code of one step (comment, statements) and collects its statics.
fn emit_step(
    p: &Program,
    plan: &Plan,
    s: usize,
    trace: bool,
    body: &mut String,
    statics: &mut String,
) -> Result<()> {
    let step = &p.steps[s];
    let mut cx = StepCx::new(p, plan, s);
    emit_kernel(&step.kernel, &mut cx)?;
    check_regions(p, plan, s, &cx.regions)?;
    let names: Vec<String> = step
        .outputs
        .iter()
        .map(|&v| format!("{:?}", p.value(v).name))
        .collect();
    let ops: Vec<String> = step.origin.ops.iter().map(|o| o.to_string()).collect();
    let _ = writeln!(
        body,
        "        // Step {s}: {} (operator {}) -> {} [{}]",
        step.origin.op,
        if ops.is_empty() {
            "-".to_string()
        } else {
            ops.join("+")
        },
        names.join(", "),
        step.kernel.name()
    );
    for line in &cx.body {
        body.push_str(line);
        body.push('\n');
    }
    if trace {
        let outs: Vec<String> = (0..p.outputs.len())
            .map(|n| format!("view::<u8>(o[{n}], 0, {})", p.value(p.outputs[n]).bytes))
            .collect();
        let _ = writeln!(
            body,
            "        hook({s}, view::<u8>(a, 0, ARENA_BYTES), &[{}]);",
            outs.join(", ")
        );
    }
    for st in &cx.statics {
        statics.push_str(st);
        statics.push('\n');
    }
    Ok(())
}

/// `[a, b]` on one line when it fits at `indent`, else one item per line.
fn list(indent: usize, items: &[String]) -> String {
    let one = format!("[{}]", items.join(", "));
    if indent + one.len() < lit::WIDTH {
        return one;
    }
    let pad = " ".repeat(indent + 4);
    let mut s = String::from("[\n");
    for i in items {
        s.push_str(&format!("{pad}{i},\n"));
    }
    s.push_str(&" ".repeat(indent));
    s.push(']');
    s
}

/// `prefix(params…) -> Result<(), RunError>` on one line when it fits, else one parameter per line.
fn fn_sig(indent: usize, prefix: &str, params: &[String]) -> String {
    let ret = "-> Result<(), mvcc_runtime::RunError>";
    let one = format!("{prefix}({}) {ret}", params.join(", "));
    if indent + one.len() + 2 <= lit::WIDTH {
        return one;
    }
    let pad = " ".repeat(indent + 4);
    let mut s = format!(
        "{prefix}(
"
    );
    for p in params {
        s.push_str(&format!(
            "{pad}{p},
"
        ));
    }
    s.push_str(&format!("{}) {ret}", " ".repeat(indent)));
    s
}

/// Generates the Rust items of a program laid out by `plan` (see the module docs).
///
/// # Errors
/// A kernel the back end cannot express, or a step whose regions fail the checks (a bug).
pub fn generate(p: &Program, plan: &Plan, opts: &Options) -> Result<Generated> {
    generate_inner(p, plan, None, opts)
}

/// A byte-string literal of `bytes`.
fn byte_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 3);
    s.push_str("b\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// The methods a model with an NNAPI partition gains.
const NNAPI_METHODS: &str = r#"
    /// Chooses where the model runs: [`mvcc_runtime::nnapi::Target::Cpu`] (the default),
    /// `Nnapi` or `Auto` (NNAPI when the device has a usable driver, else the CPU). Loads the
    /// device's `libneuralnetworks.so`, builds and compiles the NNAPI models of the partition;
    /// this is the only call that does work besides `run`. The model always runs: when NNAPI
    /// cannot be used it runs on the CPU, and the reason is returned (for `Nnapi`) and kept in
    /// [`Model::accelerator`].
    pub fn set_target(
        &mut self,
        target: mvcc_runtime::nnapi::Target,
    ) -> Option<mvcc_runtime::nnapi::Unavailable> {
        let (accel, why) = mvcc_runtime::nnapi::Accelerator::prepare(
            target,
            &NNAPI_PARTITION.0,
            &WEIGHTS.0,
        );
        self.accel = accel;
        why
    }

    /// Where the model runs, and why NNAPI is not used if it is not.
    pub fn accelerator(&self) -> &mvcc_runtime::nnapi::Accelerator {
        &self.accel
    }
"#;

fn generate_inner(
    p: &Program,
    plan: &Plan,
    nnapi: Option<&crate::nnapi::Partition>,
    opts: &Options,
) -> Result<Generated> {
    let mut body = String::new();
    let mut statics = String::new();
    let mut problems = crate::error::Problems::default();
    for s in 0..p.steps.len() {
        let start = body.len();
        if let Err(e) = emit_step(p, plan, s, opts.trace, &mut body, &mut statics) {
            problems.extend(e);
        }
        if nnapi.is_some() {
            // Partitioned models run ranges of steps (`s`).
            let chunk = body.split_off(start);
            let _ = writeln!(body, "        if s.contains(&{s}) {{");
            for line in chunk.lines() {
                if line.is_empty() {
                    body.push('\n');
                } else {
                    let _ = writeln!(body, "    {line}");
                }
            }
            body.push_str("        }\n");
        }
    }
    problems.finish(())?;
    // Model outputs that are model inputs (identity models) are copied.
    for (n, &v) in p.outputs.iter().enumerate() {
        if let Place::Input(m, off) = plan.place(p, v) {
            let bytes = p.value(v).bytes;
            let _ = writeln!(
                body,
                "        // Output {n} is input {m}.\n        view_mut::<u8>(o[{n}], 0, {bytes}).copy_from_slice(view::<u8>(i[{m}], {off}, {bytes}));"
            );
        }
    }
    let (ni, no) = (p.inputs.len(), p.outputs.len());
    let wlen = p.weights.bytes.len();
    let mut c = String::new();
    let _ = writeln!(
        c,
        "// Generated by mvcc {} from `{}`. Do not edit: regenerate.\n//\n// {} steps, {} bytes of weights, an arena of {} bytes.",
        env!("CARGO_PKG_VERSION"),
        opts.source,
        p.steps.len(),
        wlen,
        plan.arena_bytes
    );
    let _ = writeln!(c, "\n/// Size of the arena a run works in, in bytes.");
    let _ = writeln!(c, "pub const ARENA_BYTES: usize = {};", plan.arena_bytes);
    let _ = writeln!(c, "\n/// The arena a run works in (64-byte aligned).");
    let _ = writeln!(
        c,
        "pub type Arena = mvcc_runtime::mem::Aligned<[u8; ARENA_BYTES]>;"
    );
    let mut params = Vec::new();
    let mut ptrs_in = Vec::new();
    let mut ptrs_out = Vec::new();
    for (kind, list) in [("input", &p.inputs), ("output", &p.outputs)] {
        for (n, &v) in list.iter().enumerate() {
            let val = p.value(v);
            let ty = rust_type(val.dtype);
            let len = val.bytes / val.dtype.size().max(1);
            let upper = kind.to_ascii_uppercase();
            let _ = writeln!(
                c,
                "\n/// Elements of {kind} {n}, `{}` ({} {:?}).\npub const {upper}{n}_LEN: usize = {len};",
                val.name.replace('`', "'"),
                ty,
                val.shape
            );
            if kind == "input" {
                params.push(format!("{kind}{n}: &[{ty}; {upper}{n}_LEN]"));
                ptrs_in.push(format!("{kind}{n}.as_ptr().cast()"));
            } else {
                params.push(format!("{kind}{n}: &mut [{ty}; {upper}{n}_LEN]"));
                ptrs_out.push(format!("{kind}{n}.as_mut_ptr().cast()"));
            }
        }
    }
    for (kind, list) in [("inputs", &p.inputs), ("outputs", &p.outputs)] {
        let _ = writeln!(
            c,
            "\n/// The model's {kind}.\npub const {}: [mvcc_runtime::TensorInfo; {}] = [",
            kind.to_ascii_uppercase(),
            list.len()
        );
        for &v in list.iter() {
            c.push_str(&io_info(p.value(v)));
        }
        c.push_str("];\n");
    }
    let args: Vec<String> = (0..ni)
        .map(|n| format!("input{n}"))
        .chain((0..no).map(|n| format!("output{n}")))
        .collect();
    let _ = write!(
        c,
        r#"
/// The model `{name}` with its arena: owned (`Model::new()`, [`ARENA_BYTES`] bytes inside the
/// value) or borrowed or boxed (`Model::with_arena(&mut arena)`, `Model::with_arena(boxed)`).
///
/// `new` and `with_arena` do no work and allocate nothing, so a model can live in a `static`
/// (for example in a `Mutex`); a large one should not be built on a small stack.
pub struct Model<A = Arena> {{
    arena: A,{accel_field}
}}

impl Model {{
    /// A model owning a zeroed arena.
    pub const fn new() -> Model {{
        Model {{
            arena: mvcc_runtime::mem::Aligned([0; ARENA_BYTES]){accel_new},
        }}
    }}
}}

impl<A: core::borrow::BorrowMut<Arena>> Model<A> {{
    /// A model running in `arena` (`&mut Arena`, `Box<Arena>`, …).
    pub const fn with_arena(arena: A) -> Model<A> {{
        Model {{ arena{accel_init} }}
    }}
{nnapi_methods}
    /// Gives the arena back.
    pub fn into_arena(self) -> A {{
        self.arena
    }}

    /// Runs the model{on_target}.
    ///
    /// # Errors
    /// A kernel that refuses its data (gather indices out of range, integer division by zero);
    /// most models cannot fail.
    #[allow(clippy::too_many_arguments)]
    {run_sig} {{
{run_body}
    }}
}}

impl Default for Model {{
    fn default() -> Model {{
        Model::new()
    }}
}}

impl<A> core::fmt::Debug for Model<A> {{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{
        f.debug_struct("Model").field("arena_bytes", &ARENA_BYTES).finish()
    }}
}}

impl<A: core::borrow::BorrowMut<Arena>> mvcc_runtime::CompiledModel for Model<A> {{
    fn name(&self) -> &'static str {{
        {name:?}
    }}

    fn inputs(&self) -> &'static [mvcc_runtime::TensorInfo] {{
        &INPUTS
    }}

    fn outputs(&self) -> &'static [mvcc_runtime::TensorInfo] {{
        &OUTPUTS
    }}

    fn arena_bytes(&self) -> usize {{
        ARENA_BYTES
    }}

    fn run_bytes(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), mvcc_runtime::RunError> {{
        mvcc_runtime::model::check_buffers(inputs, outputs, &INPUTS, &OUTPUTS)?;
{run_bytes_tail}
    }}
}}
{steps_impl}
/// Runs the model in a caller's arena.
///
/// # Errors
/// As [`Model::run`].
#[allow(clippy::too_many_arguments)]
{run_in_sig} {{
    // SAFETY: the array types fix every buffer's size and alignment; distinct borrows do not
    // overlap.
    unsafe {{
        run_raw(
            arena.0.as_mut_ptr(),
            {ptrs_in},
            {ptrs_out},{nohook_arg}{all_steps_arg}
        )
    }}
}}
"#,
        name = opts.name,
        run_sig = fn_sig(
            4,
            "pub fn run",
            &[&["&mut self".to_string()], &params[..]].concat()
        ),
        run_in_sig = fn_sig(
            0,
            "pub fn run_in",
            &[&["arena: &mut Arena".to_string()], &params[..]].concat()
        ),
        ptrs_in = list(12, &ptrs_in),
        ptrs_out = list(12, &ptrs_out),
        nohook_arg = if opts.trace {
            "\n            &mut |_, _, _| {},"
        } else {
            ""
        },
        all_steps_arg = if nnapi.is_some() {
            format!("\n            0..{},", p.steps.len())
        } else {
            String::new()
        },
        accel_field = if nnapi.is_some() {
            "\n    accel: mvcc_runtime::nnapi::Accelerator,"
        } else {
            ""
        },
        accel_new = if nnapi.is_some() {
            ",\n            accel: mvcc_runtime::nnapi::Accelerator::cpu()"
        } else {
            ""
        },
        accel_init = if nnapi.is_some() {
            ", accel: mvcc_runtime::nnapi::Accelerator::cpu()"
        } else {
            ""
        },
        nnapi_methods = if nnapi.is_some() { NNAPI_METHODS } else { "" },
        on_target = if nnapi.is_some() {
            " on its target (see `set_target`)"
        } else {
            ""
        },
        run_body = if nnapi.is_some() {
            let ins: Vec<String> = (0..ni)
                .map(|n| format!("mvcc_runtime::mem::as_bytes(&input{n}[..])"))
                .collect();
            let outs: Vec<String> = (0..no)
                .map(|n| format!("mvcc_runtime::mem::as_bytes_mut(&mut output{n}[..])"))
                .collect();
            format!(
                "        let i: [&[u8]; {ni}] = [{}];\n        let mut o: [&mut [u8]; {no}] = [{}];\n        mvcc_runtime::CompiledModel::run_bytes(self, &i, &mut o)",
                ins.join(", "),
                outs.join(", ")
            )
        } else {
            format!(
                "        run_in(self.arena.borrow_mut(), {})",
                args.join(", ")
            )
        },
        run_bytes_tail = if nnapi.is_some() {
            "        let arena = &mut self.arena.borrow_mut().0;\n        self.accel.run(&mut Steps, inputs, outputs, arena)".to_string()
        } else {
            format!("        let i: [*const u8; {ni}] = core::array::from_fn(|n| inputs[n].as_ptr());\n        let o: [*mut u8; {no}] = core::array::from_fn(|n| outputs[n].as_mut_ptr());\n        // SAFETY: `check_buffers` checked every buffer's size and alignment; `inputs`, `outputs`\n        // and the arena are distinct borrows, so they do not overlap.\n        unsafe {{ run_raw(self.arena.borrow_mut().0.as_mut_ptr(), i, o{}) }}", if opts.trace { ", &mut |_, _, _| {}" } else { "" })
        },
        steps_impl = if nnapi.is_some() {
            format!(
                r#"
/// The CPU code step by step, for the NNAPI accelerator's CPU segments and fallback.
struct Steps;

impl mvcc_runtime::nnapi::CpuSteps for Steps {{
    fn step_count(&self) -> usize {{
        {steps}
    }}

    fn run_steps(
        &mut self,
        steps: core::ops::Range<usize>,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        arena: &mut [u8],
    ) -> Result<(), mvcc_runtime::RunError> {{
        mvcc_runtime::model::check_buffers(inputs, outputs, &INPUTS, &OUTPUTS)?;
        if arena.len() != ARENA_BYTES || arena.as_ptr() as usize % 64 != 0 {{
            return Err(mvcc_runtime::RunError::Arena {{ expected: ARENA_BYTES, got: arena.len() }});
        }}
        let i: [*const u8; {ni}] = core::array::from_fn(|n| inputs[n].as_ptr());
        let o: [*mut u8; {no}] = core::array::from_fn(|n| outputs[n].as_mut_ptr());
        // SAFETY: every buffer's size and alignment were checked above; `inputs`, `outputs` and
        // the arena are distinct borrows, so they do not overlap.
        unsafe {{ run_raw(arena.as_mut_ptr(), i, o{nohook}, steps) }}
    }}
}}
"#,
                steps = p.steps.len(),
                nohook = if opts.trace {
                    ", &mut |_, _, _| {}"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        },
    );
    if opts.trace {
        let _ = write!(
            c,
            r#"
/// Runs the model on byte buffers in a caller's arena, calling `hook(step, arena, outputs)`
/// after every step (for tests that compare every intermediate tensor).
///
/// # Errors
/// As [`mvcc_runtime::CompiledModel::run_bytes`].
pub fn run_traced(
    arena: &mut Arena,
    inputs: &[&[u8]],
    outputs: &mut [&mut [u8]],
    hook: &mut dyn FnMut(usize, &[u8], &[&[u8]]),
) -> Result<(), mvcc_runtime::RunError> {{
    mvcc_runtime::model::check_buffers(inputs, outputs, &INPUTS, &OUTPUTS)?;
    let i: [*const u8; {ni}] = core::array::from_fn(|n| inputs[n].as_ptr());
    let o: [*mut u8; {no}] = core::array::from_fn(|n| outputs[n].as_mut_ptr());
    // SAFETY: as in `run_bytes`.
    unsafe {{ run_raw(arena.0.as_mut_ptr(), i, o, hook{all}) }}
}}
"#,
            all = if nnapi.is_some() {
                format!(", 0..{}", p.steps.len())
            } else {
                String::new()
            }
        );
    }
    let weights_expr = match &opts.weights {
        WeightsForm::Placeholder => format!("*{WEIGHTS_PLACEHOLDER}"),
        WeightsForm::File(f) => format!("*include_bytes!({f:?})"),
    };
    let hook_param = if opts.trace {
        ",\n    hook: &mut dyn FnMut(usize, &[u8], &[&[u8]]),"
    } else {
        ","
    };
    let _ = write!(
        c,
        r#"
/// Runs every step.
///
/// # Safety
/// `a` points to [`ARENA_BYTES`] bytes aligned to 64, `i[n]` and `o[n]` to input and output `n`'s
/// bytes aligned for its element type; no two overlap and nothing else touches them during the
/// call.
#[allow(unused_variables, unused_imports, clippy::too_many_lines)]
#[allow(clippy::approx_constant, clippy::excessive_precision, clippy::unreadable_literal)]
unsafe fn run_raw(
    a: *mut u8,
    i: [*const u8; {ni}],
    o: [*mut u8; {no}]{hook_param}{steps_param}
) -> Result<(), mvcc_runtime::RunError> {{
    use mvcc_runtime::kernels as k;
    use mvcc_runtime::mem::{{view, view_mut, Aligned}};
    use mvcc_runtime::RunError;
{weights_static}{statics}
    let w: *const u8 = WEIGHTS.0.as_ptr();

    // SAFETY: every view below is a region the compiler checked: inside its buffer, aligned for
    // its element type, and (for the regions a step writes) overlapping nothing else the step
    // touches. Each view lives for one kernel call.
    unsafe {{
{body}    }}
    Ok(())
}}
"#,
        steps_param = if nnapi.is_some() {
            "\n    s: core::ops::Range<usize>,"
        } else {
            ""
        },
        weights_static = if nnapi.is_some() {
            String::new()
        } else {
            format!("\n    static WEIGHTS: Aligned<[u8; {wlen}]> = Aligned({weights_expr});\n")
        },
        statics = if statics.is_empty() {
            String::new()
        } else {
            format!("\n    // Every step's parameters.\n{statics}")
        }
    );
    if let Some(part) = nnapi {
        let blob = crate::nnapi::encode::encode(part);
        let _ = write!(
            c,
            "\n/// The constant data: weights of the CPU code and constants of the NNAPI models.\nstatic WEIGHTS: mvcc_runtime::mem::Aligned<[u8; {wlen}]> = mvcc_runtime::mem::Aligned({weights_expr});\n\n/// The NNAPI partition (API level {}, {} segments), as `mvcc_runtime::nnapi` reads it.\nstatic NNAPI_PARTITION: mvcc_runtime::mem::Aligned<[u8; {}]> = mvcc_runtime::mem::Aligned(*{});\n",
            part.api_level,
            part.segments.len(),
            blob.len(),
            byte_string(&blob)
        );
    }
    Ok(Generated {
        code: c,
        weights: p.weights.bytes.clone(),
        arena_bytes: plan.arena_bytes,
    })
}
