//! The interpreter: runs a graph op by op with the runtime's reference kernels.
//!
//! It is the oracle every other back end is tested against, and is itself tested against TFLite's
//! reference kernels by the conformance suite. It can keep every intermediate tensor
//! ([`Interpreter::run_all`]) for `mvcc run --dump` and the suite's per-tensor comparison.

use crate::error::{Error, Location, Result};
use crate::ir::{DType, Graph, TensorId};
use crate::ops::{self, EvalCx};

/// A tensor's value: little-endian bytes in 8-byte-aligned storage, viewable as any element type.
#[derive(Clone, Debug, PartialEq)]
pub struct Buf {
    words: Vec<u64>,
    len: usize,
}

impl Buf {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Buf {
        Buf { words: vec![0; len.div_ceil(8)], len }
    }

    /// A copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Buf {
        let mut b = Buf::zeroed(bytes.len());
        b.bytes_mut().copy_from_slice(bytes);
        b
    }

    /// A buffer holding `values`.
    pub fn from_slice<T: bytemuck::Pod>(values: &[T]) -> Buf {
        Buf::from_bytes(bytemuck::cast_slice(values))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }

    /// The values as `T`; `None` if the length is not a multiple of `T`'s size.
    pub fn as_slice<T: bytemuck::Pod>(&self) -> Option<&[T]> {
        bytemuck::try_cast_slice(self.bytes()).ok()
    }

    /// The values as `T`, mutably.
    pub fn as_mut_slice<T: bytemuck::Pod>(&mut self) -> Option<&mut [T]> {
        bytemuck::try_cast_slice_mut(self.bytes_mut()).ok()
    }
}

/// Runs a verified graph.
#[derive(Debug)]
pub struct Interpreter<'g> {
    graph: &'g Graph,
    order: Vec<crate::ir::OpId>,
}

impl<'g> Interpreter<'g> {
    /// Prepares to run `graph` (which must have passed the verifier).
    ///
    /// # Errors
    /// A cycle in the graph.
    pub fn new(graph: &'g Graph) -> Result<Interpreter<'g>> {
        let order = graph.topo_order().map_err(|op| {
            let n = graph.op(op);
            Error::invalid(
                Location::operator(n.tflite_index, n.op.kind().tflite_name()),
                "the graph has a cycle through this operator",
            )
        })?;
        Ok(Interpreter { graph, order })
    }

    /// Runs the model on `inputs` (one buffer per model input, in order) and returns every tensor's
    /// value (constants, inputs and every op result), indexed by [`TensorId`].
    ///
    /// # Errors
    /// Wrong number or size of inputs; an op whose evaluation fails.
    pub fn run_all(&self, inputs: &[Buf]) -> Result<Vec<Option<Buf>>> {
        let g = self.graph;
        if inputs.len() != g.inputs.len() {
            return Err(Error::invalid(
                Location::model(),
                format!("the model has {} inputs, {} were given", g.inputs.len(), inputs.len()),
            ));
        }
        let mut values: Vec<Option<Buf>> = g
            .tensors
            .iter()
            .map(|t| t.data.as_ref().map(|d| Buf::from_bytes(d)))
            .collect();
        for (i, (&id, buf)) in g.inputs.iter().zip(inputs).enumerate() {
            let t = g.tensor(id);
            if buf.len() != t.byte_len() {
                return Err(Error::invalid(
                    Location::tensor(t.tflite_index, &t.name),
                    format!(
                        "input {i} must be {} bytes ({} {:?}), got {} bytes",
                        t.byte_len(),
                        t.dtype,
                        t.shape,
                        buf.len()
                    ),
                ));
            }
            values[id.index()] = Some(buf.clone());
        }
        for &op in &self.order {
            let node = g.op(op);
            let outputs = node
                .outputs
                .iter()
                .map(|&t| Buf::zeroed(g.tensor(t).byte_len()))
                .collect();
            let mut missing = None;
            let ins: Vec<Option<&Buf>> = node
                .inputs
                .iter()
                .map(|t| {
                    let t = (*t)?;
                    let v = values[t.index()].as_ref();
                    if v.is_none() {
                        missing = Some(t);
                    }
                    v
                })
                .collect();
            if let Some(t) = missing {
                let tt = g.tensor(t);
                return Err(Error::invalid(
                    Location::operator(node.tflite_index, node.op.kind().tflite_name())
                        .with_tensor(tt.tflite_index, &tt.name),
                    "input has no value (neither constant, model input, nor produced earlier)",
                ));
            }
            let mut cx = EvalCx { graph: g, node, inputs: ins, outputs };
            ops::eval(&mut cx)?;
            let outs = std::mem::take(&mut cx.outputs);
            for (&t, b) in node.outputs.iter().zip(outs) {
                values[t.index()] = Some(b);
            }
        }
        Ok(values)
    }

    /// Runs the model and returns its outputs, in order.
    ///
    /// # Errors
    /// As [`Interpreter::run_all`].
    pub fn run(&self, inputs: &[Buf]) -> Result<Vec<Buf>> {
        let mut values = self.run_all(inputs)?;
        self.graph
            .outputs
            .iter()
            .map(|&t: &TensorId| {
                values[t.index()].take().ok_or_else(|| {
                    let tt = self.graph.tensor(t);
                    Error::invalid(Location::tensor(tt.tflite_index, &tt.name), "output was not computed")
                })
            })
            .collect()
    }
}

/// Whether a value of `dtype` can be viewed as Rust type `T` by size (for generic kernels).
pub fn elem_size_matches<T>(dtype: DType) -> bool {
    std::mem::size_of::<T>() == dtype.size()
}
