#!/usr/bin/env bash
# bench/run.sh once per server version, each against its own private local server (started and
# stopped by bench/with-server.ts) and the official Python client of the same version.
# BENCH_VERSIONS (default 3.5.7 4.0.1 4.1.2; 4.2.0 is `npm run bench`) and BENCH_CASES
# (default select1 arrow) narrow it.
set -euo pipefail
cd "$(dirname "$0")/.."
unset SPARK_REMOTE # with-server.ts would use it rather than start a server of each version
for version in ${BENCH_VERSIONS:-3.5.7 4.0.1 4.1.2}; do
  echo "== Spark $version"
  SPARK_VERSION=$version BENCH_CASES="${BENCH_CASES:-select1 arrow}" \
    ../../node_modules/.bin/node bench/with-server.ts bash bench/run.sh
done
