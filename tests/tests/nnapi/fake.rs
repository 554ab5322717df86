//! A recording NNAPI for tests: `extern "C"` doubles of every NDK function `Fns` holds. Each
//! logs its call with its arguments (handles by name, pointers as `region+offset`), hands out fake
//! handles and returns the configured result; the state is per test thread.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ops::Range;

use mvcc_runtime::nnapi::sys::{
    self, ANeuralNetworksCompilation, ANeuralNetworksDevice, ANeuralNetworksEvent,
    ANeuralNetworksExecution, ANeuralNetworksModel, ANeuralNetworksOperandType,
    ANeuralNetworksSymmPerChannelQuantParams,
};
use mvcc_runtime::nnapi::{CpuSteps, Fns};
use mvcc_runtime::RunError;

#[derive(Default)]
pub struct Fake {
    pub log: Vec<String>,
    pub next: usize,
    pub names: BTreeMap<usize, String>,
    pub live: BTreeSet<usize>,
    pub calls: BTreeMap<&'static str, usize>,
    /// (function, nth call counting from 1, result code).
    pub fail: Vec<(&'static str, usize, i32)>,
    pub devices: Vec<(CString, i32, i64)>,
    pub runtime_level: i64,
    pub regions: Vec<(String, usize, usize)>,
    /// Operations added, per model handle.
    pub operations: BTreeMap<usize, usize>,
    /// (nth `getSupportedOperationsForDevices` call counting from 1, operation index): that
    /// operation is reported unsupported.
    pub unsupported: Vec<(usize, usize)>,
}

thread_local! {
    static FAKE: RefCell<Fake> = RefCell::new(Fake::default());
}

pub fn with<R>(f: impl FnOnce(&mut Fake) -> R) -> R {
    FAKE.with(|s| f(&mut s.borrow_mut()))
}

/// Resets the double: no failures, one accelerator at feature level `level`, plus the reference.
pub fn reset(level: i64) {
    with(|s| {
        *s = Fake {
            devices: vec![
                (
                    CString::new("vendor-npu").unwrap(),
                    sys::DEVICE_ACCELERATOR,
                    level,
                ),
                (
                    CString::new("nnapi-reference").unwrap(),
                    sys::DEVICE_CPU,
                    level,
                ),
            ],
            runtime_level: level,
            ..Fake::default()
        }
    });
}

pub fn fail(name: &'static str, nth: usize, code: i32) {
    with(|s| s.fail.push((name, nth, code)));
}

pub fn unsupported(nth: usize, operation: usize) {
    with(|s| s.unsupported.push((nth, operation)));
}

pub fn region(name: &str, bytes: &[u8]) {
    with(|s| {
        s.regions
            .push((name.to_string(), bytes.as_ptr() as usize, bytes.len()))
    });
}

pub fn take_log() -> Vec<String> {
    with(|s| std::mem::take(&mut s.log))
}

pub fn live() -> Vec<String> {
    with(|s| s.live.iter().map(|h| s.names[h].clone()).collect())
}

impl Fake {
    fn result(&mut self, name: &'static str) -> i32 {
        let n = self.calls.entry(name).or_default();
        *n += 1;
        let n = *n;
        self.fail
            .iter()
            .find(|&&(f, nth, _)| f == name && nth == n)
            .map_or(0, |&(_, _, code)| code)
    }

    fn create(&mut self, kind: &str) -> usize {
        self.next += 1;
        let h = 0x1000 * self.next;
        self.names.insert(h, format!("{kind}{}", self.next));
        self.live.insert(h);
        h
    }

    fn name<T>(&self, p: *const T) -> String {
        self.names
            .get(&(p as usize))
            .cloned()
            .unwrap_or_else(|| format!("?{p:p}"))
    }

    fn free<T>(&mut self, what: &str, p: *mut T) {
        let name = self.name(p);
        if !self.live.remove(&(p as usize)) {
            self.log.push(format!("DOUBLE OR BAD FREE {name}"));
        }
        self.log.push(format!("{what}({name})"));
    }

