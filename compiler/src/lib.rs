//! `mvcc`: an ahead-of-time compiler for TensorFlow Lite vision models.
//!
//! # Pipeline
//!
//! ```text
//! model.tflite ─tflite::import─▶ ir::Graph ─passes::optimize─▶ ir::Graph ─lower::lower─▶ Program
//!                (verified)                  (verified after                               │
//!                                             every pass)                      plan::plan ─┤
//!                                                                                          ▼
//!                                          interp::Interpreter (Program + Plan) ─▶ outputs
//! ```
//!
//! [`load_model`] imports; [`interp::compile`] runs passes, lowering and planning; the
//! interpreter executes the result inside its one arena with the runtime's reference kernels.
//! Back ends consume the same [`lower::Program`] and [`plan::Plan`].
//!
//! # Invariants
//!
//! 1. No FlatBuffers type appears outside [`tflite`]; the IR is the only model representation past
//!    import.
//! 2. Nothing derived from a model file panics, hangs or allocates without bound: every failure is
//!    an [`Error`] listing every [`error::Problem`] with its [`error::Location`].
//! 3. Integer arithmetic is that of TFLite's reference kernels, bit for bit; parameters are
//!    computed once, at lowering, into the runtime's parameter structs.
//! 4. Output is deterministic: the same model and options give the same program and plan.
#![warn(missing_docs)]

pub mod build;
#[cfg(feature = "cranelift")]
pub mod clif;
pub mod error;
pub mod inspect;
pub mod interp;
pub mod ir;
pub mod lower;
pub mod nnapi;
pub mod npy;
pub mod ops;
pub mod passes;
pub mod plan;
pub mod quant;
pub mod rust;
pub mod tflite;

pub use error::{Error, Result};

/// Reads, imports and verifies a `.tflite` model: the compiler's front door.
///
/// # Errors
/// Every problem found in the file, each with its location (see [`error::Problem`]).
pub fn load_model(bytes: &[u8]) -> Result<ir::Graph> {
    tflite::import(bytes)
}

/// [`load_model`] with input shapes for models with dynamic dimensions (see
/// [`tflite::ImportOptions::input_shapes`]).
///
/// # Errors
/// As [`load_model`]; also a shape that changes a static dimension.
pub fn load_model_with_shapes(
    bytes: &[u8],
    input_shapes: &[Option<ir::Shape>],
) -> Result<ir::Graph> {
    tflite::import_with(
        bytes,
        &tflite::ImportOptions {
            input_shapes: input_shapes.to_vec(),
        },
    )
}
