#!/usr/bin/env bash
# Run one config on this machine (CPU or its GPUs), e.g.
#   launch/local.sh configs/pretrain_f_synth.py runs/f_synth [--config.x=y ...]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG WORKDIR [--config.key=value ...]" >&2
  exit 2
fi
config=$1 workdir=$2
shift 2
cd "$(dirname "$0")/.."
exec python -m xdomain.main --config="$config" --workdir="$workdir" "$@"
