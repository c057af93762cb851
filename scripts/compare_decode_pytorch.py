#!/usr/bin/python3
"""Times one decode step and a 32 + 256 generation loop of one attention layer: `mha bench
--decode` (KvCache, f32 / bf16 / f16) against PyTorch 1.13 decoding the way its users do, in the
same run, and writes the "Decoding" section of docs/performance.md (between the
<!-- decode-bench:begin --> and <!-- decode-bench:end --> markers; appended before "## How the
fast path works" the first time).

PyTorch: nn.MultiheadAttention(E, H, batch_first=True), eval(), torch.no_grad(),
need_weights=False, at its best of three thread settings (torch.set_num_threads(T) with
OpenBLAS on 1 thread, torch on 1 thread with OpenBLAS on T, both on T). nn.MultiheadAttention has no KV cache, so its users
grow a history of past *inputs* with torch.cat and call layer(new_token, history, history): each
step re-projects every past token's key and value. One step at context S = cat + call with S − 1
past tokens and the new one; the loop = a 32-token prompt, then 256 such steps. nn.MHA has no
grouped-query attention: mha's H_kv = 2 rows are compared against torch's H_kv = H = 8 layer.

mha: `mha bench --decode --context S --shape E,H[,H_kv] --cache-dtype D --json` (the attention
step `cached_attention` and the whole layer step `forward_with_cache`, cycling over enough caches
to pass the last-level cache) and `mha bench --decode --generate 32,256 --json`.
The speed-up of a step is torch's step over mha's *layer* step (both project the new token, read
the history and project the output; torch also re-projects the history).

Usage: scripts/compare_decode_pytorch.py --mha build/release/apps/cli/mha [--threads 2]
           [--contexts 1024,4096,8192] [--repeats 10] [--torch-repeats 20] [--loops 3]
           [--out docs/performance.md] [--no-write]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

E, H, GQA_KV = 512, 8, 2
DTYPES = ("f32", "bf16", "f16")
PROMPT, GENERATE, TAIL = 32, 256, 32
BEGIN, END = "<!-- decode-bench:begin -->", "<!-- decode-bench:end -->"

TORCH_RUNNER = r"""
import json, sys, time, torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
e, h = cfg["embed"], cfg["heads"]
torch.manual_seed(0)
layer = torch.nn.MultiheadAttention(e, h, batch_first=True).eval()

def median(v):
    v = sorted(v); m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])

steps = {}
with torch.no_grad():
    for s in cfg["contexts"]:
        past = torch.rand(1, s - 1, e) * 2 - 1
        times = []
        for r in range(cfg["repeats"] + 1):  # r = 0 warms up
            x = torch.rand(1, 1, e) * 2 - 1
            t0 = time.perf_counter()
            history = torch.cat([past, x], dim=1)
            layer(x, history, history, need_weights=False)
            if r > 0:
                times.append((time.perf_counter() - t0) * 1e3)
        steps[s] = median(times)
    p, g, tail = cfg["prompt"], cfg["generate"], cfg["tail"]
    tails, means = [], []
    for loop in range(cfg["loops"] + 1):  # loop 0 warms up
        tokens = torch.rand(1, p + g, e) * 2 - 1
        history = tokens[:, :p]
        mask = torch.triu(torch.ones(p, p, dtype=torch.bool), 1)
        layer(history, history, history, attn_mask=mask, need_weights=False)  # the prompt
        per_step = []
        for i in range(g):
            x = tokens[:, p + i : p + i + 1]
            t0 = time.perf_counter()
            history = torch.cat([history, x], dim=1)
            layer(x, history, history, need_weights=False)
            per_step.append((time.perf_counter() - t0) * 1e3)
        if loop > 0:
            tails += per_step[-tail:]
            means.append(sum(per_step) / len(per_step))
print(json.dumps({"steps": {str(k): v for k, v in steps.items()},
                  "loop_tail_ms": median(tails), "loop_mean_ms": median(means),
                  "torch": torch.__version__}))
