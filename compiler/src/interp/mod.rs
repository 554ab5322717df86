//! The interpreter: runs a lowered [`Program`] step by step inside its planned arena with the
//! runtime's reference kernels.
//!
//! It is the oracle every other back end is tested against, and is itself tested against TFLite's
//! reference kernels by the conformance suite. Because it runs inside the one arena the planner
//! laid out, a planning bug shows up as a wrong number. It can keep every value as it was when
//! complete ([`Interpreter::run_values`]) for `mvcc run --dump` and the per-tensor comparison.

use crate::error::{Error, Location, Result};
use crate::ir::{DType, Graph};
use crate::lower::{Kernel, Operand, Origin, Program, ValueId};
use crate::plan::{Place, Plan};

/// A tensor's value: little-endian bytes in 8-byte-aligned storage, viewable as any element type.
#[derive(Clone, Debug, PartialEq)]
pub struct Buf {
    words: Vec<u64>,
    len: usize,
}

impl Buf {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Buf {
        Buf {
            words: vec![0; len.div_ceil(8)],
            len,
        }
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

/// What a kernel's `exec` sees: operand bytes, fresh result buffers and scratch memory.
#[derive(Debug)]
pub struct StepIo<'a> {
    /// Operand values (`None` for omitted optional operands).
    pub inputs: Vec<Option<&'a Buf>>,
    /// Result buffers, zeroed, sized from the result values.
    pub outputs: Vec<Buf>,
    /// Scratch memory (`Step::scratch_bytes` long).
    pub scratch: Buf,
    /// Where the step comes from, for messages.
    pub origin: &'a Origin,
}

impl<'a> StepIo<'a> {
    /// An error at this step.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        let op = self.origin.op;
        Error::invalid(
            Location::operator(self.origin.ops.first().copied(), op),
            msg,
        )
    }

    /// Operand `i` as `T`.
    ///
    /// # Errors
    /// Missing operand or a size that is not a multiple of `T`'s.
    pub fn input<T: bytemuck::Pod>(&self, i: usize) -> Result<&'a [T]> {
        match self.inputs.get(i).copied().flatten() {
            Some(b) => b
                .as_slice::<T>()
                .ok_or_else(|| self.err(format!("input {i}: element type mismatch"))),
            None => Err(self.err(format!("input {i} is missing"))),
        }
    }

    /// Operand `i` as `T`, if present.
    ///
    /// # Errors
    /// As [`StepIo::input`].
    pub fn opt_input<T: bytemuck::Pod>(&self, i: usize) -> Result<Option<&'a [T]>> {
        match self.inputs.get(i).copied().flatten() {
            Some(_) => self.input(i).map(Some),
            None => Ok(None),
        }
    }

    /// Result `i` as `T`.
    ///
    /// # Errors
    /// Missing result or a size that is not a multiple of `T`'s.
    pub fn output<T: bytemuck::Pod>(&mut self, i: usize) -> Result<&mut [T]> {
        let e = self.err(format!("output {i}: missing or element type mismatch"));
        self.outputs
            .get_mut(i)
            .and_then(|b| b.as_mut_slice::<T>())
            .ok_or(e)
    }

    /// The scratch memory as `T`.
    ///
    /// # Errors
    /// A size that is not a multiple of `T`'s.
    pub fn scratch<T: bytemuck::Pod>(&mut self) -> Result<&mut [T]> {
        let e = self.err("scratch: element type mismatch");
        self.scratch.as_mut_slice::<T>().ok_or(e)
    }
}

/// Runs a program inside its planned arena with the runtime's reference kernels.
#[derive(Debug)]
pub struct Interpreter<'p> {
    program: &'p Program,
    plan: &'p Plan,
}

/// Every value of a run, indexed by [`ValueId`] (for dumps and the conformance suite).
pub type Values = Vec<Option<Buf>>;

