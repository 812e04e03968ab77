# Shared by bench/webhook.sh, bench/telegram.sh and bench/whatsapp.sh (sourced, not run): the builds, the driver's common
# arguments and the machine line. The caller has set ROOT, OUT, COUNTS, BUILDS and TERN_SETTINGS
# (STORAGE and INSTANCES are optional: sqlite and 1).

# Publishes the tern builds named in $BUILDS and the driver into $OUT, unless NO_BUILD is set.
bench_build() {
  if [ -z "${NO_BUILD:-}" ]; then
    echo "building into $OUT ..."
    rm -rf "$OUT/framework-dependent" "$OUT/single-file" "$OUT/native-aot" "$OUT/driver"
    for build in $BUILDS; do
      case "$build" in
        framework-dependent) dotnet publish src/Tern.Server -c Release -o "$OUT/framework-dependent" -nologo -v q ;;
        single-file) dotnet publish src/Tern.Server -c Release -r linux-x64 -p:PublishSingleFile=true -o "$OUT/single-file" -nologo -v q ;;
        native-aot) dotnet publish src/Tern.Server -c Release -r linux-x64 -p:PublishAot=true -o "$OUT/native-aot" -nologo -v q ;;
        *) echo "unknown build '$build' (framework-dependent, single-file, native-aot)"; exit 2 ;;
      esac
    done
    dotnet build bench/Tern.Bench -c Release -o "$OUT/driver" -nologo -v q
  fi
}

# Fills the array `args` with the driver arguments every scenario takes (targets, N, settings, knobs).
bench_args() {
  args=()
  for build in $BUILDS; do
    args+=(--target "$build=$OUT/$build/tern")
  done
  for n in "${COUNTS[@]}"; do
    args+=(--n "$n")
  done
  for setting in $TERN_SETTINGS; do
    args+=(--setting "$setting")
  done
  for variable in ${TERN_ENV:-}; do
    args+=(--env "$variable")
  done
  args+=(--storage "${STORAGE:-sqlite}" --instances "${INSTANCES:-1}")
  [ -n "${KEEP:-}" ] && args+=(--keep)
  [ -n "${WAIT_QUIET:-}" ] && args+=(--wait-quiet "$WAIT_QUIET")
  return 0
}

bench_machine() {
  echo "machine: $(nproc) cores; $(free -h | awk '/^Mem:/ {print $2 " RAM"}'); $(uname -sr); $(for b in $BUILDS; do printf '%s %s; ' "$b" "$(du -h "$OUT/$b/tern" 2>/dev/null | cut -f1)"; done)"
}
