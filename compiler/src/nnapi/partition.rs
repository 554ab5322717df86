//! The CPU/NNAPI partition of a model.
//!
//! The optimized graph is lowered to the CPU [`Program`] as usual (the CPU code is both the code of
//! CPU segments and the fallback for the whole model). Walking its ops in schedule order, each op
//! is lowered into the current NNAPI model ([`Builder`]); an op NNAPI cannot take ends the NNAPI
//! segment and stays on the CPU, with the reason. An op that became no step on the CPU (a reshape
//! alias, an elided concatenation) whose operands come from outside the current NNAPI model is
//! skipped by NNAPI altogether: its bytes are already where the CPU plan puts them.
//!
//! Every hand-over between NNAPI and the CPU costs an NNAPI execution, so like TFLite's NNAPI
//! delegate (`max_number_delegated_partitions`, default 3) at most [`Options::max_segments`] NNAPI
//! segments are kept: those with the most MACs. The ops of the others are forced onto the CPU and
//! the model is segmented again (so their constants leave nothing in the weight blob).
//!
//! NNAPI and CPU segments hand tensors over through the places the CPU memory plan gives them.
//! Before planning, each NNAPI segment's inputs are kept live to the segment's last step
//! ([`Program::keep_live`]), so no output of the segment is placed over one of its inputs.

use std::fmt::Write as _;
use std::ops::Range;

use super::desc::{Description, Lifetime, Partition, Place, Segment, SegmentKind};
use super::lower::{Builder, Reason};
use crate::error::{Error, Location, Result};
use crate::ir::{Graph, OpId, TensorId};
use crate::lower::{Program, ValueId, WeightBlob};
use crate::plan::Plan;

/// The lowest API level mvcc targets by default (Android 10: per-channel filters, QUANTIZE,
/// device enumeration, `compute`).
pub const DEFAULT_API_LEVEL: u32 = 29;

/// Where one graph op runs.
#[derive(Clone, Debug, PartialEq)]
pub struct OpPlacement {
    /// The op.
    pub op: OpId,
    /// Its operator index in the `.tflite` file.
    pub tflite_index: Option<u32>,
    /// Its TFLite name.
    pub name: &'static str,
    /// Its name of its first result tensor.
    pub tensor: String,
    /// The segment it belongs to.
    pub segment: usize,
    /// `None` when NNAPI runs it; the reason it stays on the CPU otherwise.
    pub cpu_reason: Option<Reason>,
}

/// A model compiled for the NNAPI target: the CPU program and plan (with the partition's
/// liveness constraints), and the partition.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The optimized graph.
    pub graph: Graph,
    /// The CPU program; its weight blob also holds the NNAPI constants.
    pub program: Program,
    /// Its memory plan.
    pub plan: Plan,
    /// The segments.
    pub partition: Partition,
    /// Where each op runs, in schedule order.
    pub ops: Vec<OpPlacement>,
    /// For each segment, the program values its NNAPI model computes, with their operands
    /// (empty for CPU segments): what a reference run reads back for the per-tensor comparison.
    pub computed: Vec<Vec<(ValueId, u32)>>,
    /// Bytes the NNAPI models' own constants add to the weight blob (constants the CPU code
    /// holds too are shared, not counted).
    pub nnapi_weight_bytes: usize,
}

struct Open<'g> {
    builder: Builder<'g>,
    ops: Vec<usize>,
}

enum Seg<'g> {
    Cpu(Vec<usize>),
    Nnapi(Box<Open<'g>>),
}

/// What [`compile_with`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The NNAPI API level (27..) the description may use.
    pub api_level: u32,
    /// At most this many NNAPI segments (0: no limit): when the supported ops form more, only
    /// the ones with the most MACs (then the most ops, then the earliest) stay on NNAPI, like
    /// TFLite's NNAPI delegate's `max_number_delegated_partitions`. Each hand-over between NNAPI
    /// and the CPU costs an NNAPI execution.
    pub max_segments: usize,
    /// Whether the plan may run steps in place (`false` for the Rust back end's plan).
    pub in_place: bool,
}

/// The default of [`Options::max_segments`] (TFLite's NNAPI delegate's default too).
pub const DEFAULT_MAX_SEGMENTS: usize = 3;

