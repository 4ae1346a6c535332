#!/usr/bin/env bash
# Run one config on a Cloud TPU VM slice (single host or pod slice).
#
#   launch/tpu_pod.sh --tpu=NAME --zone=ZONE --data-dir=gs://BUCKET/tfds \
#       --workdir=gs://BUCKET/runs/NAME --config=configs/X.py \
#       [--project=ID] [--accelerator-type=v4-32] [--version=tpu-ubuntu2204-base] \
#       [--spot] [--no-install] [--dry-run] [-- --config.key=value ...]
#
# Steps, each printed before it runs (--dry-run prints them only):
#  1. reuse the TPU VM NAME if `describe` finds it, else create it
#     (--accelerator-type, --version; --spot for a spot VM);
#  2. copy this checkout (git archive of HEAD, as a tarball) to every worker
#     and `pip install -e '.[tpu]'` there (skipped with --no-install);
#  3. run `python -m xdomain.main` on all workers at once (--worker=all).
#     JAX finds the other workers itself (jax.distributed on TPU pods); each
#     worker reads its own shard of the data from TFDS_DATA_DIR=--data-dir;
#     process 0 writes logs, metrics and images to --workdir; checkpoints
#     go there from all workers (Orbax), so --workdir must be a gs:// path.
# The TFDS datasets must already be in --data-dir (the workers have no
# manual_dir): build them once on any machine and copy them, e.g.
#   python -c "from xdomain.data import datasets; datasets.prepare('mnist', \
#     '/tmp/tfds', '../shared/data/mnist')"
#   gsutil -m cp -r /tmp/tfds/* gs://BUCKET/tfds/
# Exit status of step 3: xdomain.main's -- 0 done (also: already finished), 1 bad
# input (one line naming it), 75 stopped by SIGTERM/SIGINT after saving the
# step it was in: a spot VM preempted mid-run: rerun
# this script (same --workdir) to resume (README, "Stopping,
# preemption and requeueing").
set -euo pipefail
source "$(dirname "$0")/_common.sh"

tpu='' zone='' project='' data_dir='' workdir='' config=''
accelerator_type=v4-32 version=tpu-ubuntu2204-base spot=0 install=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --tpu=*) tpu=${1#*=} ;;
    --zone=*) zone=${1#*=} ;;
    --project=*) project=${1#*=} ;;
    --data-dir=*) data_dir=${1#*=} ;;
    --workdir=*) workdir=${1#*=} ;;
    --config=*) config=${1#*=} ;;
    --accelerator-type=*) accelerator_type=${1#*=} ;;
    --version=*) version=${1#*=} ;;
    --spot) spot=1 ;;
    --no-install) install=0 ;;
    --dry-run) DRY_RUN=1 ;;
    --) shift; break ;;
    *) die "unknown argument $1 (config overrides go after --)" ;;
  esac
  shift
done
for required in tpu zone data_dir workdir config; do
  [[ -n ${!required} ]] || die "--${required//_/-}=... is required (see the header of $0)"
done
[[ $data_dir == gs://* ]] || die "--data-dir must be a gs:// path every worker can read, got $data_dir"
[[ $workdir == gs://* ]] || die "--workdir must be a gs:// path all workers share, got $workdir"
overrides=("$@")

gcloud_tpu=(gcloud compute tpus tpu-vm)
where=(--zone="$zone")
[[ -z $project ]] || where+=(--project="$project")

# 1. Create the slice, or reuse it.
if [[ $DRY_RUN == 1 ]]; then
  echo "# reuse $tpu if this succeeds, else create it:"
  run "${gcloud_tpu[@]}" describe "$tpu" "${where[@]}"
  create_needed=1
elif "${gcloud_tpu[@]}" describe "$tpu" "${where[@]}" > /dev/null 2>&1; then
  echo "Reusing TPU VM $tpu." >&2
  create_needed=0
else
  create_needed=1
fi
if [[ $create_needed == 1 ]]; then
  create=("${gcloud_tpu[@]}" create "$tpu" "${where[@]}"
          --accelerator-type="$accelerator_type" --version="$version")
  [[ $spot == 0 ]] || create+=(--spot)
  run "${create[@]}"
fi

# 2. The package on every worker (the committed HEAD of this checkout).
repo=$(cd "$(dirname "$0")/.." && pwd)
remote_dir=xdomain
if [[ $install == 1 ]]; then
  tarball=$(mktemp -u /tmp/xdomain-XXXXXX).tar.gz
  run git -C "$repo" archive --format=tar.gz -o "$tarball" HEAD
  run "${gcloud_tpu[@]}" scp "$tarball" "$tpu:xdomain.tar.gz" "${where[@]}" --worker=all
  run rm -f "$tarball"
  run "${gcloud_tpu[@]}" ssh "$tpu" "${where[@]}" --worker=all \
    --command="rm -rf $remote_dir && mkdir -p $remote_dir && tar -xzf xdomain.tar.gz -C $remote_dir && python3 -m pip install -q -e './$remote_dir[tpu]'"
fi

# 3. Train on all workers.
train=(env TFDS_DATA_DIR="$data_dir" python3 -m xdomain.main
       --config="$config" --workdir="$workdir" "${overrides[@]}")
run "${gcloud_tpu[@]}" ssh "$tpu" "${where[@]}" --worker=all \
  --command="cd $remote_dir && $(quote "${train[@]}")"
