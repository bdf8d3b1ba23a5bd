#!/bin/sh
# fuzz-smoke.sh: a short run of every libFuzzer target (fuzz/): 10 s
# each from its seed corpus in tests/fuzz-corpus/TARGET.  Fails on any
# crash, leak, undefined behaviour, memory blow-up or input taking more
# than 5 s; SKIPs when clang (with libclang-rt-14-dev) is missing.
# The long run is `make fuzz` (FUZZ_SECONDS, default 60).
set -eu
. "$(dirname "$0")/functions.sh"

requires command -v clang
work=$(mktemp -d /tmp/vmferry-fuzz-smoke.XXXXXX)
cleanup_fn "rm -rf '$work'"

# clang without its runtime cannot link a fuzzer: that is a SKIP.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)%s\n' \
  '{ return 0; }' >"$work/probe.c"
requires clang -fsanitize=fuzzer,address,undefined -o "$work/probe" \
  "$work/probe.c"

# Build the targets (not part of make all), outside make check's jobserver.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
  make -s -C "$abs_top_builddir/fuzz" fuzz-build ||
  fail "building the fuzz targets"

for t in fuzz-control fuzz-frame fuzz-qmp; do
  seeds="$abs_top_srcdir/tests/fuzz-corpus/$t"
  [ -n "$(ls "$seeds")" ] || fail "$t: no seeds in $seeds"
  "$abs_top_srcdir/fuzz/run-fuzz.sh" "$abs_top_builddir/fuzz/$t" \
    "$seeds" 10 "$work/$t" || fail "$t: see the report above"
  # The run must have executed inputs, not just started.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  [ "${runs:-0}" -gt 100 ] || fail "$t: only ${runs:-0} inputs executed"
  echo "$t: $runs inputs, no crash, leak or timeout"
done
