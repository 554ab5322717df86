//! The part of the NDK's NNAPI (`NeuralNetworks.h`, `NeuralNetworksTypes.h`) mvcc uses, and a
//! table of its functions loaded at run time.
//!
//! The crate never links `libneuralnetworks.so`: [`Fns::load`] opens it with
//! `dlopen("libneuralnetworks.so", RTLD_NOW | RTLD_LOCAL)` and looks each function up with
//! `dlsym`, so a binary built with the `nnapi` feature starts on any device (and any host), and
//! reports NNAPI unavailable where the library or a function is missing. The API-27 functions are
//! required; the newer ones are `Option`s. Tests build an [`Fns`] of their own functions.

use core::ffi::{c_char, c_int, c_void, CStr};

use super::Unavailable;

/// `ANeuralNetworksModel` (opaque).
#[repr(C)]
#[derive(Debug)]
pub struct ANeuralNetworksModel {
    _opaque: [u8; 0],
}

/// `ANeuralNetworksCompilation` (opaque).
#[repr(C)]
#[derive(Debug)]
pub struct ANeuralNetworksCompilation {
    _opaque: [u8; 0],
}

/// `ANeuralNetworksExecution` (opaque).
#[repr(C)]
#[derive(Debug)]
pub struct ANeuralNetworksExecution {
    _opaque: [u8; 0],
}

/// `ANeuralNetworksEvent` (opaque).
#[repr(C)]
#[derive(Debug)]
pub struct ANeuralNetworksEvent {
    _opaque: [u8; 0],
}

/// `ANeuralNetworksDevice` (opaque; owned by the runtime, never freed).
#[repr(C)]
#[derive(Debug)]
pub struct ANeuralNetworksDevice {
    _opaque: [u8; 0],
}

/// `ANeuralNetworksOperandType`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ANeuralNetworksOperandType {
    /// `OperandCode`.
    pub type_: i32,
    /// Number of dimensions (0 for scalars).
    pub dimension_count: u32,
    /// The dimensions (may be NULL when `dimension_count` is 0).
    pub dimensions: *const u32,
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

/// `ANeuralNetworksSymmPerChannelQuantParams` (API 29).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ANeuralNetworksSymmPerChannelQuantParams {
    /// The quantized dimension.
    pub channel_dim: u32,
    /// Number of scales (the size of that dimension).
    pub scale_count: u32,
    /// The scales.
    pub scales: *const f32,
}

/// `ANEURALNETWORKS_NO_ERROR`.
pub const NO_ERROR: c_int = 0;
/// `ANEURALNETWORKS_OUT_OF_MEMORY`.
pub const OUT_OF_MEMORY: c_int = 1;
/// `ANEURALNETWORKS_INCOMPLETE`.
pub const INCOMPLETE: c_int = 2;
/// `ANEURALNETWORKS_UNEXPECTED_NULL`.
pub const UNEXPECTED_NULL: c_int = 3;
/// `ANEURALNETWORKS_BAD_DATA`.
pub const BAD_DATA: c_int = 4;
/// `ANEURALNETWORKS_OP_FAILED`.
pub const OP_FAILED: c_int = 5;
/// `ANEURALNETWORKS_BAD_STATE`.
pub const BAD_STATE: c_int = 6;
/// `ANEURALNETWORKS_UNMAPPABLE`.
pub const UNMAPPABLE: c_int = 7;
/// `ANEURALNETWORKS_OUTPUT_INSUFFICIENT_SIZE` (API 29).
pub const OUTPUT_INSUFFICIENT_SIZE: c_int = 8;
/// `ANEURALNETWORKS_UNAVAILABLE_DEVICE` (API 29).
pub const UNAVAILABLE_DEVICE: c_int = 9;

/// `ANEURALNETWORKS_PREFER_LOW_POWER`.
pub const PREFER_LOW_POWER: i32 = 0;
/// `ANEURALNETWORKS_PREFER_FAST_SINGLE_ANSWER`.
pub const PREFER_FAST_SINGLE_ANSWER: i32 = 1;
/// `ANEURALNETWORKS_PREFER_SUSTAINED_SPEED`.
pub const PREFER_SUSTAINED_SPEED: i32 = 2;

