//! `mvcc-runtime`: what a model compiled by mvcc needs at run time, and nothing else.
//!
//! mvcc decides everything about a model at compile time (shapes, kernel choice, weight layout,
//! requantization constants, tensor addresses). What is left for run time lives here:
//!
//! - [`kernels`] and [`fixedpoint`] (from `mvcc-kernels`, shared with the compiler): one module
//!   per op family, each with a parameter struct of compile-time constants and a kernel that
//!   follows TensorFlow Lite's reference kernel bit for bit;
//! - [`mem`]: the aligned storage and typed views generated code reaches its tensors through;
//! - [`model`]: [`CompiledModel`], the interface every generated model implements, with its
//!   inputs' and outputs' metadata;
//! - [`nnapi`]: the NNAPI target — running a model's NNAPI segments through Android's Neural
//!   Networks API (loaded at run time with the `nnapi` feature), the rest and every fallback on
//!   the CPU;
//! - with the `macros` feature, [`include_model!`], which compiles a `.tflite` file into Rust at
//!   build time.
//!
//! ```ignore
//! mod face {
//!     mvcc_runtime::include_model!("models/face_detection_short_range.tflite");
//! }
//! let mut model = face::Model::new();
//! ```
//!
//! # Invariants
//!
//! - `#![no_std]` and no allocation: `alloc`, `std` and `nnapi` are additive features (`std` adds
//!   `std::error::Error` for [`model::RunError`], `alloc` a zeroed boxed arena, `nnapi` the NNAPI
//!   replay, which allocates).
//! - Generated code does no work at start-up: weights and parameters are `static` data, the arena
//!   is a zeroed array.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub use mvcc_kernels::{fixedpoint, gemmlowp, kernels};

pub mod mem;
pub mod model;
pub mod nnapi;

pub use model::{CompiledModel, ElementType, Quantization, RunError, TensorInfo};

#[cfg(feature = "macros")]
pub use mvcc_macros::include_model;