"""


# The machine description shared with the layer comparison (same folder, so importable).
from compare_pytorch import cpu_flags, cpu_model  # noqa: E402


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_mha_step(binary, s, kv_heads, dtype, threads, repeats):
    shape = f"{E},{H}" + (f",{kv_heads}" if kv_heads != H else "")
    return run_json([binary, "bench", "--decode", "--context", str(s), "--shape", shape,
                     "--cache-dtype", dtype, "--threads", str(threads), "--repeats", str(repeats),
                     "--json"])


def run_mha_generate(binary, dtype, threads, loops):
    return run_json([binary, "bench", "--decode", "--generate", f"{PROMPT},{GENERATE}", "--shape",
                     f"{E},{H}", "--cache-dtype", dtype, "--threads", str(threads), "--repeats",
                     str(loops), "--json"])


def torch_settings(threads):
    # As scripts/compare_pytorch.py: no Haswell override of OpenBLAS, ATen's widest ISA, and
    # three thread splits between torch's OpenMP and OpenBLAS; each number is torch's best.
    # (torch.set_num_threads(2) with OpenBLAS on 2 threads oversubscribes 2 cores: a step at
    # S = 1024 took 64 ms that way and 25 ms with torch on 1 thread, 2026-12-01.)
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    isa = "avx512" if "avx512f" in cpu_flags() else "avx2"
    base["ATEN_CPU_CAPABILITY"] = isa
    for torch_threads, blas_threads in ((threads, 1), (1, threads), (threads, threads)):
        env = dict(base, OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(torch_threads))
        label = (f"env -u OPENBLAS_CORETYPE ATEN_CPU_CAPABILITY={isa} "
                 f"OPENBLAS_NUM_THREADS={blas_threads} torch.set_num_threads({torch_threads})")
        yield env, label, torch_threads


def run_torch(contexts, threads, repeats, loops):
    """torch's best per entry over the settings, and the labels of the settings that won."""
    best, won = None, set()
    for env, label, torch_threads in torch_settings(threads):
        cfg = {"threads": torch_threads, "embed": E, "heads": H, "contexts": contexts,
               "repeats": repeats, "prompt": PROMPT, "generate": GENERATE, "tail": TAIL, "loops": loops}
        proc = subprocess.run(["/usr/bin/python3", "-c", TORCH_RUNNER, json.dumps(cfg)], env=env,
                              capture_output=True, text=True)
        time.sleep(1)  # torch's OpenMP workers spin a while after the last call (performance.md)
        if proc.returncode != 0:
            print(f"torch run failed ({label}): {proc.stderr.strip()[-300:]}", file=sys.stderr)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  torch [{label}]: {json.dumps(r)}", flush=True)
        r["labels"] = {k: label for k in list(r["steps"]) + ["loop"]}
        if best is None:
            best = r
            continue
        for k, ms in r["steps"].items():
            if ms < best["steps"][k]:
                best["steps"][k], best["labels"][k] = ms, label
        if r["loop_tail_ms"] < best["loop_tail_ms"]:
            best["loop_tail_ms"], best["loop_mean_ms"], best["labels"]["loop"] = (
                r["loop_tail_ms"], r["loop_mean_ms"], label)
    if best is None:
        sys.exit("every torch run failed")
    return best, "; ".join(f"`{l}`" for l in sorted(set(best["labels"].values())))