/// `ANEURALNETWORKS_DEVICE_UNKNOWN`.
pub const DEVICE_UNKNOWN: i32 = 0;
/// `ANEURALNETWORKS_DEVICE_OTHER`.
pub const DEVICE_OTHER: i32 = 1;
/// `ANEURALNETWORKS_DEVICE_CPU`.
pub const DEVICE_CPU: i32 = 2;
/// `ANEURALNETWORKS_DEVICE_GPU`.
pub const DEVICE_GPU: i32 = 3;
/// `ANEURALNETWORKS_DEVICE_ACCELERATOR`.
pub const DEVICE_ACCELERATOR: i32 = 4;

/// `ANEURALNETWORKS_BYTE_SIZE_OF_CACHE_TOKEN`.
pub const BYTE_SIZE_OF_CACHE_TOKEN: usize = 32;

/// `ANEURALNETWORKS_MAX_SIZE_OF_IMMEDIATELY_COPIED_VALUES`: larger operand values are kept by
/// pointer and must outlive the model (mvcc's are `static`).
pub const MAX_SIZE_OF_IMMEDIATELY_COPIED_VALUES: usize = 128;

/// The name of the CPU reference implementation's device.
pub const REFERENCE_DEVICE_NAME: &CStr = c"nnapi-reference";

/// `ANeuralNetworksModel_create`.
pub type ModelCreate = unsafe extern "C" fn(model: *mut *mut ANeuralNetworksModel) -> c_int;
/// `ANeuralNetworksModel_free`.
pub type ModelFree = unsafe extern "C" fn(model: *mut ANeuralNetworksModel);
/// `ANeuralNetworksModel_addOperand`.
pub type ModelAddOperand = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    type_: *const ANeuralNetworksOperandType,
) -> c_int;
/// `ANeuralNetworksModel_setOperandValue`.
pub type ModelSetOperandValue = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    index: i32,
    buffer: *const c_void,
    length: usize,
) -> c_int;
/// `ANeuralNetworksModel_setOperandSymmPerChannelQuantParams` (API 29).
pub type ModelSetOperandSymmPerChannelQuantParams = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    index: i32,
    channel_quant: *const ANeuralNetworksSymmPerChannelQuantParams,
) -> c_int;
/// `ANeuralNetworksModel_addOperation`.
pub type ModelAddOperation = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    type_: i32,
    input_count: u32,
    inputs: *const u32,
    output_count: u32,
    outputs: *const u32,
) -> c_int;
/// `ANeuralNetworksModel_identifyInputsAndOutputs`.
pub type ModelIdentifyInputsAndOutputs = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    input_count: u32,
    inputs: *const u32,
    output_count: u32,
    outputs: *const u32,
) -> c_int;
/// `ANeuralNetworksModel_finish`.
pub type ModelFinish = unsafe extern "C" fn(model: *mut ANeuralNetworksModel) -> c_int;
/// `ANeuralNetworksCompilation_create`.
pub type CompilationCreate = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    compilation: *mut *mut ANeuralNetworksCompilation,
) -> c_int;
/// `ANeuralNetworksCompilation_createForDevices` (API 29).
pub type CompilationCreateForDevices = unsafe extern "C" fn(
    model: *mut ANeuralNetworksModel,
    devices: *const *const ANeuralNetworksDevice,
    num_devices: u32,
    compilation: *mut *mut ANeuralNetworksCompilation,
) -> c_int;
/// `ANeuralNetworksModel_getSupportedOperationsForDevices` (API 29; `supported_ops` has one
/// entry per operation of the model, in the order they were added).
pub type ModelGetSupportedOperationsForDevices = unsafe extern "C" fn(
    model: *const ANeuralNetworksModel,
    devices: *const *const ANeuralNetworksDevice,
    num_devices: u32,
    supported_ops: *mut bool,
) -> c_int;
/// `ANeuralNetworksCompilation_free`.
pub type CompilationFree = unsafe extern "C" fn(compilation: *mut ANeuralNetworksCompilation);
/// `ANeuralNetworksCompilation_setPreference`.
pub type CompilationSetPreference =
    unsafe extern "C" fn(compilation: *mut ANeuralNetworksCompilation, preference: i32) -> c_int;
