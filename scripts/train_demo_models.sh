#!/bin/sh
# Trains the models that `mha` embeds (models/*.safetensors), from scratch, on the synthetic
# attachment language (docs/language.md):
#   models/demo-4-heads.safetensors   2 layers, d_model 64, 4 heads of 16       (mha demo)
#   models/demo-1-head.safetensors    2 layers, d_model 64, 1 head of 64 (same parameter count)
#   models/demo-lm.safetensors        the causal language model of `mha generate`: 2 layers,
#                                     d_model 64, 4 heads, pre-LN, rows of 320 tokens
# Training is deterministic for a seed and a thread count, so this reproduces the files bit for
# bit on a machine with the same instruction set (oneDNN picks its kernels by ISA).
#
# Usage: scripts/train_demo_models.sh [path/to/mha]   (default build/release/apps/cli/mha)
# Then rebuild: the files are compiled into the mha binary.
set -eu
mha=${1:-build/release/apps/cli/mha}
cd "$(dirname "$0")/.."
for heads in 4 1; do
  name=$([ "$heads" = 1 ] && echo "demo-1-head" || echo "demo-$heads-heads")
  "$mha" train --heads "$heads" --d-model 64 --layers 2 --steps 1500 --seed 0 --threads 1 \
    --eval-every 500 --model-only --out "models/$name.safetensors"
done
# One command, no loop: the language model (docs/cli.md, "--objective causal-lm").
"$mha" train --objective causal-lm --heads 4 --d-model 64 --layers 2 --max-length 320 --batch 8 \
  --steps 800 --lr 0.003 --warmup 50 --seed 0 --threads 1 --eval-every 200 --model-only \
  --out models/demo-lm.safetensors
