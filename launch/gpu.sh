#!/usr/bin/env bash
# Run one config data-parallel on all GPUs of this machine (one process;
# pmap over its GPUs; the global batch is per_device_batch_size x GPUs).
#
#   launch/gpu.sh [--dry-run] [--gpus=0,1,...] CONFIG WORKDIR [--config.key=value ...]
#
#   --gpus=LIST  only these GPUs (CUDA_VISIBLE_DEVICES=LIST); default: all
#   --dry-run    print the commands instead of running them
# Needs JAX's CUDA build: pip install -e '.[gpu]'.
# Example (8 GPUs, global batch 1024):
#   launch/gpu.sh configs/dtn_synth_mnist.py runs/dtn_gpu \
#       --config.data.manual_dir=../shared/data/mnist
# Exit status: xdomain.main's -- 0 done (also: already finished), 1 bad
# input (one line naming it), 75 stopped by SIGTERM/SIGINT after saving the
# step it was in: rerun the same command to resume (README, "Stopping,
# preemption and requeueing").
set -euo pipefail
source "$(dirname "$0")/_common.sh"

gpus=all
while [[ $# -gt 0 && $1 == --* && $1 != --config* ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --gpus=*) gpus=${1#--gpus=} ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
[[ $# -ge 2 ]] || die "usage: $0 [--dry-run] [--gpus=0,1,...] CONFIG WORKDIR [--config.key=value ...]"
config=$1 workdir=$2
shift 2
if [[ $gpus == all ]]; then
  if [[ $DRY_RUN == 0 ]]; then
    nvidia-smi -L > /dev/null 2>&1 || die "no GPU found (nvidia-smi -L failed)"
  fi
  gpus=${CUDA_VISIBLE_DEVICES:-all}
fi
settings=(JAX_PLATFORMS=cuda)
[[ $gpus == all ]] || settings+=(CUDA_VISIBLE_DEVICES="$gpus")
cd "$(dirname "$0")/.."
run_env "${settings[@]}" -- python -m xdomain.main --config="$config" \
  --workdir="$workdir" "$@"
