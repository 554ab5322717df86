//! The Cranelift back end: every step of a lowered [`Program`] becomes a Cranelift function
//! specialized to the step (loop bounds, strides, offsets and requantization constants are
//! immediates), and `NAME_run(inputs, outputs, arena) -> i32` calls them in order.
//!
//! [`define_model`] writes the functions and the weight data into any `cranelift_module::Module`:
//! [`Jit`] (the host, for `mvcc run --backend jit`, `mvcc bench` and the suite) and
//! [`object::object`] (relocatable ELF objects for the [`target::Target`]s in `targets/`, with
//! [`object::header`] the C header). The plan is the middle end's, in-place steps included:
//! generated code reads each element before writing the same element, which is the in-place
//! contract (`plan/mod.rs`).
//!
//! Families write their code in `emit_clif` next to `exec` (`ops/<family>.rs`), with
//! [`cx::KernelCx`].

pub mod cx;
pub mod object;
pub mod target;

use cranelift_codegen::ir::{types, AbiParam, InstBuilder, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, FuncId, Linkage, Module};

use crate::error::{Error, Location, Problems, Result};
use crate::interp::Buf;
use crate::lower::{Kernel, Program};
use crate::plan::Plan;
use cx::KernelCx;

fn backend_err(e: impl std::fmt::Display) -> Error {
    Error::invalid(Location::model(), format!("Cranelift back end: {e}"))
}

/// Cranelift settings every target shares: optimize for speed, keep the verifier on.
fn shared_flags() -> Result<settings::Builder> {
    let mut f = settings::builder();
    f.set("opt_level", "speed").map_err(backend_err)?;
    f.set("enable_verifier", "true").map_err(backend_err)?;
    Ok(f)
}

/// The host ISA with every feature the host has (FMA, SSE4.1, AVX2 on x86-64; NEON on aarch64),
/// for the JIT.
///
/// # Errors
/// An unsupported host.
pub fn host_isa() -> Result<OwnedTargetIsa> {
    let mut f = shared_flags()?;
    f.set("is_pic", "false").map_err(backend_err)?;
    f.set("use_colocated_libcalls", "false")
        .map_err(backend_err)?;
    let builder = cranelift_native::builder().map_err(backend_err)?;
    builder.finish(settings::Flags::new(f)).map_err(backend_err)
}

/// The model name as a C identifier: lowercase letters, digits and `_`, starting with a letter.
pub fn c_name(stem: &str) -> String {
    crate::rust::model_name(stem)
}

fn emit_kernel(kernel: &Kernel, cx: &mut KernelCx<'_, '_>) -> Result<()> {
    match kernel {
        Kernel::Copy => {
            let src = cx.input(0)?;
            let dst = cx.output(0)?;
            if src.bytes != dst.bytes {
                return Err(cx.err("copy between values of different sizes"));
            }
            copy_bytes(cx, src.base, dst.base, src.bytes);
            Ok(())
        }
        Kernel::Activation(k) => k.emit_clif(cx),
        Kernel::ArgMax(k) => k.emit_clif(cx),
        Kernel::Binary(k) => k.emit_clif(cx),
        Kernel::Concatenation(k) => k.emit_clif(cx),
        Kernel::Conv2d(k) => k.emit_clif(cx),
        Kernel::DepthToSpace(k) => k.emit_clif(cx),
        Kernel::FullyConnected(k) => k.emit_clif(cx),
        Kernel::Gather(k) => k.emit_clif(cx),
        Kernel::L2Normalization(k) => k.emit_clif(cx),
        Kernel::LogisticTanh(k) => k.emit_clif(cx),
        Kernel::Pad(k) => k.emit_clif(cx),
        Kernel::Pool2d(k) => k.emit_clif(cx),
        Kernel::Quantize(k) => k.emit_clif(cx),
        Kernel::Reduce(k) => k.emit_clif(cx),
        Kernel::Resize(k) => k.emit_clif(cx),
        Kernel::Slice(k) => k.emit_clif(cx),
        Kernel::Softmax(k) => k.emit_clif(cx),
        Kernel::SplitPack(k) => k.emit_clif(cx),
        Kernel::Transpose(k) => k.emit_clif(cx),
        Kernel::Unary(k) => k.emit_clif(cx),
    }
}

