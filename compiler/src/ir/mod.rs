//! The intermediate representation: a dataflow graph of typed ops over statically shaped tensors.
//!
//! - [`types`]: element types, shapes, quantization.
//! - [`ops`]: the closed [`Op`] enum, generated from one table.
//! - [`graph`]: [`Graph`], a petgraph `StableDiGraph` of ops plus a tensor table.
//! - [`text`]: the stable text form (goldens, `mvcc inspect --ir`).
//! - [`verify`]: the verifier, run after import and after every pass.

pub mod dot;
pub mod graph;
pub mod ops;
pub mod text;
pub mod types;
pub mod verify;

pub use graph::{Edge, Graph, OpId, OpNode, Tensor, TensorId};
pub use ops::*;
pub use types::{num_elements, DType, Quant, Shape};
