//! Replaying a checked description as NNAPI calls: one model and one compilation per NNAPI
//! segment at preparation, one execution per NNAPI segment and run.
//!
//! Every NNAPI object is held by an [`Owned`] the moment it exists, so it is freed on every path:
//! an error while building (what was built so far is dropped), a failed execution, a fallback to
//! the CPU, or the accelerator's drop. A compilation is freed before its model, an event before
//! its execution.
//!
//! Constant operand values are passed by pointer into the `'static` description or weights, or,
//! for filters the weights hold only in the CPU kernels' blocked layout, into buffers unpacked at
//! preparation and owned with the model, so the values NNAPI keeps by pointer (over 128 bytes)
//! outlive the model; dimension lists, scales and index lists are copied to aligned vectors first
//! (the blob may have any alignment).

use core::ffi::{c_int, c_void, CStr};
use core::ops::Range;
use core::ptr;
use std::vec;
use std::vec::Vec;

use super::format::{self, Place, SegmentKind, Value};
use super::sys::{self, Fns};
use super::{CpuSteps, NnapiOptions, Unavailable};
use crate::model::RunError;

const PER_CHANNEL: &str = "ANeuralNetworksModel_setOperandSymmPerChannelQuantParams";
const SUPPORTED: &str = "ANeuralNetworksModel_getSupportedOperationsForDevices";
const CREATE_FOR_DEVICES: &str = "ANeuralNetworksCompilation_createForDevices";

/// Checks a description against the weights without touching NNAPI.
pub(super) fn check(
    blob: &'static [u8],
    weights: &[u8],
) -> Result<format::Partition<'static>, Unavailable> {
    let p = format::parse(blob).map_err(Unavailable::BadDescription)?;
    if !p.has_nnapi() {
        return Err(Unavailable::NoNnapiSegment);
    }
    for (segment, s) in p.segments().enumerate() {
        let SegmentKind::Nnapi(m) = s.kind else {
            continue;
        };
        for (operand, o) in m.operands().enumerate() {
            let range = match o.value {
                Value::Weight { offset, len } => Some((offset, len)),
                Value::Blocked(b) => Some((b.offset, b.len)),
                _ => None,
            };
            if let Some((offset, len)) = range {
                if offset
                    .checked_add(len)
                    .is_none_or(|end| end > weights.len())
                {
                    return Err(Unavailable::WeightRange {
                        segment,
                        operand: operand as u32,
                    });
                }
            }
        }
    }
    Ok(p)
}

/// Checks the devices, then builds and compiles every NNAPI segment.
pub(super) fn prepare(
    fns: Fns,
    p: format::Partition<'static>,
    weights: &'static [u8],
    options: &NnapiOptions,
) -> Result<Prepared, Unavailable> {
    let devices = devices(&fns)?;
    let targets = match (&devices, fns.compilation_create_for_devices) {
        (Some(d), Some(create)) => Some(Targets {
            create,
            supported: required(fns.model_get_supported_operations_for_devices, SUPPORTED)?,
            devices: &d.chosen,
            level: d.chosen_level,
        }),
        _ => None,
    };
    let have = match (&targets, fns.get_runtime_feature_level, &devices) {
        (Some(t), _, _) => t.level,
        // SAFETY: an NDK function without arguments.
        (None, Some(f), _) => unsafe { f() },
        (None, None, Some(d)) => d.all_level.max(29),
        (None, None, None) => 27,
    };
    if have < i64::from(p.api_level) {
        return Err(Unavailable::FeatureLevel {
            have,
            need: p.api_level,
        });
    }
    let per_channel = p.segments().any(|s| match s.kind {
        SegmentKind::Nnapi(m) => m.operands().any(|o| o.channel_quant.is_some()),
        SegmentKind::Cpu => false,
    });
    if per_channel
        && fns
            .model_set_operand_symm_per_channel_quant_params
            .is_none()
    {
        return Err(Unavailable::MissingSymbol(PER_CHANNEL));
    }
    let mut stages = Vec::with_capacity(p.segment_count());
    let mut fallback = None;
    for (segment, s) in p.segments().enumerate() {
        stages.push(match s.kind {
            SegmentKind::Cpu => Stage::Cpu(s.steps),
            SegmentKind::Nnapi(m) => {
                // A model NNAPI refuses to build fails everything; one the devices do not support
                // or cannot compile runs on the CPU, and the other segments stay on NNAPI.
                let model = build(&fns, segment, m, weights)?;
                match compile(
                    &fns,
                    targets.as_ref(),
                    segment,
                    s.steps.clone(),
                    m,
                    model,
                    options,
                ) {
                    Ok(c) => Stage::Nnapi(c),
                    Err(why) => {
                        fallback.get_or_insert(why);
                        Stage::Cpu(s.steps)
                    }
                }
            }
        });
    }
    if !stages.iter().any(|s| matches!(s, Stage::Nnapi(_))) {
        // Every NNAPI segment fell back: NNAPI is not used at all.
        return Err(fallback.unwrap_or(Unavailable::NoNnapiSegment));
    }
    Ok(Prepared {
        fns,
        steps: p.steps,
        stages,
        fallback,
    })
}

