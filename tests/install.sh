#!/bin/sh
# install.sh: "make install" into a DESTDIR puts every file where it
# belongs: the programs, the man pages of sections 1, 5, 7 and 8, the
# systemd unit (which systemd-analyze verify accepts without a word,
# when systemd is installed), the bash completion for both programs
# (offering every option of their --help) and the example
# configuration (which vmferryd accepts).  No root or QEMU needed.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

test_tmpdir
dest="$TEST_DIR/dest"
for d in cmd man contrib; do
  make -s -C "$abs_top_builddir/$d" install DESTDIR="$dest" \
    > "$TEST_DIR/install.log" 2>&1 ||
    { cat "$TEST_DIR/install.log"; fail "make install in $d failed"; }
done

# The configured directories, as make expands them.
dirs=$(make -s --no-print-directory -C "$abs_top_builddir/contrib" -f Makefile -f - print <<'MK'
print:
	@echo "bindir=$(bindir) mandir=$(mandir) sysconfdir=$(sysconfdir)"
	@echo "unitdir=$(systemdsystemunitdir) compdir=$(bashcompletiondir)"
MK
) || fail "cannot ask make for the directories"
# (Only the NAME=VALUE words: a parent make may add directory lines.)
eval "$(printf '%s\n' "$dirs" | tr ' ' '\n' | grep -E '^[a-z]+=')"
echo "installed into $dest$bindir, $dest$unitdir, $dest$compdir, ..."

for f in "$bindir/vmferry" "$bindir/vmferryd"; do
  [ -x "$dest$f" ] || fail "$f is not installed (or not executable)"
done
"$dest$bindir/vmferry" --version | grep -q '^vmferry ' ||
  fail "the installed vmferry does not run"
if [ -f "$abs_top_builddir/man/vmferry.1" ]; then
  for f in man1/vmferry.1 man5/vmferry.conf.5 man7/vmferry-api.7 \
           man8/vmferryd.8; do
    [ -s "$dest$mandir/$f" ] || fail "man page $mandir/$f is not installed"
  done
fi
unit="$dest$unitdir/vmferryd.service"
conf="$dest$sysconfdir/vmferry/vmferryd.conf.example"
comp="$dest$compdir/vmferry"
[ -s "$unit" ] || fail "no $unitdir/vmferryd.service"
[ -s "$conf" ] || fail "no $sysconfdir/vmferry/vmferryd.conf.example"
[ -s "$comp" ] || fail "no $compdir/vmferry"
[ "$(readlink "$dest$compdir/vmferryd")" = vmferry ] ||
  fail "$compdir/vmferryd is not a link to vmferry"

# The unit starts the installed program with the installed
# configuration file.
grep -qx "ExecStart=$bindir/vmferryd --config $sysconfdir/vmferry/vmferryd.conf" \
  "$unit" || fail "ExecStart does not name the installed paths"
grep -q '@[a-z]*@' "$unit" && fail "unsubstituted @...@ left in the unit"
grep -qx 'KillMode=process' "$unit" ||
  fail "the unit would kill received VMs when the agent stops"
# vmferryd says when it is ready, reloads on SIGHUP, and a missing
# configuration fails the start (vmferryd's message) instead of a
# silent skip.
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" ||
  fail "the unit has no ExecReload"
grep -q '^Condition' "$unit" && fail "the unit skips its start on a condition"

