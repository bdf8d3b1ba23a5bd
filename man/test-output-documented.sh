#!/bin/sh
# test-output-documented.sh: what vmferry prints is documented in
# vmferry(1): every JSON event of the schema (man/vmferry-events.schema.json)
# has an "=item C<EVENT>" in OUTPUT, every result code of the schema is
# named there as C<CODE>, and every exit code of source/source.h
# (enum mig_result: MIG_... = N) has an "=item B<N>" in EXIT STATUS.  Fails naming each
# one missing.  EXTRA_EVENTS: more event names to require (e.g.
# "no_such_event" to see the test fail).

: "${srcdir:=.}"
pod="$srcdir/vmferry.pod"
schema="$srcdir/vmferry-events.schema.json"
header="$srcdir/../source/source.h"
status=0

# section NAME: the lines of POD section "=head1 NAME" up to the next one.
section ()
{
  sed -n "/^=head1 $1\$/,/^=head1 /p" "$pod"
}

events=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["$defs"]
for k, v in d.items():
    e = v.get("properties", {}).get("event", {}).get("const")
    if e:
        print(e)
' "$schema") || { echo "$0: FAIL: cannot read $schema"; exit 1; }
codes=$(python3 -c '
import json, sys
print("\n".join(json.load(open(sys.argv[1]))["$defs"]["code"]["enum"]))
' "$schema") || { echo "$0: FAIL: no result codes in $schema"; exit 1; }
exits=$(sed -n '/^enum mig_result {/,/^};/s/^ *MIG_[A-Z_]* = \([0-9]*\),.*/\1/p' \
  "$header")
[ -n "$events" ] && [ -n "$codes" ] && [ -n "$exits" ] ||
  { echo "$0: FAIL: found no events, codes or exit codes"; exit 1; }

output=$(section OUTPUT)
for e in $events ${EXTRA_EVENTS:-}; do
  printf '%s\n' "$output" | grep -Eq "^=item (.*, )?C<$e>(,|\$)" || {
    echo "$0: FAIL: event $e has no =item C<$e> in OUTPUT of vmferry.pod"
    status=1
  }
done
for c in $codes; do
  printf '%s\n' "$output" | grep -q "C<$c>" || {
    echo "$0: FAIL: result code $c is not named in OUTPUT of vmferry.pod"
    status=1
  }
done
exit_section=$(section 'EXIT STATUS')
for x in $exits; do
  printf '%s\n' "$exit_section" | grep -q "^=item B<$x>" || {
    echo "$0: FAIL: exit code $x has no =item B<$x> in EXIT STATUS"
    status=1
  }
done
[ $status = 0 ] && echo "$0: ok: events" $events "; codes" $codes "; exits" $exits
exit $status
