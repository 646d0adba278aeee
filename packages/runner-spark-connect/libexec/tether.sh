#!/bin/sh
# tether.sh LOGFILE COMMAND [ARG...]
#
# Runs COMMAND with its output appended to LOGFILE and ends it when this script's stdin
# reaches end of file. The parent keeps the write end of that pipe and never writes, so the
# pipe closes exactly when the parent exits for any reason, SIGKILL included: a JVM started
# this way cannot outlive the Node process that started it.
#
# TETHER_STOP_SIGNAL (default TERM) is the signal that asks COMMAND to stop: PostgreSQL's
# postmaster waits on TERM for every client to leave, and stops at once on INT.
log=$1
shift
"$@" </dev/null >>"$log" 2>&1 3<&- &
child=$!

stop() {
  kill -"${TETHER_STOP_SIGNAL:-TERM}" "$child" 2>/dev/null
  # Spark, Kafka and PostgreSQL shut down cleanly within a few seconds; give them 15 s, then force.
  i=0
  while kill -0 "$child" 2>/dev/null && [ "$i" -lt 150 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -KILL "$child" 2>/dev/null
}
trap 'stop; exit 143' TERM
trap 'stop; exit 130' INT HUP

# An asynchronous list reads /dev/null unless told otherwise, so pass stdin on explicitly.
exec 3<&0
(cat <&3 >/dev/null; kill -TERM $$ 2>/dev/null) &
watcher=$!
wait "$child"
code=$?
kill "$watcher" 2>/dev/null
exit "$code"
