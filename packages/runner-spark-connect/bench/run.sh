#!/usr/bin/env bash
# Benchmarks our client against the official Python client on the same server, in the same run:
# each case in its own process under /usr/bin/time -v (peak RSS), median times from inside the
# process. Needs SPARK_REMOTE; `npm run bench` sets it (see bench/with-server.ts). SPARK_VERSION
# (default 4.2.0) picks the Python client: pyspark-client of that version for 4.x, pyspark[connect]
# for 3.x (the server's version; bench/versions.sh runs one server per version).
set -euo pipefail
cd "$(dirname "$0")/.."
remote="${SPARK_REMOTE:?set SPARK_REMOTE=sc://host:port (npm run infra -- spark start prints one)}"
version="${SPARK_VERSION:-4.2.0}"
# The label of the Python client in the table; bench/pyspark-venv.sh installs it.
if [ "${version%%.*}" -ge 4 ]; then py=pyspark-client; else py="pyspark[connect]"; fi
python=$(bench/pyspark-venv.sh "$version")
node=../../node_modules/.bin/node
"$node" ../../node_modules/typescript/bin/tsc -p tsconfig.build.json
# The measured process runs plain JavaScript, as a deployed program would: Node's on-the-fly
# TypeScript stripping loads a WebAssembly compiler, about 16 MiB of every process's peak RSS.
client_js="bench/.client.$$.mjs"
trap 'rm -f "$client_js" /tmp/bench-time.$$' EXIT
"$node" --no-warnings -e 'const fs = require("node:fs"); fs.writeFileSync(process.argv[1],
  require("node:module").stripTypeScriptTypes(fs.readFileSync("bench/client.ts", "utf8")))' "$client_js"
echo "server: $remote; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-15s %-8s %12s %14s\n' client case median_ms peak_rss_mib
# `npm run bench` at the root collects every bench's figures (one JSON line each) into one table;
# figures against another version than the default name it.
[ "$version" = 4.2.0 ] && suffix="" || suffix=", Spark $version"
figure() {
  [ -n "${SPARK_ETL_BENCH_RESULTS:-}" ] || return 0
  printf '{"figure":"%s%s","unit":"%s","ours":%s,"against":%s,"againstName":"%s %s"}\n' \
    "$1" "$suffix" "$2" "$3" "$4" "$py" "$version" >>"$SPARK_ETL_BENCH_RESULTS"
}
declare -A label=([select1]="SELECT 1, median of 200" [arrow]="1M×5 → Arrow" [rows]="1M×5 → rows" [stream]="1M×5 streamed")
cases=${BENCH_CASES:-select1 arrow rows stream}
# command_of CLIENT CASE [TIMED RUNS]: the case's process for that client, in cmd.
command_of() {
  if [ "$1" = spark-etl ]; then cmd=("$node" "$client_js" "$2" "$remote" ${3:+"$3"})
  else cmd=("$python" bench/pyspark_client.py "$2" "$remote" ${3:+"$3"}); fi
}
# peak_rss: the peak RSS in MiB of the last command run under /usr/bin/time -v.
peak_rss() { echo $(($(sed -n 's/.*Maximum resident set size (kbytes): //p' /tmp/bench-time.$$) / 1024)); }
# A fresh server is slow until its JIT has compiled the query paths, and the client measured
# second would get the warm server: the first 1M-row Arrow case ran 1.37× slower first than second
# on a new server, and the same within 6% on a warm one. So one untimed pass of every case first,
# then each case in the order ours, theirs, theirs, ours; a side's figure is the mean of its two
# medians, and its peak RSS the larger of its two.
for mode in $cases; do
  command_of spark-etl "$mode"
  "${cmd[@]}" >/dev/null
done
for mode in $cases; do
  declare -A sum=() rss_max=() long=()
  for client in spark-etl "$py" "$py" spark-etl; do
    command_of "$client" "$mode"
    out=$(/usr/bin/time -v "${cmd[@]}" 2>/tmp/bench-time.$$ | tail -1)
    rss=$(peak_rss)
    median=$(echo "$out" | sed -n 's/.*"medianMs": *\([0-9.]*\).*/\1/p')
    printf '%-15s %-8s %12s %14s\n' "$client" "$mode" "$median" "$rss"
    sum[$client]=$(awk -v a="${sum[$client]:-0}" -v b="$median" 'BEGIN { print a + b }')
    [ "$rss" -gt "${rss_max[$client]:-0}" ] && rss_max[$client]=$rss
  done
  ours=$(awk -v s="${sum[spark-etl]}" 'BEGIN { printf "%.2f", s / 2 }')
  theirs=$(awk -v s="${sum[$py]}" 'BEGIN { printf "%.2f", s / 2 }')
  printf '%-15s %-8s %12s %14s  (mean of two; ratio %s)\n' "both" "$mode" "$ours/$theirs" \
    "${rss_max[spark-etl]}/${rss_max[$py]}" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
  figure "${label[$mode]}" ms "$ours" "$theirs"
  if [ "$mode" = select1 ]; then
    figure "peak RSS, SELECT 1 process" MiB "${rss_max[spark-etl]}" "${rss_max[$py]}"
    # The same process with V8's young generation capped (a start-up flag; see the README).
    small=0 medians=()
    for _ in 1 2; do
      out=$(/usr/bin/time -v "$node" --max-semi-space-size=8 "$client_js" select1 "$remote" 2>/tmp/bench-time.$$ | tail -1)
      rss=$(peak_rss)
      medians+=("$(echo "$out" | sed -n 's/.*"medianMs": *\([0-9.]*\).*/\1/p')")
      [ "$rss" -gt "$small" ] && small=$rss
    done
    printf '%-15s %-8s %12s %14s  (node --max-semi-space-size=8; medians %s, larger RSS of two)\n' \
      spark-etl select1 - "$small" "${medians[*]}"
    figure "peak RSS, SELECT 1 process, node --max-semi-space-size=8" MiB "$small" "${rss_max[$py]}"
    # A longer-lived process: 1,000 timed SELECT 1s, one process a side. The 200 above end before
    # V8 doubles its young generation a last time; what the scavenges promote goes on growing the
    # heap after that (the README's "Peak RSS"), with the young generation capped too.
    for client in spark-etl "$py" spark-etl-semi8; do
      command_of "${client%-semi8}" select1 1000
      [ "$client" = spark-etl-semi8 ] && cmd=("${cmd[0]}" --max-semi-space-size=8 "${cmd[@]:1}")
      out=$(/usr/bin/time -v "${cmd[@]}" 2>/tmp/bench-time.$$ | tail -1)
      long[$client]=$(peak_rss)
      [ "$client" = spark-etl-semi8 ] && how=", node --max-semi-space-size=8" || how=""
      printf '%-15s %-8s %12s %14s  (1,000 timed runs%s)\n' "${client%-semi8}" select1 \
        "$(echo "$out" | sed -n 's/.*"medianMs": *\([0-9.]*\).*/\1/p')" "${long[$client]}" "$how"
    done
    figure "peak RSS, 1,000 SELECT 1s process" MiB "${long[spark-etl]}" "${long[$py]}"
    figure "peak RSS, 1,000 SELECT 1s process, node --max-semi-space-size=8" MiB "${long[spark-etl-semi8]}" "${long[$py]}"
  fi
  unset sum rss_max long
done