def section(args, steps, gens, torch, torch_label):
    first = next(iter(steps.values()))
    llc_mib = first["last_level_cache_bytes"] / 2**20
    bw = sorted(r["bandwidth_gbps"] for r in steps.values())
    lines = [
        BEGIN,
        "## Decoding",
        "",
        f"Generated by `scripts/compare_decode_pytorch.py` on {datetime.date.today().isoformat()}; "
        "one run, the machine shared with other work (noisy: compare ratios within the run).",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores, SIMD target picked at run time: "
        f"{first['simd']}; {first['threads']} threads for mha and torch",
        f"- Read bandwidth (`measure_read_bandwidth_gbps`: {first['threads']} threads sum disjoint "
        f"parts of a buffer ≥ 4× the {llc_mib:.0f} MiB last-level cache with SIMD loads, best of 4), "
        f"measured in every `mha bench --decode` call: {bw[0]:.1f}–{bw[-1]:.1f} GB/s",
        "- One decode step reads 2·B·H_kv·S·D·sizeof(dtype) bytes of cache (numerics.md); GB/s = "
        "those bytes / the attention step's median time; \"of bw\" = GB/s / the same call's read "
        "bandwidth",
        "- Each timed mha step reads another cache, cycling over enough caches to pass twice the "
        "last-level cache (as a model's layers would; `caches` in the JSON), so the bytes come "
        "from memory, not L3. The layer's weights stay in cache (shared by those caches)",
        f"- PyTorch {torch['torch']} `nn.MultiheadAttention({E}, {H}, batch_first=True)`, eval, "
        f"`no_grad`, `need_weights=False`, best of three thread settings per number; the winners: "
        f"{torch_label}. nn.MHA has no KV cache: a step is `history = torch.cat([history, x], 1); "
        "layer(x, history, history)`, which re-projects every past token. It has no grouped-query "
        f"attention either: the H_kv = {GQA_KV} rows are compared against its H_kv = {H} layer",
        "- mha attention = `cached_attention` (one query row per head over S cached tokens); mha "
        "layer = `forward_with_cache` (QKV projection of the token, append, attention, output "
        "projection); speed-up = torch step / mha layer step. B = 1, medians",
        "",
        "### One step at context S (E = 512, H = 8, D = 64, B = 1)",
        "",
        "| S | H_kv | cache | attention ms/token | K/V MiB | GB/s | of bw | caches | layer ms/token "
        "| torch ms/token | speed-up |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (s, kv, dt), r in steps.items():
        t = torch["steps"][str(s)]
        lines.append(
            f"| {s} | {kv} | {dt} | {r['ms_per_token']:.4f} | {r['kv_bytes_per_token'] / 2**20:.1f} | "
            f"{r['kv_gbps']:.1f} | {r['bandwidth_fraction']:.2f} | {r['caches']} | "
            f"{r['layer_ms_per_token']:.4f} | {t:.2f}{' (H_kv 8)' if kv != H else ''} | "
            f"{t / r['layer_ms_per_token']:.0f}× |")
    lines += [
        "",
        f"### Generation: {PROMPT}-token prompt, then {GENERATE} one-token steps (E = 512, H = 8)",
        "",
        f"ms/token = median over the last {TAIL} steps (context {PROMPT + GENERATE - TAIL + 1}–"
        f"{PROMPT + GENERATE}), pooled over {args.loops} loops after a warm-up loop. \"mha no cache\" "
        "runs the full causal `forward` over all tokens so far each step. Target (issue 13): ≥ 5× "
        "faster per token than the torch.cat loop.",
        "",
        "| cache | mha ms/token | mha mean ms/token (all steps) | mha no cache ms/token | "
        "torch.cat ms/token | speed-up vs torch | ≥ 5× |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for dt, r in gens.items():
        speed = torch["loop_tail_ms"] / r["ms_per_token"]
        lines.append(
            f"| {dt} | {r['ms_per_token']:.4f} | {r['mean_ms_per_token']:.4f} | "
            f"{r['no_cache_ms_per_token']:.3f} | {torch['loop_tail_ms']:.3f} | {speed:.1f}× | "
            f"{'met' if speed >= 5 else 'missed'} |")
    contexts = ",".join(str(s) for s in args.context_list)
    lines += [
        "",
        "JSON of `mha bench --decode --context S`: `ms_per_token` (attention step), "
        "`layer_ms_per_token`, `kv_bytes_per_token`, `kv_gbps`, `layer_kv_gbps`, `bandwidth_gbps`, "
        "`bandwidth_fraction`, `cache_dtype`, `threads`, `context`, `batch`, `shape` [E, H, H_kv], "
        "`head_dim`, `caches`, `caches_bytes`, `last_level_cache_bytes`, `caches_reason`, `repeats`, "
        "`steps_timed`, `kernel`, `simd`, `cpu`. Of `--generate P,G`: `ms_per_token` (with the "
        "cache, median of the last min(32, G) steps), `no_cache_ms_per_token`, "
        "`speedup_vs_no_cache`, `mean_ms_per_token`, `no_cache_mean_ms_per_token`, `prefill_ms`, "
        "`prompt`, `generate`, `tail_steps`, `cache_dtype`, `threads`, `batch`, `shape`, "
        "`repeats`, `kernel`, `simd`, `cpu`.",
        "",
        "Reproduce:",
        "",
        "```sh",
        "cmake --preset release && cmake --build --preset release --target mha_cli",
        f"/usr/bin/python3 scripts/compare_decode_pytorch.py --mha build/release/apps/cli/mha "
        f"--threads {args.threads} --contexts {contexts} --repeats {args.repeats} "
        f"--torch-repeats {args.torch_repeats} --loops {args.loops}",
        f"build/release/apps/cli/mha bench --decode --context 4096 --shape 512,8 --cache-dtype bf16 --json",
        f"build/release/apps/cli/mha bench --decode --generate {PROMPT},{GENERATE} --shape 512,8",
        "```",
        END,
    ]
    return "\n".join(lines)


def write_section(path, text):
    with open(path) as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + text + rest.split(END, 1)[1]
    elif "## How the fast path works" in doc:
        head, rest = doc.split("## How the fast path works", 1)
        doc = head + text + "\n\n## How the fast path works" + rest
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mha", required=True, help="path to the mha binary (Release build)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contexts", default="1024,4096,8192")
    ap.add_argument("--repeats", type=int, default=10, help="mha: passes over the caches")
    ap.add_argument("--torch-repeats", type=int, default=20, help="torch: timed steps per S")
    ap.add_argument("--loops", type=int, default=3, help="generation loops after a warm-up, both")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "performance.md"))
    ap.add_argument("--no-write", action="store_true", help="print the section, leave the doc")
    args = ap.parse_args()
    args.context_list = [int(s) for s in args.contexts.split(",")]

    steps = {}
    for s in args.context_list:
        for kv in (H, GQA_KV):
            for dt in DTYPES:
                r = run_mha_step(args.mha, s, kv, dt, args.threads, args.repeats)
                print(f"  mha step S={s} H_kv={kv} {dt}: {r['ms_per_token']:.4f} ms  "
                      f"{r['kv_gbps']:.1f} GB/s  {r['bandwidth_fraction']:.2f} of "
                      f"{r['bandwidth_gbps']:.1f} GB/s  layer {r['layer_ms_per_token']:.4f} ms  "
                      f"({r['caches']} caches)", flush=True)
                steps[(s, kv, dt)] = r
    gens = {}
    for dt in DTYPES:
        r = run_mha_generate(args.mha, dt, args.threads, args.loops)
        print(f"  mha generate {dt}: {r['ms_per_token']:.4f} ms/token  no cache "
              f"{r['no_cache_ms_per_token']:.3f} ms", flush=True)
        gens[dt] = r
    torch, label = run_torch(args.context_list, args.threads, args.torch_repeats, args.loops)
    text = section(args, steps, gens, torch, label)
    print(text)
    if not args.no_write:
        write_section(args.out, text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