# systemd-analyze verify: no message at all (unknown keys are only
# warnings, exit status 0).  The copy names the DESTDIR program.
if command -v systemd-analyze > /dev/null; then
  sed "s|^ExecStart=$bindir|ExecStart=$dest$bindir|" "$unit" \
    > "$TEST_DIR/vmferryd.service"
  out=$(systemd-analyze verify --man=no "$TEST_DIR/vmferryd.service" 2>&1) ||
    { echo "$out"; fail "systemd-analyze verify failed"; }
  [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify complained"; }
  echo "systemd-analyze verify: ok"
  # Its exposure (systemd-analyze security, 0 safe .. 10 exposed) stays
  # at most 5.0 (it was 7.6 before the system-call filter, capability
  # bounding set and device policy).
  if out=$(systemd-analyze security --offline=true \
             "$TEST_DIR/vmferryd.service" 2>&1); then
    score=$(printf '%s\n' "$out" |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    echo "systemd-analyze security: exposure $score"
    [ -n "$score" ] && awk "BEGIN { exit !($score <= 5.0) }" ||
      { printf '%s\n' "$out"; fail "the unit's exposure is $score (over 5.0)"; }
  else
    echo "systemd-analyze security --offline is not available: exposure" \
      "not measured"
  fi
  echo "(PID 1 is not necessarily systemd: the unit is checked, not started;" \
       "tests/vmferryd-config.sh and tests/vmferryd-unit.sh test what it" \
       "relies on)"
else
  echo "systemd-analyze is not installed: unit not verified"
fi

# The example configuration is one vmferryd accepts: only its paths
# are changed (they must exist), and --help exits before any start.
sed -e "s|/var/lib/vmferry|$TEST_DIR|; s|/run/vmferry|$TEST_DIR|" \
  -e 's|^listen = .*|listen = 127.0.0.1:0|' "$conf" > "$TEST_DIR/test.conf"
echo "bogus-key = 1" > "$TEST_DIR/bad.conf"
"$dest$bindir/vmferryd" --config "$TEST_DIR/bad.conf" --help \
  > "$TEST_DIR/bad.out" 2>&1 && fail "vmferryd accepted an unknown key"
grep -q "bad.conf:1: unknown setting 'bogus-key'" "$TEST_DIR/bad.out" ||
  fail "unknown key not reported with file and line: $(cat "$TEST_DIR/bad.out")"
"$dest$bindir/vmferryd" --config "$TEST_DIR/test.conf" --help > /dev/null ||
  fail "vmferryd rejects the example configuration"

# Every option of vmferryd --help is offered by the completion: a word
# of one of the compgen -W lists in _vmferryd, matched whole
# (--disk-path does not offer --disk); vmferry's completion asks vmferry
# for each command's own options (checked below).
perl -0ne 'while (/^_vmferryd \(\)(.*?)^complete -F/msg) {
             my $f = $1;
             while ($f =~ /compgen -W (["\x27])(.*?)\1/sg) { print "$2\n" } }' \
  "$comp" | tr -s ' \n' '\n\n' | grep -- '^--' | sort -u \
  > "$TEST_DIR/offered-vmferryd"
[ -s "$TEST_DIR/offered-vmferryd" ] ||
  fail "no options found in the completion function _vmferryd"
for opt in $("$dest$bindir/vmferryd" --help |
             grep -Eo -- '--[a-z][a-z0-9-]*' | sort -u); do
  grep -qx -- "$opt" "$TEST_DIR/offered-vmferryd" ||
    fail "the bash completion does not offer vmferryd $opt"
done
# And it works in bash with bash-completion loaded: each command of
# vmferry gets exactly its options (status is offered no --bandwidth).
bc=/usr/share/bash-completion/bash_completion
if command -v bash > /dev/null && [ -r "$bc" ]; then
  got=$(PATH="$dest$bindir:$PATH" bash -c '. "$1"; . "$2"
    COMP_WORDS=(vmferry migrate --ssh-r); COMP_CWORD=2; COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}; _vmferry; echo "${COMPREPLY[*]}"
    COMP_WORDS=(vmferryd --data-tls ""); COMP_CWORD=2; COMP_LINE="${COMP_WORDS[*]} "
    COMP_POINT=${#COMP_LINE}; _vmferryd; echo "${COMPREPLY[*]}"' sh "$bc" "$comp")
  [ "$got" = "--ssh-run-root
x509 psk" ] || fail "bash completion offered: $got"
  for cmd in migrate check evacuate status cancel recover undo "pki issue"; do
    # shellcheck disable=SC2086
    want=$("$dest$bindir/vmferry" $cmd --long-options | sort | tr '\n' ' ')
    got=$(PATH="$dest$bindir:$PATH" bash -c '. "$1"; . "$2"; shift 2
      COMP_WORDS=(vmferry "$@" --); COMP_CWORD=$#; COMP_CWORD=$((COMP_CWORD + 1))
      COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _vmferry
      printf "%s\n" "${COMPREPLY[@]}"' sh "$bc" "$comp" $cmd |
          sort | tr '\n' ' ')
    [ -n "$want" ] && [ "$got" = "$want" ] ||
      fail "completion of vmferry $cmd: offered '$got', expected '$want'"
  done
  echo "bash completion: ok"
fi
exit 0
