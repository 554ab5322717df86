//! [`StepCx`]: what an op family's `emit_rust` sees while it writes the code of one step.
//!
//! A family asks for its operands as typed slice expressions ([`StepCx::input`],
//! [`StepCx::output`], [`StepCx::scratch`]), turns its parameters into `static`s
//! ([`StepCx::param`], [`StepCx::param_array`]) and writes the kernel call ([`StepCx::call`],
//! [`StepCx::call_fallible`]). Every region it asks for is recorded; the emitter then proves that
//! the regions the step writes overlap nothing else the step touches before it accepts the code.

use crate::error::{Error, Location, Result};
use crate::ir::DType;
use crate::lower::{Operand, Program, Step, ValueId};
use crate::plan::{Place, Plan};

use super::lit::{ToLit, WIDTH};

/// Which buffer a region is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    /// The arena (`a` in generated code).
    Arena,
    /// The caller's input `n` (`i[n]`).
    Input(usize),
    /// The caller's output `n` (`o[n]`).
    Output(usize),
    /// The weight blob (`w`).
    Weights,
}

impl Buffer {
    fn base(self) -> String {
        match self {
            Buffer::Arena => "a".into(),
            Buffer::Input(n) => format!("i[{n}]"),
            Buffer::Output(n) => format!("o[{n}]"),
            Buffer::Weights => "w".into(),
        }
    }
}

/// A typed view of a region, as generated code spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The expression (`view::<f32>(a, 1024, 300)`).
    pub expr: String,
    /// Number of elements.
    pub len: usize,
}

impl std::fmt::Display for Slice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.expr)
    }
}

/// A region a step touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    pub buffer: Buffer,
    pub start: usize,
    pub end: usize,
    pub write: bool,
}

/// The Rust element type generated code views a dtype as (booleans are bytes).
pub fn rust_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F16 => "u16",
        DType::I8 => "i8",
        DType::U8 | DType::Bool => "u8",
        DType::I16 => "i16",
        DType::I32 => "i32",
        DType::I64 => "i64",
    }
}

fn elem_size(ty: &str) -> Option<usize> {
    Some(match ty {
        "f32" | "i32" | "u32" => 4,
        "i8" | "u8" => 1,
        "i16" | "u16" => 2,
        "i64" | "u64" => 8,
        _ => return None,
    })
}

/// The unsigned Rust type of elements of `bytes` bytes (`u8`, `u16`, `u32`, `u64`), for kernels
/// that only move data.
pub fn bits_type(bytes: usize) -> Option<&'static str> {
    Some(match bytes {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        8 => "u64",
        _ => return None,
    })
}

/// The code of one step being written.
#[derive(Debug)]
pub struct StepCx<'a> {
    program: &'a Program,
    plan: &'a Plan,
    index: usize,
    step: &'a Step,
    pub(crate) regions: Vec<Region>,
    pub(crate) statics: Vec<String>,
    pub(crate) body: Vec<String>,
}

impl<'a> StepCx<'a> {
    pub(crate) fn new(program: &'a Program, plan: &'a Plan, index: usize) -> StepCx<'a> {
        StepCx {
            program,
            plan,
            index,
            step: &program.steps[index],
            regions: Vec::new(),
            statics: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The step being written.
    pub fn step(&self) -> &'a Step {
        self.step
    }

