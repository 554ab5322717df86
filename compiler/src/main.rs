//! The `mvcc` command-line tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mvcc::interp::{Buf, Interpreter};
use mvcc::ir::{text, DType, Graph, Tensor, TensorId};
use mvcc::npy::{self, NpyArray};

/// `print!` to stdout that returns a write error (`| head` closing the pipe) instead of
/// panicking; `main` ends quietly on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!($($arg)*))
            .context("cannot write to stdout")?
    };
}

/// `println!` as [`out!`] does it.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        out!($($arg)*);
        out!("\n")
    }};
}

/// mvcc: an ahead-of-time compiler for TensorFlow Lite vision models.
#[derive(Parser, Debug)]
#[command(name = "mvcc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a model's inputs, outputs, ops (with shapes and MACs) and totals.
    Inspect {
        /// The `.tflite` model.
        model: PathBuf,
        /// Print one JSON object (keys: inputs, outputs, ops, params, weight_bytes, macs,
        /// arena_bytes, arena_lower_bound_bytes, unfused_lower_bound_bytes).
        #[arg(long)]
        json: bool,
        /// Print the imported IR in its text form.
        #[arg(long)]
        ir: bool,
        /// Print the memory plan: the schedule, each value's offset, size and live range, the
        /// arena size next to its lower bound.
        #[arg(long)]
        plan: bool,
        /// Draw the memory plan (steps × arena addresses) as an SVG file.
        #[arg(long, value_name = "FILE")]
        plan_svg: Option<PathBuf>,
        /// Print what each optimization pass changed: per pass run, in order, the op counts
        /// before and after and the op kinds whose count changed.
        #[arg(long)]
        passes: bool,
        /// Write the optimized graph as Graphviz to stdout (`| dot -Tsvg > graph.svg`).
        #[arg(long)]
        dot: bool,
        /// Print the NNAPI partition: the NNAPI and CPU segments, where each op runs and why
        /// each op left on the CPU stays there, then every NNAPI model description.
        #[arg(long)]
        nnapi: bool,
        /// The Android API level (NNAPI feature level) to lower for: 27..=35.
        #[arg(long, value_name = "N", default_value_t = mvcc::nnapi::partition::DEFAULT_API_LEVEL)]
        api_level: u32,
        /// With NNAPI: keep at most this many NNAPI segments, those with the most work (0: no
        /// limit; each hand-over between NNAPI and the CPU costs an NNAPI execution).
        #[arg(long, value_name = "N", default_value_t = mvcc::nnapi::partition::DEFAULT_MAX_SEGMENTS)]
        nnapi_max_segments: usize,
    },
    /// Run a model on inputs and write its outputs.
    Run {
        /// The `.tflite` model.
        model: PathBuf,
        /// One per model input, in order: a `.npy` file (in the input's type; float32 is
        /// quantized for quantized inputs) or a PNG/JPEG image for a 4-D image input.
        #[arg(long = "input", short = 'i')]
        inputs: Vec<PathBuf>,
        /// One per model output, in order: where to write it as `.npy`. Without any, outputs are
        /// summarized on stdout.
        #[arg(long = "output", short = 'o')]
        outputs: Vec<PathBuf>,
        /// Write every tensor (inputs, constants used, every op result) as `DIR/<tensor index>.npy`.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// The back end.
        #[arg(long, value_enum, default_value_t = Backend::Interp)]
        backend: Backend,
        /// Image preprocessing for float inputs: value = (pixel − mean) / std.
        #[arg(long, default_value_t = 127.5)]
        mean: f32,
        /// See `--mean`.
        #[arg(long, default_value_t = 127.5)]
        std: f32,
        /// With `--backend nnapi-ref`: the Android API level to lower for (27..=35; int8 models
        /// need 30 to go to NNAPI).
        #[arg(long, value_name = "N", default_value_t = mvcc::nnapi::partition::DEFAULT_API_LEVEL)]
        api_level: u32,
        /// With NNAPI: keep at most this many NNAPI segments, those with the most work (0: no
        /// limit; each hand-over between NNAPI and the CPU costs an NNAPI execution).
        #[arg(long, value_name = "N", default_value_t = mvcc::nnapi::partition::DEFAULT_MAX_SEGMENTS)]
        nnapi_max_segments: usize,
    },
    /// Compile a model ahead of time into files.
    Build {
        /// The `.tflite` model.
        model: PathBuf,
        /// What to write, comma-separated. `obj`: `DIR/NAME.o`, a relocatable object defining
        /// `NAME_run` with the code and the weights; `header`: `DIR/NAME.h`, its C header;
        /// `staticlib`: `DIR/libNAME.a`, the object in an archive; `clif`: `DIR/NAME.clif`, the
        /// Cranelift IR of every function; `rust`: `DIR/NAME.rs` (a Rust module for `include!`
        /// or `mod`) and `DIR/NAME.weights.bin` (its weights).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "obj,header")]
        emit: Vec<Emit>,
        /// The target of `obj` and `staticlib`: `host`, a name from `targets/`
        /// (`x86_64-unknown-linux-gnu`, `aarch64-linux-android`, …) or a target `.json` file.
        #[arg(long, default_value = "host")]
        target: String,
        /// The output directory (created if missing).
        #[arg(short = 'o', long = "out-dir", default_value = ".")]
        out_dir: PathBuf,
        /// The model's name in file and symbol names (default: the file stem, sanitized).
        #[arg(long)]
        name: Option<String>,
        /// Rust: also generate `run_traced`, calling a hook after every step.
        #[arg(long)]
        trace: bool,
        /// Rust: also embed the NNAPI partition for this Android API level (27..=35), giving
        /// `Model::set_target` (the runtime's `nnapi` feature loads the driver).
        #[arg(long, value_name = "API_LEVEL")]
        nnapi: Option<u32>,
        /// With NNAPI: keep at most this many NNAPI segments, those with the most work (0: no
        /// limit; each hand-over between NNAPI and the CPU costs an NNAPI execution).
        #[arg(long, value_name = "N", default_value_t = mvcc::nnapi::partition::DEFAULT_MAX_SEGMENTS)]
        nnapi_max_segments: usize,
        /// The shape of each input, in order, as `1x224x224x3` (for models with dynamic
        /// dimensions; `-` keeps the file's).
        #[arg(long = "input-shape")]
        input_shapes: Vec<String>,
    },
    /// Measure a model's latency: run it repeatedly on zero inputs and report the median and
    /// minimum time per run and the throughput.
    Bench {
        /// The `.tflite` model.
        model: PathBuf,
        /// The back end.
        #[arg(long, value_enum, default_value_t = Backend::Jit)]
        backend: Backend,
        /// Timed runs (after one warm-up run).
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// A relocatable object file (Cranelift back end).
    Obj,
    /// The object's C header.
    Header,
    /// A static library holding the object.
    Staticlib,
    /// Rust source using `mvcc-runtime`.
    Rust,
    /// The Cranelift IR of every function, as generated (`DIR/NAME.clif`).
    Clif,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The reference interpreter (TFLite's reference kernels, bit for bit).
    Interp,
    /// Native code for this machine, compiled by the Cranelift back end.
    Jit,
    /// The NNAPI partition (at `--api-level`): NNAPI segments through mvcc's reference executor
    /// (NNAPI's semantics), CPU segments as the CPU code runs them.
    NnapiRef,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect {
            model, passes, dot, ..
        } if passes || dot => inspect_passes(&model, passes, dot),
        Command::Inspect {
            model,
            nnapi: true,
            api_level,
            nnapi_max_segments,
            ..
        } => inspect_nnapi(&model, nnapi_options(api_level, nnapi_max_segments)),
        Command::Inspect {
            model,
            json,
            ir,
            plan,
            plan_svg,
            ..
        } => inspect(&model, json, ir, plan, plan_svg.as_deref()),
        Command::Run {
            model,
            inputs,
            outputs,
            dump,
            backend,
            mean,
            std,
            api_level,
            nnapi_max_segments,
        } => run(
            &model,
            &inputs,
            &outputs,
            dump.as_deref(),
            (backend, nnapi_options(api_level, nnapi_max_segments)),
            mean,
            std,
        ),
        Command::Build {
            model,
            emit,
            target,
            out_dir,
            name,
            trace,
            nnapi,
            input_shapes,
            nnapi_max_segments,
        } => parse_shapes(&input_shapes).and_then(|shapes| {
            let nnapi = nnapi.map(|level| nnapi_options(level, nnapi_max_segments));
            build(
                &model,
                &emit,
                &target,
                &out_dir,
                name.as_deref(),
                RustEmit { trace, nnapi },
                &shapes,
            )
        }),
        Command::Bench {
            model,
            backend,
            runs,
        } => bench(&model, backend, runs),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`mvcc inspect m.tflite | head`): nothing left to tell it.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether `e` is a write to a closed stdout pipe.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `1x224x224x3` per input; `-` for the file's shape.
fn parse_shapes(specs: &[String]) -> Result<Vec<Option<Vec<usize>>>> {
    specs
        .iter()
        .map(|s| {
            if s == "-" {
                return Ok(None);
            }
            s.split('x')
                .map(|d| d.trim().parse::<usize>())
                .collect::<std::result::Result<Vec<usize>, _>>()
                .map(Some)
                .map_err(|_| anyhow!("--input-shape {s:?}: expected dimensions like 1x224x224x3"))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // one per command-line option
/// Options of the Rust emitter.
#[derive(Clone, Copy, Debug)]
struct RustEmit {
    /// Generate `run_traced`.
    trace: bool,
    /// Embed the NNAPI partition built with these options.
    nnapi: Option<mvcc::nnapi::partition::Options>,
}

/// The partition options for `--api-level` (or `--nnapi`) and `--nnapi-max-segments`.
fn nnapi_options(api_level: u32, max_segments: usize) -> mvcc::nnapi::partition::Options {
    mvcc::nnapi::partition::Options {
        max_segments,
        ..mvcc::nnapi::partition::Options::new(api_level)
    }
}

/// Rejects API levels before NNAPI (27, Android 8.1) and after the newest known (35).
fn check_api_level(flag: &str, level: u32) -> Result<()> {
    if !(27..=35).contains(&level) {
        bail!("{flag} {level}: NNAPI exists from API level 27 (Android 8.1) to 35");
    }
    Ok(())
}

fn build(
    model: &Path,
    emit: &[Emit],
    target: &str,
    dir: &Path,
    name: Option<&str>,
    rust: RustEmit,
    shapes: &[Option<Vec<usize>>],
) -> Result<()> {
    if let Some(o) = rust.nnapi {
        check_api_level("--nnapi", o.api_level)?;
        if !emit.contains(&Emit::Rust) {
            bail!("--nnapi needs --emit rust (the NNAPI target is the Rust runtime's)");
        }
    }
    if emit.contains(&Emit::Rust) {
        build_rust(model, dir, name, rust, shapes)?;
    }
    let native: Vec<Emit> = emit.iter().copied().filter(|e| *e != Emit::Rust).collect();
    if native.is_empty() {
        return Ok(());
    }
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let name = mvcc::clif::c_name(name.unwrap_or(stem));
    let g = load_with_shapes(model, shapes)?;
    let (program, plan) = mvcc::interp::compile(&g)?;
    let t = mvcc::clif::target::Target::lookup(target)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |file: String, bytes: &[u8]| -> Result<()> {
        let p = dir.join(file);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        outln!("wrote {}", p.display());
        Ok(())
    };
    if native.contains(&Emit::Obj) || native.contains(&Emit::Staticlib) {
        let obj = mvcc::clif::object::object(&program, &plan, &t, &name)?;
        if native.contains(&Emit::Obj) {
            write(format!("{name}.o"), &obj)?;
        }
        if native.contains(&Emit::Staticlib) {
            let ar =
                mvcc::clif::object::archive(&format!("{name}.o"), &obj, &[format!("{name}_run")]);
            write(format!("lib{name}.a"), &ar)?;
        }
    }
    if native.contains(&Emit::Clif) {
        let text = mvcc::clif::object::clif_text(&program, &plan, &t, &name)?;
        write(format!("{name}.clif"), text.as_bytes())?;
    }
    if native.contains(&Emit::Header) {
        let source = model
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("model.tflite");
        write(
            format!("{name}.h"),
            mvcc::clif::object::header(&program, &plan, &name, source).as_bytes(),
        )?;
    }
    outln!("arena {} bytes", plan.arena_bytes);
    Ok(())
}

fn bench(model: &Path, backend: Backend, runs: usize) -> Result<()> {
    let g = load(model)?;
    let t0 = std::time::Instant::now();
    let (program, plan) = mvcc::interp::compile(&g)?;
    let inputs: Vec<Buf> = program
        .inputs
        .iter()
        .map(|&v| Buf::zeroed(program.value(v).bytes))
        .collect();
    let runs = runs.max(1);
    let mut times = Vec::with_capacity(runs);
    let compile;
    match backend {
        Backend::NnapiRef => {
            bail!("--backend nnapi-ref checks an NNAPI lowering on the host; it is not timed (use jit or interp)")
        }
        Backend::Interp => {
            let interp = Interpreter::new(&program, &plan);
            compile = t0.elapsed();
            interp.run(&inputs)?;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                interp.run(&inputs)?;
                times.push(t.elapsed());
            }
        }
        Backend::Jit => {
            let jit = mvcc::clif::Jit::new(&program, &plan)?;
            compile = t0.elapsed();
            let mut arena = mvcc::clif::Arena::new(plan.arena_bytes);
            let mut outs: Vec<Buf> = program
                .outputs
                .iter()
                .map(|&v| Buf::zeroed(program.value(v).bytes))
                .collect();
            jit.run_in(&mut arena, &inputs, &mut outs, None)?;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                jit.run_in(&mut arena, &inputs, &mut outs, None)?;
                times.push(t.elapsed());
            }
        }
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let median = times[times.len() / 2];
    outln!(
        "{}: backend {:?}, {} runs: median {:.3} ms, min {:.3} ms, {:.1} runs/s (compile {:.3} s)",
        model.display(),
        backend,
        runs,
        ms(median),
        ms(times[0]),
        1.0 / median.as_secs_f64().max(1e-12),
        compile.as_secs_f64()
    );
    Ok(())
}

fn build_rust(
    model: &Path,
    dir: &Path,
    name: Option<&str>,
    rust: RustEmit,
    shapes: &[Option<Vec<usize>>],
) -> Result<()> {
    let w = mvcc::build::write_rust(model, dir, name, rust.trace, shapes, rust.nnapi)
        .map_err(|e| anyhow!("{e}"))?;
    outln!(
        "wrote {} and {} (arena {} bytes)",
        w.source.display(),
        w.weights.display(),
        w.arena_bytes
    );
    Ok(())
}

fn load(path: &Path) -> Result<Graph> {
    load_with_shapes(path, &[])
}

fn load_with_shapes(path: &Path, shapes: &[Option<Vec<usize>>]) -> Result<Graph> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    mvcc::load_model_with_shapes(&bytes, shapes).map_err(|e| {
        let lines: Vec<String> = e.problems.iter().map(|p| format!("  {p}")).collect();
        anyhow!(
            "{}: {} problem(s):\n{}",
            path.display(),
            lines.len(),
            lines.join("\n")
        )
    })
}

fn quant_json(t: &Tensor) -> serde_json::Value {
    match &t.quant {
        None => serde_json::Value::Null,
        Some(q) => serde_json::json!({
            "scale": q.scale, "zero_point": q.zero_point, "axis": q.axis,
        }),
    }
}

fn tensor_json(g: &Graph, id: TensorId) -> serde_json::Value {
    let t = g.tensor(id);
    serde_json::json!({
        "index": t.tflite_index, "name": t.name, "dtype": t.dtype.name(), "shape": t.shape,
        "quantization": quant_json(t),
    })
}

/// `mvcc inspect --passes / --dot`: runs the optimization pipeline, prints its statistics and/or
/// the optimized graph as Graphviz.
fn inspect_nnapi(path: &Path, options: mvcc::nnapi::partition::Options) -> Result<()> {
    check_api_level("--api-level", options.api_level)?;
    let g = load(path)?;
    let c = mvcc::nnapi::partition::compile_with(&g, &options)?;
    let text = format!(
        "{}\n{}",
        mvcc::nnapi::partition::report(&c),
        mvcc::nnapi::text::partition(&c.partition, &c.program.weights.bytes)
    );
    out!("{text}");
    Ok(())
}

fn inspect_passes(path: &Path, passes: bool, dot: bool) -> Result<()> {
    let mut g = load(path)?;
    let mut cx = mvcc::passes::PassCx::new(mvcc::passes::PassOptions::from_env());
    mvcc::passes::run(&mut g, &mut cx).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if passes {
        out!("{}", mvcc::passes::report(&cx.stats));
    }
    if dot {
        out!("{}", mvcc::ir::dot::graph_to_dot(&g));
    }
    Ok(())
}

/// `inspect --plan` and `--plan-svg`: compiles as `run` does and shows the memory plan.
fn inspect_plan(path: &Path, g: &Graph, print: bool, svg: Option<&Path>) -> Result<()> {
    let (program, plan) = mvcc::interp::compile(g)?;
    mvcc::plan::check(&program, &plan).context("the memory plan is inconsistent")?;
    if let Some(file) = svg {
        let title = path.display().to_string();
        std::fs::write(file, mvcc::plan::svg::plan_to_svg(&program, &plan, &title))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    if print {
        out!("{}", mvcc::plan::text::plan_to_text(&program, &plan));
    }
    Ok(())
}

fn inspect(path: &Path, json: bool, ir: bool, plan: bool, plan_svg: Option<&Path>) -> Result<()> {
    let g = load(path)?;
    if ir {
        out!("{}", text::graph_to_text(&g));
        return Ok(());
    }
    if plan || plan_svg.is_some() {
        inspect_plan(path, &g, plan, plan_svg)?;
        if plan || !json {
            return Ok(());
        }
    }
    let order = g.topo_order().map_err(|_| anyhow!("cycle"))?;
    let (params, weight_bytes, macs) = mvcc::inspect::totals(&g);
    if json {
        let ops: Vec<serde_json::Value> = order
            .iter()
            .map(|&o| {
                let n = g.op(o);
                serde_json::json!({
                    "index": n.tflite_index,
                    "op": n.op.kind().tflite_name(),
                    "version": n.version,
                    "inputs": n.inputs.iter().map(|t| t.map(|t| tensor_json(&g, t))).collect::<Vec<_>>(),
                    "outputs": n.outputs.iter().map(|&t| tensor_json(&g, t)).collect::<Vec<_>>(),
                    "macs": mvcc::inspect::op_macs(&g, o),
                })
            })
            .collect();
        let mut v = serde_json::json!({
            "model": path.display().to_string(),
            "inputs": g.inputs.iter().map(|&t| tensor_json(&g, t)).collect::<Vec<_>>(),
            "outputs": g.outputs.iter().map(|&t| tensor_json(&g, t)).collect::<Vec<_>>(),
            "ops": ops,
            "params": params,
            "weight_bytes": weight_bytes,
            "macs": macs,
            "unfused_lower_bound_bytes": mvcc::inspect::unfused_lower_bound(&g),
        });
        // The memory plan of the program `run` executes; null (with the reason) if it cannot be
        // compiled.
        match mvcc::interp::compile(&g) {
            Ok((_, plan)) => {
                v["arena_bytes"] = plan.arena_bytes.into();
                v["arena_lower_bound_bytes"] = plan.lower_bound_bytes.into();
            }
            Err(e) => {
                v["arena_bytes"] = serde_json::Value::Null;
                v["arena_lower_bound_bytes"] = serde_json::Value::Null;
                v["compile_error"] = e.to_string().into();
            }
        }
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let ty = |t: &Tensor| text::tensor_type(t);
    outln!("model: {}", path.display());
    for (kind, list) in [("input", &g.inputs), ("output", &g.outputs)] {
        for (i, &t) in list.iter().enumerate() {
            let tt = g.tensor(t);
            outln!("{kind} {i}: %{} \"{}\" {}", t.0, tt.name, ty(tt));
        }
    }
    outln!();
    outln!(
        "{:>5}  {:<24} {:>12}  inputs -> outputs",
        "index",
        "op",
        "MACs"
    );
    for &o in &order {
        let n = g.op(o);
        let ins: Vec<String> = n
            .inputs
            .iter()
            .flatten()
            .map(|&t| {
                let tt = g.tensor(t);
                format!("{}{}", if tt.is_const() { "const " } else { "" }, ty(tt))
            })
            .collect();
        let outs: Vec<String> = n.outputs.iter().map(|&t| ty(g.tensor(t))).collect();
        outln!(
            "{:>5}  {:<24} {:>12}  {} -> {}",
            n.tflite_index
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            n.op.kind().tflite_name(),
            mvcc::inspect::op_macs(&g, o),
            ins.join(", "),
            outs.join(", ")
        );
    }
    outln!();
    outln!(
        "ops: {}  parameters: {params}  weight bytes: {weight_bytes}  MACs: {macs}",
        order.len()
    );
    Ok(())
}

/// Quantizes float values with a tensor's per-tensor parameters (round half away from zero,
/// saturating), as TFLite's QUANTIZE does.
fn quantize_floats(t: &Tensor, vals: &[f32]) -> Result<Vec<u8>> {
    let (scale, zp) = t.per_tensor_quant().ok_or_else(|| {
        anyhow!(
            "input \"{}\" of type {} has no per-tensor quantization",
            t.name,
            t.dtype
        )
    })?;
    let q = |v: f32| (f64::from(v) / f64::from(scale)).round() + zp as f64;
    Ok(match t.dtype {
        DType::I8 => vals
            .iter()
            .map(|&v| q(v).clamp(-128.0, 127.0) as i8 as u8)
            .collect(),
        DType::U8 => vals.iter().map(|&v| q(v).clamp(0.0, 255.0) as u8).collect(),
        DType::I16 => vals
            .iter()
            .flat_map(|&v| (q(v).clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect(),
        d => bail!("cannot quantize to {d}"),
    })
}

fn load_input(path: &Path, t: &Tensor, index: usize, mean: f32, std: f32) -> Result<Buf> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(ext.as_str(), "png" | "jpg" | "jpeg") {
        return load_image(path, t, index, mean, std);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let a = npy::read(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let count: usize = a.shape.iter().product();
    if count != t.num_elements() {
        bail!(
            "input {index} (\"{}\") has shape {:?}; {} has shape {:?} ({count} elements, the model needs {})",
            t.name,
            t.shape,
            path.display(),
            a.shape,
            t.num_elements()
        );
    }
    if a.dtype == t.dtype {
        return Ok(Buf::from_bytes(&a.data));
    }
    if a.dtype == DType::F32 && t.dtype.is_quantized_int() {
        let vals: Vec<f32> = a
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok(Buf::from_bytes(&quantize_floats(t, &vals)?));
    }
    bail!(
        "input {index} (\"{}\") has type {}; {} holds {} (give {} values, or float32 for a quantized input)",
        t.name,
        t.dtype,
        path.display(),
        a.dtype,
        t.dtype
    )
}

fn load_image(path: &Path, t: &Tensor, index: usize, mean: f32, std: f32) -> Result<Buf> {
    let [1, h, w, c] = t.shape[..] else {
        bail!(
            "input {index} (\"{}\") has shape {:?}, not an image [1, H, W, C]",
            t.name,
            t.shape
        );
    };
    if c != 3 && c != 1 {
        bail!(
            "input {index} (\"{}\") has {c} channels; images need 1 or 3",
            t.name
        );
    }
    let img =
        image::open(path).with_context(|| format!("cannot decode image {}", path.display()))?;
    let img = img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle);
    let pixels: Vec<f32> = if c == 3 {
        img.to_rgb8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect()
    } else {
        img.to_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect()
    };
    let vals: Vec<f32> = pixels.iter().map(|p| (p - mean) / std).collect();
    match t.dtype {
        DType::F32 => Ok(Buf::from_slice(&vals)),
        d if d.is_quantized_int() => Ok(Buf::from_bytes(&quantize_floats(t, &vals)?)),
        d => bail!("input {index} has type {d}, which images cannot fill"),
    }
}

fn run(
    path: &Path,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    dump: Option<&Path>,
    (backend, nnapi): (Backend, mvcc::nnapi::partition::Options),
    mean: f32,
    std: f32,
) -> Result<()> {
    // A model with dynamic dimensions runs at the shapes of the `.npy` inputs given.
    let shapes: Vec<Option<Vec<usize>>> = inputs
        .iter()
        .map(|p| {
            let is_npy = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            let bytes = if is_npy { std::fs::read(p).ok() } else { None };
            bytes.and_then(|b| npy::read(&b).ok()).map(|a| a.shape)
        })
        .collect();
    let g = match load_with_shapes(path, &shapes) {
        Ok(g) => g,
        // The shapes may be wrong rather than dynamic: load as stored, so the input check below
        // names the input whose shape does not fit.
        Err(_) => load(path)?,
    };
    if inputs.len() != g.inputs.len() {
        bail!(
            "the model has {} input(s); {} --input given",
            g.inputs.len(),
            inputs.len()
        );
    }
    if !outputs.is_empty() && outputs.len() != g.outputs.len() {
        bail!(
            "the model has {} output(s); {} --output given",
            g.outputs.len(),
            outputs.len()
        );
    }
    let mut bufs = Vec::new();
    for (i, (p, &t)) in inputs.iter().zip(&g.inputs).enumerate() {
        bufs.push(load_input(p, g.tensor(t), i, mean, std)?);
    }
    if backend == Backend::NnapiRef {
        check_api_level("--api-level", nnapi.api_level)?;
        let c = mvcc::nnapi::partition::compile_with(&g, &nnapi)?;
        let (outs, values) = mvcc::nnapi::run::run_reference(&c, &bufs, dump.is_some())?;
        return write_results(&g, &c.program, &outs, &values, outputs, dump);
    }
    let (program, plan) = mvcc::interp::compile(&g)?;
    let (outs, values) = match backend {
        Backend::NnapiRef => unreachable!("handled above"),
        Backend::Interp => Interpreter::new(&program, &plan).run_values(&bufs, dump.is_some())?,
        Backend::Jit => {
            if dump.is_some() {
                bail!("--dump needs --backend interp");
            }
            let jit = mvcc::clif::Jit::new(&program, &plan)?;
            (jit.run(&bufs)?, Vec::new())
        }
    };
    write_results(&g, &program, &outs, &values, outputs, dump)
}

/// Writes the outputs (as `.npy` files, or summarized on stdout) and, with `dump`, every tensor.
fn write_results(
    g: &Graph,
    program: &mvcc::lower::Program,
    outs: &[Buf],
    values: &[Option<Buf>],
    outputs: &[PathBuf],
    dump: Option<&Path>,
) -> Result<()> {
    let npy_of = |dtype: DType, shape: &[usize], b: &[u8]| NpyArray {
        dtype,
        shape: shape.to_vec(),
        data: b.to_vec(),
    };
    if let Some(dir) = dump {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let write = |idx: u32, a: NpyArray| -> Result<()> {
            let p = dir.join(format!("{idx}.npy"));
            std::fs::write(&p, npy::write(&a))
                .with_context(|| format!("cannot write {}", p.display()))
        };
        for t in g.tensors.iter() {
            if let (Some(d), Some(idx)) = (&t.data, t.tflite_index) {
                write(idx, npy_of(t.dtype, &t.shape, d))?;
            }
        }
        for (v, b) in program.values.iter().zip(values) {
            if let (Some(b), Some(idx)) = (b, v.tflite_index) {
                write(idx, npy_of(v.dtype, &v.shape, b.bytes()))?;
            }
        }
    }
    for (i, (&t, b)) in g.outputs.iter().zip(outs).enumerate() {
        let tt = g.tensor(t);
        if let Some(p) = outputs.get(i) {
            std::fs::write(p, npy::write(&npy_of(tt.dtype, &tt.shape, b.bytes())))
                .with_context(|| format!("cannot write {}", p.display()))?;
        } else {
            outln!(
                "output {i} \"{}\" {}: {}",
                tt.name,
                text::tensor_type(tt),
                summarize(tt, b)
            );
        }
    }
    Ok(())
}

fn summarize(t: &Tensor, b: &Buf) -> String {
    let vals: Vec<f64> = match t.dtype {
        DType::F32 => b
            .as_slice::<f32>()
            .unwrap_or(&[])
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
        DType::I8 => b.bytes().iter().map(|&v| f64::from(v as i8)).collect(),
        DType::U8 => b.bytes().iter().map(|&v| f64::from(v)).collect(),
        DType::I32 => b
            .as_slice::<i32>()
            .unwrap_or(&[])
            .iter()
            .map(|&v| f64::from(v))
            .collect(),
        DType::I64 => b
            .as_slice::<i64>()
            .unwrap_or(&[])
            .iter()
            .map(|&v| v as f64)
            .collect(),
        _ => Vec::new(),
    };
    let n = vals.len();
    let head: Vec<String> = vals.iter().take(8).map(|v| format!("{v}")).collect();
    let mut best: Vec<(usize, f64)> = vals.iter().copied().enumerate().collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<String> = best
        .iter()
        .take(5)
        .map(|(i, v)| format!("{i}:{v}"))
        .collect();
    format!(
        "[{}{}] top-5 {}",
        head.join(", "),
        if n > 8 { ", …" } else { "" },
        top.join(" ")
    )
}
