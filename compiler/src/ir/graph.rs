//! The graph: a petgraph `StableDiGraph` of ops, plus a table of tensors.

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use petgraph::Direction;

use super::ops::Op;
use super::types::{num_elements, DType, Quant, Shape};

/// Index of a tensor in [`Graph::tensors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TensorId(pub u32);

impl TensorId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Identity of an op; stable across removals of other ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(NodeIndex<u32>);

/// A tensor: type, static shape, optional quantization and constant data.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Name from the model file (for messages and dumps).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Static shape.
    pub shape: Shape,
    /// Quantization, when the tensor is quantized.
    pub quant: Option<Quant>,
    /// Little-endian bytes of a constant, `num_elements · dtype.size()` long.
    pub data: Option<Vec<u8>>,
    /// Index of the tensor in the `.tflite` file's subgraph 0, if it came from there.
    pub tflite_index: Option<u32>,
}

impl Tensor {
    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        num_elements(&self.shape)
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> usize {
        self.num_elements() * self.dtype.size()
    }

    /// Whether the tensor holds constant data.
    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }

    /// Per-tensor `(scale, zero_point)`, if quantized per tensor.
    pub fn per_tensor_quant(&self) -> Option<(f32, i64)> {
        let q = self.quant.as_ref()?;
        if q.scale.len() == 1 && q.zero_point.len() == 1 {
            Some((q.scale[0], q.zero_point[0]))
        } else {
            None
        }
    }

    /// The constant's values widened to `i64`, for integer constants (shapes, axes, indices).
    pub fn const_ints(&self) -> Option<Vec<i64>> {
        let d = self.data.as_ref()?;
        let size = self.dtype.size();
        let vals = d.chunks_exact(size);
        Some(match self.dtype {
            DType::I32 => vals
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            DType::I64 => vals
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            DType::I16 => vals
                .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            DType::I8 => vals.map(|c| i64::from(c[0] as i8)).collect(),
            DType::U8 | DType::Bool => vals.map(|c| i64::from(c[0])).collect(),
            DType::F32 | DType::F16 => return None,
        })
    }
}

/// An op node: the operation and its operand tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct OpNode {
    /// The operation.
    pub op: Op,
    /// Operand tensors in TFLite's order; `None` for an omitted optional operand.
    pub inputs: Vec<Option<TensorId>>,
    /// Result tensors.
    pub outputs: Vec<TensorId>,
    /// Operator index in the `.tflite` file, if the op came from there.
    pub tflite_index: Option<u32>,
    /// Operator version in the `.tflite` file.
    pub version: i32,
}

/// An edge from a producer op to a consumer op: which tensor flows into which operand slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The tensor.
    pub tensor: TensorId,
    /// The consumer's operand index.
    pub slot: usize,
}

