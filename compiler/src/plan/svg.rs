//! The plan drawn as an SVG: steps of the schedule along x, arena addresses up y, one rectangle
//! per arena value over its live range, coloured by the op family that writes it, with the tensor
//! name as label and tooltip; scratch hatched; values written in place outlined; the bytes live
//! at each step, the lower bound and the arena size as lines. For `mvcc inspect --plan-svg`.

use std::fmt::Write as _;

use super::liveness::{aligned, liveness, value_ranges};
use super::text::overhead;
use super::Plan;
use crate::lower::{Operand, Program, ValueId};

const WIDTH: f64 = 1280.0;
const HEIGHT: f64 = 760.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 230.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 56.0;
const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

/// Categorical colours (Tableau 20 order: strong first, then light), by op family in order of
/// first appearance in the schedule.
const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#a0cbe8", "#ffbe7d", "#8cd17d", "#86bcb6", "#f1ce63", "#d4a6c8",
    "#fabfd2", "#d7b5a6",
];

/// Escapes text for XML content and attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Bytes for people: `512 B`, `12.5 kB`, `4.82 MB` (powers of 1000, three decimals at most).
pub fn human_bytes(b: usize) -> String {
    let trim = |v: f64, unit: &str| {
        let t = format!("{v:.3}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        format!("{t} {unit}")
    };
    match b {
        0..1000 => format!("{b} B"),
        1000..1_000_000 => trim(b as f64 / 1e3, "kB"),
        _ => trim(b as f64 / 1e6, "MB"),
    }
}

/// A tick spacing of 1, 2 or 5 × 10ⁿ giving about `want` ticks over `span`.
fn tick_step(span: f64, want: f64) -> f64 {
    let raw = (span / want).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&t| t >= raw)
        .unwrap_or(10.0 * mag)
}

/// A short label for a tensor: of the first of the names TFLite joins with `;`, the path segment
/// after the model's name (the layer: `block_1_expand_relu_1` in
/// `mobilenetv2_1.00_224/block_1_expand_relu_1/Relu6`), or the whole name if it has no path.
fn label_of(name: &str) -> &str {
    let first = name.split(';').next().unwrap_or(name);
    let mut parts = first.split('/').filter(|s| !s.is_empty());
    match (parts.next(), parts.next()) {
        (_, Some(layer)) => layer,
        (Some(only), None) => only,
        (None, None) => first,
    }
}

/// `s` cut to `chars` characters, with an ellipsis if cut.
fn fit(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        return s.to_string();
    }
    let mut t: String = s.chars().take(chars.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Whether black text reads better than white on `hex`.
fn dark_text(hex: &str) -> bool {
    let c =
        |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128) as f64;
    0.299 * c(1) + 0.587 * c(3) + 0.114 * c(5) > 150.0
}

