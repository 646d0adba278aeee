#!/usr/bin/env bash
# together.sh 'command' 'command' …: runs the commands at the same time and waits for all of
# them; fails when one of them failed, naming it. For test runs that share nothing, such as the
# CLI's tests and its soak on servers of its own: together they take about as long as the
# longer one, not the sum.
set -u
pids=()
for command in "$@"; do
  bash -c "$command" &
  pids+=("$!")
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "together.sh: failed: ${*:$((i + 1)):1}" >&2
    status=1
  fi
done
exit "$status"