/// The devices every NNAPI segment is compiled for (API 29 and later, when the library has
/// `createForDevices`): all but the CPU reference implementation.
struct Targets<'a> {
    create: sys::CompilationCreateForDevices,
    supported: sys::ModelGetSupportedOperationsForDevices,
    /// Never empty, and at most `u32::MAX` long (the device count is a `u32`).
    devices: &'a [*const sys::ANeuralNetworksDevice],
    /// The highest feature level among `devices`.
    level: i64,
}

/// The prepared segments.
#[derive(Debug)]
pub(super) struct Prepared {
    fns: Fns,
    steps: usize,
    stages: Vec<Stage>,
    /// Why the first NNAPI segment that runs on the CPU does (`None` when none does).
    pub(super) fallback: Option<Unavailable>,
}

// SAFETY: NNAPI objects are not tied to the thread that made them; the NDK lets any thread use a
// finished model or compilation as long as no two modify it at once. `Prepared` calls NNAPI only
// through `&mut self` (`run`) and in `Drop`, so moving it to another thread or sharing `&Prepared`
// (which allows no NNAPI call) is sound.
unsafe impl Send for Prepared {}
// SAFETY: as above.
unsafe impl Sync for Prepared {}

#[derive(Debug)]
enum Stage {
    Cpu(Range<usize>),
    Nnapi(Compiled),
}

#[derive(Debug)]
struct Compiled {
    segment: usize,
    steps: Range<usize>,
    // Field order is drop order: the compilation goes before its model.
    compilation: Owned<sys::ANeuralNetworksCompilation>,
    #[allow(dead_code, reason = "held only to be freed after the compilation")]
    model: Built,
    inputs: Vec<Place>,
    outputs: Vec<Place>,
}

