#!/bin/sh
# Installs this unpacked release under PREFIX (default /opt/spark-etl) without disturbing a job
# that is running:
#   PREFIX/releases/<release>/   this release, copied beside the others (a complete copy first,
#                                then renamed into place)
#   PREFIX/current               symlink to the active release, switched by an atomic rename
#   PREFIX/bin/spark-etl         symlink to current/bin/spark-etl: the path AutoSys jobs call
# A job already running keeps the release it started with (its launcher resolved the real path).
# Rolling back is running the older release's install.sh again: it is already there, so only
# `current` moves. To pin a job to one release, call PREFIX/releases/<release>/bin/spark-etl.
set -eu
prefix=${1:-/opt/spark-etl}
here=$(dirname "$(readlink -f "$0")")
release=$(basename "$here")
mkdir -p "$prefix/releases" "$prefix/bin"
target="$prefix/releases/$release"
if [ "$here" != "$(readlink -f "$target" 2>/dev/null || true)" ] && [ ! -x "$target/bin/spark-etl" ]; then
  rm -rf "$target.partial"
  cp -a "$here" "$target.partial"
  mv "$target.partial" "$target"
fi
"$target/bin/spark-etl" --version >/dev/null
ln -sfn "releases/$release" "$prefix/current.next"
mv -T "$prefix/current.next" "$prefix/current"
if [ ! -L "$prefix/bin/spark-etl" ]; then
  ln -sfn ../current/bin/spark-etl "$prefix/bin/spark-etl.next"
  mv -T "$prefix/bin/spark-etl.next" "$prefix/bin/spark-etl"
fi
echo "spark-etl $release active: $prefix/bin/spark-etl"
