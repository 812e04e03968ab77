#!/usr/bin/env bash
# Runs the whole test suite from a clean checkout and ends with one line: "N passed, N failed, N skipped".
# Installs what the tests need on a fresh Debian machine with the .NET SDK (run as root, or with sudo).
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

need_packages=()
command -v curl >/dev/null 2>&1 || need_packages+=(curl)
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
# The native AOT publish test links with the system C toolchain, SQLite (statically) and zlib.
command -v cc >/dev/null 2>&1 || need_packages+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libsqlite3.a ] || need_packages+=(libsqlite3-dev)
[ -f /usr/lib/x86_64-linux-gnu/libz.so ] || need_packages+=(zlib1g-dev)
# /metrics is checked with Prometheus's own linter.
command -v promtool >/dev/null 2>&1 || need_packages+=(prometheus)
# The OpenAPI document is linted with Redocly and a client generated from it is compiled (tools/openapi, pinned by its lockfile).
command -v node >/dev/null 2>&1 || need_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || need_packages+=(npm)
# The StandIns' PrivatePostgres runs a private server of each test process's own from Debian's binaries.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_packages+=(postgresql)
if [ ${#need_packages[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Installing postgresql must not start the system's server: while the install runs, policy-rc.d (made
  # here only if there is none) tells invoke-rc.d that no service may be started (exit 101).
  made_policy_rc=""
  if [[ " ${need_packages[*]} " == *" postgresql "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    if $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' >>"$RESULTS/apt.log" 2>&1; then
      made_policy_rc=1
      trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
  fi
  if ! { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}"; } >>"$RESULTS/apt.log" 2>&1; then
    # Said again just above the summary: the tests that need these will fail, and this is why.
    install_failure="test.sh: installing ${need_packages[*]} failed: $(tail -n 3 "$RESULTS/apt.log" | tr '\n' ' ')"
    echo "$install_failure"
  fi
  if [ -n "$made_policy_rc" ]; then
    $SUDO rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
fi

# Once per run, not per test: the exact versions of package-lock.json.
# A failure here fails only the tests that run these tools (they say so); it is said again above the summary.
if ! npm ci --prefix tools/openapi --no-audit --no-fund --ignore-scripts --loglevel=error >"$RESULTS/npm.log" 2>&1; then
  tools_failure="test.sh: npm ci --prefix tools/openapi failed: $(tail -n 3 "$RESULTS/npm.log" | tr '\n' ' ')"
  echo "$tools_failure"
fi
# The independent Standard Webhooks verifier (tools/standardwebhooks/verify.mjs, the standardwebhooks npm package).
if ! npm ci --prefix tools/standardwebhooks --no-audit --no-fund --ignore-scripts --loglevel=error >"$RESULTS/npm-standardwebhooks.log" 2>&1; then
  standardwebhooks_failure="test.sh: npm ci --prefix tools/standardwebhooks failed: $(tail -n 3 "$RESULTS/npm-standardwebhooks.log" | tr '\n' ' ')"
  echo "$standardwebhooks_failure"
  tools_failure="${tools_failure:+$tools_failure
}$standardwebhooks_failure"
fi

if ! dotnet build Tern.slnx -c Release -warnaserror -nologo -v quiet; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

test_rc=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  # One run per project so each writes its own results file.
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$RESULTS" -- RunConfiguration.TreatNoTestsAsError=true || test_rc=$?
done

passed=0; failed=0; skipped=0; files=0
for trx in "$RESULTS"/*.trx; do
  [ -f "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done

if [ "$files" -eq 0 ]; then
  echo "no test results were written"
  failed=$((failed + 1))
fi
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner failed without a failing test (a crashed test host): count it, never report green.
  failed=1
fi
# Name each failure and the start of its message just above the summary, where a log's tail shows it.
for trx in "$RESULTS"/*.trx; do
  [ -f "$trx" ] || continue
  awk '
    /<UnitTestResult / { failing = ($0 ~ /outcome="Failed"/); if (failing) { match($0, /testName="[^"]*"/); print "FAILED " substr($0, RSTART + 10, RLENGTH - 11); lines = 0 } }
    failing && /<Message>/ { inmsg = 1; sub(/.*<Message>/, "") }
    failing && inmsg { done = sub(/<\/Message>.*/, ""); if (lines < 6) print "  " $0; lines++; if (done) { inmsg = 0; failing = 0 } }
  ' "$trx"
done
[ -n "${install_failure:-}" ] && echo "$install_failure"
[ -n "${tools_failure:-}" ] && echo "$tools_failure"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