impl<'p> Interpreter<'p> {
    /// An interpreter for `program` laid out by `plan`.
    pub fn new(program: &'p Program, plan: &'p Plan) -> Interpreter<'p> {
        Interpreter { program, plan }
    }

    fn read(&self, arena: &Buf, ins: &[Buf], outs: &[Buf], v: ValueId) -> Buf {
        let len = self.program.value(v).bytes;
        let bytes = match self.plan.place(self.program, v) {
            Place::Arena(o) => &arena.bytes()[o..o + len],
            Place::Input(n, o) => &ins[n].bytes()[o..o + len],
            Place::Output(n, o) => &outs[n].bytes()[o..o + len],
        };
        Buf::from_bytes(bytes)
    }

    fn write(&self, arena: &mut Buf, outs: &mut [Buf], v: ValueId, data: &Buf) -> Result<()> {
        let len = self.program.value(v).bytes;
        let dst = match self.plan.place(self.program, v) {
            Place::Arena(o) => &mut arena.bytes_mut()[o..o + len],
            Place::Output(n, o) => &mut outs[n].bytes_mut()[o..o + len],
            Place::Input(..) => {
                return Err(Error::invalid(
                    Location::model(),
                    "a step writes a model input",
                ));
            }
        };
        dst.copy_from_slice(data.bytes());
        Ok(())
    }

    /// Runs the program on `inputs` (one buffer per model input, in order); returns the outputs
    /// and, when `keep` is set, every value as it was when complete.
    ///
    /// # Errors
    /// Wrong number or size of inputs; a kernel that fails.
    pub fn run_values(&self, inputs: &[Buf], keep: bool) -> Result<(Vec<Buf>, Values)> {
        let p = self.program;
        self.check_inputs(inputs)?;
        let mut arena = Buf::zeroed(self.plan.arena_bytes);
        let mut outs: Vec<Buf> = p
            .outputs
            .iter()
            .map(|&v| Buf::zeroed(p.value(v).bytes))
            .collect();
        let done_at = if keep {
            completion_steps(p)
        } else {
            vec![None; p.values.len()]
        };
        let mut values: Values = vec![None; p.values.len()];
        if keep {
            for &v in &p.inputs {
                values[v.index()] = Some(self.read(&arena, inputs, &outs, v));
            }
            for v in 0..p.values.len() {
                let id = ValueId(v as u32);
                if done_at[v].is_none() && matches!(self.plan.place(p, id), Place::Input(..)) {
                    values[v] = Some(self.read(&arena, inputs, &outs, id));
                }
            }
        }
        for si in 0..p.steps.len() {
            self.exec_step(si, inputs, &mut arena, &mut outs)?;
            if keep {
                for v in 0..p.values.len() {
                    if done_at[v] == Some(si) {
                        values[v] = Some(self.read(&arena, inputs, &outs, ValueId(v as u32)));
                    }
                }
            }
        }
        // Outputs that are model inputs (identity models) are copied.
        for (n, &v) in p.outputs.iter().enumerate() {
            if let Place::Input(..) = self.plan.place(p, v) {
                outs[n] = self.read(&arena, inputs, &outs, v);
            }
        }
        Ok((outs, values))
    }

    /// Checks the number and sizes of `inputs` against the program's model inputs.
    ///
    /// # Errors
    /// The first input that does not fit, named.
    pub fn check_inputs(&self, inputs: &[Buf]) -> Result<()> {
        let p = self.program;
        if inputs.len() != p.inputs.len() {
            return Err(Error::invalid(
                Location::model(),
                format!(
                    "the model has {} inputs, {} were given",
                    p.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        for (i, (&v, buf)) in p.inputs.iter().zip(inputs).enumerate() {
            let val = p.value(v);
            if buf.len() != val.bytes {
                return Err(Error::invalid(
                    Location::tensor(val.tflite_index, &val.name),
                    format!(
                        "input {i} must be {} bytes ({} {:?}), got {} bytes",
                        val.bytes,
                        val.dtype,
                        val.shape,
                        buf.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Runs step `si`: reads its operands from `arena`, `inputs` and `outs`, writes its results.
    ///
    /// # Errors
    /// A kernel that fails.
    pub fn exec_step(
        &self,
        si: usize,
        inputs: &[Buf],
        arena: &mut Buf,
        outs: &mut [Buf],
    ) -> Result<()> {
        let p = self.program;
        let step = &p.steps[si];
        let owned: Vec<Option<Buf>> = step
            .inputs
            .iter()
            .map(|o| match o {
                None => None,
                Some(Operand::Value(v)) => Some(self.read(arena, inputs, outs, *v)),
                Some(Operand::Weight(r)) => Some(Buf::from_bytes(p.weights.get(*r))),
            })
            .collect();
        let mut io = StepIo {
            inputs: owned.iter().map(Option::as_ref).collect(),
            outputs: step
                .outputs
                .iter()
                .map(|&v| Buf::zeroed(p.value(v).bytes))
                .collect(),
            scratch: Buf::zeroed(step.scratch_bytes),
            origin: &step.origin,
        };
        exec(&step.kernel, &mut io)?;
        let results = std::mem::take(&mut io.outputs);
        for (&v, b) in step.outputs.iter().zip(&results) {
            self.write(arena, outs, v, b)?;
        }
        Ok(())
    }

    /// Runs the program and returns its outputs, in order.
    ///
    /// # Errors
    /// As [`Interpreter::run_values`].
    pub fn run(&self, inputs: &[Buf]) -> Result<Vec<Buf>> {
        self.run_values(inputs, false).map(|(o, _)| o)
    }
}

/// For every value, the step after which it is complete: the last step writing into its memory
/// (a value sharing memory with others, such as an alias or a concatenation slice, is complete
/// when every step writing into that memory has run); `None` for values no step writes.
pub fn completion_steps(p: &Program) -> Vec<Option<usize>> {
    let mut done_at: Vec<Option<usize>> = vec![None; p.values.len()];
    for (si, s) in p.steps.iter().enumerate() {
        for &o in &s.outputs {
            done_at[o.index()] = Some(si);
        }
    }
    let roots: Vec<ValueId> = (0..p.values.len())
        .map(|v| p.root(ValueId(v as u32)).0)
        .collect();
    let mut last_write: Vec<Option<usize>> = vec![None; p.values.len()];
    for (v, root) in roots.iter().enumerate() {
        if let Some(s) = done_at[v] {
            let slot = &mut last_write[root.index()];
            *slot = Some(slot.map_or(s, |x: usize| x.max(s)));
        }
    }
    for (v, root) in roots.iter().enumerate() {
        done_at[v] = last_write[root.index()];
    }
    done_at
}

/// Runs one step's kernel.
///
/// # Errors
/// The kernel's.
pub fn exec(kernel: &Kernel, io: &mut StepIo<'_>) -> Result<()> {
    match kernel {
        Kernel::Copy => {
            let src = io.input::<u8>(0)?;
            let dst = io.output::<u8>(0)?;
            if src.len() != dst.len() {
                return Err(io.err("copy between values of different sizes"));
            }
            dst.copy_from_slice(src);
            Ok(())
        }
        Kernel::Activation(k) => k.exec(io),
        Kernel::ArgMax(k) => k.exec(io),
        Kernel::Binary(k) => k.exec(io),
        Kernel::Concatenation(k) => k.exec(io),
        Kernel::Conv2d(k) => k.exec(io),
        Kernel::DepthToSpace(k) => k.exec(io),
        Kernel::FullyConnected(k) => k.exec(io),
        Kernel::Gather(k) => k.exec(io),
        Kernel::L2Normalization(k) => k.exec(io),
        Kernel::LogisticTanh(k) => k.exec(io),
        Kernel::Pad(k) => k.exec(io),
        Kernel::Pool2d(k) => k.exec(io),
        Kernel::Quantize(k) => k.exec(io),
        Kernel::Reduce(k) => k.exec(io),
        Kernel::Resize(k) => k.exec(io),
        Kernel::Slice(k) => k.exec(io),
        Kernel::Softmax(k) => k.exec(io),
        Kernel::SplitPack(k) => k.exec(io),
        Kernel::Transpose(k) => k.exec(io),
        Kernel::Unary(k) => k.exec(io),
    }
}

/// Compiles a verified graph to a program and its plan, the pipeline's middle end.
///
/// # Errors
/// Lowering errors.
pub fn compile(graph: &Graph) -> Result<(Program, Plan)> {
    let program = crate::lower::lower(&crate::passes::optimize(graph)?)?;
    let plan = crate::plan::plan(&program);
    Ok((program, plan))
}

/// Whether a value of `dtype` can be viewed as Rust type `T` by size (for generic kernels).
pub fn elem_size_matches<T>(dtype: DType) -> bool {
    std::mem::size_of::<T>() == dtype.size()
}
