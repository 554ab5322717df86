//! [`KernelCx`]: what an op family's `emit_clif` sees while it writes one step's function.
//!
//! A step becomes one Cranelift function `(inputs, outputs, arena) -> i32` specialized to the
//! step: every loop bound, stride, offset and requantization constant is an immediate. The
//! helpers here give a family typed base pointers for its operands ([`KernelCx::input`],
//! [`KernelCx::output`], [`KernelCx::scratch`]), counted loops ([`KernelCx::for_range`]), loads and
//! stores by element index, and TFLite's fixed-point arithmetic ([`KernelCx::mbqm`]) in CLIF.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, BlockArg, Function, GlobalValue, InstBuilder, MemFlagsData, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};

use crate::error::{Error, Location, Result};
use crate::lower::{Operand, Program, ValueId};
use crate::plan::{Place, Plan};

/// A typed region of memory a step reads or writes.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// Address of the first byte (pointer-typed).
    pub base: Value,
    /// Size in bytes.
    pub bytes: usize,
}

impl Region {
    /// Number of elements of `size` bytes.
    pub fn len(&self, size: usize) -> usize {
        self.bytes / size.max(1)
    }
}

/// Where constant tables (lookup tables and the like) go: read-only data objects of the module
/// being built, reachable from the current function.
pub(crate) trait ConstData {
    /// Defines a 64-byte-aligned read-only object holding `bytes`; returns its global value in
    /// `func`.
    fn define(&mut self, bytes: &[u8], func: &mut Function) -> Result<GlobalValue>;
}

/// The function of one step being written.
pub struct KernelCx<'a, 'f> {
    /// The function builder (positioned in the current block).
    pub b: &'a mut FunctionBuilder<'f>,
    program: &'a Program,
    plan: &'a Plan,
    index: usize,
    /// The pointer type.
    pub ptr: Type,
    inputs: Value,
    outputs: Value,
    arena: Value,
    weights: Value,
    /// The step's status: 0, or the step index + 1 once a kernel refused its data.
    pub(crate) status: Option<Variable>,
    data: &'a mut dyn ConstData,
    /// Whether the target has fused multiply-add (otherwise `fma` would become a libcall).
    pub has_fma: bool,
}

impl std::fmt::Debug for KernelCx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelCx")
            .field("step", &self.index)
            .finish()
    }
}

