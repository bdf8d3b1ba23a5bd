#!/bin/sh
# syntax-check.sh: house rules a machine can check (STYLE.md), run by
# make check: no banned C functions (strcpy, strcat, sprintf, vsprintf,
# atoi, atol, gets, strtok) in any tracked C file, comments aside; no
# exit() or abort() outside cmd/ and test code; no generated file
# tracked in git (man pages, Makefile.in, configure, config.h).  Needs
# the git checkout: SKIP in a tarball.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"

cd "$abs_top_srcdir" || fail "cd $abs_top_srcdir"
requires git rev-parse --git-dir

# C code without comments, as FILE:LINE:TEXT (a crude strip: enough for
# the house style, where comments are /* */ blocks and no string holds
# a comment opener).
code ()
{
  git ls-files "$@" | while read -r f; do
    awk -v f="$f" '
      { line = $0; out = ""
        while (line != "") {
          if (incomment) {
            i = index (line, "*/"); if (i == 0) { line = ""; break }
            line = substr (line, i + 2); incomment = 0
          } else {
            i = index (line, "/*"); if (i == 0) { out = out line; line = "" }
            else { out = out substr (line, 1, i - 1); line = substr (line, i + 2); incomment = 1 }
          }
        }
        print f ":" NR ":" out }' "$f"
  done
}

bad=$(code '*.c' '*.h' |
      grep -E '\b(strcpy|strcat|sprintf|vsprintf|atoi|atol|gets|strtok) *\(')
[ -z "$bad" ] || { echo "$bad"; fail "banned functions (use snprintf, strtol with checks, ...)"; }

exits=$(code '*.c' | grep -E '\b(exit|abort) *\(' |
        grep -vE '^(cmd|tests|bench|contrib|fuzz)/|(^|/)test-[^/:]*\.c:|fake-server\.c:')
[ -z "$exits" ] || { echo "$exits"; fail "exit()/abort() outside cmd/: return an error instead"; }

gen=$(git ls-files | grep -E '(^|/)(Makefile\.in|configure|config\.h|aclocal\.m4)$|^man/.*\.[1-8]$')
[ -z "$gen" ] || { echo "$gen"; fail "generated files are tracked in git"; }

# Built programs (test binaries, fuzzers) must never be committed.
elf=$(git ls-files -z | while IFS= read -r -d '' f; do
        [ -f "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] &&
            echo "$f"; done)
[ -z "$elf" ] || { echo "$elf"; fail "compiled programs are tracked in git"; }

echo "syntax-check: $(git ls-files '*.c' '*.h' | wc -l) C files clean"
exit 0