/// An NNAPI object and its `_free` function, called on drop unless the pointer is null.
#[derive(Debug)]
struct Owned<T> {
    ptr: *mut T,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr` came from the matching `_create` call of the same function table and
            // is freed only here, once.
            unsafe { (self.free)(self.ptr) }
        }
    }
}

fn call(name: &'static str, code: c_int) -> Result<(), Unavailable> {
    if code == sys::NO_ERROR {
        Ok(())
    } else {
        Err(Unavailable::Refused { call: name, code })
    }
}

/// Takes ownership of what a `_create` call made, then checks its result (a success without an
/// object counts as `UNEXPECTED_NULL`).
fn created<T>(
    name: &'static str,
    code: c_int,
    ptr: *mut T,
    free: unsafe extern "C" fn(*mut T),
) -> Result<Owned<T>, Unavailable> {
    let owned = Owned { ptr, free };
    call(name, code)?;
    if owned.ptr.is_null() {
        return Err(Unavailable::Refused {
            call: name,
            code: sys::UNEXPECTED_NULL,
        });
    }
    Ok(owned)
}

fn required<F>(f: Option<F>, name: &'static str) -> Result<F, Unavailable> {
    f.ok_or(Unavailable::MissingSymbol(name))
}

/// The devices NNAPI lists (API 29 and later).
struct Devices {
    /// Every device but the CPU reference implementation, in NNAPI's order.
    chosen: Vec<*const sys::ANeuralNetworksDevice>,
    /// The highest feature level among `chosen`.
    chosen_level: i64,
    /// The highest feature level among all devices (the reference device's is the runtime's).
    all_level: i64,
}

/// Lists the devices: `None` before API 29.
fn devices(fns: &Fns) -> Result<Option<Devices>, Unavailable> {
    let Some(count) = fns.get_device_count else {
        return Ok(None);
    };
    let get = required(fns.get_device, "ANeuralNetworks_getDevice")?;
    let get_name = required(fns.device_get_name, "ANeuralNetworksDevice_getName")?;
    let get_type = required(fns.device_get_type, "ANeuralNetworksDevice_getType")?;
    let get_level = required(
        fns.device_get_feature_level,
        "ANeuralNetworksDevice_getFeatureLevel",
    )?;
    let mut n = 0u32;
    // SAFETY: NDK function; `n` is a valid out-pointer.
    call("ANeuralNetworks_getDeviceCount", unsafe { count(&mut n) })?;
    if n == 0 {
        return Err(Unavailable::NoDevice);
    }
    let mut found = Devices {
        chosen: Vec::new(),
        chosen_level: i64::MIN,
        all_level: i64::MIN,
    };
    for i in 0..n {
        let mut device = ptr::null_mut();
        // SAFETY: NDK function; `i` is below the device count and `device` a valid out-pointer.
        call("ANeuralNetworks_getDevice", unsafe { get(i, &mut device) })?;
        if device.is_null() {
            return Err(Unavailable::Refused {
                call: "ANeuralNetworks_getDevice",
                code: sys::UNEXPECTED_NULL,
            });
        }
        let mut name = ptr::null();
        let mut ty = 0i32;
        let mut fl = 0i64;
        // SAFETY: `device` came from getDevice; the out-pointers are valid.
        unsafe {
            call("ANeuralNetworksDevice_getName", get_name(device, &mut name))?;
            call("ANeuralNetworksDevice_getType", get_type(device, &mut ty))?;
            call(
                "ANeuralNetworksDevice_getFeatureLevel",
                get_level(device, &mut fl),
            )?;
        }
        // SAFETY: on success getName points `name` at a NUL-terminated string the runtime owns.
        let reference = ty == sys::DEVICE_CPU
            && !name.is_null()
            && unsafe { CStr::from_ptr(name) } == sys::REFERENCE_DEVICE_NAME;
        if !reference {
            found.chosen.push(device.cast_const());
            found.chosen_level = found.chosen_level.max(fl);
        }
        found.all_level = found.all_level.max(fl);
    }
    if found.chosen.is_empty() {
        return Err(Unavailable::OnlyCpuReference);
    }
    Ok(Some(found))
}

/// A finished NNAPI model and the unpacked constants it points into.
#[derive(Debug)]
struct Built {
    // Field order is drop order: the model goes before the values it points into.
    model: Owned<sys::ANeuralNetworksModel>,
    #[allow(dead_code, reason = "held only to outlive the model")]
    values: Vec<Vec<u8>>,
}

/// Builds and finishes the NNAPI model of a segment.
fn build(
    fns: &Fns,
    segment: usize,
    m: format::Model<'static>,
    weights: &'static [u8],
) -> Result<Built, Unavailable> {
    let mut raw = ptr::null_mut();
    // SAFETY: NDK function; `raw` is a valid out-pointer.
    let code = unsafe { (fns.model_create)(&mut raw) };
    let mut built = Built {
        model: created("ANeuralNetworksModel_create", code, raw, fns.model_free)?,
        values: Vec::new(),
    };
    let model = &built.model;
    for (i, o) in m.operands().enumerate() {
        // The reader bounds the operand count by i32::MAX.
        let index = i as i32;
        let dims: Vec<u32> = o.dims.iter().collect();
        let ty = sys::ANeuralNetworksOperandType {
            type_: o.ty,
            dimension_count: dims.len() as u32,
            dimensions: if dims.is_empty() {
                ptr::null()
            } else {
                dims.as_ptr()
            },
            scale: o.scale,
            zero_point: o.zero_point,
        };
        // SAFETY: `model` is live and unfinished; `ty` and `dims` outlive the call.
        let code = unsafe { (fns.model_add_operand)(model.ptr, &ty) };
        call("ANeuralNetworksModel_addOperand", code)?;
        if let Some(q) = o.channel_quant {
            let f = required(
                fns.model_set_operand_symm_per_channel_quant_params,
                PER_CHANNEL,
            )?;
            let scales: Vec<f32> = q.scales.iter().collect();
            let params = sys::ANeuralNetworksSymmPerChannelQuantParams {
                channel_dim: q.channel_dim,
                scale_count: scales.len() as u32,
                scales: scales.as_ptr(),
            };
            // SAFETY: as above; NNAPI copies the parameters during the call.
            call(PER_CHANNEL, unsafe { f(model.ptr, index, &params) })?;
        }
        let value: Option<(*const c_void, usize)> = match o.value {
            Value::Temporary | Value::Input | Value::Output => None,
            Value::NoValue => Some((ptr::null(), 0)),
            Value::Inline(bytes) => Some((bytes.as_ptr().cast(), bytes.len())),
            Value::Weight { offset, len } => {
                let bytes = offset
                    .checked_add(len)
                    .and_then(|end| weights.get(offset..end))
                    .ok_or(Unavailable::WeightRange {
                        segment,
                        operand: i as u32,
                    })?;
                Some((bytes.as_ptr().cast(), len))
            }
            Value::Blocked(b) => {
                // At most the blocked copy's size, which lies inside the weights (`check`).
                let mut value = vec![0; b.unpacked_len()];
                if !b.unpack(weights, &mut value) {
                    return Err(Unavailable::WeightRange {
                        segment,
                        operand: i as u32,
                    });
                }
                // Moving the vector into `built.values` does not move its heap buffer.
                let p = value.as_ptr().cast();
                let len = value.len();
                built.values.push(value);
                Some((p, len))
            }
        };
        if let Some((p, len)) = value {
            // SAFETY: `p..p + len` is inside `'static` data, or inside a buffer of
            // `built.values` that is freed only after the model, or null with length 0: values
            // NNAPI keeps by pointer outlive the model.
            let code = unsafe { (fns.model_set_operand_value)(model.ptr, index, p, len) };
            call("ANeuralNetworksModel_setOperandValue", code)?;
        }
    }
    for op in m.operations() {
        let ins: Vec<u32> = op.inputs.iter().collect();
        let outs: Vec<u32> = op.outputs.iter().collect();
        // SAFETY: `model` is live and unfinished; the lists outlive the call, which copies them.
        let code = unsafe {
            (fns.model_add_operation)(
                model.ptr,
                op.ty,
                ins.len() as u32,
                ins.as_ptr(),
                outs.len() as u32,
                outs.as_ptr(),
            )
        };
        call("ANeuralNetworksModel_addOperation", code)?;
    }
    let ins: Vec<u32> = m.inputs.iter().collect();
    let outs: Vec<u32> = m.outputs.iter().collect();
    // SAFETY: as above.
    let code = unsafe {
        (fns.model_identify_inputs_and_outputs)(
            model.ptr,
            ins.len() as u32,
            ins.as_ptr(),
            outs.len() as u32,
            outs.as_ptr(),
        )
    };
    call("ANeuralNetworksModel_identifyInputsAndOutputs", code)?;
    // SAFETY: `model` is live and unfinished.
    call("ANeuralNetworksModel_finish", unsafe {
        (fns.model_finish)(model.ptr)
    })?;
    Ok(built)
}

