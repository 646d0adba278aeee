#!/bin/sh
# reap-containers.sh LABEL=VALUE
#
# Removes every container carrying LABEL=VALUE once this script's stdin reaches end of file.
# The harness keeps the write end of that pipe and never writes, so the removal happens when
# the harness closes it or dies for any reason, SIGKILL included: testcontainers' own reaper
# (Ryuk) is an image that a machine without a registry cannot pull.
trap '' INT HUP TERM
cat >/dev/null
ids=$(docker ps --all --quiet --filter "label=$1")
if [ -n "$ids" ]; then
  # shellcheck disable=SC2086 # one id per word
  docker rm --force --volumes $ids >/dev/null
fi