impl Options {
    /// The defaults at `api_level`.
    pub fn new(api_level: u32) -> Options {
        Options {
            api_level,
            max_segments: DEFAULT_MAX_SEGMENTS,
            in_place: true,
        }
    }
}

/// Compiles `graph` for NNAPI at `api_level` (27..) with the default [`Options`]: CPU program,
/// plan and partition.
///
/// # Errors
/// As [`crate::interp::compile`]; an internal inconsistency of the partition.
pub fn compile(graph: &Graph, api_level: u32) -> Result<Compiled> {
    compile_with(graph, &Options::new(api_level))
}

/// Splits the ops (by schedule position) into CPU and NNAPI segments, greedily in schedule
/// order, appending NNAPI constants to `blob`; ops with a `forced` reason stay on the CPU.
/// Returns the segments and every op's reason for staying on the CPU.
fn segment<'g>(
    g: &'g Graph,
    ranges: &[(OpId, Range<usize>)],
    cpu_copies: &'g [Option<Lifetime>],
    api_level: u32,
    forced: &[Option<Reason>],
    blob: &mut WeightBlob,
) -> (Vec<Seg<'g>>, Vec<Option<Reason>>) {
    let mut segs: Vec<Seg<'g>> = Vec::new();
    let mut reasons: Vec<Option<Reason>> = vec![None; ranges.len()];
    for (i, (o, steps)) in ranges.iter().enumerate() {
        let node = g.op(*o);
        if let Some(Some(r)) = forced.get(i) {
            reasons[i] = Some(r.clone());
        } else {
            // A no-step op reading tensors from outside the open NNAPI model: nothing to do anywhere.
            if steps.is_empty() {
                let inside = match segs.last() {
                    Some(Seg::Nnapi(open)) => node.inputs.iter().flatten().all(|t| {
                        g.tensor(*t).is_const() || open.builder.operand_of[t.index()].is_some()
                    }),
                    _ => false,
                };
                if !inside {
                    reasons[i] = Some("no work: the CPU plan already places the result".into());
                    match segs.last_mut() {
                        Some(Seg::Cpu(v)) => v.push(i),
                        Some(Seg::Nnapi(open)) => open.ops.push(i),
                        None => segs.push(Seg::Cpu(vec![i])),
                    }
                    continue;
                }
            }
            if let Some(Seg::Nnapi(open)) = segs.last_mut() {
                match open.builder.lower(*o, blob) {
                    Ok(()) => {
                        open.ops.push(i);
                        continue;
                    }
                    Err(r) => reasons[i] = Some(r),
                }
            } else {
                let mut b = Builder::new(g, api_level, cpu_copies);
                match b.lower(*o, blob) {
                    Ok(()) => {
                        segs.push(Seg::Nnapi(Box::new(Open {
                            builder: b,
                            ops: vec![i],
                        })));
                        continue;
                    }
                    Err(r) => reasons[i] = Some(r),
                }
            }
        }
        match segs.last_mut() {
            Some(Seg::Cpu(v)) => v.push(i),
            _ => segs.push(Seg::Cpu(vec![i])),
        }
    }
    (segs, reasons)
}