/// Copies `bytes` bytes from `src` to `dst` (regions that do not overlap): 16 bytes at a time,
/// then the tail byte by byte.
pub fn copy_bytes(
    cx: &mut KernelCx<'_, '_>,
    src: cranelift_codegen::ir::Value,
    dst: cranelift_codegen::ir::Value,
    bytes: usize,
) {
    let vec = types::I8X16;
    let chunks = bytes / 16;
    // Loops with a body cannot fail here; the closures return Ok.
    let _ = cx.for_range(chunks, |cx, i| {
        let off = cx.b.ins().imul_imm_s(i, 16);
        let s = cx.b.ins().iadd(src, off);
        let d = cx.b.ins().iadd(dst, off);
        let v = cx.b.ins().load(vec, cx::flags(), s, 0);
        cx.b.ins().store(cx::flags(), v, d, 0);
        Ok(())
    });
    for k in chunks * 16..bytes {
        let v = cx.b.ins().load(types::I8, cx::flags(), src, k as i32);
        cx.b.ins().store(cx::flags(), v, dst, k as i32);
    }
}

/// [`cx::ConstData`] over a module: each table a local read-only data object.
struct ModuleData<'m, M: Module> {
    module: &'m mut M,
    prefix: String,
    count: usize,
}

impl<M: Module> cx::ConstData for ModuleData<'_, M> {
    fn define(
        &mut self,
        bytes: &[u8],
        func: &mut cranelift_codegen::ir::Function,
    ) -> Result<cranelift_codegen::ir::GlobalValue> {
        let id = self
            .module
            .declare_data(
                &format!("{}{}", self.prefix, self.count),
                Linkage::Local,
                false,
                false,
            )
            .map_err(backend_err)?;
        self.count += 1;
        let mut d = DataDescription::new();
        let mut b = bytes.to_vec();
        if b.is_empty() {
            b.push(0);
        }
        d.define(b.into_boxed_slice());
        d.set_align(64);
        self.module.define_data(id, &d).map_err(backend_err)?;
        Ok(self.module.declare_data_in_func(id, func))
    }
}

/// The functions [`define_model`] defined.
#[derive(Clone, Debug)]
pub struct ModelFuncs {
    /// `NAME_run`.
    pub run: FuncId,
    /// `NAME_stepN`, one per step.
    pub steps: Vec<FuncId>,
}

/// Defines `NAME_run` (exported) and one local function per step, plus the weights, in
/// `module`.
///
/// # Errors
/// Every step whose kernel is not generated yet (all listed), or a Cranelift error.
pub fn define_model<M: Module>(
    module: &mut M,
    p: &Program,
    plan: &Plan,
    name: &str,
) -> Result<ModelFuncs> {
    define_model_with(module, p, plan, name, None)
}