/// `ANeuralNetworksCompilation_setCaching` (API 29; `token` is 32 bytes).
pub type CompilationSetCaching = unsafe extern "C" fn(
    compilation: *mut ANeuralNetworksCompilation,
    cache_dir: *const c_char,
    token: *const u8,
) -> c_int;
/// `ANeuralNetworksCompilation_finish`.
pub type CompilationFinish =
    unsafe extern "C" fn(compilation: *mut ANeuralNetworksCompilation) -> c_int;
/// `ANeuralNetworksExecution_create`.
pub type ExecutionCreate = unsafe extern "C" fn(
    compilation: *mut ANeuralNetworksCompilation,
    execution: *mut *mut ANeuralNetworksExecution,
) -> c_int;
/// `ANeuralNetworksExecution_free`.
pub type ExecutionFree = unsafe extern "C" fn(execution: *mut ANeuralNetworksExecution);
/// `ANeuralNetworksExecution_setInput`.
pub type ExecutionSetInput = unsafe extern "C" fn(
    execution: *mut ANeuralNetworksExecution,
    index: i32,
    type_: *const ANeuralNetworksOperandType,
    buffer: *const c_void,
    length: usize,
) -> c_int;
/// `ANeuralNetworksExecution_setOutput`.
pub type ExecutionSetOutput = unsafe extern "C" fn(
    execution: *mut ANeuralNetworksExecution,
    index: i32,
    type_: *const ANeuralNetworksOperandType,
    buffer: *mut c_void,
    length: usize,
) -> c_int;
/// `ANeuralNetworksExecution_compute` (API 29).
pub type ExecutionCompute = unsafe extern "C" fn(execution: *mut ANeuralNetworksExecution) -> c_int;
/// `ANeuralNetworksExecution_startCompute`.
pub type ExecutionStartCompute = unsafe extern "C" fn(
    execution: *mut ANeuralNetworksExecution,
    event: *mut *mut ANeuralNetworksEvent,
) -> c_int;
/// `ANeuralNetworksEvent_wait`.
pub type EventWait = unsafe extern "C" fn(event: *mut ANeuralNetworksEvent) -> c_int;
/// `ANeuralNetworksEvent_free`.
pub type EventFree = unsafe extern "C" fn(event: *mut ANeuralNetworksEvent);
/// `ANeuralNetworks_getDeviceCount` (API 29).
pub type GetDeviceCount = unsafe extern "C" fn(num_devices: *mut u32) -> c_int;
/// `ANeuralNetworks_getDevice` (API 29).
pub type GetDevice =
    unsafe extern "C" fn(dev_index: u32, device: *mut *mut ANeuralNetworksDevice) -> c_int;
/// `ANeuralNetworksDevice_getName` (API 29).
pub type DeviceGetName =
    unsafe extern "C" fn(device: *const ANeuralNetworksDevice, name: *mut *const c_char) -> c_int;
/// `ANeuralNetworksDevice_getType` (API 29).
pub type DeviceGetType =
    unsafe extern "C" fn(device: *const ANeuralNetworksDevice, type_: *mut i32) -> c_int;
/// `ANeuralNetworksDevice_getFeatureLevel` (API 29).
pub type DeviceGetFeatureLevel =
    unsafe extern "C" fn(device: *const ANeuralNetworksDevice, feature_level: *mut i64) -> c_int;
/// `ANeuralNetworks_getRuntimeFeatureLevel` (API 31).
pub type GetRuntimeFeatureLevel = unsafe extern "C" fn() -> i64;

