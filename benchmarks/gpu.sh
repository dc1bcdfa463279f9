#!/usr/bin/env bash
# The GPU benchmarks as one script, for a GPU machine lent for minutes: the default recipe's
# training (benchmarks.default_training, every seed, full size) and the study's loop against ours
# in fp32 and bf16 (benchmarks.training, epochs sampled). Each runs under its own time limit and
# rewrites its JSON as it goes, so a cut run keeps what it finished.
#   benchmarks/gpu.sh OUT_DIR DATA_DIR [DEFAULT_SECONDS STUDY_SECONDS]
set -u
out=$1 data=$2 default_s=${3:-270} study_s=${4:-200}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{ nvidia-smi; lscpu; python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'; } \
    >"$out/machine.txt" 2>&1
timeout "$default_s" python3 -m benchmarks.default_training --data-dir "$data" \
    --output "$out/default-training-cuda.json" 2>&1 | tee "$out/default-training.log"
timeout "$study_s" python3 -m benchmarks.training --data-dir "$data" --seeds 42 43 44 \
    --epochs 2 --max-steps 150 --study-steps 150 --output "$out/training-cuda.json" 2>&1 \
    | tee "$out/training.log"