/// [`define_model`], also appending every function's CLIF text (as generated, before
/// optimization) to `clif` when given.
///
/// # Errors
/// As [`define_model`].
pub fn define_model_with<M: Module>(
    module: &mut M,
    p: &Program,
    plan: &Plan,
    name: &str,
    mut clif: Option<&mut String>,
) -> Result<ModelFuncs> {
    let ptr = module.target_config().pointer_type();
    let isa = module.isa();
    let has_fma = matches!(
        isa.triple().architecture,
        target_lexicon::Architecture::Aarch64(_)
    ) || isa
        .isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
    let weights = module
        .declare_data(&format!("{name}_weights"), Linkage::Local, false, false)
        .map_err(backend_err)?;
    let mut data = DataDescription::new();
    // Never empty: a zero-sized data object has no address on some targets.
    let mut blob = p.weights.bytes.clone();
    if blob.is_empty() {
        blob.push(0);
    }
    data.define(blob.into_boxed_slice());
    data.set_align(64);
    module.define_data(weights, &data).map_err(backend_err)?;

    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.returns.push(AbiParam::new(types::I32));

    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut step_ids = Vec::with_capacity(p.steps.len());
    let mut problems = Problems::default();
    for (s, step) in p.steps.iter().enumerate() {
        let id = module
            .declare_function(&format!("{name}_step{s}"), Linkage::Local, &sig)
            .map_err(backend_err)?;
        ctx.func.signature = sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let result = {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            b.seal_block(entry);
            let params = b.block_params(entry).to_vec();
            let gv = module.declare_data_in_func(weights, b.func);
            let w = b.ins().symbol_value(ptr, gv);
            let mut sink = ModuleData {
                module: &mut *module,
                prefix: format!("{name}_step{s}_const"),
                count: 0,
            };
            let mut cx = KernelCx::new(
                &mut b,
                p,
                plan,
                s,
                ptr,
                (params[0], params[1], params[2], w),
                has_fma,
                &mut sink,
            );
            let r = emit_kernel(&step.kernel, &mut cx);
            let status = cx.status;
            let code = match status {
                Some(v) => b.use_var(v),
                None => b.ins().iconst(types::I32, 0),
            };
            b.ins().return_(&[code]);
            b.finalize(module.target_config());
            r
        };
        if let (Some(out), Ok(())) = (clif.as_deref_mut(), &result) {
            let o = &step.origin;
            out.push_str(&format!(
                "; step {s}: {} (operator {:?}) -> {:?} [{}]\n{}\n",
                o.op,
                o.ops,
                o.tensors,
                step.kernel.name(),
                ctx.func.display()
            ));
        }
        match result {
            Ok(()) => {
                module
                    .define_function(id, &mut ctx)
                    .map_err(|e| backend_err(format!("step {s}: {e:?}")))?;
            }
            Err(e) => problems.extend(e),
        }
        module.clear_context(&mut ctx);
        step_ids.push(id);
    }
    problems.finish(())?;

    let run = module
        .declare_function(&format!("{name}_run"), Linkage::Export, &sig)
        .map_err(backend_err)?;
    ctx.func.signature = sig.clone();
    ctx.func.name = UserFuncName::user(0, run.as_u32());
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let args = b.block_params(entry).to_vec();
        for &id in &step_ids {
            let f = module.declare_func_in_func(id, b.func);
            let call = b.ins().call(f, &args);
            let code = b.inst_results(call)[0];
            let fail = b.create_block();
            let next = b.create_block();
            b.ins().brif(code, fail, &[], next, &[]);
            b.seal_block(fail);
            b.seal_block(next);
            b.switch_to_block(fail);
            b.ins().return_(&[code]);
            b.switch_to_block(next);
        }
        let zero = b.ins().iconst(types::I32, 0);
        b.ins().return_(&[zero]);
        b.finalize(module.target_config());
    }
    if let Some(out) = clif {
        out.push_str(&format!("; {name}_run\n{}\n", ctx.func.display()));
    }
    module
        .define_function(run, &mut ctx)
        .map_err(|e| backend_err(format!("run: {e:?}")))?;
    module.clear_context(&mut ctx);
    Ok(ModelFuncs {
        run,
        steps: step_ids,
    })
}

/// Called after each step of a traced run with the step index, the arena and the outputs.
pub type StepHook<'h> = &'h mut dyn FnMut(usize, &[u8], &[Buf]);

/// The C signature of `NAME_run` and of each step.
type RawFn = unsafe extern "C" fn(*const *const u8, *const *mut u8, *mut u8) -> i32;

/// A 64-byte-aligned, zeroed byte buffer (the JIT's arena).
#[derive(Debug)]
pub struct Arena {
    words: Vec<u64>,
    offset: usize,
    len: usize,
}

impl Arena {
    /// `len` zero bytes at a 64-byte-aligned address.
    pub fn new(len: usize) -> Arena {
        let words = vec![0u64; len.div_ceil(8) + 8];
        let addr = words.as_ptr() as usize;
        let offset = addr.next_multiple_of(64) - addr;
        Arena { words, offset, len }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[self.offset..self.offset + self.len]
    }

    /// The bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let (o, n) = (self.offset, self.len);
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[o..o + n]
    }
}

/// A model compiled into the host's memory.
pub struct Jit {
    // Owns the code; dropped with the model.
    _module: cranelift_jit::JITModule,
    run: RawFn,
    steps: Vec<RawFn>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    arena_bytes: usize,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit")
            .field("arena_bytes", &self.arena_bytes)
            .finish()
    }
}