/// The plan of `p` as an SVG document; `title` heads it (the model's file name).
pub fn plan_to_svg(p: &Program, plan: &Plan, title: &str) -> String {
    let steps = p.steps.len().max(1);
    let ranges = value_ranges(p);
    // The op family writing each root value (the first step writing it or into it).
    let mut family: Vec<Option<&'static str>> = vec![None; p.values.len()];
    let mut families: Vec<&'static str> = Vec::new();
    for step in &p.steps {
        for &o in &step.outputs {
            let (root, _) = p.root(o);
            if family[root.index()].is_none() {
                family[root.index()] = Some(step.origin.op);
                if !families.contains(&step.origin.op) {
                    families.push(step.origin.op);
                }
            }
        }
    }
    let colour =
        |f: &str| PALETTE[families.iter().position(|&g| g == f).unwrap_or(0) % PALETTE.len()];
    // The step writing each value in place, and aliases of each root (for tooltips).
    let mut over: Vec<Option<(usize, ValueId)>> = vec![None; p.values.len()];
    for (i, step) in p.steps.iter().enumerate() {
        if plan.in_place.get(i).copied().unwrap_or(false) {
            if let (Some(k), Some(&out)) = (step.in_place, step.outputs.first()) {
                if let Some(Some(Operand::Value(x))) = step.inputs.get(k) {
                    over[p.root(out).0.index()] = Some((i, *x));
                }
            }
        }
    }
    let mut views: Vec<Vec<usize>> = vec![Vec::new(); p.values.len()];
    for (v, val) in p.values.iter().enumerate() {
        if val.alias.is_some() {
            views[p.root(ValueId(v as u32)).0.index()].push(v);
        }
    }
    // Bytes live per step (the lower bound is the most).
    let live = liveness(p).live_bytes(steps);

    let top_bytes = plan.arena_bytes.max(plan.lower_bound_bytes).max(1) as f64 * 1.06;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |s: f64| LEFT + s * pw / steps as f64;
    let y = |b: f64| TOP + ph - b * ph / top_bytes;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" {FONT} font-size=\"11\">"
    );
    let _ = writeln!(
        o,
        "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
<rect width=\"6\" height=\"6\" fill=\"#d9d9d9\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8c8c8c\" stroke-width=\"2\"/></pattern>\
<clipPath id=\"plot\"><rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\"/></clipPath></defs>"
    );
    let _ = writeln!(o, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"44\" font-size=\"12\" fill=\"#444\">arena {} ({} bytes) · lower bound {} ({}) · {} · {} steps, {} in place</text>",
        human_bytes(plan.arena_bytes),
        plan.arena_bytes,
        human_bytes(plan.lower_bound_bytes),
        overhead(plan),
        plan.strategy.name(),
        p.steps.len(),
        plan.in_place.iter().filter(|&&b| b).count()
    );

    // Grid and axes.
    let ystep = tick_step(top_bytes, 8.0);
    let mut t = 0.0;
    while t <= top_bytes {
        let yy = y(t);
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            human_bytes(t as usize)
        );
        t += ystep;
    }
    let xstep = tick_step(steps as f64, 16.0).max(1.0) as usize;
    for s in (0..=steps).step_by(xstep) {
        let xx = x(s as f64);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
<line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>\
<text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{s}</text>",
            TOP + ph,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0
        );
    }
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#222\">step of the schedule</text>\
<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#222\">arena address</text>",
        LEFT + pw / 2.0,
        HEIGHT - 14.0,
        TOP + ph / 2.0
    );

    // Buffers.
    let _ = writeln!(
        o,
        "<g clip-path=\"url(#plot)\" stroke=\"white\" stroke-width=\"0.6\">"
    );
    for (v, val) in p.values.iter().enumerate() {
        let (Some((a, b)), Some(off)) = (ranges[v], plan.offsets.get(v).copied().flatten()) else {
            continue;
        };
        let size = aligned(val.bytes);
        let (x0, x1) = (x(a as f64), x(b as f64 + 1.0));
        let (y0, y1) = (y((off + size) as f64), y(off as f64));
        let fam = family[v].unwrap_or("?");
        let fill = colour(fam);
        let mut tip = format!(
            "v{v}{} \"{}\"\n{} {:?} written by {fam}\nsteps {a}..{b}, offset {off}, {} bytes",
            val.tflite_index
                .map(|t| format!(" (tensor {t})"))
                .unwrap_or_default(),
            val.name,
            val.dtype,
            val.shape,
            val.bytes
        );
        if let Some((s, x)) = over[v] {
            let _ = write!(tip, "\nwritten in place over v{} at step {s}", x.0);
        }
        for &w in &views[v] {
            let _ = write!(tip, "\nview v{w} \"{}\"", p.values[w].name);
        }
        let dash = if over[v].is_some() {
            " stroke=\"#222\" stroke-dasharray=\"3 2\""
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"{dash}><title>{}</title></rect>",
            (x1 - x0).max(0.5),
            (y1 - y0).max(0.5),
            esc(&tip)
        );
        let (w, h) = (x1 - x0, y1 - y0);
        // Horizontal where at least a few characters fit, else vertical in tall narrow boxes.
        let across = ((w - 6.0) / 6.2).max(0.0) as usize;
        let up = ((h - 6.0) / 6.2).max(0.0) as usize;
        let ink = if dark_text(fill) { "#111" } else { "white" };
        let attrs =
            format!("font-size=\"10\" fill=\"{ink}\" stroke=\"none\" pointer-events=\"none\"");
        if across >= 4 && h > 12.0 {
            let label = esc(&fit(label_of(&val.name), across));
            let _ = writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" {attrs}>{label}</text>",
                x0 + 3.0,
                y0 + 11.0
            );
        } else if up >= 4 && w >= 12.0 {
            let label = esc(&fit(label_of(&val.name), up));
            let (tx, ty) = (x0 + w / 2.0 + 3.5, y1 - 3.0);
            let _ = writeln!(
                o,
                "<text transform=\"translate({tx:.1} {ty:.1}) rotate(-90)\" {attrs}>{label}</text>"
            );
        }
    }
    for (s, step) in p.steps.iter().enumerate() {
        let Some(off) = plan.scratch.get(s).copied().flatten() else {
            continue;
        };
        let size = aligned(step.scratch_bytes);
        let (x0, x1) = (x(s as f64), x(s as f64 + 1.0));
        let (y0, y1) = (y((off + size) as f64), y(off as f64));
        let _ = writeln!(
            o,
            "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"url(#hatch)\"><title>scratch of step {s} ({}), offset {off}, {} bytes</title></rect>",
            (x1 - x0).max(0.5),
            (y1 - y0).max(0.5),
            esc(step.origin.op),
            step.scratch_bytes
        );
    }
    let _ = writeln!(o, "</g>");

    // Bytes live per step, lower bound, arena.
    let mut path = String::new();
    for (s, &l) in live.iter().enumerate() {
        let (x0, x1, yy) = (x(s as f64), x(s as f64 + 1.0), y(l as f64));
        let _ = write!(
            path,
            "{}{x0:.1},{yy:.1} L{x1:.1},{yy:.1} ",
            if s == 0 { "M" } else { "L" }
        );
    }
    let _ = writeln!(o, "<path d=\"{path}\" fill=\"none\" stroke=\"#111\" stroke-opacity=\"0.75\" stroke-width=\"1\"/>");
    let (ya, yl) = (y(plan.arena_bytes as f64), y(plan.lower_bound_bytes as f64));
    let _ = writeln!(
        o,
        "<line x1=\"{LEFT}\" y1=\"{ya:.1}\" x2=\"{:.1}\" y2=\"{ya:.1}\" stroke=\"#c0392b\" stroke-width=\"1.6\"/>\
<line x1=\"{LEFT}\" y1=\"{yl:.1}\" x2=\"{:.1}\" y2=\"{yl:.1}\" stroke=\"#1f4e79\" stroke-width=\"1.4\" stroke-dasharray=\"6 4\"/>",
        LEFT + pw,
        LEFT + pw
    );
    // Axes frame.
    let _ = writeln!(
        o,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );

    // Legend: (swatch kind, colour, extra attributes, text); kind 'l' line, 'b' box, 'h' heading.
    let mut entries: Vec<(char, String, &str, String)> = vec![
        (
            'l',
            "#c0392b".into(),
            "",
            format!("arena {}", human_bytes(plan.arena_bytes)),
        ),
        (
            'l',
            "#1f4e79".into(),
            " stroke-dasharray=\"6 4\"",
            format!("lower bound {}", human_bytes(plan.lower_bound_bytes)),
        ),
        ('l', "#222".into(), "", "bytes live at the step".into()),
        ('h', String::new(), "", "written by".into()),
    ];
    for f in &families {
        entries.push(('b', colour(f).into(), "", (*f).into()));
    }
    if p.steps.iter().any(|s| s.scratch_bytes > 0) {
        entries.push(('b', "url(#hatch)".into(), "", "kernel scratch".into()));
    }
    if over.iter().any(Option::is_some) {
        entries.push((
            'b',
            "#ddd".into(),
            " stroke=\"#222\" stroke-dasharray=\"3 2\"",
            "written in place".into(),
        ));
    }
    let lx = LEFT + pw + 16.0;
    let mut ly = TOP + 4.0;
    for (kind, fill, extra, text) in &entries {
        match kind {
            'l' => {
                let _ = write!(
                    o,
                    "<line x1=\"{lx:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{fill}\" stroke-width=\"1.6\"{extra}/>",
                    ly + 6.0,
                    lx + 18.0,
                    ly + 6.0
                );
            }
            'b' => {
                let _ = write!(o, "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"18\" height=\"12\" fill=\"{fill}\"{extra}/>");
            }
            _ => {
                ly += 8.0;
                let _ = writeln!(
                    o,
                    "<text x=\"{lx:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
                    ly + 10.0,
                    esc(text)
                );
                ly += 18.0;
                continue;
            }
        }
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 24.0,
            ly + 10.0,
            esc(text)
        );
        ly += 18.0;
    }
    let _ = writeln!(o, "</svg>");
    o
}