/// Checks that the devices support every operation of a segment's finished `model` (with
/// `targets`), then compiles it. On an error the model is freed (after the compilation: the
/// parameter drops after the locals).
fn compile(
    fns: &Fns,
    targets: Option<&Targets<'_>>,
    segment: usize,
    steps: Range<usize>,
    m: format::Model<'static>,
    model: Built,
    options: &NnapiOptions,
) -> Result<Compiled, Unavailable> {
    let mut raw = ptr::null_mut();
    let compilation = match targets {
        Some(t) => {
            // `Targets::devices` is never longer than `u32::MAX`.
            let n = t.devices.len() as u32;
            let mut supported = vec![false; m.operations().count()];
            // SAFETY: `model` is live and finished; the devices came from getDevice and
            // `supported` has one entry per operation of the model.
            let code = unsafe {
                (t.supported)(
                    model.model.ptr,
                    t.devices.as_ptr(),
                    n,
                    supported.as_mut_ptr(),
                )
            };
            call(SUPPORTED, code)?;
            if let Some(operation) = supported.iter().position(|&ok| !ok) {
                return Err(Unavailable::Unsupported {
                    segment,
                    // The reader bounds the operation count by i32::MAX.
                    operation: operation as u32,
                });
            }
            // SAFETY: as above; `raw` is a valid out-pointer.
            let code = unsafe { (t.create)(model.model.ptr, t.devices.as_ptr(), n, &mut raw) };
            created(CREATE_FOR_DEVICES, code, raw, fns.compilation_free)?
        }
        None => {
            // SAFETY: `model` is live and finished; `raw` is a valid out-pointer.
            let code = unsafe { (fns.compilation_create)(model.model.ptr, &mut raw) };
            created(
                "ANeuralNetworksCompilation_create",
                code,
                raw,
                fns.compilation_free,
            )?
        }
    };
    // SAFETY: `compilation` is live and unfinished.
    let code =
        unsafe { (fns.compilation_set_preference)(compilation.ptr, options.preference.code()) };
    call("ANeuralNetworksCompilation_setPreference", code)?;
    if let (Some(cache), Some(set_caching)) = (&options.cache, fns.compilation_set_caching) {
        let token = segment_token(cache.token, segment);
        // SAFETY: `compilation` is live and unfinished; the directory is NUL-terminated and the
        // token has the 32 bytes NNAPI reads; both outlive the call.
        let code = unsafe { set_caching(compilation.ptr, cache.dir.as_ptr(), token.as_ptr()) };
        call("ANeuralNetworksCompilation_setCaching", code)?;
    }
    // SAFETY: `compilation` is live and unfinished.
    call("ANeuralNetworksCompilation_finish", unsafe {
        (fns.compilation_finish)(compilation.ptr)
    })?;
    Ok(Compiled {
        segment,
        steps,
        compilation,
        model,
        inputs: m.input_places().collect(),
        outputs: m.output_places().collect(),
    })
}