    /// Where `p..p + len` is: `region+offset`, checked to lie inside the region.
    fn place(&self, p: *const c_void, len: usize) -> String {
        if p.is_null() {
            return "NULL".into();
        }
        let a = p as usize;
        for (name, start, size) in &self.regions {
            if a >= *start && a <= start + size {
                let off = a - start;
                let fits = if off + len <= *size { "" } else { " OVERFLOW" };
                return format!("{name}+{off}{fits}");
            }
        }
        format!("?{a:#x}")
    }
}

unsafe fn u32s(p: *const u32, n: u32) -> Vec<u32> {
    if n == 0 {
        return Vec::new();
    }
    unsafe { std::slice::from_raw_parts(p, n as usize) }.to_vec()
}

unsafe extern "C" fn model_create(m: *mut *mut ANeuralNetworksModel) -> c_int {
    with(|s| {
        let code = s.result("ANeuralNetworksModel_create");
        if code != 0 {
            s.log.push(format!("Model_create -> error {code}"));
            unsafe { *m = std::ptr::null_mut() };
            return code;
        }
        let h = s.create("model");
        s.log.push(format!("Model_create -> {}", s.names[&h]));
        unsafe { *m = h as *mut _ };
        0
    })
}

unsafe extern "C" fn model_free(m: *mut ANeuralNetworksModel) {
    with(|s| s.free("Model_free", m));
}

unsafe extern "C" fn model_add_operand(
    m: *mut ANeuralNetworksModel,
    t: *const ANeuralNetworksOperandType,
) -> c_int {
    with(|s| {
        let t = unsafe { *t };
        let dims = unsafe { u32s(t.dimensions, t.dimension_count) };
        if t.dimension_count == 0 && !t.dimensions.is_null() {
            s.log.push("dims pointer not NULL for a scalar".into());
        }
        s.log.push(format!(
            "Model_addOperand({}, type={} dims={dims:?} scale={} zp={})",
            s.name(m),
            t.type_,
            t.scale,
            t.zero_point
        ));
        s.result("ANeuralNetworksModel_addOperand")
    })
}

unsafe extern "C" fn model_set_operand_value(
    m: *mut ANeuralNetworksModel,
    index: i32,
    buffer: *const c_void,
    length: usize,
) -> c_int {
    with(|s| {
        let mut place = s.place(buffer, length);
        if place.starts_with('?') && length <= 64 {
            // Outside the registered regions: a buffer the runtime made (an unpacked filter).
            // SAFETY: NNAPI's contract: `buffer` holds `length` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), length) };
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            place = format!("heap[{}]", hex.join(" "));
        }
        s.log.push(format!(
            "Model_setOperandValue({}, {index}, {place}, {length})",
            s.name(m),
        ));
        s.result("ANeuralNetworksModel_setOperandValue")
    })
}

unsafe extern "C" fn model_set_per_channel(
    m: *mut ANeuralNetworksModel,
    index: i32,
    q: *const ANeuralNetworksSymmPerChannelQuantParams,
) -> c_int {
    with(|s| {
        let q = unsafe { *q };
        let scales = unsafe { std::slice::from_raw_parts(q.scales, q.scale_count as usize) };
        s.log.push(format!(
            "Model_setOperandSymmPerChannelQuantParams({}, {index}, dim={} scales={scales:?})",
            s.name(m),
            q.channel_dim
        ));
        s.result("ANeuralNetworksModel_setOperandSymmPerChannelQuantParams")
    })
}

unsafe extern "C" fn model_add_operation(
    m: *mut ANeuralNetworksModel,
    ty: i32,
    n_in: u32,
    ins: *const u32,
    n_out: u32,
    outs: *const u32,
) -> c_int {
    with(|s| {
        let (i, o) = unsafe { (u32s(ins, n_in), u32s(outs, n_out)) };
        s.log.push(format!(
            "Model_addOperation({}, {ty}, {i:?}, {o:?})",
            s.name(m)
        ));
        let code = s.result("ANeuralNetworksModel_addOperation");
        if code == 0 {
            *s.operations.entry(m as usize).or_default() += 1;
        }
        code
    })
}

unsafe extern "C" fn model_identify(
    m: *mut ANeuralNetworksModel,
    n_in: u32,
    ins: *const u32,
    n_out: u32,
    outs: *const u32,
) -> c_int {
    with(|s| {
        let (i, o) = unsafe { (u32s(ins, n_in), u32s(outs, n_out)) };
        s.log.push(format!(
            "Model_identifyInputsAndOutputs({}, {i:?}, {o:?})",
            s.name(m)
        ));
        s.result("ANeuralNetworksModel_identifyInputsAndOutputs")
    })
}

unsafe extern "C" fn model_finish(m: *mut ANeuralNetworksModel) -> c_int {
    with(|s| {
        s.log.push(format!("Model_finish({})", s.name(m)));
        s.result("ANeuralNetworksModel_finish")
    })
}

unsafe extern "C" fn compilation_create(
    m: *mut ANeuralNetworksModel,
    c: *mut *mut ANeuralNetworksCompilation,
) -> c_int {
    with(|s| {
        let code = s.result("ANeuralNetworksCompilation_create");
        if code != 0 {
            s.log
                .push(format!("Compilation_create({}) -> error {code}", s.name(m)));
            unsafe { *c = std::ptr::null_mut() };
            return code;
        }
        let h = s.create("compilation");
        s.log.push(format!(
            "Compilation_create({}) -> {}",
            s.name(m),
            s.names[&h]
        ));
        unsafe { *c = h as *mut _ };
        0
    })
}

impl Fake {
    fn device_names(&self, d: *const *const ANeuralNetworksDevice, n: u32) -> Vec<String> {
        (0..n as usize)
            .map(|i| {
                let d = unsafe { *d.add(i) };
                self.devices[device_index(d)]
                    .0
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

unsafe extern "C" fn get_supported_operations(
    m: *const ANeuralNetworksModel,
    d: *const *const ANeuralNetworksDevice,
    n: u32,
    supported: *mut bool,
) -> c_int {
    with(|s| {
        let code = s.result("ANeuralNetworksModel_getSupportedOperationsForDevices");
        let nth = s.calls["ANeuralNetworksModel_getSupportedOperationsForDevices"];
        let count = s.operations.get(&(m as usize)).copied().unwrap_or(0);
        let flags: Vec<bool> = (0..count)
            .map(|op| !s.unsupported.contains(&(nth, op)))
            .collect();
        if code == 0 {
            for (k, &f) in flags.iter().enumerate() {
                unsafe { *supported.add(k) = f };
            }
        }
        s.log.push(format!(
            "Model_getSupportedOperationsForDevices({}, {:?}) -> {code} {flags:?}",
            s.name(m),
            s.device_names(d, n)
        ));
        code
    })
}

unsafe extern "C" fn compilation_create_for_devices(
    m: *mut ANeuralNetworksModel,
    d: *const *const ANeuralNetworksDevice,
    n: u32,
    c: *mut *mut ANeuralNetworksCompilation,
) -> c_int {
    with(|s| {
        let devices = s.device_names(d, n);
        let code = s.result("ANeuralNetworksCompilation_createForDevices");
        if code != 0 {
            s.log.push(format!(
                "Compilation_createForDevices({}, {devices:?}) -> error {code}",
                s.name(m)
            ));
            unsafe { *c = std::ptr::null_mut() };
            return code;
        }
        let h = s.create("compilation");
        s.log.push(format!(
            "Compilation_createForDevices({}, {devices:?}) -> {}",
            s.name(m),
            s.names[&h]
        ));
        unsafe { *c = h as *mut _ };
        0
    })
}

unsafe extern "C" fn compilation_free(c: *mut ANeuralNetworksCompilation) {
    with(|s| s.free("Compilation_free", c));
}

unsafe extern "C" fn compilation_set_preference(
    c: *mut ANeuralNetworksCompilation,
    preference: i32,
) -> c_int {
    with(|s| {
        s.log.push(format!(
            "Compilation_setPreference({}, {preference})",
            s.name(c)
        ));
        s.result("ANeuralNetworksCompilation_setPreference")
    })
}

unsafe extern "C" fn compilation_set_caching(
    c: *mut ANeuralNetworksCompilation,
    dir: *const c_char,
    token: *const u8,
) -> c_int {
    with(|s| {
        let dir = unsafe { CStr::from_ptr(dir) }
            .to_string_lossy()
            .into_owned();
        let token = unsafe { std::slice::from_raw_parts(token, 32) };
        let hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
        s.log.push(format!(
            "Compilation_setCaching({}, {dir}, {hex})",
            s.name(c)
        ));
        s.result("ANeuralNetworksCompilation_setCaching")
    })
}

unsafe extern "C" fn compilation_finish(c: *mut ANeuralNetworksCompilation) -> c_int {
    with(|s| {
        s.log.push(format!("Compilation_finish({})", s.name(c)));
        s.result("ANeuralNetworksCompilation_finish")
    })
}

unsafe extern "C" fn execution_create(
    c: *mut ANeuralNetworksCompilation,
    e: *mut *mut ANeuralNetworksExecution,
) -> c_int {
    with(|s| {
        let code = s.result("ANeuralNetworksExecution_create");
        if code != 0 {
            s.log
                .push(format!("Execution_create({}) -> error {code}", s.name(c)));
            unsafe { *e = std::ptr::null_mut() };
            return code;
        }
        let h = s.create("execution");
        s.log.push(format!(
            "Execution_create({}) -> {}",
            s.name(c),
            s.names[&h]
        ));
        unsafe { *e = h as *mut _ };
        0
    })
}

unsafe extern "C" fn execution_free(e: *mut ANeuralNetworksExecution) {
    with(|s| s.free("Execution_free", e));
}

unsafe extern "C" fn execution_set_input(
    e: *mut ANeuralNetworksExecution,
    index: i32,
    t: *const ANeuralNetworksOperandType,
    buffer: *const c_void,
    length: usize,
) -> c_int {
    with(|s| {
        s.log.push(format!(
            "Execution_setInput({}, {index}, {}, {}, {length})",
            s.name(e),
            if t.is_null() { "NULL" } else { "TYPE" },
            s.place(buffer, length)
        ));
        s.result("ANeuralNetworksExecution_setInput")
    })
}

unsafe extern "C" fn execution_set_output(
    e: *mut ANeuralNetworksExecution,
    index: i32,
    t: *const ANeuralNetworksOperandType,
    buffer: *mut c_void,
    length: usize,
) -> c_int {
    with(|s| {
        s.log.push(format!(
            "Execution_setOutput({}, {index}, {}, {}, {length})",
            s.name(e),
            if t.is_null() { "NULL" } else { "TYPE" },
            s.place(buffer, length)
        ));
        s.result("ANeuralNetworksExecution_setOutput")
    })
}

unsafe extern "C" fn execution_compute(e: *mut ANeuralNetworksExecution) -> c_int {
    with(|s| {
        s.log.push(format!("Execution_compute({})", s.name(e)));
        s.result("ANeuralNetworksExecution_compute")
    })
}

unsafe extern "C" fn execution_start_compute(
    e: *mut ANeuralNetworksExecution,
    ev: *mut *mut ANeuralNetworksEvent,
) -> c_int {
    with(|s| {
        let code = s.result("ANeuralNetworksExecution_startCompute");
        if code != 0 {
            s.log.push(format!(
                "Execution_startCompute({}) -> error {code}",
                s.name(e)
            ));
            unsafe { *ev = std::ptr::null_mut() };
            return code;
        }
        let h = s.create("event");
        s.log.push(format!(
            "Execution_startCompute({}) -> {}",
            s.name(e),
            s.names[&h]
        ));
        unsafe { *ev = h as *mut _ };
        0
    })
}

unsafe extern "C" fn event_wait(ev: *mut ANeuralNetworksEvent) -> c_int {
    with(|s| {
        s.log.push(format!("Event_wait({})", s.name(ev)));
        s.result("ANeuralNetworksEvent_wait")
    })
}

unsafe extern "C" fn event_free(ev: *mut ANeuralNetworksEvent) {
    with(|s| s.free("Event_free", ev));
}

const DEVICE_BASE: usize = 0x100;

fn device_index(d: *const ANeuralNetworksDevice) -> usize {
    (d as usize - DEVICE_BASE) / 16
}

unsafe extern "C" fn get_device_count(n: *mut u32) -> c_int {
    with(|s| {
        s.log.push("getDeviceCount".into());
        unsafe { *n = s.devices.len() as u32 };
        s.result("ANeuralNetworks_getDeviceCount")
    })
}

unsafe extern "C" fn get_device(i: u32, d: *mut *mut ANeuralNetworksDevice) -> c_int {
    with(|s| {
        s.log.push(format!("getDevice({i})"));
        unsafe { *d = (DEVICE_BASE + 16 * i as usize) as *mut _ };
        s.result("ANeuralNetworks_getDevice")
    })
}

unsafe extern "C" fn device_get_name(
    d: *const ANeuralNetworksDevice,
    name: *mut *const c_char,
) -> c_int {
    with(|s| {
        unsafe { *name = s.devices[device_index(d)].0.as_ptr() };
        s.result("ANeuralNetworksDevice_getName")
    })
}

unsafe extern "C" fn device_get_type(d: *const ANeuralNetworksDevice, ty: *mut i32) -> c_int {
    with(|s| {
        unsafe { *ty = s.devices[device_index(d)].1 };
        s.result("ANeuralNetworksDevice_getType")
    })
}

unsafe extern "C" fn device_get_feature_level(
    d: *const ANeuralNetworksDevice,
    level: *mut i64,
) -> c_int {
    with(|s| {
        unsafe { *level = s.devices[device_index(d)].2 };
        s.result("ANeuralNetworksDevice_getFeatureLevel")
    })
}

unsafe extern "C" fn get_runtime_feature_level() -> i64 {
    with(|s| {
        s.log.push("getRuntimeFeatureLevel".into());
        s.runtime_level
    })
}

/// An API-31 library: every function.
pub fn fns() -> Fns {
    Fns {
        model_create,
        model_free,
        model_add_operand,
        model_set_operand_value,
        model_set_operand_symm_per_channel_quant_params: Some(model_set_per_channel),
        model_add_operation,
        model_identify_inputs_and_outputs: model_identify,
        model_finish,
        model_get_supported_operations_for_devices: Some(get_supported_operations),
        compilation_create,
        compilation_create_for_devices: Some(compilation_create_for_devices),
        compilation_free,
        compilation_set_preference,
        compilation_set_caching: Some(compilation_set_caching),
        compilation_finish,
        execution_create,
        execution_free,
        execution_set_input,
        execution_set_output,
        execution_compute: Some(execution_compute),
        execution_start_compute,
        event_wait,
        event_free,
        get_device_count: Some(get_device_count),
        get_device: Some(get_device),
        device_get_name: Some(device_get_name),
        device_get_type: Some(device_get_type),
        device_get_feature_level: Some(device_get_feature_level),
        get_runtime_feature_level: Some(get_runtime_feature_level),
    }
}

/// An API-29 library (no runtime feature level).
pub fn fns_29() -> Fns {
    Fns {
        get_runtime_feature_level: None,
        ..fns()
    }
}

/// An API-27 library: only the required functions.
pub fn fns_27() -> Fns {
    Fns {
        model_set_operand_symm_per_channel_quant_params: None,
        compilation_set_caching: None,
        model_get_supported_operations_for_devices: None,
        compilation_create_for_devices: None,
        execution_compute: None,
        get_device_count: None,
        get_device: None,
        device_get_name: None,
        device_get_type: None,
        device_get_feature_level: None,
        get_runtime_feature_level: None,
        ..fns()
    }
}

/// The log without the device queries.
pub fn calls(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| !l.starts_with("getDevice") && !l.starts_with("getRuntime"))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The CPU side.

#[derive(Default)]
pub struct Cpu {
    pub steps: usize,
    /// The step ranges run, as (start, end).
    pub ran: Vec<(usize, usize)>,
    pub fail_on: Option<usize>,
}

impl CpuSteps for Cpu {
    fn step_count(&self) -> usize {
        self.steps
    }

    fn run_steps(
        &mut self,
        steps: Range<usize>,
        _inputs: &[&[u8]],
        _outputs: &mut [&mut [u8]],
        _arena: &mut [u8],
    ) -> Result<(), RunError> {
        with(|s| s.log.push(format!("cpu {steps:?}")));
        self.ran.push((steps.start, steps.end));
        if self.fail_on.is_some_and(|f| steps.contains(&f)) {
            return Err(RunError::Kernel {
                operator: 0,
                op: "TEST",
                message: "refused",
            });
        }
        Ok(())
    }
}
