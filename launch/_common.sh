# Shared by the launch scripts (sourced, not run).
# `run CMD ARGS...` prints the command, shell-quoted, then runs it; with
# DRY_RUN=1 it only prints, so `--dry-run` shows every command a launch
# would execute.
DRY_RUN=${DRY_RUN:-0}

# Shell-quotes each argument for display: plain words as they are, others
# in single quotes (copy-pasteable into a shell).
quote() {
  local out='' arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+="$arg "
    else
      out+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '%s\n' "${out% }"
}

run() {
  if [[ $DRY_RUN == 1 ]]; then
    quote "$@"
  else
    echo "+ $(quote "$@")" >&2
    "$@"
  fi
}

# `run_env NAME=VALUE... -- CMD ARGS...`: run with environment settings,
# printed as they would be typed.
run_env() {
  local assignments=()
  while [[ $1 != -- ]]; do
    assignments+=("$1")
    shift
  done
  shift
  run env "${assignments[@]}" "$@"
}

die() {
  echo "$0: $*" >&2
  exit 2
}
