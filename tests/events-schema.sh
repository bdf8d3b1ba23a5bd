#!/bin/sh
# events-schema.sh: man/vmferry-events.schema.json (JSON Schema 2020-12)
# is a valid schema, accepts the real output of vmferry migrate --json
# for runs that need no guest (refused before anything was done: a VM
# that is not there, certificates that are not there), and rejects an
# event that breaks it (so the check can fail).  The tests that move a
# guest check their output against it as well (mig_check_events:
# migrate-live, migrate-dry-run, migrate-offline, migrate-converge,
# migrate-evacuate, migrate-cancel).

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

schema="$abs_top_srcdir/man/vmferry-events.schema.json"
check="$abs_top_srcdir/tests/check-events.py"
requires /usr/bin/python3 -c 'import jsonschema'
test_tmpdir
T=$TEST_DIR
vmferry pki init "$T/ca" > /dev/null || fail "pki init"
vmferry pki issue "$T/ca" --name src --ip 127.0.0.1 --out "$T/tls" \
  > /dev/null || fail "pki issue"

vmferry migrate "$T/none/qmp.sock" --to 127.0.0.1:1 --tls-dir "$T/tls" \
  --run-dir "$T/run" --json > "$T/refused.out" 2>/dev/null
vmferry migrate web1 web2 --to 127.0.0.1:1 --tls-dir "$T/nocerts" \
  --run-dir "$T/run" --json > "$T/nocerts.out" 2>/dev/null
# Several VMs: each run's events carry the VM's label, then one
# vm_result per VM.
vmferry migrate "$T/a/qmp.sock" "$T/b/qmp.sock" --continue --to 127.0.0.1:1 \
  --tls-dir "$T/tls" --run-dir "$T/run" --json > "$T/many.out" 2>/dev/null
cat "$T/refused.out" "$T/nocerts.out" "$T/many.out"
/usr/bin/python3 "$check" "$schema" "$T/refused.out" "$T/nocerts.out" \
  "$T/many.out" || fail "real events do not match the schema"
[ "$(grep -c '"event":"vm_result"' "$T/many.out")" = 2 ] ||
  fail "not one vm_result per VM"
[ "$(grep -c '"schema":1' "$T/refused.out")" = 3 ] ||
  fail "not every event says its schema"

# Numbers as numbers: no binary fraction noise ("total_s 6.4850000000000003").
grep -qE '[0-9]\.[0-9]{4,}' "$T/refused.out" "$T/nocerts.out" &&
  fail "a number with more than 3 decimals"

# The checker fails on a broken event: a result with a prose "result",
# an unknown field, a time as a string.
sed -e 's/"result":"refused"/"result":"refused, nothing was done"/' \
  "$T/refused.out" > "$T/bad1.out"
sed -e 's/"event":"note",/"event":"note","colour":"red",/' \
  "$T/refused.out" > "$T/bad2.out"
sed -e 's/"time":\([0-9.]*\)/"time":"\1"/' "$T/refused.out" > "$T/bad3.out"
for f in bad1 bad2 bad3; do
  if /usr/bin/python3 "$check" "$schema" "$T/$f.out" > "$T/$f.log"; then
    cat "$T/$f.log"
    fail "the schema accepted $f"
  fi
done
exit 0