/// Memory flags for every access generated code makes: never trapping (the compiler checked
/// every region). Not marked aligned: a vector at an element offset need not be 16-byte aligned,
/// and on x86-64 without AVX an "aligned" vector load may be folded into an SSE instruction that
/// faults on a misaligned address.
pub fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<'a, 'f> KernelCx<'a, 'f> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        b: &'a mut FunctionBuilder<'f>,
        program: &'a Program,
        plan: &'a Plan,
        index: usize,
        ptr: Type,
        (inputs, outputs, arena, weights): (Value, Value, Value, Value),
        has_fma: bool,
        data: &'a mut dyn ConstData,
    ) -> KernelCx<'a, 'f> {
        KernelCx {
            b,
            program,
            plan,
            index,
            ptr,
            inputs,
            outputs,
            arena,
            weights,
            status: None,
            data,
            has_fma,
        }
    }

    /// An error at this step.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        let o = &self.program.steps[self.index].origin;
        Error::invalid(
            Location::operator(o.ops.first().copied(), o.op),
            format!("Cranelift back end: {}", msg.into()),
        )
    }

    /// A kernel this back end does not generate yet.
    pub fn unsupported(&self, kernel: &str) -> Error {
        self.err(format!("kernel {kernel} is not generated yet"))
    }

    /// A pointer to a read-only copy of `bytes` (64-byte aligned) for lookup tables and other
    /// constants the kernel needs besides the weights.
    ///
    /// # Errors
    /// A module error.
    pub fn const_data(&mut self, bytes: &[u8]) -> Result<Value> {
        let gv = self.data.define(bytes, self.b.func)?;
        Ok(self.b.ins().symbol_value(self.ptr, gv))
    }

    /// Marks the step as failed when `cond` (an integer or boolean) is non-zero: the step
    /// returns its index + 1 after its code has run, and `NAME_run` stops there (the interpreter's
    /// kernels that refuse data: gather indices out of range, integer division by zero).
    pub fn fail_if(&mut self, cond: Value) {
        let var = match self.status {
            Some(v) => v,
            None => {
                // Not defined before: cranelift-frontend reads an undefined variable as 0 on
                // every path from the entry, which is the "no failure" status.
                let v = self.b.declare_var(types::I32);
                self.status = Some(v);
                v
            }
        };
        let code = self.b.ins().iconst(types::I32, self.index as i64 + 1);
        let prev = self.b.use_var(var);
        let next = self.b.ins().select(cond, code, prev);
        self.b.def_var(var, next);
    }

    /// A pointer-sized constant.
    pub fn iconst(&mut self, v: i64) -> Value {
        self.b.ins().iconst(self.ptr, v)
    }

    /// An `i32` constant.
    pub fn i32const(&mut self, v: i32) -> Value {
        self.b.ins().iconst(types::I32, i64::from(v))
    }

    /// An `f32` constant.
    pub fn f32const(&mut self, v: f32) -> Value {
        self.b.ins().f32const(v)
    }

    fn value_region(&mut self, v: ValueId) -> Region {
        let bytes = self.program.value(v).bytes;
        let (root, off) = match self.plan.place(self.program, v) {
            Place::Arena(o) => (self.arena, o),
            Place::Input(n, o) => {
                let p = self.b.ins().load(
                    self.ptr,
                    flags(),
                    self.inputs,
                    (n * self.ptr.bytes() as usize) as i32,
                );
                (p, o)
            }
            Place::Output(n, o) => {
                let p = self.b.ins().load(
                    self.ptr,
                    flags(),
                    self.outputs,
                    (n * self.ptr.bytes() as usize) as i32,
                );
                (p, o)
            }
        };
        let base = self.b.ins().iadd_imm_s(root, off as i64);
        Region { base, bytes }
    }

    /// Operand `i`.
    ///
    /// # Errors
    /// A missing operand.
    pub fn input(&mut self, i: usize) -> Result<Region> {
        match self.program.steps[self.index]
            .inputs
            .get(i)
            .copied()
            .flatten()
        {
            Some(Operand::Value(v)) => Ok(self.value_region(v)),
            Some(Operand::Weight(r)) => {
                let base = self.b.ins().iadd_imm_s(self.weights, r.offset as i64);
                Ok(Region { base, bytes: r.len })
            }
            None => Err(self.err(format!("input {i} is missing"))),
        }
    }

    /// Operand `i`, if present.
    ///
    /// # Errors
    /// As [`KernelCx::input`].
    pub fn opt_input(&mut self, i: usize) -> Result<Option<Region>> {
        match self.program.steps[self.index]
            .inputs
            .get(i)
            .copied()
            .flatten()
        {
            Some(_) => self.input(i).map(Some),
            None => Ok(None),
        }
    }

    /// Result `i`.
    ///
    /// # Errors
    /// A missing result.
    pub fn output(&mut self, i: usize) -> Result<Region> {
        match self.program.steps[self.index].outputs.get(i).copied() {
            Some(v) => Ok(self.value_region(v)),
            None => Err(self.err(format!("output {i} is missing"))),
        }
    }

    /// The step's scratch memory.
    ///
    /// # Errors
    /// No scratch planned.
    pub fn scratch(&mut self) -> Result<Region> {
        let bytes = self.program.steps[self.index].scratch_bytes;
        let Some(off) = self.plan.scratch.get(self.index).copied().flatten() else {
            return Err(self.err("the step has no planned scratch memory"));
        };
        let base = self.b.ins().iadd_imm_s(self.arena, off as i64);
        Ok(Region { base, bytes })
    }

    /// A counted loop `for i in 0..n`, `i` pointer-sized; `body` writes the loop body.
    ///
    /// # Errors
    /// The body's.
    pub fn for_range(
        &mut self,
        n: usize,
        mut body: impl FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if n == 1 {
            let zero = self.iconst(0);
            return body(self, zero);
        }
        let header = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(header, self.ptr);
        let zero = self.iconst(0);
        self.b.ins().jump(header, &[BlockArg::Value(zero)]);
        self.b.switch_to_block(header);
        let i = self.b.block_params(header)[0];
        body(self, i)?;
        let next = self.b.ins().iadd_imm_s(i, 1);
        let more = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, next, n as i64);
        self.b
            .ins()
            .brif(more, header, &[BlockArg::Value(next)], exit, &[]);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        Ok(())
    }

    /// Runs `then` when `cond` (an integer or boolean) is non-zero.
    ///
    /// # Errors
    /// The body's.
    pub fn if_then(
        &mut self,
        cond: Value,
        then: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let body = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(cond, body, &[], done, &[]);
        self.b.seal_block(body);
        self.b.switch_to_block(body);
        then(self)?;
        self.b.ins().jump(done, &[]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        Ok(())
    }

    /// `a · b + c`: fused where the target has FMA, else a multiply and an add (same types).
    pub fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.has_fma {
            self.b.ins().fma(a, b, c)
        } else {
            let m = self.b.ins().fmul(a, b);
            self.b.ins().fadd(m, c)
        }
    }

    /// Whether `lo <= v < hi` for a pointer-sized `v` taken as signed.
    pub fn in_range(&mut self, v: Value, lo: i64, hi: i64) -> Value {
        let a = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, v, lo);
        let b = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, hi);
        self.b.ins().band(a, b)
    }

    /// `base + index · scale` (bytes).
    pub fn addr(&mut self, base: Value, index: Value, scale: usize) -> Value {
        let off = if scale == 1 {
            index
        } else {
            self.b.ins().imul_imm_s(index, scale as i64)
        };
        self.b.ins().iadd(base, off)
    }

    /// Loads element `index` of type `ty` from `base`.
    pub fn load(&mut self, ty: Type, base: Value, index: Value) -> Value {
        let a = self.addr(base, index, ty.bytes() as usize);
        self.b.ins().load(ty, flags(), a, 0)
    }

    /// Stores `v` as element `index` (of `v`'s type) at `base`.
    pub fn store(&mut self, v: Value, base: Value, index: Value) {
        let ty = self.b.func.dfg.value_type(v);
        let a = self.addr(base, index, ty.bytes() as usize);
        self.b.ins().store(flags(), v, a, 0);
    }

    /// TFLite's `SaturatingRoundingDoublingHighMul(a, b)` for a constant `b` (`i32`).
    pub fn srdhm(&mut self, a: Value, b: i32) -> Value {
        let a64 = self.b.ins().sextend(types::I64, a);
        let ab = self.b.ins().imul_imm_s(a64, i64::from(b));
        // nudge = ab >= 0 ? 2^30 : 1 - 2^30
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, ab, 0);
        let pos_n = self.b.ins().iconst(types::I64, 1 << 30);
        let neg_n = self.b.ins().iconst(types::I64, 1 - (1 << 30));
        let nudge = self.b.ins().select(neg, neg_n, pos_n);
        let sum = self.b.ins().iadd(ab, nudge);
        // Division by 2^31 truncating toward zero: add 2^31 - 1 to negative values first.
        let sign = self.b.ins().sshr_imm_s(sum, 63);
        let bias = self.b.ins().band_imm_s(sign, (1i64 << 31) - 1);
        let adj = self.b.ins().iadd(sum, bias);
        let q = self.b.ins().sshr_imm_s(adj, 31);
        let r = self.b.ins().ireduce(types::I32, q);
        if b == i32::MIN {
            // The one saturating case: a == b == i32::MIN.
            let is_min = self
                .b
                .ins()
                .icmp_imm_s(IntCC::Equal, a, i64::from(i32::MIN));
            let max = self.i32const(i32::MAX);
            self.b.ins().select(is_min, max, r)
        } else {
            r
        }
    }

    /// TFLite's `RoundingDivideByPOT(x, exponent)` for a constant exponent (`i32`).
    pub fn rdbpot(&mut self, x: Value, exponent: i32) -> Value {
        let e = exponent.clamp(0, 31);
        if e == 0 {
            return x;
        }
        let mask = ((1i64 << e) - 1) as i32;
        let rem = self.b.ins().band_imm_s(x, i64::from(mask));
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
        let neg = self.b.ins().uextend(types::I32, neg);
        let threshold = self.b.ins().iadd_imm_s(neg, i64::from(mask >> 1));
        let up = self.b.ins().icmp(IntCC::SignedGreaterThan, rem, threshold);
        let up = self.b.ins().uextend(types::I32, up);
        let shifted = self.b.ins().sshr_imm_s(x, i64::from(e));
        self.b.ins().iadd(shifted, up)
    }

    /// TFLite's `MultiplyByQuantizedMultiplier(x, multiplier, shift)` (`i32`), as
    /// `mvcc_kernels::fixedpoint::multiply_by_quantized_multiplier` computes it.
    pub fn mbqm(&mut self, x: Value, multiplier: i32, shift: i32) -> Value {
        let left = shift.clamp(0, 30);
        let right = shift.saturating_neg().clamp(0, 31);
        let x = if left > 0 {
            self.b.ins().imul_imm_s(x, 1i64 << left)
        } else {
            x
        };
        let h = self.srdhm(x, multiplier);
        self.rdbpot(h, right)
    }

    /// `min(max(x, lo), hi)` on `i32`.
    pub fn clamp_i32(&mut self, x: Value, lo: i32, hi: i32) -> Value {
        let lo = self.i32const(lo);
        let hi = self.i32const(hi);
        let a = self.b.ins().smax(x, lo);
        self.b.ins().smin(a, hi)
    }

    /// TFLite's float activation clamp: `x < min ? min : x`, then `> max ? max`.
    pub fn clamp_f32(&mut self, x: Value, min: f32, max: f32) -> Value {
        use cranelift_codegen::ir::condcodes::FloatCC;
        let lo = self.f32const(min);
        let hi = self.f32const(max);
        let below = self.b.ins().fcmp(FloatCC::LessThan, x, lo);
        let a = self.b.ins().select(below, lo, x);
        let above = self.b.ins().fcmp(FloatCC::GreaterThan, a, hi);
        self.b.ins().select(above, hi, a)
    }
}
