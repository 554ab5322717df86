"""Full-size (224x224, 1000 classes) Keras MobileNet v1, v2 and v3-small as TFLite models,
float32 and full-integer int8, for measuring mvcc on models of real size (memory plan, speed).

Weights are random (``weights=None``, so nothing is downloaded); every BatchNormalization layer
is calibrated on a random batch (``momentum = 0`` and one call with ``training=True``) so the
activations stay O(1) through depth instead of collapsing (see FACTS.md). int8 models use
full-integer quantization with int8 inputs and outputs and a representative dataset of
uniform samples in [-1, 1].

Usage (from the repository root, with the fixture generator's venv):

    /work/venv/bin/python tools/models/make_full_size.py [--out target/models] [--only v2_i8]

Writes ``mobilenet_{v1,v2,v3s}_{f32,i8}.tflite``. The files are not committed; the output is
deterministic for a given TensorFlow version (seeded weights and data).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SIZE = 224
CLASSES = 1000
SEED = 7
# Samples of the representative dataset for int8 calibration.
REP_SAMPLES = 32
# Batch the BatchNorm statistics are taken from.
BN_BATCH = 8
VERSIONS = ("v1", "v2", "v3s")
DTYPES = ("f32", "i8")


def build(version: str) -> tf.keras.Model:
    """A randomly initialized Keras application at full size."""
    tf.keras.utils.set_random_seed(SEED)
    shape = (SIZE, SIZE, 3)
    apps = tf.keras.applications
    if version == "v1":
        m = apps.MobileNet(input_shape=shape, weights=None, classes=CLASSES)
    elif version == "v2":
        m = apps.MobileNetV2(input_shape=shape, weights=None, classes=CLASSES)
    elif version == "v3s":
        m = apps.MobileNetV3Small(
            input_shape=shape, weights=None, classes=CLASSES, include_preprocessing=False
        )
    else:
        raise ValueError(version)
    return calibrate_bn(m)


def calibrate_bn(model: tf.keras.Model) -> tf.keras.Model:
    """Make the BatchNorm moving statistics those of a random batch."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.momentum = 0.0
    x = np.random.default_rng(SEED).uniform(-1, 1, (BN_BATCH, SIZE, SIZE, 3)).astype(np.float32)
    model(x, training=True)
    return model


def representative_dataset():
    rng = np.random.default_rng(1234)
    for _ in range(REP_SAMPLES):
        yield [rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)]


def convert(model: tf.keras.Model, dtype: str) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype == "i8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative_dataset
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    elif dtype != "f32":
        raise ValueError(dtype)
    return conv.convert()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="target/models", help="output directory")
    ap.add_argument("--only", action="append", default=[], help="e.g. v2_i8 (repeatable)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for version in VERSIONS:
        wanted = [d for d in DTYPES if not args.only or f"{version}_{d}" in args.only]
        if not wanted:
            continue
        model = build(version)
        for dtype in wanted:
            path = out / f"mobilenet_{version}_{dtype}.tflite"
            data = convert(model, dtype)
            path.write_bytes(data)
            print(f"{path}: {len(data)} bytes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