    /// An error at this step.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        let o = &self.step.origin;
        Error::invalid(
            Location::operator(o.ops.first().copied(), o.op),
            format!("Rust back end: {}", msg.into()),
        )
    }

    fn region(
        &mut self,
        buffer: Buffer,
        start: usize,
        bytes: usize,
        ty: &str,
        write: bool,
    ) -> Result<Slice> {
        let size = elem_size(ty).ok_or_else(|| self.err(format!("no element type {ty}")))?;
        if !bytes.is_multiple_of(size) || !start.is_multiple_of(size) {
            return Err(self.err(format!(
                "a region of {bytes} bytes at {start} cannot be viewed as {ty}"
            )));
        }
        self.regions.push(Region {
            buffer,
            start,
            end: start + bytes,
            write,
        });
        let f = if write { "view_mut" } else { "view" };
        // `*mut u8` coerces to the `*const u8` that `view` takes.
        let base = buffer.base();
        Ok(Slice {
            expr: format!("{f}::<{ty}>({base}, {start}, {})", bytes / size),
            len: bytes / size,
        })
    }

    fn value_region(&mut self, v: ValueId, ty: &str, write: bool) -> Result<Slice> {
        let bytes = self.program.value(v).bytes;
        let (buffer, start) = match self.plan.place(self.program, v) {
            Place::Arena(o) => (Buffer::Arena, o),
            Place::Input(n, o) => (Buffer::Input(n), o),
            Place::Output(n, o) => (Buffer::Output(n), o),
        };
        if write && matches!(buffer, Buffer::Input(_)) {
            return Err(self.err("a step writes a model input"));
        }
        self.region(buffer, start, bytes, ty, write)
    }

    /// Operand `i` as `&[ty]`.
    ///
    /// # Errors
    /// A missing operand or a size that is not a multiple of `ty`'s.
    pub fn input(&mut self, i: usize, ty: &str) -> Result<Slice> {
        match self.step.inputs.get(i).copied().flatten() {
            Some(Operand::Value(v)) => self.value_region(v, ty, false),
            Some(Operand::Weight(r)) => self.region(Buffer::Weights, r.offset, r.len, ty, false),
            None => Err(self.err(format!("input {i} is missing"))),
        }
    }

    /// Operand `i` as `Some(&[ty])`, or `None` when omitted (the expression and the length).
    ///
    /// # Errors
    /// As [`StepCx::input`].
    pub fn opt_input(&mut self, i: usize, ty: &str) -> Result<Option<Slice>> {
        match self.step.inputs.get(i).copied().flatten() {
            Some(_) => self.input(i, ty).map(Some),
            None => Ok(None),
        }
    }

    /// Result `i` as `&mut [ty]`.
    ///
    /// # Errors
    /// A missing result, a result in a model input, a size that is not a multiple of `ty`'s.
    pub fn output(&mut self, i: usize, ty: &str) -> Result<Slice> {
        match self.step.outputs.get(i).copied() {
            Some(v) => self.value_region(v, ty, true),
            None => Err(self.err(format!("output {i} is missing"))),
        }
    }

    /// The step's scratch memory as `&mut [ty]`.
    ///
    /// # Errors
    /// No scratch planned, or a size that is not a multiple of `ty`'s.
    pub fn scratch(&mut self, ty: &str) -> Result<Slice> {
        let bytes = self.step.scratch_bytes;
        let Some(offset) = self.plan.scratch.get(self.index).copied().flatten() else {
            return Err(self.err("the step has no planned scratch memory"));
        };
        self.region(Buffer::Arena, offset, bytes, ty, true)
    }

    /// The number of elements of result `i`.
    pub fn output_len(&self, i: usize, ty: &str) -> usize {
        match (self.step.outputs.get(i), elem_size(ty)) {
            (Some(&v), Some(s)) => self.program.value(v).bytes / s,
            _ => 0,
        }
    }

    /// A `static` holding `value`, named after the step and `what` (`S3_PARAMS`); returns its
    /// name.
    pub fn param<T: ToLit>(&mut self, what: &str, value: &T) -> String {
        self.static_item(what, &T::ty(), value.to_lit())
    }

    /// A `static` array holding `values`; returns its name (a `&NAME` is a `&[T]`).
    pub fn param_array<T: ToLit>(&mut self, what: &str, values: &[T]) -> String {
        let ty = format!("[{}; {}]", T::ty(), values.len());
        let lit = super::lit::Lit::Array(values.iter().map(ToLit::to_lit).collect());
        self.static_item(what, &ty, lit)
    }

    fn static_item(&mut self, what: &str, ty: &str, lit: super::lit::Lit) -> String {
        let name = format!("S{}_{}", self.index, what.to_ascii_uppercase());
        let head = format!("    static {name}: {ty} =");
        let one = lit.render(4, head.len() + 1, 1);
        let first = one.lines().next().unwrap_or("").len();
        if head.len() + 1 + first + usize::from(!one.contains('\n')) <= WIDTH {
            self.statics.push(format!("{head} {one};"));
        } else {
            // As rustfmt does: the value on its own line, indented once more.
            let body = lit.render(8, 8, 1);
            self.statics.push(format!("{head}\n        {body};"));
        }
        name
    }

    /// A kernel call statement `path(args…);`.
    pub fn call(&mut self, path: &str, args: &[String]) {
        let s = format_call(path, args, 8, ";");
        self.body.push(s);
    }

    /// A kernel call returning `Result<_, _>`: an error becomes `RunError::Kernel` with
    /// `message`, located at the step's operator.
    pub fn call_fallible(&mut self, path: &str, args: &[String], message: &str) {
        let o = &self.step.origin;
        let operator = o.ops.first().copied().unwrap_or(u32::MAX);
        let tail = format!(
            "\n        .map_err(|_| RunError::Kernel {{\n            operator: {operator},\n            op: {:?},\n            message: {:?},\n        }})?;",
            o.op, message
        );
        let s = format_call(path, args, 8, "");
        self.body.push(format!("{s}{tail}"));
    }

    /// A raw statement (already indented by the caller's conventions: 8 spaces).
    pub fn stmt(&mut self, s: impl Into<String>) {
        self.body.push(s.into());
    }
}

/// `path(a, b);` on one line when it fits in [`WIDTH`] at `indent`, else one argument per line.
pub(crate) fn format_call(path: &str, args: &[String], indent: usize, tail: &str) -> String {
    let pad = " ".repeat(indent);
    let one = format!("{pad}{path}({}){tail}", args.join(", "));
    if one.len() <= WIDTH && !one.contains('\n') {
        return one;
    }
    let inner = " ".repeat(indent + 4);
    let mut s = format!("{pad}{path}(\n");
    for a in args {
        s.push_str(&inner);
        s.push_str(a);
        s.push_str(",\n");
    }
    s.push_str(&pad);
    s.push(')');
    s.push_str(tail);
    s
}
