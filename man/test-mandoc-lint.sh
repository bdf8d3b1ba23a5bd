#!/bin/sh
# test-mandoc-lint.sh: mandoc -Tlint finds nothing to say about the
# generated pages (MAN_PAGES, in the current directory).  Any message,
# however minor, fails the test: fix the POD.
#
# One message is let through: "STYLE: input text line longer than 80
# bytes".  pod2man copies each POD paragraph line to one roff line and
# spells the markup out (C<x> becomes \f(CW\*(C`x\*(C'\fR, an acronym
# \s-1QEMU\s0, every '-' \-), so a POD line of 60 columns with a few
# codes is already over 80 bytes; pod2man cannot rewrap.  The POD
# source itself is held to 76 columns by the build rule (POD_WIDTH in
# Makefile.am), which is what that message is about.
#
# Environment (from TESTS_ENVIRONMENT): MANDOC, MAN_PAGES.

: "${MAN_PAGES:=vmferry.1 vmferryd.8 vmferry-api.7}"
long_line='STYLE: input text line longer than 80 bytes: '

if [ -z "${MANDOC:-}" ]; then
  MANDOC=$(command -v mandoc) || MANDOC=
fi
if [ -z "$MANDOC" ]; then
  echo "$0: SKIP: mandoc is not installed"
  exit 77
fi

status=0
for page in $MAN_PAGES; do
  if [ ! -f "$page" ]; then
    # The pages are built only when configure found pod2man.
    echo "$0: SKIP: $page was not built (no pod2man?)"
    exit 77
  fi
  # -W all: style messages too.
  out=$("$MANDOC" -Tlint -W all "$page" 2>&1)
  rc=$?
  rest=$(printf '%s\n' "$out" |
         grep -v "^mandoc: $page:[0-9]*:[0-9]*: $long_line")
  # Only the filtered STYLE message may explain a non-zero status, and
  # it is the lowest level (mandoc exits 1 for style messages).
  if [ -n "$rest" ] || [ $rc -gt 1 ] ||
     { [ $rc -ne 0 ] && [ -z "$out" ]; }; then
    echo "$0: FAIL: mandoc -Tlint -W all $page (exit $rc):"
    printf '%s\n' "${rest:-$out}"
    status=1
  else
    echo "$0: ok: $page"
  fi
done
exit $status
