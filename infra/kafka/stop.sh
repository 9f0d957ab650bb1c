#!/usr/bin/env bash
# Stops the broker started by infra/kafka/start.sh (only that pid) and removes its run directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# KAFKA_STATE_DIR runs a second, separate broker (tests that stop a broker use their own).
state="${KAFKA_STATE_DIR:-$here/run}"
pid_file="$state/broker.pid"
dir_file="$state/broker.dir"
grace_s="${KAFKA_STOP_GRACE_S:-30}"

if [ ! -f "$pid_file" ]; then
  echo "No broker recorded in $pid_file: nothing to stop." >&2
  exit 0
fi
pid="$(cat "$pid_file")"
run_dir="$(cat "$dir_file" 2>/dev/null || true)"

# Signal only our broker: a recycled pid that now belongs to another program is left alone.
if kill -0 "$pid" 2>/dev/null && grep -qa 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
  echo "Stopping Kafka (pid $pid)..." >&2
  kill -TERM "$pid"
  waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $((grace_s * 10)) ]; then
      echo "Kafka did not stop within ${grace_s}s: SIGKILL." >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
else
  echo "Kafka (pid $pid) is not running." >&2
fi

# Only ever remove a directory inside run/.
case "$run_dir" in
  "$state"/broker-*) rm -rf -- "$run_dir" ;;
  "") ;;
  *) echo "Not removing unexpected run directory '$run_dir'." >&2 ;;
esac
rm -f "$pid_file" "$dir_file" "$state/broker.env"
rmdir "$state" 2>/dev/null || true
echo "Kafka stopped." >&2