impl Jit {
    /// Compiles `p` laid out by `plan` for the host.
    ///
    /// # Errors
    /// As [`define_model`].
    pub fn new(p: &Program, plan: &Plan) -> Result<Jit> {
        let isa = host_isa()?;
        let builder =
            cranelift_jit::JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        let mut module = cranelift_jit::JITModule::new(builder);
        let funcs = define_model(&mut module, p, plan, "model")?;
        module.finalize_definitions().map_err(backend_err)?;
        let get = |id: FuncId| {
            let code = module.get_finalized_function(id);
            // SAFETY: every function was defined with the signature (ptr, ptr, ptr) -> i32 in the
            // host's default calling convention, which is the C ABI.
            unsafe { std::mem::transmute::<*const u8, RawFn>(code) }
        };
        let run = get(funcs.run);
        let steps = funcs.steps.iter().map(|&id| get(id)).collect();
        Ok(Jit {
            _module: module,
            run,
            steps,
            inputs: p.inputs.iter().map(|&v| p.value(v).bytes).collect(),
            outputs: p.outputs.iter().map(|&v| p.value(v).bytes).collect(),
            arena_bytes: plan.arena_bytes,
        })
    }

    /// Size of the arena in bytes.
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes
    }

    fn check(&self, arena: &Arena, inputs: &[Buf], outputs: &[Buf]) -> Result<()> {
        let sizes_ok = inputs.len() == self.inputs.len()
            && outputs.len() == self.outputs.len()
            && inputs.iter().zip(&self.inputs).all(|(b, &n)| b.len() == n)
            && outputs
                .iter()
                .zip(&self.outputs)
                .all(|(b, &n)| b.len() == n);
        if !sizes_ok {
            return Err(Error::invalid(
                Location::model(),
                "JIT: wrong number or size of input or output buffers",
            ));
        }
        if arena.len < self.arena_bytes {
            return Err(Error::invalid(
                Location::model(),
                "JIT: the arena is too small",
            ));
        }
        Ok(())
    }

    /// Runs the model in `arena` (at least [`Jit::arena_bytes`] bytes), writing `outputs`; with
    /// `hook`, step by step, calling `hook(step, arena, outputs)` after each.
    ///
    /// # Errors
    /// Wrong buffer counts or sizes, a small arena, or a kernel's error code.
    pub fn run_in(
        &self,
        arena: &mut Arena,
        inputs: &[Buf],
        outputs: &mut [Buf],
        mut hook: Option<StepHook<'_>>,
    ) -> Result<()> {
        self.check(arena, inputs, outputs)?;
        let ins: Vec<*const u8> = inputs.iter().map(|b| b.bytes().as_ptr()).collect();
        let outs: Vec<*mut u8> = outputs
            .iter_mut()
            .map(|b| b.bytes_mut().as_mut_ptr())
            .collect();
        let a = arena.bytes_mut().as_mut_ptr();
        let fail = |s: usize, code: i32| {
            Error::invalid(
                Location::model(),
                format!("JIT: step {s} refused its data (code {code})"),
            )
        };
        match hook.as_mut() {
            None => {
                // SAFETY: every buffer has the size the program was compiled for, the arena is
                // large enough and 64-byte aligned, and the generated code touches only the
                // regions the plan assigns.
                let code = unsafe { (self.run)(ins.as_ptr(), outs.as_ptr(), a) };
                if code != 0 {
                    return Err(fail(usize::MAX, code));
                }
            }
            Some(h) => {
                for (s, f) in self.steps.iter().enumerate() {
                    // SAFETY: as above; steps run in schedule order.
                    let code = unsafe { f(ins.as_ptr(), outs.as_ptr(), a) };
                    if code != 0 {
                        return Err(fail(s, code));
                    }
                    h(s, arena.bytes(), outputs);
                }
            }
        }
        Ok(())
    }

    /// Runs the model in a fresh arena; returns the outputs.
    ///
    /// # Errors
    /// As [`Jit::run_in`].
    pub fn run(&self, inputs: &[Buf]) -> Result<Vec<Buf>> {
        let mut arena = Arena::new(self.arena_bytes);
        let mut outs: Vec<Buf> = self.outputs.iter().map(|&n| Buf::zeroed(n)).collect();
        self.run_in(&mut arena, inputs, &mut outs, None)?;
        Ok(outs)
    }
}
