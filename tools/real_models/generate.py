#!/usr/bin/env python3
"""Conformance fixtures from real, pretrained models that ship inside PyPI packages.

Random-weight fixtures (tools/fixtures) cover every op and option; these cover what real models
look like: MediaPipe's face detectors (float16 weights behind DEQUANTIZE, sparse weights behind
DENSIFY, PRELU, PAD, MAX_POOL_2D, RESIZE_BILINEAR) and on a real photo. (The landmark models are 1-3 MB each: too large to commit for now.)

Each model runs in LiteRT with TFLite's reference kernels (BUILTIN_REF,
experimental_preserve_all_tensors=True). To keep the repository small, a real model's fixture
stores its outputs and a sample of intermediate tensors spread through the graph (about
MAX_BYTES per model); "checked" lists exactly the stored ones.

Inputs:
  - models: the `mediapipe==0.10.14` wheel (Apache-2.0), `pip download --no-deps mediapipe==0.10.14`
  - photo: scikit-image's `astronaut` sample (NASA, public domain), `pip install scikit-image`

Usage: python tools/real_models/generate.py [--wheel PATH]
"""
import argparse
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "tests" / "fixtures"
PHOTO = ROOT / "examples" / "data" / "astronaut.jpg"
MAX_BYTES = 400_000

MODELS = {
    # fixture name: (path inside the wheel, input normalization: (mean, std))
    "mp_face_detection_short_range": ("mediapipe/modules/face_detection/face_detection_short_range.tflite", (127.5, 127.5)),
    "mp_face_detection_full_range_sparse": ("mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite", (127.5, 127.5)),
}


def photo_rgb():
    """The bundled photo as uint8 RGB (written once from scikit-image's sample)."""
    from PIL import Image
    if not PHOTO.exists():
        import skimage.data
        PHOTO.parent.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(skimage.data.astronaut())
        img = img.resize((256, 256), Image.BILINEAR)
        img.save(PHOTO, quality=90)
    return np.asarray(Image.open(PHOTO).convert("RGB"))


def make_input(shape, norm):
    from PIL import Image
    _, h, w, _ = shape
    img = Image.fromarray(photo_rgb())
    arr = np.asarray(img.resize((w, h), Image.BILINEAR)).astype(np.float32)
    mean, std = norm
    return ((arr - mean) / std)[None].astype(np.float32)


RUNNER = r"""
import sys, json, numpy as np
from ai_edge_litert import interpreter as lite
model, inp, out = sys.argv[1], sys.argv[2], sys.argv[3]
it = lite.Interpreter(model_path=model, experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF,
                      experimental_preserve_all_tensors=True)
it.allocate_tensors()
it.set_tensor(it.get_input_details()[0]["index"], np.load(inp))
it.invoke()
ops = it._get_ops_details()
res = {}
for op in ops:
    for t in op["outputs"]:
        if t >= 0:
            res[str(t)] = it.get_tensor(t)
np.savez(out, **res)
print(json.dumps([[int(t) for t in op["outputs"]] for op in ops]))
"""


def run_ref(model_path, x, tmp):
    np.save(tmp / "in.npy", x)
    r = subprocess.run([sys.executable, "-c", RUNNER, str(model_path), str(tmp / "in.npy"), str(tmp / "out.npz")],
                       capture_output=True, text=True, check=True)
    op_outputs = json.loads(r.stdout.strip().splitlines()[-1])
    return op_outputs, dict(np.load(tmp / "out.npz"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None, help="mediapipe 0.10.14 wheel")
    args = ap.parse_args()
    wheel = args.wheel
    tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "mvcc_real_models"
    tmp.mkdir(parents=True, exist_ok=True)
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), "mediapipe==0.10.14"], check=True)
        wheel = next(tmp.glob("mediapipe-0.10.14-*.whl"))
    from ai_edge_litert import interpreter as lite
    with zipfile.ZipFile(wheel) as z:
        licence = z.read("mediapipe-0.10.14.dist-info/LICENSE")
        for name, (path, norm) in MODELS.items():
            d = OUT / name
            shutil.rmtree(d, ignore_errors=True)
            (d / "tensors").mkdir(parents=True)
            model = z.read(path)
            (d / "model.tflite").write_bytes(model)
            it = lite.Interpreter(model_content=model)
            inp = it.get_input_details()[0]
            outs = [o["index"] for o in it.get_output_details()]
            x = make_input(inp["shape"], norm)
            op_outputs, values = run_ref(d / "model.tflite", x, tmp)
            np.save(d / "tensors" / f"{inp['index']}.npy", x)
            # Outputs first, then intermediates spread evenly through the schedule until the budget.
            checked = list(outs)
            budget = MAX_BYTES - sum(values[str(t)].nbytes for t in outs)
            inter = [t for ts in op_outputs for t in ts if t not in outs]
            sizes = {t: values[str(t)].nbytes for t in inter}
            step = max(1, int(len(inter) * np.mean(list(sizes.values())) / max(budget, 1)) + 1)
            def spread(t):
                v = values[str(t)].astype(np.float64)
                return v.size < 16 or np.ptp(v) > 0
            for t in inter[::step]:
                # Saturated intermediates (e.g. a sigmoid far from 0) prove nothing: skip them.
                if sizes[t] <= budget and spread(t):
                    checked.append(t)
                    budget -= sizes[t]
            order = {t: i for i, t in enumerate(t for ts in op_outputs for t in ts)}
            checked.sort(key=lambda t: order.get(t, 1 << 30))
            for t in checked:
                v = values[str(t)]
                if np.ptp(v.astype(np.float64)) == 0 and v.size >= 16:
                    raise SystemExit(f"{name}: tensor {t} has zero spread")
                np.save(d / "tensors" / f"{t}.npy", v)
            meta = {
                "case": name, "dtype": "f32", "ops": sorted({o["op_name"] for o in it._get_ops_details()}),
                "inputs": [int(inp["index"])], "outputs": [int(t) for t in outs], "oracle": "builtin_ref",
                "oracle_note": f"real pretrained model from mediapipe==0.10.14 ({path}, Apache-2.0); "
                               f"checked holds the outputs and a sample of intermediates ({len(checked)} of "
                               f"{sum(len(ts) for ts in op_outputs)} op results) to keep the fixture small",
                "checked": [int(t) for t in checked], "builtin_outputs": False, "xnnpack_outputs": False,
                "low_spread_ok": {},
            }
            (d / "meta.json").write_text(json.dumps(meta, indent=1))
            (d / "LICENSE").write_bytes(licence)
            size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            print(f"{name}: {len(checked)} tensors checked, {size} bytes")


if __name__ == "__main__":
    main()
