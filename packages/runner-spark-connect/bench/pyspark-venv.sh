#!/usr/bin/env bash
# Prints the python of a venv holding Spark's official Python client for a server version,
# making the venv first when it is missing: pyspark-client of that version for 4.x,
# pyspark[connect] for 3.x. Used by bench/run.sh and by test/integration/Differential.test.ts.
# Usage: bench/pyspark-venv.sh [VERSION]   (default 4.2.0; pip's output goes to stderr)
set -euo pipefail
version="${1:-4.2.0}"
# 3.x's connect extra pins numpy<2, which pyarrow 26 refuses at import.
if [ "${version%%.*}" -ge 4 ]; then dir=pyspark-client dist=pyspark-client pkgs=("pyspark-client==$version")
else dir=pyspark-connect dist=pyspark pkgs=("pyspark[connect]==$version" "pyarrow<26"); fi
venv="${SPARK_ETL_CACHE:-$HOME/.cache/spark-etl}/$dir-$version"
# Installed: the client at that version, with the libraries it talks through. (Importing
# pyspark.sql.connect is no test: outside a Spark installation it exits 255, looking for
# SPARK_HOME, and the venv was made again on every call.)
installed() {
  "$venv/bin/python" -c "import grpc, pyarrow, sys, importlib.metadata as m
sys.exit(m.version('$dist') != '$version')" 2>/dev/null
}
if [ ! -x "$venv/bin/python" ] || ! installed; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "${pkgs[@]}" >&2
fi
echo "$venv/bin/python"
