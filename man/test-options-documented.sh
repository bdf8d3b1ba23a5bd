#!/bin/sh
# test-options-documented.sh: every long option that a program's --help
# prints is documented in its POD, as an "=item B<--option>" entry (so
# a mere mention in the text does not count).  Fails naming each
# option that is missing.
#
# Environment (from TESTS_ENVIRONMENT): VMFERRY, VMFERRYD (the built
# programs); srcdir (set by automake) for the POD files.
# EXTRA_OPTIONS: more option names to require, e.g. "--no-such-option"
# to see the test fail.

: "${srcdir:=.}"
: "${VMFERRY:=../cmd/vmferry}"
: "${VMFERRYD:=../cmd/vmferryd}"

status=0

# undocumented POD OPTION...: print the options with no =item in POD.
undocumented ()
{
  pod=$1
  shift
  for opt in "$@"; do
    # The option, then not another option character: --json must not
    # be satisfied by --json-foo.
    grep -Eq "^=item .*${opt}([^a-zA-Z0-9-]|\$)" "$pod" || echo "$opt"
  done
}

# The checker must be able to fail, or a broken grep would pass
# everything: a name that is surely absent has to be reported.
if [ -z "$(undocumented "$srcdir/vmferry.pod" --no-such-option-xyzzy)" ]
then
  echo "$0: FAIL: the check does not detect a missing option"
  exit 1
fi

# check PROGRAM POD: compare PROGRAM --help with POD.
check ()
{
  prog=$1
  pod=$srcdir/$2

  if [ ! -x "$prog" ]; then
    echo "$0: ERROR: $prog is not built"
    exit 99
  fi
  if [ ! -r "$pod" ]; then
    echo "$0: ERROR: $pod is missing"
    exit 99
  fi
  if ! help=$("$prog" --help); then
    echo "$0: FAIL: $prog --help failed"
    status=1
    return
  fi
  opts=$(printf '%s\n' "$help" |
         grep -Eo -- '--[a-zA-Z][a-zA-Z0-9-]*' | sort -u)
  # A --help that lists nothing means the extraction broke.
  if [ -z "$opts" ]; then
    echo "$0: FAIL: found no long options in $prog --help"
    status=1
    return
  fi
  # shellcheck disable=SC2086
  missing=$(undocumented "$pod" $opts ${EXTRA_OPTIONS:-})
  if [ -n "$missing" ]; then
    for opt in $missing; do
      echo "$0: FAIL: $(basename "$prog") option $opt is not" \
           "documented in $2 (no =item B<$opt>)"
    done
    status=1
  else
    echo "$0: ok: $(basename "$prog"):" $opts
  fi
}

check "$VMFERRY" vmferry.pod
check "$VMFERRYD" vmferryd.pod

# Every vmferryd option that is a setting is documented as a key of
# its configuration file, "=item B<key> =" in vmferry.conf.pod.
conf=$srcdir/vmferry.conf.pod
for opt in $("$VMFERRYD" --help | grep -Eo -- '--[a-z][a-z0-9-]*' | sort -u)
do
  key=${opt#--}
  # --refuse is "queue = false" in the file.
  case $key in config|help|version|verbose|refuse) continue ;; esac
  if ! grep -Eq "^=item B<$key> =" "$conf"; then
    echo "$0: FAIL: vmferryd setting $key is not documented in" \
         "vmferry.conf.pod (no =item B<$key> =)"
    status=1
  fi
done
[ $status != 0 ] || echo "$0: ok: vmferry.conf.pod documents every setting"
exit $status
