#!/usr/bin/env bash
# Run one config on this machine: its CPU, or one of its GPUs.
#
#   launch/local.sh [--dry-run] [--cpu | --gpu=ID] CONFIG WORKDIR [--config.key=value ...]
#
#   --cpu       run on the CPU even where GPUs exist (JAX_PLATFORMS=cpu)
#   --gpu=ID    run on GPU number ID only (CUDA_VISIBLE_DEVICES=ID)
#   --dry-run   print the command instead of running it
# Default: GPU 0 where `nvidia-smi` finds one, else the CPU.
# Example:
#   launch/local.sh configs/dtn_quickstart.py runs/quickstart
# Exit status: xdomain.main's -- 0 done (also: already finished), 1 bad
# input (one line naming it), 75 stopped by SIGTERM/SIGINT after saving the
# step it was in: rerun the same command to resume (README, "Stopping,
# preemption and requeueing").
set -euo pipefail
source "$(dirname "$0")/_common.sh"

target=auto
while [[ $# -gt 0 && $1 == --* && $1 != --config* ]]; do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --cpu) target=cpu ;;
    --gpu=*) target=${1#--gpu=} ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
[[ $# -ge 2 ]] || die "usage: $0 [--dry-run] [--cpu | --gpu=ID] CONFIG WORKDIR [--config.key=value ...]"
config=$1 workdir=$2
shift 2
if [[ $target == auto ]]; then
  if command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1; then
    target=0
  else
    target=cpu
  fi
fi
if [[ $target == cpu ]]; then
  settings=(JAX_PLATFORMS=cpu)
else
  settings=(CUDA_VISIBLE_DEVICES="$target")
fi
cd "$(dirname "$0")/.."
run_env "${settings[@]}" -- python -m xdomain.main --config="$config" \
  --workdir="$workdir" "$@"
