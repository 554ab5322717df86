//! The NNAPI target: running the NNAPI segments of a compiled model on an Android device's
//! accelerators through the Neural Networks API, and the rest with mvcc's CPU code.
//!
//! The compiler splits a model's program steps into segments ([`format`] reads its description):
//! CPU segments run mvcc's code, NNAPI segments are NNAPI models whose inputs and outputs live at
//! the same places (arena bytes, caller buffers) as in the CPU plan. So a model can switch from
//! NNAPI to its CPU code between any two segments, and the CPU code of every segment is there as
//! its fallback: NNAPI is never the only way a model runs.
//!
//! [`Accelerator::prepare`] replays the description as `ANeuralNetworksModel_*` and
//! `ANeuralNetworksCompilation_*` calls once (with the `nnapi` feature, on a device where the
//! library loads and a real accelerator is present); [`Accelerator::run`] then runs each segment,
//! NNAPI ones as one `ANeuralNetworksExecution` each.
//!
//! # When NNAPI is not used
//!
//! [`Accelerator::prepare`] falls back to the CPU, and says why with an [`Unavailable`], when:
//! the crate was built without the `nnapi` feature; the description is malformed, has no NNAPI
//! segment or refers to bytes outside the weights; `libneuralnetworks.so` or one of its API-27
//! functions (or `setOperandSymmPerChannelQuantParams`, when a model needs it) is missing; on
//! API 29 and later, no device is listed or the only one is the CPU reference implementation
//! (`nnapi-reference`, type CPU), which is no faster than mvcc's code; the feature level (see
//! below) is below the description's API level; NNAPI refuses a call while building a model
//! (`ANeuralNetworksModel_*`); or no NNAPI segment is left after the per-segment fallback below
//! (the reason is then the first segment's). Everything created until then is freed.
//!
//! Per segment: an NNAPI segment one of whose operations the devices do not support
//! ([`Unavailable::Unsupported`]), or whose compilation NNAPI refuses
//! (`getSupportedOperationsForDevices`, `createForDevices` or `create`, `setPreference`,
//! `setCaching`, `finish`), runs on the CPU — its model and compilation are freed at once — while
//! the other NNAPI segments stay on NNAPI; [`Accelerator::reason`] keeps the first such reason
//! and [`Accelerator::prepare`] returns none, since NNAPI is used.
//!
//! On API 29 and later (where the library has `ANeuralNetworksCompilation_createForDevices`),
//! every NNAPI segment is compiled for the devices other than the CPU reference implementation
//! only, like TFLite's NNAPI delegate with `disallow_nnapi_cpu`: each model is first checked with
//! `ANeuralNetworksModel_getSupportedOperationsForDevices`, then compiled with `createForDevices`,
//! so NNAPI never runs an operation on its own CPU implementation behind mvcc's back. Before
//! API 29 the system's `ANeuralNetworksCompilation_create` decides, with its own CPU fallback.
//!
//! [`Accelerator::run`] falls back when an execution fails (or the description's places do not fit
//! the buffers given): that segment's steps run on the CPU — exactly, since its inputs are still
//! in place — as do the rest of the run and every later run; [`Accelerator::reason`] tells why and
//! the NNAPI objects are freed at once.
//!
//! # Feature levels
//!
//! On API 29 and later, with `createForDevices`, the level compared with the description's API
//! level is the highest `ANeuralNetworksDevice_getFeatureLevel` of the devices compiled for (an
//! accelerator may lag behind the runtime; the runtime's own level is not asked). Otherwise it is
//! the runtime's: `ANeuralNetworks_getRuntimeFeatureLevel()` where that exists, else the highest
//! device level and at least 29 when devices can be listed, else 27. Before API 29 devices cannot
//! be listed, so NNAPI is used as the system offers it.

use core::fmt;
use core::ops::Range;

use crate::model::RunError;

pub mod format;
#[cfg(feature = "nnapi")]
mod replay;
#[cfg(feature = "nnapi")]
pub mod sys;

pub use format::FormatError;
#[cfg(feature = "nnapi")]
pub use sys::Fns;