/// The NNAPI functions mvcc calls, one field per NDK function (named after it in snake case,
/// without the `ANeuralNetworks` prefix).
///
/// Whoever builds an `Fns` vouches that every pointer is a function with the NDK signature and
/// behaviour; [`Fns::load`] takes them from the device's library.
#[derive(Clone, Copy, Debug)]
pub struct Fns {
    /// `ANeuralNetworksModel_create`.
    pub model_create: ModelCreate,
    /// `ANeuralNetworksModel_free`.
    pub model_free: ModelFree,
    /// `ANeuralNetworksModel_addOperand`.
    pub model_add_operand: ModelAddOperand,
    /// `ANeuralNetworksModel_setOperandValue`.
    pub model_set_operand_value: ModelSetOperandValue,
    /// `ANeuralNetworksModel_setOperandSymmPerChannelQuantParams` (API 29).
    pub model_set_operand_symm_per_channel_quant_params:
        Option<ModelSetOperandSymmPerChannelQuantParams>,
    /// `ANeuralNetworksModel_addOperation`.
    pub model_add_operation: ModelAddOperation,
    /// `ANeuralNetworksModel_identifyInputsAndOutputs`.
    pub model_identify_inputs_and_outputs: ModelIdentifyInputsAndOutputs,
    /// `ANeuralNetworksModel_finish`.
    pub model_finish: ModelFinish,
    /// `ANeuralNetworksModel_getSupportedOperationsForDevices` (API 29).
    pub model_get_supported_operations_for_devices: Option<ModelGetSupportedOperationsForDevices>,
    /// `ANeuralNetworksCompilation_create`.
    pub compilation_create: CompilationCreate,
    /// `ANeuralNetworksCompilation_createForDevices` (API 29).
    pub compilation_create_for_devices: Option<CompilationCreateForDevices>,
    /// `ANeuralNetworksCompilation_free`.
    pub compilation_free: CompilationFree,
    /// `ANeuralNetworksCompilation_setPreference`.
    pub compilation_set_preference: CompilationSetPreference,
    /// `ANeuralNetworksCompilation_setCaching` (API 29).
    pub compilation_set_caching: Option<CompilationSetCaching>,
    /// `ANeuralNetworksCompilation_finish`.
    pub compilation_finish: CompilationFinish,
    /// `ANeuralNetworksExecution_create`.
    pub execution_create: ExecutionCreate,
    /// `ANeuralNetworksExecution_free`.
    pub execution_free: ExecutionFree,
    /// `ANeuralNetworksExecution_setInput`.
    pub execution_set_input: ExecutionSetInput,
    /// `ANeuralNetworksExecution_setOutput`.
    pub execution_set_output: ExecutionSetOutput,
    /// `ANeuralNetworksExecution_compute` (API 29).
    pub execution_compute: Option<ExecutionCompute>,
    /// `ANeuralNetworksExecution_startCompute`.
    pub execution_start_compute: ExecutionStartCompute,
    /// `ANeuralNetworksEvent_wait`.
    pub event_wait: EventWait,
    /// `ANeuralNetworksEvent_free`.
    pub event_free: EventFree,
    /// `ANeuralNetworks_getDeviceCount` (API 29).
    pub get_device_count: Option<GetDeviceCount>,
    /// `ANeuralNetworks_getDevice` (API 29).
    pub get_device: Option<GetDevice>,
    /// `ANeuralNetworksDevice_getName` (API 29).
    pub device_get_name: Option<DeviceGetName>,
    /// `ANeuralNetworksDevice_getType` (API 29).
    pub device_get_type: Option<DeviceGetType>,
    /// `ANeuralNetworksDevice_getFeatureLevel` (API 29).
    pub device_get_feature_level: Option<DeviceGetFeatureLevel>,
    /// `ANeuralNetworks_getRuntimeFeatureLevel` (API 31).
    pub get_runtime_feature_level: Option<GetRuntimeFeatureLevel>,
}

