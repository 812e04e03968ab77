#!/usr/bin/env bash
# Webhook → webhook benchmark: bench/webhook.sh [N...]        (default: 20000 200000)
#
# Builds the framework-dependent tern (dotnet publish, no RID) and the published single file
# (self-contained, trimmed: the README's publish command), plus the driver bench/Tern.Bench. For each
# N and each build the driver starts tern in a fresh temporary directory with a webhook channel "in",
# a webhook channel "out" pointing at a loopback receiver inside the driver, and a route in → out;
# POSTs N messages to /hooks/webhook/in at a fixed HTTP concurrency; and waits until every message
# has arrived at the receiver. It prints one table row per run:
#   seconds / msg/s   first POST to the last new delivery at the receiver (end to end)
#   peak RSS MB       max of VmRSS (/proc/PID/status), sampled every 100 ms from the first POST to the end; with
#                     several instances, the highest instance's peak
#   sum RSS MB        the instances' peaks added up (= peak RSS MB with one instance)
#   peak private MB   max of Private_Clean + Private_Dirty (/proc/PID/smaps_rollup), same samples
#   lost, duplicated  counted per message at the receiver
#   VmHWM MB          the kernel's high-water mark of RSS over the process's whole life (catches
#                     spikes between samples and during start-up)
#   end RSS MB        VmRSS once everything was delivered
#   idle RSS MB       VmRSS 2 s after /health/ready, before the load
#   ingest msg/s      N / time until the last POST was answered (202 = committed)
#   tern CPU ms/msg   user + system CPU time of tern (all instances) from the first POST to the last delivery, per message
#   postgres CPU ms/msg  CPU time of the run's PostgreSQL server (postmaster and backends), per message (— on SQLite)
#   connections used  max, over samples every 100 ms during the load, of the connections on the run's
#                     database other than the driver's sampling one (pg_stat_activity; — on SQLite)
#   others' CPU %     CPU used by other processes (not tern, not the driver, not its PostgreSQL) in that window, as a share
#                     of the machine: anything well above 0 means the figures are skewed by other work
#   503s, errors      ingress refusals (retried after Retry-After) and other failed POSTs
#   exit              tern's exit code after SIGTERM at the end of the run
#
# Environment knobs:
#   BUILDS="framework-dependent single-file native-aot"   which builds to run
#   CONCURRENCY=64    HTTP requests in flight against the ingress
#   CHATS=100         chats the messages are spread over (delivery is ordered per chat)
#   TERN_SETTINGS="Tern:Ingress:MaxBacklog=10000000"   extra settings for `tern serve`, space-separated
#   TERN_ENV="DOTNET_GCHeapHardLimit=0xC000000 ..."   environment for `tern serve` only, space-separated
#   STORAGE=postgres  a private PostgreSQL server started by the driver (Debian's postgresql package,
#                     /usr/lib/postgresql/<version>/bin), a fresh database per run; default sqlite
#   INSTANCES=2       tern serve processes per run, as a cluster on that database (needs STORAGE=postgres)
#   KEEP=1            keep each run's directory (database and tern.log) under $TMPDIR
#   WAIT_QUIET=600    before each run, wait up to this many seconds for the machine to be quiet
#   NO_BUILD=1        reuse artifacts/bench from the previous run
#
# The driver (load generator + receiver) runs on the same machine and shares its cores with tern;
# everything is loopback. Results and the machine they came from: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/artifacts/bench"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(20000 200000)
BUILDS=${BUILDS:-"framework-dependent single-file native-aot"}
CONCURRENCY=${CONCURRENCY:-64}
CHATS=${CHATS:-100}
# The only limit lifted for the benchmark: the on-disk backlog bound (default 1,000,000) so that a
# burst of N never meets a 503 regardless of N. Everything else is tern's default configuration.
TERN_SETTINGS=${TERN_SETTINGS:-"Tern:Ingress:MaxBacklog=10000000"}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_build
bench_args
bench_machine
exec "$OUT/driver/Tern.Bench" "${args[@]}" --concurrency "$CONCURRENCY" --chats "$CHATS"