/// Which code a model should run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Target {
    /// mvcc's CPU code only; NNAPI is not touched.
    Cpu,
    /// NNAPI for the NNAPI segments; [`Accelerator::prepare`] returns the reason when NNAPI is
    /// unavailable (the model then runs on the CPU).
    Nnapi,
    /// NNAPI when available, else the CPU, silently ([`Accelerator::reason`] still tells why).
    #[default]
    Auto,
}

/// What an [`Accelerator`] runs the NNAPI segments on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActiveTarget {
    /// Every step runs on the CPU.
    Cpu,
    /// NNAPI segments run on NNAPI.
    Nnapi,
}

/// Why NNAPI is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// `mvcc-runtime` was built without the `nnapi` feature.
    NotBuilt,
    /// The model has no NNAPI segment.
    NoNnapiSegment,
    /// `libneuralnetworks.so` cannot be loaded (not an Android device, or one without NNAPI).
    LibraryMissing,
    /// A function the model needs is not in the library.
    MissingSymbol(&'static str),
    /// NNAPI lists no device.
    NoDevice,
    /// The only NNAPI device is the CPU reference implementation.
    OnlyCpuReference,
    /// The devices NNAPI compiles for do not support an operation of an NNAPI segment.
    Unsupported {
        /// The segment.
        segment: usize,
        /// The operation's index in the segment's model.
        operation: u32,
    },
    /// The feature level of the devices (or the runtime) is below what the model needs.
    FeatureLevel {
        /// The highest feature level of the devices compiled for (the runtime's before API 29,
        /// or where `createForDevices` is missing).
        have: i64,
        /// The API level the description needs.
        need: u32,
    },
    /// An NNAPI call returned an error.
    Refused {
        /// The NDK function.
        call: &'static str,
        /// Its result code.
        code: i32,
    },
    /// The description blob is malformed.
    BadDescription(FormatError),
    /// A constant of the description refers to bytes outside the weights.
    WeightRange {
        /// The segment.
        segment: usize,
        /// The operand.
        operand: u32,
    },
    /// The description and the CPU code disagree on the number of program steps.
    StepCount {
        /// Steps in the description.
        description: usize,
        /// Steps of the CPU code ([`CpuSteps::step_count`]).
        program: usize,
    },
    /// An input or output place of an NNAPI segment is outside the buffers of a run.
    Place {
        /// The segment.
        segment: usize,
    },
}

