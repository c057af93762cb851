#!/usr/bin/python3
"""Predicted time of one sequence-parallel attention layer (docs/distributed.md, "Cost model").

The model takes three machine figures: F, the attention core's GFLOP/s on one machine; F_proj,
the projections' GFLOP/s; and the link (bandwidth, latency). `mha bench --dist --json` measures
all of them in one run, so the script reads such a run, or takes them as flags.

  # the table for 8-64 machines at 10 and 100 Gbit/s, rates from a bench run
  scripts/dist_cost_model.py --calibrate p1.json
  # predict a measured run from the rates of another (e.g. P = 1) and compare
  scripts/dist_cost_model.py --calibrate p1.json --compare p2.json
  # or give the rates yourself
  scripts/dist_cost_model.py --gflops 60 --proj-gflops 80

Standard library only.
"""

import argparse
import json
import sys

FLOAT = 4  # bytes: mha exchanges fp32 blocks


def load_runs(path):
    """The JSON objects of a file holding one `mha bench --json` object per line."""
    try:
        with open(path, encoding="utf-8") as f:
            runs = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        sys.exit(f"dist_cost_model.py: {path}: cannot read: {e.strerror}")
    except json.JSONDecodeError as e:
        sys.exit(f"dist_cost_model.py: {path}: expected one JSON object per line, got: {e}")
    if not runs:
        sys.exit(f"dist_cost_model.py: {path}: expected one JSON object per line, got none")
    for run in runs:
        if "dist" not in run:
            sys.exit(f"dist_cost_model.py: {path}: expected the output of `mha bench --dist --json`"
                     f" (a 'dist' key), got keys {sorted(run)}")
    return runs


class Machine:
    """Rates in operations or bytes per second; latency in seconds."""

    def __init__(self, gflops, proj_gflops, link_gbps, latency_us):
        self.flops = gflops * 1e9
        self.proj_flops = proj_gflops * 1e9
        self.bandwidth = link_gbps * 1e9  # bytes/s
        self.latency = latency_us * 1e-6


def projections(b, n, e, p, m):
    """T_proj / P: Q, K, V and the output projection of this rank's N / P rows."""
    return 8 * b * n * e * e / p / m.proj_flops


def ring(b, n, e, h, p, m, causal):
    """Ring attention: P blocks of work, each overlapped with the next block's message.

    t_block: one query shard against one key/value shard, 4·B·H·(N/P)²·D flops (half of it on
    average with causal and zigzag, which skips the masked half and balances it over the ranks).
    t_msg: the K and V block, 4·B·Hkv·(N/P)·(D + Dv) bytes (here Hkv = H, Dv = D), plus a latency.
    The first block is the rank's own; each of the other P − 1 waits for whichever is longer.
    """
    d, rows = e / h, n / p
    t_block = 4 * b * h * rows * rows * d / m.flops * (0.5 if causal else 1.0)
    block_bytes = FLOAT * b * h * rows * 2 * d
    t_msg = block_bytes / m.bandwidth + m.latency
    total = projections(b, n, e, p, m) + t_block + (p - 1) * max(t_block, t_msg)
    return total, t_block, t_msg


def all_to_all(bytes_per_rank, p, m):
    """One all-to-all: each rank sends (P − 1)/P of its bytes, in P − 1 pairwise rounds."""
    return (p - 1) / p * bytes_per_rank / m.bandwidth + (p - 1) * m.latency


def ulysses(b, n, e, h, p, m, causal):
    """DeepSpeed-Ulysses: all-to-all to head shards, the whole sequence on H / P heads, and back.

    Needs P to divide the heads (None otherwise). Nothing overlaps: the all-to-alls and the
    kernel follow one another.
    """
    if h % p != 0:
        return None
    rows = n / p
    core = 4 * b * n * n * e / p / m.flops * (0.5 if causal else 1.0)
    exchange = all_to_all(3 * FLOAT * b * rows * e, p, m) + all_to_all(FLOAT * b * rows * e, p, m)
    return projections(b, n, e, p, m) + core + exchange


def single(b, n, e, m, causal):
    """The whole layer on one machine."""
    return 8 * b * n * e * e / m.proj_flops + 4 * b * n * n * e / m.flops * (0.5 if causal else 1.0)


def rates_from(run):
    """F, F_proj, link and latency as the bench measured them (the link only with P ≥ 2)."""
    return {"gflops": run["core_gflops_per_rank"], "proj_gflops": run["projection_gflops_per_rank"],
            "link_gbps": run.get("link_gbps"), "latency_us": run.get("latency_us")}


def calibration_for(run, calibrations):
    """The calibration run most like `run`: same shape and causality, then the same algorithm."""
    def likeness(c):
        return ((c["shape"] == run["shape"]) * 4 + (c["causal"] == run["causal"]) * 2
                + (c["dist"] == run["dist"]))
    return max(calibrations, key=likeness)


