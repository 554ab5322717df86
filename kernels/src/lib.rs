//! `mvcc-kernels`: the kernels and integer arithmetic a model compiled by mvcc runs, shared by the
//! compiler (its interpreter and constant folding) and by `mvcc-runtime`, which re-exports them.
//!
//! mvcc decides everything about a model at compile time (shapes, kernel choice, weight layout,
//! requantization constants, tensor addresses). What is left for run time lives here:
//!
//! - [`kernels`]: one module per op family, each with a parameter struct (every field a
//!   compile-time constant) and a plain scalar *reference* kernel that follows TensorFlow Lite's
//!   reference kernel for that op bit for bit. The compiler's interpreter runs these; optimized
//!   variants and the code back ends are tested against them.
//! - [`fixedpoint`]: TFLite's integer arithmetic (fixed-point multiplier and shift with its double
//!   rounding), shared by every quantized kernel.
//!
//! # Invariants
//!
//! - `#![no_std]`: neither `alloc` nor `std`.
//! - Kernels never allocate, never panic on the shapes the compiler checked, and write only their
//!   output slices.
#![no_std]
#![warn(missing_docs)]

pub mod fixedpoint;
pub mod gemmlowp;
pub mod kernels;