/// The NDK name of an NNAPI result code (`ANEURALNETWORKS_…` without the prefix).
pub fn result_name(code: i32) -> &'static str {
    match code {
        0 => "NO_ERROR",
        1 => "OUT_OF_MEMORY",
        2 => "INCOMPLETE",
        3 => "UNEXPECTED_NULL",
        4 => "BAD_DATA",
        5 => "OP_FAILED",
        6 => "BAD_STATE",
        7 => "UNMAPPABLE",
        8 => "OUTPUT_INSUFFICIENT_SIZE",
        9 => "UNAVAILABLE_DEVICE",
        10 => "MISSED_DEADLINE_TRANSIENT",
        11 => "MISSED_DEADLINE_PERSISTENT",
        12 => "RESOURCE_EXHAUSTED_TRANSIENT",
        13 => "RESOURCE_EXHAUSTED_PERSISTENT",
        14 => "DEAD_OBJECT",
        _ => "unknown result code",
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unavailable::NotBuilt => {
                f.write_str("NNAPI unavailable: mvcc-runtime was built without the nnapi feature")
            }
            Unavailable::NoNnapiSegment => {
                f.write_str("NNAPI not used: no part of the model was lowered to NNAPI")
            }
            Unavailable::LibraryMissing => {
                f.write_str("NNAPI unavailable: libneuralnetworks.so cannot be loaded")
            }
            Unavailable::MissingSymbol(name) => {
                write!(f, "NNAPI unavailable: libneuralnetworks.so has no {name}")
            }
            Unavailable::NoDevice => f.write_str("NNAPI unavailable: it lists no device"),
            Unavailable::OnlyCpuReference => f.write_str(
                "NNAPI unavailable: only the CPU reference implementation (nnapi-reference) \
                 is present",
            ),
            Unavailable::Unsupported { segment, operation } => write!(
                f,
                "NNAPI unavailable: no accelerator supports operation {operation} of NNAPI \
                 segment {segment}"
            ),
            Unavailable::FeatureLevel { have, need } => write!(
                f,
                "NNAPI unavailable: the device has feature level {have}, the model needs API \
                 level {need}"
            ),
            Unavailable::Refused { call, code } => write!(
                f,
                "NNAPI refused the model: {call} returned {code} ({})",
                result_name(code)
            ),
            Unavailable::BadDescription(e) => write!(f, "bad NNAPI description: {e}"),
            Unavailable::WeightRange { segment, operand } => write!(
                f,
                "bad NNAPI description: operand {operand} of segment {segment} refers to bytes \
                 outside the weights"
            ),
            Unavailable::StepCount {
                description,
                program,
            } => write!(
                f,
                "bad NNAPI description: it has {description} steps, the CPU code {program}"
            ),
            Unavailable::Place { segment } => write!(
                f,
                "NNAPI segment {segment} reads or writes outside the buffers of the run"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Unavailable {}

/// The CPU code of a model, step by step: what runs the CPU segments and every fallback.
pub trait CpuSteps {
    /// The number of program steps.
    fn step_count(&self) -> usize;

    /// Runs the program steps `steps` (a subrange of `0..step_count()`), in order, reading and
    /// writing the tensors at their planned places in `inputs`, `outputs` and `arena`.
    ///
    /// # Errors
    /// A kernel that refuses its data.
    fn run_steps(
        &mut self,
        steps: Range<usize>,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        arena: &mut [u8],
    ) -> Result<(), RunError>;
}

/// How to compile the NNAPI models.
#[cfg(feature = "nnapi")]
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NnapiOptions {
    /// `ANeuralNetworksCompilation_setPreference`.
    pub preference: Preference,
    /// `ANeuralNetworksCompilation_setCaching` (used on API 29 and later, ignored before).
    pub cache: Option<Cache>,
}

/// `PreferenceCode`.
#[cfg(feature = "nnapi")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Preference {
    /// `ANEURALNETWORKS_PREFER_LOW_POWER`.
    LowPower,
    /// `ANEURALNETWORKS_PREFER_FAST_SINGLE_ANSWER`.
    #[default]
    FastSingleAnswer,
    /// `ANEURALNETWORKS_PREFER_SUSTAINED_SPEED`.
    SustainedSpeed,
}

#[cfg(feature = "nnapi")]
impl Preference {
    /// The NDK code.
    pub fn code(self) -> i32 {
        match self {
            Preference::LowPower => sys::PREFER_LOW_POWER,
            Preference::FastSingleAnswer => sys::PREFER_FAST_SINGLE_ANSWER,
            Preference::SustainedSpeed => sys::PREFER_SUSTAINED_SPEED,
        }
    }
}

/// Where NNAPI may keep compiled models between runs of the program.
#[cfg(feature = "nnapi")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cache {
    /// An app-private directory.
    pub dir: std::ffi::CString,
    /// Identifies the model: it must change whenever the model (description or weights) does.
    /// The token of the NNAPI segment at index `s` of the partition is this one with
    /// `s` (`u32`, little-endian) XORed into its last four bytes, so segments never share one.
    pub token: [u8; sys::BYTE_SIZE_OF_CACHE_TOKEN],
}

/// A model's NNAPI compilations (or none) and how its segments run.
#[derive(Debug)]
pub struct Accelerator {
    reason: Option<Unavailable>,
    #[cfg(feature = "nnapi")]
    nnapi: Option<replay::Prepared>,
}

impl Accelerator {
    /// An accelerator that runs everything on the CPU and never touches NNAPI.
    pub const fn cpu() -> Accelerator {
        Accelerator {
            reason: None,
            #[cfg(feature = "nnapi")]
            nnapi: None,
        }
    }

