#!/usr/bin/python3
"""The Python package's speed: the same self-attention forward timed three ways in one run.

    C++    `mha bench --shape B,N,E,H --threads T --json` (the layer with a reused workspace)
    mha    mha.MultiheadAttention from Python (batch_first, need_weights=False, numpy in/out)
    torch  torch.nn.MultiheadAttention (eval, no_grad, need_weights=False)

Each is the median of --repeats calls after a warm-up; the three alternate --rounds times and
the table shows the median of the rounds. GFLOP/s use mha_forward_flops: 8·B·N·E² + 4·B·N²·E;
"of peak" divides by the FMA peak the C++ bench measured in the same run.
Overhead = mha (Python) / C++ − 1: the cost of the binding (argument checks, array wrapping,
GIL release), which should be ≤ 5 % at (1,128,512,8) and ≤ 1 % at (1,2048,512,8).

    PYTHONPATH=build/release/python /usr/bin/python3 scripts/bench_python.py \\
        --mha build/release/apps/cli/mha [--threads 2] [--repeats 20] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import torch

import mha


def median_ms(call, repeats):
    call()  # warm-up: caches, oneDNN primitives, the workspace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def cpp_bench(cli, shape, threads, repeats):
    out = subprocess.run([cli, "bench", "--shape", ",".join(map(str, shape)), "--threads", str(threads),
                          "--repeats", str(repeats), "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mha", default="build/release/apps/cli/mha", help="the mha command-line tool")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shapes", default="1,128,512,8;1,2048,512,8")
    args = parser.parse_args()
    if not os.path.exists(args.mha):
        parser.error(f"--mha: expected the mha binary, got '{args.mha}' (no such file)")
    mha.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"CPU SIMD target {mha.simd_target()}, {args.threads} threads, torch {torch.__version__}, "
          f"median of {args.repeats} calls, median of {args.rounds} rounds")
    print("| B | N | E | H | C++ ms | mha (Python) ms | overhead | mha GFLOP/s | of peak | torch ms | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for text in args.shapes.split(";"):
        b, n, e, h = (int(x) for x in text.split(","))
        x = np.random.default_rng(0).standard_normal((b, n, e)).astype(np.float32)
        layer = mha.MultiheadAttention(e, h, batch_first=True)
        reference = torch.nn.MultiheadAttention(e, h, batch_first=True).eval()
        tx = torch.from_numpy(x)
        cpp, py, th, peaks = [], [], [], []
        for _ in range(args.rounds):
            result = cpp_bench(args.mha, (b, n, e, h), args.threads, args.repeats)
            cpp.append(result["median_ms"])
            peaks.append(result["peak_gflops"])
            py.append(median_ms(lambda: layer(x, x, x, need_weights=False), args.repeats))
            with torch.no_grad():
                th.append(median_ms(lambda: reference(tx, tx, tx, need_weights=False), args.repeats))
            time.sleep(0.5)  # torch's OpenMP workers spin after a call; let them sleep first
        c, p, t = statistics.median(cpp), statistics.median(py), statistics.median(th)
        flops = 8 * b * n * e * e + 4 * b * n * n * e
        gflops = flops / (p * 1e-3) * 1e-9
        print(f"| {b} | {n} | {e} | {h} | {c:.3f} | {p:.3f} | {p / c - 1:+.1%} | {gflops:.1f} | "
              f"{gflops / statistics.median(peaks):.2f} | {t:.3f} | {t / p:.2f}× |")


if __name__ == "__main__":
    main()
