#!/usr/bin/env python3
"""Latency of mvcc against LiteRT on the same models, in the same run, on this machine.

For each model: `mvcc bench` (Cranelift JIT, one thread) and LiteRT's interpreter with XNNPACK
(its default delegate) and with the builtin kernels only, all single-threaded, all on zero inputs,
interleaved round by round so background load hits every contender alike. Prints medians and the
ratio to XNNPACK (below 1.0: mvcc is faster).

Usage (needs `pip install ai-edge-litert numpy`, and a release build of mvcc):
    cargo build --release -p mvcc
    python3 tools/bench/compare_litert.py target/models/*.tflite [--runs 30] [--rounds 3]
"""

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

ROOT = Path(__file__).resolve().parents[2]


def litert_times(model: str, runs: int, resolver) -> list:
    it = Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
    it.invoke()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        it.invoke()
        out.append(time.perf_counter() - t)
    return out


def mvcc_median(mvcc: Path, model: str, runs: int) -> float:
    r = subprocess.run(
        [str(mvcc), "bench", model, "--backend", "jit", "--runs", str(runs)],
        check=True, capture_output=True, text=True,
    )
    m = re.search(r"median ([0-9.]+) ms", r.stdout)
    if not m:
        sys.exit(f"cannot read mvcc bench output: {r.stdout!r}")
    return float(m.group(1)) / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--runs", type=int, default=30, help="runs per contender per round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median of medians)")
    ap.add_argument("--mvcc", default=str(ROOT / "target/release/mvcc"))
    a = ap.parse_args()
    mvcc = Path(a.mvcc)
    if not mvcc.exists():
        sys.exit(f"{mvcc} not found: cargo build --release -p mvcc")
    print(f"{'model':<28} {'mvcc jit':>10} {'xnnpack':>10} {'builtin':>10} {'mvcc/xnn':>9} {'mvcc/builtin':>12}")
    for model in a.models:
        jit, xnn, builtin = [], [], []
        for _ in range(a.rounds):
            jit.append(mvcc_median(mvcc, model, a.runs))
            xnn.append(statistics.median(litert_times(model, a.runs, OpResolverType.AUTO)))
            builtin.append(statistics.median(litert_times(
                model, a.runs, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)))
        j, x, b = (statistics.median(v) * 1000 for v in (jit, xnn, builtin))
        print(f"{Path(model).stem:<28} {j:>8.2f}ms {x:>8.2f}ms {b:>8.2f}ms {j / x:>9.2f} {j / b:>12.2f}")


if __name__ == "__main__":
    main()