/// The NDK functions [`Fns`] requires (the API-27 set), in field order; the others are optional.
pub const REQUIRED: &[&str] = &[
    "ANeuralNetworksModel_create",
    "ANeuralNetworksModel_free",
    "ANeuralNetworksModel_addOperand",
    "ANeuralNetworksModel_setOperandValue",
    "ANeuralNetworksModel_addOperation",
    "ANeuralNetworksModel_identifyInputsAndOutputs",
    "ANeuralNetworksModel_finish",
    "ANeuralNetworksCompilation_create",
    "ANeuralNetworksCompilation_free",
    "ANeuralNetworksCompilation_setPreference",
    "ANeuralNetworksCompilation_finish",
    "ANeuralNetworksExecution_create",
    "ANeuralNetworksExecution_free",
    "ANeuralNetworksExecution_setInput",
    "ANeuralNetworksExecution_setOutput",
    "ANeuralNetworksExecution_startCompute",
    "ANeuralNetworksEvent_wait",
    "ANeuralNetworksEvent_free",
];

impl Fns {
    /// Builds the table from a symbol lookup (`dlsym` for [`Fns::load`]; a table of test doubles
    /// in tests). `lookup` gets each NDK function name as a C string and returns its address, or
    /// null when there is none.
    ///
    /// # Errors
    /// [`Unavailable::MissingSymbol`] for the first API-27 function `lookup` does not find.
    ///
    /// # Safety
    /// Every non-null pointer `lookup` returns must be a function with the NDK signature of the
    /// name asked for (the [`sys`](self) type aliases), callable for the life of the program.
    pub unsafe fn from_lookup(
        mut lookup: impl FnMut(&CStr) -> *mut c_void,
    ) -> Result<Fns, Unavailable> {
        macro_rules! optional {
            ($name:literal, $ty:ty) => {{
                let p = lookup($name);
                if p.is_null() {
                    None
                } else {
                    // SAFETY: the caller guarantees `p` is a function of this NDK signature; a
                    // data pointer and a function pointer have the same size on every target
                    // NNAPI runs on.
                    Some(unsafe { core::mem::transmute::<*mut c_void, $ty>(p) })
                }
            }};
        }
        macro_rules! required {
            ($name:literal, $ty:ty) => {
                match optional!($name, $ty) {
                    Some(f) => f,
                    None => {
                        // The literal is a C string; report it without its NUL.
                        let name: &'static CStr = $name;
                        return Err(Unavailable::MissingSymbol(match name.to_str() {
                            Ok(s) => s,
                            Err(_) => "?",
                        }));
                    }
                }
            };
        }
        Ok(Fns {
            model_create: required!(c"ANeuralNetworksModel_create", ModelCreate),
            model_free: required!(c"ANeuralNetworksModel_free", ModelFree),
            model_add_operand: required!(c"ANeuralNetworksModel_addOperand", ModelAddOperand),
            model_set_operand_value: required!(
                c"ANeuralNetworksModel_setOperandValue",
                ModelSetOperandValue
            ),
            model_set_operand_symm_per_channel_quant_params: optional!(
                c"ANeuralNetworksModel_setOperandSymmPerChannelQuantParams",
                ModelSetOperandSymmPerChannelQuantParams
            ),
            model_add_operation: required!(c"ANeuralNetworksModel_addOperation", ModelAddOperation),
            model_identify_inputs_and_outputs: required!(
                c"ANeuralNetworksModel_identifyInputsAndOutputs",
                ModelIdentifyInputsAndOutputs
            ),
            model_finish: required!(c"ANeuralNetworksModel_finish", ModelFinish),
            model_get_supported_operations_for_devices: optional!(
                c"ANeuralNetworksModel_getSupportedOperationsForDevices",
                ModelGetSupportedOperationsForDevices
            ),
            compilation_create: required!(c"ANeuralNetworksCompilation_create", CompilationCreate),
            compilation_create_for_devices: optional!(
                c"ANeuralNetworksCompilation_createForDevices",
                CompilationCreateForDevices
            ),
            compilation_free: required!(c"ANeuralNetworksCompilation_free", CompilationFree),
            compilation_set_preference: required!(
                c"ANeuralNetworksCompilation_setPreference",
                CompilationSetPreference
            ),
            compilation_set_caching: optional!(
                c"ANeuralNetworksCompilation_setCaching",
                CompilationSetCaching
            ),
            compilation_finish: required!(c"ANeuralNetworksCompilation_finish", CompilationFinish),
            execution_create: required!(c"ANeuralNetworksExecution_create", ExecutionCreate),
            execution_free: required!(c"ANeuralNetworksExecution_free", ExecutionFree),
            execution_set_input: required!(c"ANeuralNetworksExecution_setInput", ExecutionSetInput),
            execution_set_output: required!(
                c"ANeuralNetworksExecution_setOutput",
                ExecutionSetOutput
            ),
            execution_compute: optional!(c"ANeuralNetworksExecution_compute", ExecutionCompute),
            execution_start_compute: required!(
                c"ANeuralNetworksExecution_startCompute",
                ExecutionStartCompute
            ),
            event_wait: required!(c"ANeuralNetworksEvent_wait", EventWait),
            event_free: required!(c"ANeuralNetworksEvent_free", EventFree),
            get_device_count: optional!(c"ANeuralNetworks_getDeviceCount", GetDeviceCount),
            get_device: optional!(c"ANeuralNetworks_getDevice", GetDevice),
            device_get_name: optional!(c"ANeuralNetworksDevice_getName", DeviceGetName),
            device_get_type: optional!(c"ANeuralNetworksDevice_getType", DeviceGetType),
            device_get_feature_level: optional!(
                c"ANeuralNetworksDevice_getFeatureLevel",
                DeviceGetFeatureLevel
            ),
            get_runtime_feature_level: optional!(
                c"ANeuralNetworks_getRuntimeFeatureLevel",
                GetRuntimeFeatureLevel
            ),
        })
    }