def seconds(t):
    if t is None:
        return "—"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def print_table(args, gflops, proj_gflops):
    b, e, h = args.batch, args.embed, args.heads
    print(f"Predicted forward of one layer, B={b} E={e} H={h}: F = {gflops:.1f} GFLOP/s (attention "
          f"core), F_proj = {proj_gflops:.1f} GFLOP/s per machine, latency {args.latency:g} us")
    for gbit in args.links:
        print(f"\n**{gbit:g} Gbit/s** ({gbit / 8:g} GB/s)\n")
        print("| N | P | one machine | ring | ring, causal zigzag | ring bound by (dense) | ring efficiency | ulysses | ulysses, causal |")
        print("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
        for n in args.lengths:
            for p in args.machines:
                m = Machine(gflops, proj_gflops, gbit / 8, args.latency)
                t1 = single(b, n, e, m, False)
                t_ring, t_block, t_msg = ring(b, n, e, h, p, m, False)
                t_ring_causal = ring(b, n, e, h, p, m, True)[0]
                bound = "compute" if t_block >= t_msg else f"link ({t_msg / t_block:.1f}x)"
                print(f"| {n // 1024}K | {p} | {seconds(t1)} | {seconds(t_ring)} | "
                      f"{seconds(t_ring_causal)} | {bound} | {t1 / (p * t_ring):.2f} | "
                      f"{seconds(ulysses(b, n, e, h, p, m, False))} | "
                      f"{seconds(ulysses(b, n, e, h, p, m, True))} |")


def compare(run, rates, source):
    """One measured run against the model fed with `rates` (and the run's own link)."""
    b, n, e, h = run["shape"]
    p, causal = run["ranks"], run["causal"]
    link, latency = run.get("link_gbps"), run.get("latency_us")
    if link is None:
        link, latency = 1e9, 0.0  # one rank sends nothing
    m = Machine(rates["gflops"], rates["proj_gflops"], link, latency)
    if run["dist"] == "ring":
        predicted, t_block, t_msg = ring(b, n, e, h, p, m, causal)
        parts = f"t_block {seconds(t_block)}, t_msg {seconds(t_msg)}"
    else:
        predicted = ulysses(b, n, e, h, p, m, causal)
        t_block = t_msg = None
        parts = "all-to-alls not overlapped"
    measured = run["median_ms"] * 1e-3
    ratio = f"{measured / predicted:.2f}" if predicted else "—"
    print(f"| {run['dist']} | {run['layout']} | {p} | {n} | {'yes' if causal else 'no'} | "
          f"{seconds(measured)} | {seconds(predicted)} | {ratio} | {parts}; rates from {source} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", help="`mha bench --dist --json` output: F and F_proj of its first run")
    parser.add_argument("--compare", help="`mha bench --dist --json` output (one object per line): "
                        "each run measured against its prediction")
    parser.add_argument("--gflops", type=float, help="F: attention core GFLOP/s per machine")
    parser.add_argument("--proj-gflops", type=float, help="F_proj: projection GFLOP/s per machine (default F)")
    parser.add_argument("--latency", type=float, default=20.0, help="message latency in us (default 20)")
    parser.add_argument("--links", type=lambda s: [float(x) for x in s.split(",")], default=[10.0, 100.0],
                        help="link speeds in Gbit/s (default 10,100)")
    parser.add_argument("--machines", type=lambda s: [int(x) for x in s.split(",")], default=[8, 16, 32, 64])
    parser.add_argument("--lengths", type=lambda s: [int(x) for x in s.split(",")],
                        default=[65536, 262144, 1048576])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--embed", type=int, default=512)
    parser.add_argument("--heads", type=int, default=8)
    args = parser.parse_args()

    calibrations = load_runs(args.calibrate) if args.calibrate else []
    runs = load_runs(args.compare) if args.compare else []
    # The table's rates: the dense ring run with the longest sequence (closest to the table's).
    pool = calibrations or runs
    first = max(pool, key=lambda r: (r["dist"] == "ring", not r["causal"], r["shape"][1])) if pool else None
    gflops = args.gflops or (first and first["core_gflops_per_rank"])
    if not gflops:
        parser.error("--gflops or --calibrate: expected the attention core's GFLOP/s, got neither")
    proj_gflops = args.proj_gflops or (first["projection_gflops_per_rank"] if first and not args.gflops
                                       else gflops)
    if args.embed % args.heads != 0:
        parser.error(f"--heads: expected a divisor of --embed ({args.embed}), got {args.heads}")

    if runs:
        print("| dist | layout | P | N | causal | measured | predicted | measured / predicted | model |")
        print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
        for run in runs:
            if args.gflops:
                rates, source = {"gflops": gflops, "proj_gflops": proj_gflops}, "--gflops"
            elif calibrations:
                match = calibration_for(run, calibrations)
                rates, source = rates_from(match), f"the P={match['ranks']} {match['dist']} run"
            else:
                rates, source = rates_from(run), "the run itself"
            compare(run, rates, source)
        print()
    if first and not args.gflops:
        print(f"(table rates from the {first['dist']} run with P={first['ranks']}, N={first['shape'][1]}, "
              f"{'causal' if first['causal'] else 'dense'}, {first['threads']} thread(s) per rank, "
              f"{first['cpu']}, {first['simd']})")
    print_table(args, gflops, proj_gflops)


if __name__ == "__main__":
    main()