/// A dataflow graph of ops over a table of tensors.
///
/// Ops are the nodes of a `StableDiGraph`; an edge runs from the op producing a tensor to each op
/// reading it. Graph inputs and constants have no producer. Each op's operand and result lists are
/// the source of truth; edges are kept in step by the methods here.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    g: StableDiGraph<OpNode, Edge, u32>,
    /// All tensors, indexed by [`TensorId`].
    pub tensors: Vec<Tensor>,
    /// The model's inputs, in order.
    pub inputs: Vec<TensorId>,
    /// The model's outputs, in order.
    pub outputs: Vec<TensorId>,
    /// Producer of each tensor (by tensor index), if any.
    producers: Vec<Option<OpId>>,
    /// Fused blocks: ops that a kernel may run together (a depthwise convolution and the 1×1
    /// convolution reading it share an id; see `passes::pair_depthwise_pointwise`).
    blocks: std::collections::BTreeMap<OpId, u32>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a tensor and returns its id.
    pub fn add_tensor(&mut self, t: Tensor) -> TensorId {
        let id = TensorId(self.tensors.len() as u32);
        self.tensors.push(t);
        self.producers.push(None);
        id
    }

    /// The tensor with id `id`.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.index()]
    }

    /// The tensor with id `id`, mutably.
    pub fn tensor_mut(&mut self, id: TensorId) -> &mut Tensor {
        &mut self.tensors[id.index()]
    }

    /// Adds an op. Edges are added from the producers of its operands (which must already be in
    /// the graph when the op is added in topological order; [`Graph::relink`] fixes them up
    /// otherwise). A tensor already produced by another op keeps its first producer; the verifier
    /// reports the second.
    pub fn add_op(&mut self, node: OpNode) -> OpId {
        let inputs = node.inputs.clone();
        let outputs = node.outputs.clone();
        let id = OpId(self.g.add_node(node));
        for t in outputs {
            if let Some(p) = self.producers.get_mut(t.index()) {
                if p.is_none() {
                    *p = Some(id);
                }
            }
        }
        for (slot, t) in inputs.iter().enumerate() {
            if let Some(t) = t {
                if let Some(Some(p)) = self.producers.get(t.index()).copied() {
                    self.g.add_edge(p.0, id.0, Edge { tensor: *t, slot });
                }
            }
        }
        id
    }

    /// Rebuilds producers and edges from the ops' operand lists.
    pub fn relink(&mut self) {
        self.g.clear_edges();
        self.producers = vec![None; self.tensors.len()];
        let ids: Vec<NodeIndex<u32>> = self.g.node_indices().collect();
        for &n in &ids {
            for &t in &self.g[n].outputs {
                if let Some(p) = self.producers.get_mut(t.index()) {
                    if p.is_none() {
                        *p = Some(OpId(n));
                    }
                }
            }
        }
        for &n in &ids {
            let ins: Vec<(usize, TensorId)> = self.g[n]
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(s, t)| Some((s, (*t)?)))
                .collect();
            for (slot, t) in ins {
                if let Some(Some(p)) = self.producers.get(t.index()).copied() {
                    self.g.add_edge(p.0, n, Edge { tensor: t, slot });
                }
            }
        }
    }

    /// The fused block op `id` belongs to, if any. Ops of one block run as consecutive steps;
    /// a back end may run them as one kernel (the interpreter runs them one by one).
    pub fn block(&self, id: OpId) -> Option<u32> {
        self.blocks.get(&id).copied()
    }

    /// Puts op `id` in fused block `block` (or in none).
    pub fn set_block(&mut self, id: OpId, block: Option<u32>) {
        match block {
            Some(b) => self.blocks.insert(id, b),
            None => self.blocks.remove(&id),
        };
    }

    /// Removes an op (its result tensors stay in the table, without producer; it leaves its
    /// block).
    pub fn remove_op(&mut self, id: OpId) -> Option<OpNode> {
        self.blocks.remove(&id);
        let node = self.g.remove_node(id.0)?;
        for t in &node.outputs {
            if let Some(p) = self.producers.get_mut(t.index()) {
                if *p == Some(id) {
                    *p = None;
                }
            }
        }
        Some(node)
    }

    /// Whether op `id` is in the graph (not removed).
    pub fn contains_op(&self, id: OpId) -> bool {
        self.g.contains_node(id.0)
    }

    /// The op with id `id`.
    pub fn op(&self, id: OpId) -> &OpNode {
        &self.g[id.0]
    }

    /// The op with id `id`, mutably. Changing operands requires [`Graph::relink`].
    pub fn op_mut(&mut self, id: OpId) -> &mut OpNode {
        &mut self.g[id.0]
    }

    /// The op producing `t`, if any.
    pub fn producer(&self, t: TensorId) -> Option<OpId> {
        self.producers.get(t.index()).copied().flatten()
    }

    /// All ops in insertion order.
    pub fn op_ids(&self) -> Vec<OpId> {
        self.g.node_indices().map(OpId).collect()
    }

    /// Number of ops.
    pub fn num_ops(&self) -> usize {
        self.g.node_count()
    }

    /// Ops consuming a result of `id`.
    pub fn consumers(&self, id: OpId) -> Vec<(OpId, Edge)> {
        self.g
            .edges_directed(id.0, Direction::Outgoing)
            .map(|e| (OpId(e.target()), *e.weight()))
            .collect()
    }

    /// Ops in a topological order, ties broken by insertion order (deterministic), except that
    /// an op of a fused block that becomes ready right after another op of its block comes next.
    /// `Err` holds one op on a cycle.
    pub fn topo_order(&self) -> Result<Vec<OpId>, OpId> {
        let mut indeg: std::collections::BTreeMap<NodeIndex<u32>, usize> =
            self.g.node_indices().map(|n| (n, 0)).collect();
        for e in (&self.g).edge_references() {
            *indeg.entry(e.target()).or_insert(0) += 1;
        }
        let mut ready: std::collections::BTreeSet<NodeIndex<u32>> = indeg
            .iter()
            .filter(|(_, &d)| d == 0)
            .map(|(&n, _)| n)
            .collect();
        let mut order = Vec::with_capacity(self.g.node_count());
        let mut next_in_block = None;
        while let Some(n) = next_in_block.take().or_else(|| ready.pop_first()) {
            order.push(OpId(n));
            for e in self.g.edges_directed(n, Direction::Outgoing) {
                if let Some(d) = indeg.get_mut(&e.target()) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert(e.target());
                    }
                }
            }
            if let Some(b) = self.block(OpId(n)) {
                next_in_block = ready
                    .iter()
                    .copied()
                    .find(|&m| self.block(OpId(m)) == Some(b));
                if let Some(m) = next_in_block {
                    ready.remove(&m);
                }
            }
        }
        if order.len() == self.g.node_count() {
            Ok(order)
        } else {
            let left = indeg.iter().find(|(_, &d)| d > 0).map(|(&n, _)| OpId(n));
            Err(left.unwrap_or(OpId(NodeIndex::new(0))))
        }
    }
}
