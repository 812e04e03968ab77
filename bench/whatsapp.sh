#!/usr/bin/env bash
# WhatsApp webhook ingest benchmark: bench/whatsapp.sh [N...]        (default: 20000)
#
# Builds tern and the driver bench/Tern.Bench (as bench/webhook.sh does; bench/common.sh). For each N and
# each build the driver starts the Graph API stand-in (tests/Tern.StandIns) inside itself and, in a fresh
# temporary directory, adds a WhatsApp channel "wa" with the CLI (which checks the access token with
# GET /{phone-number-id} at the stand-in) and a key of the tenant "default"; builds N inbound text messages
# in bodies of BATCH messages, each signed with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the
# app secret), before the clock starts; starts tern and POSTs every body once to /hooks/whatsapp/wa at a
# fixed HTTP concurrency. No route: this is ingest only. It prints one table row per run:
#   POSTs             bodies posted (N / BATCH)
#   ingest s / msg/s  first POST to the last 200 (200 = the body's messages are committed)
#   peak RSS MB       max of VmRSS (/proc/PID/status), sampled every 100 ms from the first POST to the last 200
#   peak private MB   max of Private_Clean + Private_Dirty (/proc/PID/smaps_rollup), same samples
#   VmHWM MB          the kernel's high-water mark of RSS over the process's whole life
#   end RSS MB        VmRSS at the last 200
#   idle RSS MB       VmRSS 2 s after /health/ready, before the load
#   stored, lost      the total of GET /v1/messages?direction=in&channel=wa (one per stored message), and N minus it
#   duplicates        messages the 200 answers called redeliveries (every wamid is posted once: must be 0)
#   tern CPU ms/msg   user + system CPU time of tern from the first POST to the last 200, per message
#   others' CPU %     CPU used by other processes (not tern, not the driver) in that window, as a share of the
#                     machine: anything well above 0 means the figures are skewed by other work
#   503s, errors      ingress refusals (retried after Retry-After) and other failed POSTs
#   exit              tern's exit code after SIGTERM at the end of the run
#
# Environment knobs:
#   BATCH=1000        messages per POST (Meta sends up to 1,000); BATCH=1 for single-message POSTs
#   BUILDS="framework-dependent single-file native-aot"   which builds to run (default framework-dependent)
#   CONCURRENCY=16    HTTP requests in flight against the ingress
#   TERN_SETTINGS="Tern:Key=value ..."   extra settings for `tern serve`, space-separated (default none)
#   TERN_ENV="DOTNET_GCHeapHardLimit=0xC000000 ..."   environment for `tern serve` only, space-separated
#   STORAGE=postgres  a private PostgreSQL server started by the driver, a fresh database per run; default sqlite
#   KEEP=1            keep each run's directory (database and tern.log) under $TMPDIR
#   WAIT_QUIET=600    before each run, wait up to this many seconds for the machine to be quiet
#   NO_BUILD=1        reuse artifacts/bench from the previous run
#
# The driver (load generator + stand-in) runs on the same machine and shares its cores with tern;
# everything is loopback. Results and the machine they came from: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/artifacts/bench"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(20000)
BUILDS=${BUILDS:-"framework-dependent"}
BATCH=${BATCH:-1000}
CONCURRENCY=${CONCURRENCY:-16}
# Tern's default configuration unless given here.
TERN_SETTINGS=${TERN_SETTINGS:-}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_build
bench_args
bench_machine
exec "$OUT/driver/Tern.Bench" --scenario whatsapp "${args[@]}" --batch "$BATCH" --concurrency "$CONCURRENCY"
