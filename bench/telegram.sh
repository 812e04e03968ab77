#!/usr/bin/env bash
# Telegram forwarding benchmark: bench/telegram.sh [N...]        (default: 20000 200000)
#
# Builds the framework-dependent tern and the published single file, plus the driver bench/Tern.Bench
# (as bench/webhook.sh does; bench/common.sh). For each N and each build the driver starts the Bot API
# stand-in (tests/Tern.StandIns) inside itself with its flood limits off, and in a fresh temporary
# directory makes a telegram channel "src" (a source bot that tern polls), a telegram channel "dst" (a
# destination bot with tern's limits lifted: bot_per_second=0,chat_per_second=0,group_per_minute=0) and
# a route src → dst (no chat given: the copy goes to the source's chat id, with sendMessage). Then:
#   1. starts tern with no updates waiting, reads the idle RSS 2 s after /health/ready, stops it;
#   2. queues N text messages for the source bot, round-robin over CHATS private chats (text = index);
#   3. starts tern again and waits until every copy has arrived at the stand-in.
# It prints one table row per run:
#   seconds / msg/s   from the arrival of tern's first getUpdates to the last new copy at the stand-in
#   peak RSS MB       max of VmRSS (/proc/PID/status), sampled every 100 ms from the first getUpdates to the end; with
#                     several instances, the highest instance's peak
#   sum RSS MB        the instances' peaks added up (= peak RSS MB with one instance)
#   peak private MB   max of Private_Clean + Private_Dirty (/proc/PID/smaps_rollup), same samples
#   lost, duplicated  counted per expected text per chat among the destination bot's sendMessage calls
#   out-of-order chats  chats whose copies did not arrive in the order of their messages
#   VmHWM MB          the kernel's high-water mark of RSS over the process's whole life
#   end RSS MB        VmRSS once everything was delivered
#   idle RSS MB       VmRSS of step 1 (same build, directory and settings, nothing to poll)
#   ingest msg/s      N / time until the stand-in had no unconfirmed update (all committed to tern's inbox)
#   tern CPU ms/msg   user + system CPU time of tern (all instances) from the first getUpdates to the last copy, per message
#   postgres CPU ms/msg  CPU time of the run's PostgreSQL server (postmaster and backends), per message (— on SQLite)
#   connections used  max, over samples every 100 ms during the load, of the connections on the run's
#                     database other than the driver's sampling one (pg_stat_activity; — on SQLite)
#   others' CPU %     CPU used by other processes (not tern, not the driver, not its PostgreSQL) in that window, as a share
#                     of the machine: anything well above 0 means the figures are skewed by other work
#   exit              tern's exit code after SIGTERM at the end of the run
# Every 10 s it prints the copies delivered so far, RSS, private memory and the updates still
# unconfirmed at the stand-in.
#
# Environment knobs:
#   BUILDS="framework-dependent single-file native-aot"   which builds to run
#   CHATS=100         private chats the messages are spread over (delivery is ordered per chat)
#   TERN_SETTINGS="Tern:Memory:Budget=256MB"   extra settings for `tern serve`, space-separated (default
#                     none; the driver always passes Tern:Telegram:PollTimeout=5s first)
#   TERN_ENV="DOTNET_GCHeapHardLimit=0xC000000 ..."   environment for `tern serve` only, space-separated
#   STORAGE=postgres  a private PostgreSQL server started by the driver (Debian's postgresql package,
#                     /usr/lib/postgresql/<version>/bin), a fresh database per run; default sqlite
#   INSTANCES=2       tern serve processes per run, as a cluster on that database (needs STORAGE=postgres)
#   KEEP=1            keep each run's directory (database, tern.log, tern-idle.log) under $TMPDIR
#   WAIT_QUIET=600    before each measured start, wait up to this many seconds for the machine to be quiet
#   NO_BUILD=1        reuse artifacts/bench from the previous run
#
# The driver (stand-in, itself .NET) runs on the same machine and shares its cores with tern; everything
# is loopback. Results and the machine they came from: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/artifacts/bench"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(20000 200000)
BUILDS=${BUILDS:-"framework-dependent single-file native-aot"}
CHATS=${CHATS:-100}
# The limits lifted for the measurement are the destination channel's (set by the driver) and the
# stand-in's; tern's settings are its defaults unless given here.
TERN_SETTINGS=${TERN_SETTINGS:-}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
bench_build
bench_args
bench_machine
exec "$OUT/driver/Tern.Bench" --scenario telegram "${args[@]}" --chats "$CHATS"
