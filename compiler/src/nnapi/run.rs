//! Running a partitioned model on the host (`mvcc run --backend nnapi-ref`): CPU segments with the
//! interpreter, exactly as the CPU code runs them, NNAPI segments with the reference executor
//! ([`super::refexec`]), handing tensors over through the places of the CPU memory plan — the
//! same hand-over the runtime does on a device.

use super::desc::{Place, SegmentKind};
use super::partition::Compiled;
use crate::error::{Error, Location, Result};
use crate::interp::{completion_steps, Buf, Interpreter, Values};
use crate::lower::ValueId;

fn bytes<'a>(p: Place, arena: &'a Buf, ins: &'a [Buf], outs: &'a [Buf]) -> Option<&'a [u8]> {
    let (buf, offset, len) = match p {
        Place::Arena { offset, len } => (arena, offset, len),
        Place::ModelInput { index, offset, len } => (ins.get(index)?, offset, len),
        Place::ModelOutput { index, offset, len } => (outs.get(index)?, offset, len),
    };
    buf.bytes().get(offset..offset.checked_add(len)?)
}

fn bytes_mut<'a>(p: Place, arena: &'a mut Buf, outs: &'a mut [Buf]) -> Option<&'a mut [u8]> {
    let (buf, offset, len) = match p {
        Place::Arena { offset, len } => (arena, offset, len),
        Place::ModelOutput { index, offset, len } => (outs.get_mut(index)?, offset, len),
        Place::ModelInput { .. } => return None,
    };
    buf.bytes_mut().get_mut(offset..offset.checked_add(len)?)
}

/// Runs `c` on `inputs` (one buffer per model input); returns the outputs and, when `keep` is
/// set, every program value as it was when complete (values an NNAPI segment computes come from
/// the reference executor; values inside an NNAPI segment that the CPU plan never sees are
/// included too).
///
/// # Errors
/// Wrong inputs; a kernel or the reference executor failing.
pub fn run_reference(c: &Compiled, inputs: &[Buf], keep: bool) -> Result<(Vec<Buf>, Values)> {
    let p = &c.program;
    let interp = Interpreter::new(p, &c.plan);
    interp.check_inputs(inputs)?;
    let mut arena = Buf::zeroed(c.plan.arena_bytes);
    let mut outs: Vec<Buf> = p
        .outputs
        .iter()
        .map(|&v| Buf::zeroed(p.value(v).bytes))
        .collect();
    let done_at = completion_steps(p);
    let mut values: Values = vec![None; p.values.len()];
    let read = |v: ValueId, arena: &Buf, outs: &[Buf]| -> Option<Buf> {
        let len = p.value(v).bytes;
        let place = match c.plan.place(p, v) {
            crate::plan::Place::Arena(offset) => Place::Arena { offset, len },
            crate::plan::Place::Input(index, offset) => Place::ModelInput { index, offset, len },
            crate::plan::Place::Output(index, offset) => Place::ModelOutput { index, offset, len },
        };
        bytes(place, arena, inputs, outs).map(Buf::from_bytes)
    };
    if keep {
        // Model inputs, and values no step writes that live in them (reshapes of an input).
        for v in 0..p.values.len() {
            let id = ValueId(v as u32);
            let in_input = matches!(c.plan.place(p, id), crate::plan::Place::Input(..));
            if p.inputs.contains(&id) || (done_at[v].is_none() && in_input) {
                values[v] = read(id, &arena, &outs);
            }
        }
    }
    for (k, seg) in c.partition.segments.iter().enumerate() {
        match &seg.kind {
            SegmentKind::Cpu => {
                for si in seg.steps.clone() {
                    interp.exec_step(si, inputs, &mut arena, &mut outs)?;
                    if keep {
                        for (v, d) in done_at.iter().enumerate() {
                            if *d == Some(si) {
                                values[v] = read(ValueId(v as u32), &arena, &outs);
                            }
                        }
                    }
                }
            }
            SegmentKind::Nnapi {
                desc,
                inputs: places_in,
                outputs: places_out,
            } => {
                let err =
                    |m: &str| Error::invalid(Location::model(), format!("NNAPI segment {k}: {m}"));
                let ins: Vec<&[u8]> = places_in
                    .iter()
                    .map(|&pl| {
                        bytes(pl, &arena, inputs, &outs)
                            .ok_or_else(|| err("input place out of bounds"))
                    })
                    .collect::<Result<_>>()?;
                let all = super::refexec::run_all(desc, &p.weights.bytes, &ins)?;
                for (&o, &pl) in desc.outputs.iter().zip(places_out) {
                    let data = all
                        .get(o as usize)
                        .and_then(Option::as_ref)
                        .ok_or_else(|| err("the executor computed no value for an output"))?;
                    let dst = bytes_mut(pl, &mut arena, &mut outs)
                        .ok_or_else(|| err("output place out of bounds"))?;
                    if dst.len() != data.len() {
                        return Err(err("output size differs from its place"));
                    }
                    dst.copy_from_slice(data);
                }
                if keep {
                    // Values completed in this segment's steps, as the CPU memory now holds them
                    // (aliases of its outputs), then every value the executor computed.
                    for (v, d) in done_at.iter().enumerate() {
                        if d.is_some_and(|d| seg.steps.contains(&d)) {
                            values[v] = read(ValueId(v as u32), &arena, &outs);
                        }
                    }
                    for &(v, o) in c.computed.get(k).into_iter().flatten() {
                        if let Some(Some(d)) = all.get(o as usize) {
                            values[v.index()] = Some(Buf::from_bytes(d));
                        }
                    }
                }
            }
        }
    }
    // Outputs that are model inputs (identity models) are copied.
    for (n, &v) in p.outputs.iter().enumerate() {
        if let crate::plan::Place::Input(..) = c.plan.place(p, v) {
            if let Some(b) = read(v, &arena, &outs) {
                outs[n] = b;
            }
        }
    }
    Ok((outs, values))
}