/// When `segs` has more than `max` NNAPI segments (`max` > 0), the reason each op of the
/// segments that do not make the cut must stay on the CPU (by schedule position).
fn over_limit(
    g: &Graph,
    ranges: &[(OpId, Range<usize>)],
    segs: &[Seg<'_>],
    max: usize,
) -> Option<Vec<Option<Reason>>> {
    let nnapi: Vec<(&[usize], u64)> = segs
        .iter()
        .filter_map(|s| match s {
            Seg::Nnapi(open) => {
                let macs = open
                    .ops
                    .iter()
                    .map(|&i| crate::inspect::op_macs(g, ranges[i].0))
                    .sum();
                Some((open.ops.as_slice(), macs))
            }
            Seg::Cpu(_) => None,
        })
        .collect();
    if max == 0 || nnapi.len() <= max {
        return None;
    }
    let mut order: Vec<usize> = (0..nnapi.len()).collect();
    // Most MACs, then most ops, then earliest.
    order.sort_by_key(|&k| (std::cmp::Reverse((nnapi[k].1, nnapi[k].0.len())), k));
    let mut forced = vec![None; ranges.len()];
    for &k in &order[max..] {
        let (ops, macs) = nnapi[k];
        let why = format!(
            "only the {max} NNAPI segments with the most work are kept; this one has {macs} MACs \
             in {} ops",
            ops.len()
        );
        for &i in ops {
            forced[i] = Some(why.clone());
        }
    }
    Some(forced)
}

/// As [`compile`], with `options`.
///
/// # Errors
/// As [`compile`].
pub fn compile_with(graph: &Graph, options: &Options) -> Result<Compiled> {
    let g = crate::passes::optimize(graph)?;
    let lowered = crate::lower::lower_with_ranges(&g)?;
    let cpu_copies = super::lower::cpu_copies(&g, &lowered);
    let mut program = lowered.program;
    if !options.in_place {
        for s in &mut program.steps {
            s.in_place = None;
        }
    }
    let ranges = lowered.ranges;
    let values = lowered.values;
    let api_level = options.api_level;
    // Segment once; over the segment limit, again with the cut segments' ops forced onto the
    // CPU. NNAPI constants are only ever appended to the CPU's blob: cutting it back to the CPU's
    // bytes first leaves nothing of the cut segments behind.
    let cpu_weight_bytes = program.weights.bytes.len();
    let blob = &mut program.weights;
    let (mut segs, mut reasons) = segment(&g, &ranges, &cpu_copies, api_level, &[], blob);
    if let Some(forced) = over_limit(&g, &ranges, &segs, options.max_segments) {
        blob.bytes.truncate(cpu_weight_bytes);
        (segs, reasons) = segment(&g, &ranges, &cpu_copies, api_level, &forced, blob);
    }
    let nnapi_weight_bytes = program.weights.bytes.len() - cpu_weight_bytes;
    // Consumers of each tensor, by schedule position.
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); g.tensors.len()];
    for (i, (o, _)) in ranges.iter().enumerate() {
        for t in g.op(*o).inputs.iter().flatten() {
            consumers[t.index()].push(i);
        }
    }
    let step_range = |ops: &[usize]| -> Range<usize> {
        let first = ops.iter().map(|&i| ranges[i].1.start).min().unwrap_or(0);
        let end = ops.iter().map(|&i| ranges[i].1.end).max().unwrap_or(first);
        first..end
    };
    // Close the NNAPI models: exported results, inputs kept live to the segment's end.
    struct Closed {
        desc: Description,
        imported: Vec<TensorId>,
        exported: Vec<(TensorId, u32)>,
        steps: Range<usize>,
        ops: Vec<usize>,
        computed: Vec<(ValueId, u32)>,
    }
    let mut closed: Vec<std::result::Result<Closed, Vec<usize>>> = Vec::new();
    for seg in segs {
        match seg {
            Seg::Cpu(ops) => closed.push(Err(ops)),
            Seg::Nnapi(open) => {
                let steps = step_range(&open.ops);
                if steps.is_empty() {
                    for &i in &open.ops {
                        reasons[i].get_or_insert_with(|| {
                            "an NNAPI segment with no CPU steps is not worth a model".into()
                        });
                    }
                    closed.push(Err(open.ops));
                    continue;
                }
                let mut b = open.builder;
                let in_seg = |p: usize| open.ops.contains(&p);
                let mut exported = Vec::new();
                for &(t, o) in &b.produced {
                    let outside = consumers[t.index()].iter().any(|&p| !in_seg(p));
                    if outside || g.outputs.contains(&t) {
                        b.desc.operands[o as usize].lifetime = Lifetime::Output;
                        exported.push((t, o));
                    }
                }
                for &t in &b.imported {
                    if let Some(v) = values[t.index()] {
                        program.keep_live.push((v, steps.end - 1));
                    }
                }
                b.desc.inputs = b
                    .imported
                    .iter()
                    .filter_map(|t| b.operand_of[t.index()])
                    .collect();
                let computed = b
                    .produced
                    .iter()
                    .filter_map(|&(t, o)| values[t.index()].map(|v| (v, o)))
                    .collect();
                closed.push(Ok(Closed {
                    computed,
                    desc: b.desc,
                    imported: b.imported,
                    exported,
                    steps,
                    ops: open.ops,
                }));
            }
        }
    }
    let plan = crate::plan::plan(&program);
    let place = |t: TensorId| -> Option<Place> {
        let v: ValueId = values[t.index()]?;
        let len = program.value(v).bytes;
        Some(match plan.place(&program, v) {
            crate::plan::Place::Arena(offset) => Place::Arena { offset, len },
            crate::plan::Place::Input(index, offset) => Place::ModelInput { index, offset, len },
            crate::plan::Place::Output(index, offset) => Place::ModelOutput { index, offset, len },
        })
    };
    let mut partition = Partition {
        api_level: 27,
        segments: Vec::new(),
        steps: program.steps.len(),
    };
    let mut seg_of_op = vec![0; ranges.len()];
    let mut computed: Vec<Vec<(ValueId, u32)>> = Vec::new();
    let mut covered = 0;
    for c in closed {
        let (kind, steps, ops, vals) = match c {
            Err(ops) => (SegmentKind::Cpu, step_range(&ops), ops, Vec::new()),
            Ok(mut c) => {
                let inputs: Option<Vec<Place>> = c.imported.iter().map(|&t| place(t)).collect();
                let mut outs: Vec<(u32, Place)> = Vec::new();
                for &(t, o) in &c.exported {
                    let p = place(t).ok_or_else(|| {
                        Error::invalid(Location::model(), "NNAPI partition: an output has no value")
                    })?;
                    outs.push((o, p));
                }
                // An output inside another output's bytes is an alias of it (a reshape, a
                // concatenation slice): the bigger one writes the same bytes.
                let mut keep = vec![true; outs.len()];
                for i in 0..outs.len() {
                    for j in 0..outs.len() {
                        if i != j
                            && keep[j]
                            && contains(outs[j].1, outs[i].1)
                            && (outs[i].1 != outs[j].1 || j < i)
                        {
                            keep[i] = false;
                        }
                    }
                }
                let mut outputs = Vec::new();
                for (k, &(o, p)) in outs.iter().enumerate() {
                    if keep[k] {
                        c.desc.outputs.push(o);
                        outputs.push(p);
                    } else {
                        c.desc.operands[o as usize].lifetime = Lifetime::Temporary;
                    }
                }
                let inputs = inputs.ok_or_else(|| {
                    Error::invalid(Location::model(), "NNAPI partition: an input has no value")
                })?;
                let overlap = outputs.iter().enumerate().any(|(i, a)| {
                    inputs.iter().any(|b| overlaps(*a, *b))
                        || outputs[..i].iter().any(|b| overlaps(*a, *b))
                });
                if overlap || outputs.is_empty() {
                    let r = if overlap {
                        "the NNAPI segment's inputs and outputs overlap in the CPU memory plan"
                    } else {
                        "the NNAPI segment has no result anything reads"
                    };
                    for &i in &c.ops {
                        reasons[i].get_or_insert_with(|| r.into());
                    }
                    (SegmentKind::Cpu, c.steps, c.ops, Vec::new())
                } else {
                    partition.api_level = partition.api_level.max(c.desc.api_level);
                    (
                        SegmentKind::Nnapi {
                            desc: c.desc,
                            inputs,
                            outputs,
                        },
                        c.steps,
                        c.ops,
                        c.computed,
                    )
                }
            }
        };
        // Adjacent CPU segments merge; empty CPU segments vanish.
        let steps = covered.min(steps.start)..steps.end.max(covered);
        let merge = matches!(kind, SegmentKind::Cpu)
            && matches!(
                partition.segments.last(),
                Some(Segment {
                    kind: SegmentKind::Cpu,
                    ..
                })
            );
        if merge {
            if let Some(last) = partition.segments.last_mut() {
                last.steps.end = steps.end;
            }
        } else {
            partition.segments.push(Segment {
                steps: steps.clone(),
                kind,
            });
            computed.push(vals);
        }
        covered = steps.end.max(covered);
        let seg = partition.segments.len() - 1;
        for &i in &ops {
            seg_of_op[i] = seg;
        }
    }
    // Steps after the last op (constant model outputs) run on the CPU.
    if covered < program.steps.len() {
        match partition.segments.last_mut() {
            Some(Segment {
                kind: SegmentKind::Cpu,
                steps,
            }) => steps.end = program.steps.len(),
            _ => {
                partition.segments.push(Segment {
                    steps: covered..program.steps.len(),
                    kind: SegmentKind::Cpu,
                });
                computed.push(Vec::new());
            }
        }
    }
    // Segments must tile the steps in order.
    let mut at = 0;
    for s in &partition.segments {
        if s.steps.start != at {
            return Err(Error::invalid(
                Location::model(),
                format!(
                    "NNAPI partition: segment {:?} does not start at step {at}",
                    s.steps
                ),
            ));
        }
        at = s.steps.end;
    }
    let ops = ranges
        .iter()
        .enumerate()
        .map(|(i, (o, _))| {
            let node = g.op(*o);
            OpPlacement {
                op: *o,
                tflite_index: node.tflite_index,
                name: node.op.kind().tflite_name(),
                tensor: node
                    .outputs
                    .first()
                    .map(|t| g.tensor(*t).name.clone())
                    .unwrap_or_default(),
                segment: seg_of_op[i],
                cpu_reason: match &partition.segments.get(seg_of_op[i]).map(|s| &s.kind) {
                    Some(SegmentKind::Nnapi { .. }) => {
                        reasons[i].clone().filter(|r| r.starts_with("no work"))
                    }
                    _ => Some(
                        reasons[i]
                            .clone()
                            .unwrap_or_else(|| "in a CPU segment".into()),
                    ),
                },
            }
        })
        .collect();
    Ok(Compiled {
        graph: g,
        program,
        plan,
        partition,
        ops,
        computed,
        nnapi_weight_bytes,
    })
}