/// The cache token of the segment at index `segment`: the caller's with the index XORed into the
/// last four bytes.
fn segment_token(mut token: [u8; 32], segment: usize) -> [u8; 32] {
    for (t, s) in token[28..].iter_mut().zip((segment as u32).to_le_bytes()) {
        *t ^= s;
    }
    token
}

impl Prepared {
    /// Runs every segment; the second value is set when NNAPI failed and the CPU took over (the
    /// caller then drops `self`).
    pub(super) fn run(
        &mut self,
        cpu: &mut dyn CpuSteps,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        arena: &mut [u8],
    ) -> (Result<(), RunError>, Option<Unavailable>) {
        let program = cpu.step_count();
        if program != self.steps {
            let why = Unavailable::StepCount {
                description: self.steps,
                program,
            };
            return (cpu.run_steps(0..program, inputs, outputs, arena), Some(why));
        }
        for stage in &self.stages {
            match stage {
                Stage::Cpu(steps) => {
                    if let Err(e) = cpu.run_steps(steps.clone(), inputs, outputs, arena) {
                        return (Err(e), None);
                    }
                }
                Stage::Nnapi(c) => {
                    // Every base pointer is taken once, before any is used.
                    let arena_base = (arena.as_mut_ptr(), arena.len());
                    let output_bases: Vec<(*mut u8, usize)> = outputs
                        .iter_mut()
                        .map(|b| (b.as_mut_ptr(), b.len()))
                        .collect();
                    if let Err(why) = c.execute(&self.fns, inputs, &output_bases, arena_base) {
                        let mut result = cpu.run_steps(c.steps.clone(), inputs, outputs, arena);
                        if result.is_ok() && c.steps.end < self.steps {
                            result = cpu.run_steps(c.steps.end..self.steps, inputs, outputs, arena);
                        }
                        return (result, Some(why));
                    }
                }
            }
        }
        (Ok(()), None)
    }
}

