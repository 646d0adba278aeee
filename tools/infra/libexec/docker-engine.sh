#!/usr/bin/env bash
# docker-engine.sh start ROOT | stop ROOT
#
# A Docker engine of its own for CI and development, everything under ROOT: data root, exec
# root, socket, pid file and log. The storage driver is dockerd's own choice, overlay2 where the
# kernel and filesystem allow it, else vfs (which works wherever dockerd runs as root, but copies
# a whole image for each container: a Spark container then takes seconds more to start);
# SPARK_ETL_DOCKER_STORAGE_DRIVER names one instead. `start` prints
# `export DOCKER_HOST=unix://ROOT/docker.sock` once the engine answers a ping (for eval) and the
# seconds it took on stderr; `stop` ends the engine (its containers with it) and removes ROOT.
# Needs root and Debian's docker.io.
set -euo pipefail
verb=${1:?usage: docker-engine.sh start|stop ROOT}
root=${2:?usage: docker-engine.sh start|stop ROOT}
sock="$root/docker.sock"

case "$verb" in
start)
  mkdir -p "$root"
  started=$(date +%s%N)
  # setsid: the engine outlives this script, in a session of its own, until `stop`.
  driver=()
  [ -n "${SPARK_ETL_DOCKER_STORAGE_DRIVER:-}" ] && driver=(--storage-driver "$SPARK_ETL_DOCKER_STORAGE_DRIVER")
  setsid dockerd "${driver[@]}" --data-root "$root/data" --exec-root "$root/exec" \
    -H "unix://$sock" --pidfile "$root/docker.pid" >"$root/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 600); do
    if curl -sf --unix-socket "$sock" http://engine/_ping >/dev/null 2>&1; then
      storage=$(curl -sf --unix-socket "$sock" http://engine/info | sed -n 's/.*"Driver":"\([^"]*\)".*/\1/p')
      echo "[docker-engine] answers at unix://$sock after $((($(date +%s%N) - started) / 1000000)) ms (storage: $storage)" >&2
      echo "export DOCKER_HOST=unix://$sock"
      exit 0
    fi
    sleep 0.1
  done
  echo "[docker-engine] dockerd did not answer within 60 s; its log:" >&2
  tail -n 30 "$root/dockerd.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$root/docker.pid" ]; then
    pid=$(cat "$root/docker.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Whatever the engine left mounted under its exec root (network namespaces) goes first.
  grep -o " $root/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$root"
  ;;
*)
  echo "usage: docker-engine.sh start|stop ROOT" >&2
  exit 64
  ;;
esac
