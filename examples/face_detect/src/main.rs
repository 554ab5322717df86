//! Face detection with a model compiled into the binary.
//!
//! MediaPipe's BlazeFace short-range detector (`models/face_detection_short_range.tflite`,
//! Apache-2.0, from the `mediapipe` 0.10.14 wheel) is compiled by `include_model!` while this
//! crate builds: no interpreter, no model file at run time, no allocation in the model.
//!
//! ```text
//! cargo run --release -p face-detect -- [IMAGE] [--out annotated.png]
//! ```
//!
//! Without `IMAGE` it reads the bundled sample photo (`examples/data/astronaut.jpg`). It prints
//! every face found with its score, box and six keypoints, the inference time (median of 20 runs),
//! and writes the photo with the boxes drawn to `--out` (default `faces.png`).

use std::path::PathBuf;
use std::time::Instant;

use image::{Rgb, RgbImage};

mod detector {
    mvcc_runtime::include_model!("models/face_detection_short_range.tflite");
}

/// The model's input is `SIZE`×`SIZE` RGB in `[-1, 1]`.
const SIZE: u32 = 128;
/// Anchors: 16×16 cells of 2 (stride 8) and 8×8 cells of 6 (stride 16), MediaPipe's
/// `SsdAnchorsCalculator` options for this model (4 layers, strides 8, 16, 16, 16, fixed size).
const ANCHORS: usize = 896;
/// Values per anchor: box (x, y, w, h) and six (x, y) keypoints, in input pixels.
const COORDS: usize = 16;
const MIN_SCORE: f32 = 0.5;
const MIN_SUPPRESSION_IOU: f32 = 0.3;
const KEYPOINTS: [&str; 6] = [
    "right eye",
    "left eye",
    "nose tip",
    "mouth",
    "right ear tragion",
    "left ear tragion",
];

/// A detection in normalized coordinates of the square (letterboxed) input.
#[derive(Clone, Debug)]
struct Face {
    score: f32,
    /// xmin, ymin, xmax, ymax.
    bbox: [f32; 4],
    keypoints: [[f32; 2]; 6],
}

fn anchors() -> Vec<[f32; 2]> {
    let mut out = Vec::with_capacity(ANCHORS);
    for (stride, per_cell) in [(8u32, 2), (16, 6)] {
        let cells = SIZE / stride;
        for y in 0..cells {
            for x in 0..cells {
                for _ in 0..per_cell {
                    out.push([
                        (x as f32 + 0.5) / cells as f32,
                        (y as f32 + 0.5) / cells as f32,
                    ]);
                }
            }
        }
    }
    out
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Decodes boxes and scores, then MediaPipe's weighted non-maximum suppression: each cluster of
/// overlapping boxes becomes the score-weighted average of its members.
fn decode(boxes: &[f32], scores: &[f32]) -> Vec<Face> {
    let s = SIZE as f32;
    let mut candidates: Vec<Face> = anchors()
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let score = 1.0 / (1.0 + (-scores[i].clamp(-100.0, 100.0)).exp());
            if score < MIN_SCORE {
                return None;
            }
            let r = &boxes[i * COORDS..(i + 1) * COORDS];
            let (cx, cy) = (r[0] / s + a[0], r[1] / s + a[1]);
            let (w, h) = (r[2] / s, r[3] / s);
            let mut keypoints = [[0.0; 2]; 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = [r[4 + 2 * k] / s + a[0], r[5 + 2 * k] / s + a[1]];
            }
            Some(Face {
                score,
                bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                keypoints,
            })
        })
        .collect();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut faces = Vec::new();
    while let Some(top) = candidates.first().cloned() {
        let (cluster, rest): (Vec<Face>, Vec<Face>) = candidates
            .into_iter()
            .partition(|c| iou(&top.bbox, &c.bbox) > MIN_SUPPRESSION_IOU);
        candidates = rest;
        let total: f32 = cluster.iter().map(|c| c.score).sum();
        let mut blended = Face {
            score: top.score,
            bbox: [0.0; 4],
            keypoints: [[0.0; 2]; 6],
        };
        for c in &cluster {
            let wgt = c.score / total;
            for (b, v) in blended.bbox.iter_mut().zip(c.bbox) {
                *b += wgt * v;
            }
            for (k, v) in blended.keypoints.iter_mut().zip(c.keypoints) {
                k[0] += wgt * v[0];
                k[1] += wgt * v[1];
            }
        }
        faces.push(blended);
    }
    faces
}

