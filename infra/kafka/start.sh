#!/usr/bin/env bash
# Starts a real single-node Apache Kafka broker (KRaft, broker+controller) from Maven Central jars,
# without Docker. Prints KAFKA_BROKERS=127.0.0.1:<port> and writes it to run/broker.env.
#   infra/kafka/start.sh            # free ports
#   KAFKA_PORT=9092 infra/kafka/start.sh
# Stop it with infra/kafka/stop.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
libs="$here/libs"
# KAFKA_STATE_DIR runs a second, separate broker (tests that stop a broker use their own).
state="${KAFKA_STATE_DIR:-$here/run}"
env_file="$state/broker.env"
pid_file="$state/broker.pid"
dir_file="$state/broker.dir"
ready_timeout_s="${KAFKA_READY_TIMEOUT_S:-60}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"

die() {
  echo "kafka/start.sh: $*" >&2
  exit 1
}

command -v java >/dev/null 2>&1 || die "java not found: install a JDK 17+ (Kafka 4.x needs Java 17)."
command -v node >/dev/null 2>&1 || die "node not found: the readiness probe runs on Node.js."
[ -d "$here/../../node_modules/kafkajs" ] || die "kafkajs is not installed: run 'npm ci' at the repository root first."

# One broker per checkout: reuse it when it is still alive.
if [ -f "$pid_file" ]; then
  old_pid="$(cat "$pid_file")"
  if kill -0 "$old_pid" 2>/dev/null && grep -qa 'kafka.Kafka' "/proc/$old_pid/cmdline" 2>/dev/null; then
    echo "Kafka is already running (pid $old_pid); stop it with infra/kafka/stop.sh." >&2
    cat "$env_file"
    exit 0
  fi
  echo "Removing state of a broker that is no longer running (pid $old_pid)." >&2
  [ -f "$dir_file" ] && rm -rf -- "$(cat "$dir_file")"
  rm -f "$pid_file" "$env_file" "$dir_file"
fi

# Jars: fetched once into libs/ (and ~/.m2). Copied into a temporary folder first so an
# interrupted download never leaves a half-filled libs/ behind.
if [ ! -f "$libs/.complete" ]; then
  command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (it fetches the Kafka jars from Maven Central)."
  echo "Fetching the Kafka broker jars with Maven into $libs (first run only, about 45 MB)..." >&2
  tmp_libs="$here/libs.tmp.$$"
  rm -rf "$tmp_libs"
  if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp_libs" | grep -E --line-buffered 'Downloaded from|BUILD|ERROR' >&2; then
    rm -rf "$tmp_libs"
    die "Maven could not fetch the Kafka jars (see the output above)."
  fi
  [ -n "$(ls "$tmp_libs"/kafka_2.13-*.jar 2>/dev/null)" ] || { rm -rf "$tmp_libs"; die "Maven finished but no kafka_2.13 jar was copied."; }
  touch "$tmp_libs/.complete"
  rm -rf "$libs"
  mv "$tmp_libs" "$libs"
fi

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});"
}
port="${KAFKA_PORT:-$(free_port)}"
controller_port="${KAFKA_CONTROLLER_PORT:-$(free_port)}"
while [ "$controller_port" = "$port" ]; do controller_port="$(free_port)"; done

# A fresh directory per run: a data directory formatted with another cluster id refuses to start.
mkdir -p "$state"
run_dir="$state/broker-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$run_dir/data"
config="$run_dir/server.properties"
log4j_config="$run_dir/log4j2.properties"
log_file="$run_dir/broker.log"

cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run_dir/data
# One broker: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
num.partitions=3
# Topics are created explicitly (Transport.ensureTopics); a typo must not create a topic.
auto.create.topics.enable=false
# The default 3 s delay before the first rebalance slows every consumer start.
group.initial.rebalance.delay.ms=0
PROPS

cat >"$log4j_config" <<'LOG4J'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
LOG4J

started_at="$(date +%s%N)"

cluster_id=""
while [ -z "$cluster_id" ] || [ "${cluster_id:0:1}" = "-" ]; do
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
done

# Static voters (controller.quorum.voters): no --standalone, which 4.x only accepts with
# controller.quorum.bootstrap.servers.
if ! java -Dlog4j2.configurationFile="$log4j_config" -cp "$libs/*" kafka.tools.StorageTool \
  format -t "$cluster_id" -c "$config" >"$run_dir/format.log" 2>&1; then
  cat "$run_dir/format.log" >&2
  die "formatting the log directory failed (output above)."
fi

# setsid: the broker outlives the shell that started it; nohup/setsid exec, so $! is java's pid.
# shellcheck disable=SC2086
setsid nohup java $heap_opts -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j_config" -cp "$libs/*" kafka.Kafka "$config" \
  >"$log_file" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"
echo "$run_dir" >"$dir_file"
echo "Kafka starting (pid $pid, port $port, log $log_file)..." >&2

if ! node "$here/wait-ready.mjs" "127.0.0.1:$port" "$pid" "$ready_timeout_s"; then
  echo "---- last lines of $log_file ----" >&2
  tail -n 40 "$log_file" >&2 || true
  kill -TERM "$pid" 2>/dev/null || true
  die "the broker did not become ready within ${ready_timeout_s}s (stop leftovers with infra/kafka/stop.sh)."
fi

elapsed_ms=$((($(date +%s%N) - started_at) / 1000000))
echo "KAFKA_BROKERS=127.0.0.1:$port" >"$env_file"
echo "Kafka ready in ${elapsed_ms} ms (format + start). Stop it with infra/kafka/stop.sh." >&2
echo "KAFKA_BROKERS=127.0.0.1:$port"