    /// Prepares the NNAPI segments of the `partition` description (whose constants refer to
    /// `weights`) for `target`, loading the device's NNAPI library (`Fns::load`) with default
    /// `NnapiOptions` when the `nnapi` feature is on.
    ///
    /// Returns the accelerator and, for [`Target::Nnapi`] only, why NNAPI is not used if it is
    /// not (with [`Target::Auto`] the reason is only in [`Accelerator::reason`]). The accelerator
    /// always works: without NNAPI, on the CPU. When only some NNAPI segments fall back (see the
    /// module documentation), NNAPI is used and nothing is returned; the reason is in
    /// [`Accelerator::reason`].
    pub fn prepare(
        target: Target,
        partition: &'static [u8],
        weights: &'static [u8],
    ) -> (Accelerator, Option<Unavailable>) {
        if target == Target::Cpu {
            return (Accelerator::cpu(), None);
        }
        #[cfg(feature = "nnapi")]
        {
            let prepared = replay::check(partition, weights).and_then(|p| {
                let fns = Fns::load()?;
                replay::prepare(fns, p, weights, &NnapiOptions::default())
            });
            Accelerator::settle(target, prepared)
        }
        #[cfg(not(feature = "nnapi"))]
        {
            let _ = (partition, weights);
            Accelerator::unavailable(target, Unavailable::NotBuilt)
        }
    }

    /// [`Accelerator::prepare`] with a given function table (the device's from [`Fns::load`], or
    /// test doubles) and options. The description is checked before any NNAPI call.
    #[cfg(feature = "nnapi")]
    pub fn prepare_with(
        fns: Fns,
        target: Target,
        partition: &'static [u8],
        weights: &'static [u8],
        options: NnapiOptions,
    ) -> (Accelerator, Option<Unavailable>) {
        if target == Target::Cpu {
            return (Accelerator::cpu(), None);
        }
        let prepared = replay::check(partition, weights)
            .and_then(|p| replay::prepare(fns, p, weights, &options));
        Accelerator::settle(target, prepared)
    }

    #[cfg(feature = "nnapi")]
    fn settle(
        target: Target,
        prepared: Result<replay::Prepared, Unavailable>,
    ) -> (Accelerator, Option<Unavailable>) {
        match prepared {
            Ok(p) => (
                Accelerator {
                    reason: p.fallback,
                    nnapi: Some(p),
                },
                None,
            ),
            Err(why) => Accelerator::unavailable(target, why),
        }
    }

    fn unavailable(target: Target, why: Unavailable) -> (Accelerator, Option<Unavailable>) {
        let mut a = Accelerator::cpu();
        a.reason = Some(why);
        (a, (target == Target::Nnapi).then_some(why))
    }

    /// What the NNAPI segments run on now.
    pub fn active(&self) -> ActiveTarget {
        #[cfg(feature = "nnapi")]
        if self.nnapi.is_some() {
            return ActiveTarget::Nnapi;
        }
        ActiveTarget::Cpu
    }

    /// Why NNAPI is not used (`None` when it is, or when the CPU was asked for); while NNAPI runs
    /// some segments, why the first NNAPI segment that runs on the CPU does (see the module
    /// documentation).
    pub fn reason(&self) -> Option<&Unavailable> {
        self.reason.as_ref()
    }

    /// Runs the model: each segment in order, CPU segments with `cpu`, NNAPI segments on NNAPI;
    /// on the CPU only, one `cpu.run_steps(0..cpu.step_count())`.
    ///
    /// When an NNAPI execution fails, its segment and the rest of the run go to the CPU (the rest
    /// as one range), and so do later runs; see the module documentation.
    ///
    /// # Errors
    /// What the CPU steps return (NNAPI failures are not errors: the CPU takes over).
    pub fn run(
        &mut self,
        cpu: &mut dyn CpuSteps,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        arena: &mut [u8],
    ) -> Result<(), RunError> {
        #[cfg(feature = "nnapi")]
        if let Some(p) = self.nnapi.as_mut() {
            let (result, failure) = p.run(cpu, inputs, outputs, arena);
            if let Some(why) = failure {
                self.nnapi = None;
                self.reason = Some(why);
            }
            return result;
        }
        cpu.run_steps(0..cpu.step_count(), inputs, outputs, arena)
    }
}