/// The start of a place's bytes in a run's buffers, if they are inside.
fn region(
    place: Place,
    inputs: &[&[u8]],
    outputs: &[(*mut u8, usize)],
    arena: (*mut u8, usize),
) -> Option<(*mut u8, usize, bool)> {
    let (base, size, writable, offset, len) = match place {
        Place::Arena { offset, len } => (arena.0, arena.1, true, offset, len),
        Place::ModelInput { index, offset, len } => {
            let b = inputs.get(index)?;
            (b.as_ptr().cast_mut(), b.len(), false, offset, len)
        }
        Place::ModelOutput { index, offset, len } => {
            let &(p, n) = outputs.get(index)?;
            (p, n, true, offset, len)
        }
    };
    (offset.checked_add(len)? <= size).then(|| (base.wrapping_add(offset), len, writable))
}

impl Compiled {
    fn execute(
        &self,
        fns: &Fns,
        inputs: &[&[u8]],
        outputs: &[(*mut u8, usize)],
        arena: (*mut u8, usize),
    ) -> Result<(), Unavailable> {
        let bad_place = Unavailable::Place {
            segment: self.segment,
        };
        // Every place is checked before NNAPI is called.
        let ins: Vec<(*const u8, usize)> = self
            .inputs
            .iter()
            .map(|&p| region(p, inputs, outputs, arena).map(|(p, n, _)| (p.cast_const(), n)))
            .collect::<Option<_>>()
            .ok_or(bad_place)?;
        let outs: Vec<(*mut u8, usize)> = self
            .outputs
            .iter()
            .map(|&p| match region(p, inputs, outputs, arena) {
                Some((p, n, true)) => Some((p, n)),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or(bad_place)?;
        let mut raw = ptr::null_mut();
        // SAFETY: the compilation is live and finished; `raw` is a valid out-pointer.
        let code = unsafe { (fns.execution_create)(self.compilation.ptr, &mut raw) };
        let execution = created(
            "ANeuralNetworksExecution_create",
            code,
            raw,
            fns.execution_free,
        )?;
        for (k, &(p, n)) in ins.iter().enumerate() {
            let k = i32::try_from(k).map_err(|_| bad_place)?;
            // SAFETY: `p..p + n` lies inside a buffer of this run (checked above), which outlives
            // the execution (it ends before this function returns).
            let code =
                unsafe { (fns.execution_set_input)(execution.ptr, k, ptr::null(), p.cast(), n) };
            call("ANeuralNetworksExecution_setInput", code)?;
        }
        for (k, &(p, n)) in outs.iter().enumerate() {
            let k = i32::try_from(k).map_err(|_| bad_place)?;
            // SAFETY: as above, in a writable buffer whose bytes no input place overlaps (the
            // compiler's guarantee) and no Rust reference reads during the execution.
            let code =
                unsafe { (fns.execution_set_output)(execution.ptr, k, ptr::null(), p.cast(), n) };
            call("ANeuralNetworksExecution_setOutput", code)?;
        }
        match fns.execution_compute {
            Some(compute) => {
                // SAFETY: the execution is live with every input and output set.
                call("ANeuralNetworksExecution_compute", unsafe {
                    compute(execution.ptr)
                })
            }
            None => {
                let mut raw = ptr::null_mut();
                // SAFETY: as above; `raw` is a valid out-pointer.
                let code = unsafe { (fns.execution_start_compute)(execution.ptr, &mut raw) };
                let event = created(
                    "ANeuralNetworksExecution_startCompute",
                    code,
                    raw,
                    fns.event_free,
                )?;
                // SAFETY: the event is live; waiting ends the execution before the buffers are
                // used again.
                call("ANeuralNetworksEvent_wait", unsafe {
                    (fns.event_wait)(event.ptr)
                })
            }
        }
    }
}