/// Letterboxes `img` into a black square and scales it to the model's input, in `[-1, 1]`.
/// Returns the input and the square's side in the photo's pixels.
fn preprocess(img: &RgbImage) -> (Vec<f32>, u32) {
    let side = img.width().max(img.height());
    let mut square = RgbImage::new(side, side);
    let (ox, oy) = ((side - img.width()) / 2, (side - img.height()) / 2);
    image::imageops::overlay(&mut square, img, i64::from(ox), i64::from(oy));
    let small = image::imageops::resize(&square, SIZE, SIZE, image::imageops::FilterType::Triangle);
    let input = small
        .as_raw()
        .iter()
        .map(|&p| p as f32 / 127.5 - 1.0)
        .collect();
    (input, side)
}

fn draw_box(img: &mut RgbImage, b: [i64; 4], color: Rgb<u8>) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let mut put = |x: i64, y: i64| {
        if (0..w).contains(&x) && (0..h).contains(&y) {
            img.put_pixel(x as u32, y as u32, color);
        }
    };
    for t in 0..3 {
        for x in b[0]..=b[2] {
            put(x, b[1] + t);
            put(x, b[3] - t);
        }
        for y in b[1]..=b[3] {
            put(b[0] + t, y);
            put(b[2] - t, y);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/astronaut.jpg"
    ));
    let mut out = PathBuf::from("faces.png");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" | "-o" => out = args.next().ok_or("--out needs a file name")?.into(),
            "--help" | "-h" => {
                println!("usage: face-detect [IMAGE] [--out annotated.png]");
                return Ok(());
            }
            _ => path = a.into(),
        }
    }
    let img = image::open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .to_rgb8();
    let (input, side) = preprocess(&img);
    let input: &[f32; detector::INPUT0_LEN] = input.as_slice().try_into()?;

    // The arena lives on the heap; `Model::new()` would hold it inline (fine in a `static`).
    let mut model = detector::Model::with_arena(mvcc_runtime::mem::zeroed_arena());
    // Which output is which: the boxes have 16 values per anchor, the scores one.
    let boxes_first = detector::OUTPUTS[0].len() == ANCHORS * COORDS;
    let mut out0 = vec![0f32; detector::OUTPUT0_LEN];
    let mut out1 = vec![0f32; detector::OUTPUT1_LEN];
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        model.run(
            input,
            out0.as_mut_slice().try_into()?,
            out1.as_mut_slice().try_into()?,
        )?;
        times.push(t.elapsed());
    }
    times.sort();
    let (boxes, scores) = if boxes_first {
        (&out0, &out1)
    } else {
        (&out1, &out0)
    };
    let faces = decode(boxes, scores);

    println!(
        "{}: {}x{}, {} face(s); inference {:.2} ms (median of {} runs, {} bytes of arena)",
        path.display(),
        img.width(),
        img.height(),
        faces.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times.len(),
        detector::ARENA_BYTES
    );
    // Normalized square coordinates → photo pixels.
    let (ox, oy) = (
        (side - img.width()) as f32 / 2.0,
        (side - img.height()) as f32 / 2.0,
    );
    let px = |v: f32, o: f32| v * side as f32 - o;
    let mut annotated = img.clone();
    for (n, f) in faces.iter().enumerate() {
        let b = [
            px(f.bbox[0], ox),
            px(f.bbox[1], oy),
            px(f.bbox[2], ox),
            px(f.bbox[3], oy),
        ];
        println!(
            "face {n}: score {:.3}, box x {:.0}..{:.0}, y {:.0}..{:.0}",
            f.score, b[0], b[2], b[1], b[3]
        );
        for (name, k) in KEYPOINTS.iter().zip(f.keypoints) {
            println!("  {name}: ({:.0}, {:.0})", px(k[0], ox), px(k[1], oy));
            let (x, y) = (px(k[0], ox) as i64, px(k[1], oy) as i64);
            draw_box(
                &mut annotated,
                [x - 2, y - 2, x + 2, y + 2],
                Rgb([255, 255, 0]),
            );
        }
        draw_box(
            &mut annotated,
            b.map(|v| v.round() as i64),
            Rgb([0, 255, 0]),
        );
    }
    annotated.save(&out)?;
    println!("wrote {}", out.display());
    Ok(())
}