    /// Loads the device's `libneuralnetworks.so` (once per process; later calls return the same
    /// result). The library stays loaded for the rest of the process.
    ///
    /// # Errors
    /// [`Unavailable::LibraryMissing`] when the library cannot be opened (any host, or a system
    /// without NNAPI; on targets other than Linux and Android there is no loader and the library
    /// is always missing), [`Unavailable::MissingSymbol`] when an API-27 function is absent.
    pub fn load() -> Result<Fns, Unavailable> {
        static LOADED: std::sync::OnceLock<Result<Fns, Unavailable>> = std::sync::OnceLock::new();
        *LOADED.get_or_init(dl::open)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod dl {
    use core::ffi::{c_char, c_int, c_void};

    use super::{Fns, Unavailable};

    /// `RTLD_NOW` (bionic's 32-bit ABI has it as 0).
    #[cfg(all(target_os = "android", target_pointer_width = "32"))]
    const RTLD_NOW: c_int = 0;
    /// `RTLD_NOW`.
    #[cfg(not(all(target_os = "android", target_pointer_width = "32")))]
    const RTLD_NOW: c_int = 2;
    /// `RTLD_LOCAL`.
    const RTLD_LOCAL: c_int = 0;

    #[cfg_attr(any(target_os = "linux", target_os = "android"), link(name = "dl"))]
    extern "C" {
        fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
        fn dlclose(handle: *mut c_void) -> c_int;
    }

    pub(super) fn open() -> Result<Fns, Unavailable> {
        // SAFETY: the file name is a NUL-terminated string; dlopen has no other precondition.
        let handle = unsafe { dlopen(c"libneuralnetworks.so".as_ptr(), RTLD_NOW | RTLD_LOCAL) };
        if handle.is_null() {
            return Err(Unavailable::LibraryMissing);
        }
        // SAFETY: `handle` is a live library handle and every name is NUL-terminated; the
        // library is the NDK's, whose exported functions have the NDK signatures, and it is never
        // closed once the table is built.
        let fns = unsafe { Fns::from_lookup(|name| dlsym(handle, name.as_ptr())) };
        if fns.is_err() {
            // SAFETY: nothing from the library is kept.
            unsafe { dlclose(handle) };
        }
        fns
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod dl {
    use super::{Fns, Unavailable};

    pub(super) fn open() -> Result<Fns, Unavailable> {
        Err(Unavailable::LibraryMissing)
    }
}