fn range(p: Place) -> (u8, usize, usize, usize) {
    match p {
        Place::Arena { offset, len } => (0, 0, offset, len),
        Place::ModelInput { index, offset, len } => (1, index, offset, len),
        Place::ModelOutput { index, offset, len } => (2, index, offset, len),
    }
}

fn overlaps(a: Place, b: Place) -> bool {
    let (ka, ia, oa, la) = range(a);
    let (kb, ib, ob, lb) = range(b);
    ka == kb && ia == ib && oa < ob + lb && ob < oa + la
}

fn contains(outer: Place, inner: Place) -> bool {
    let (ka, ia, oa, la) = range(outer);
    let (kb, ib, ob, lb) = range(inner);
    ka == kb && ia == ib && oa <= ob && ob + lb <= oa + la
}

/// The partition as text (`mvcc inspect --nnapi`): a summary, then one line per op with its
/// segment and the reason for every op left on the CPU ([`super::text::partition`] lists the
/// segments).
pub fn report(c: &Compiled) -> String {
    let mut out = String::new();
    let nn = c
        .partition
        .segments
        .iter()
        .filter(|s| matches!(s.kind, SegmentKind::Nnapi { .. }))
        .count();
    let on_nnapi = c.ops.iter().filter(|o| o.cpu_reason.is_none()).count();
    let _ = writeln!(
        out,
        "NNAPI partition: {} segments ({nn} NNAPI), {on_nnapi} of {} ops on NNAPI, needs API level {}",
        c.partition.segments.len(),
        c.ops.len(),
        c.partition.api_level
    );
    let _ = writeln!(
        out,
        "weights: {} bytes, {} of them added for NNAPI (its other constants are the CPU code's)",
        c.program.weights.bytes.len(),
        c.nnapi_weight_bytes
    );
    let _ = writeln!(out, "ops:");
    for o in &c.ops {
        let idx = o
            .tflite_index
            .map_or_else(|| "-".to_string(), |i| i.to_string());
        let target = match (&o.cpu_reason, &c.partition.segments[o.segment].kind) {
            (None, _) => "NNAPI".to_string(),
            (Some(r), SegmentKind::Nnapi { .. }) => format!("skipped ({r})"),
            (Some(r), SegmentKind::Cpu) => format!("CPU: {r}"),
        };
        let _ = writeln!(
            out,
            "  {idx:>4} {:<20} {:<28} seg {:<2} {target}",
            o.name, o.tensor, o.segment
        );
    }
    out
}
