#!/usr/bin/env bash
# Source checker (STYLE.md rule 29; after curl's checksrc and banned list).
#
#   scripts/check-source.sh            check every *.c / *.h under the source dirs
#   scripts/check-source.sh FILE...    check only these files (paths from the repo root)
#
# Rules (each failure prints `file:line: reason`, exit status 1):
#   1. banned functions: atoi atol sprintf vsprintf strcpy strcat strtok gets
#   2. raw malloc/calloc/realloc/free/strdup/strndup outside core/util/alloc.c
#      (use fv_malloc, fv_free, fv_strdup, ...; `x->free(` / `x.free(` are
#      struct members, not libc, and are allowed)
#   3. in core/: no third-party header and no adapters/ app/ cli/ include
#   4. clang-format --dry-run --Werror, when clang-format is installed
#   5. cppcheck (warning, portability, performance), when cppcheck is installed
# Rules 1 and 2 look at code only: comments and string literals are ignored.
# Set FV_CHECK_NO_FORMAT=1 or FV_CHECK_NO_CPPCHECK=1 to skip rules 4 or 5.
set -euo pipefail

cd "$(dirname "$0")/.."

SRC_DIRS=(core ports adapters app cli tests bench)

files=()
if [ $# -gt 0 ]; then
    files=("$@")
else
    existing=()
    for d in "${SRC_DIRS[@]}"; do
        [ -d "$d" ] && existing+=("$d")
    done
    if [ ${#existing[@]} -gt 0 ]; then
        # Skip build trees and generated-code dirs wherever they are.
        mapfile -t files < <(find "${existing[@]}" \
            \( -type d \( -name 'build' -o -name 'build-*' -o -name 'gen' -o -name '.*' \) -prune \) \
            -o \( -type f \( -name '*.c' -o -name '*.h' \) -print \) | LC_ALL=C sort)
    fi
fi

if [ ${#files[@]} -eq 0 ]; then
    echo "check-source: no C sources to check"
    exit 0
fi

status=0

# Rules 1-3, in one pass of perl (perl-base is Essential on Debian).
perl -e '
use strict;
use warnings;

my $banned = qr/\b(atoi|atol|sprintf|vsprintf|strcpy|strcat|strtok|gets)\s*\(/;
# Not preceded by an identifier char (fv_malloc), nor by . or -> (a member).
my $rawalloc = qr/(?<![A-Za-z0-9_.>])(malloc|calloc|realloc|free|strdup|strndup)\s*\(/;
my $core_bad_include = qr{
    ^\s*\#\s*include\s*[<"]\s*
    ( (?:.*/)?libpq-fe\.h | (?:.*/)?ulfius\.h | (?:.*/)?jansson\.h | (?:.*/)?microhttpd\.h
    | (?:.*/)?orcania\.h | (?:.*/)?yder\.h
    | uuid\.h | uuid/ | grpc/ | grpcpp/ | protobuf-c/ | curl/ | CUnit/ | google/
    | adapters/ | app/ | cli/ )
}x;

my $bad = 0;
for my $file (@ARGV) {
    open(my $fh, "<", $file) or do { print STDERR "$file: cannot open: $!\n"; $bad = 1; next };
    my $src = do { local $/; <$fh> };
    close $fh;
    my @raw = split /\n/, $src, -1;

    # Blank comments and string/char literals, keeping the line structure.
    (my $code = $src) =~ s{
        /\*.*?\*/ | //[^\n]* | "(?:\\.|[^"\\\n])*" | \x27(?:\\.|[^\x27\\\n])*\x27
    }{ (my $m = $&) =~ s/[^\n]/ /g; $m }gsex;
    my @lines = split /\n/, $code, -1;

    my $in_core = $file =~ m{^(?:\./)?core/};
    my $is_alloc = $file =~ m{^(?:\./)?core/util/alloc\.c$};
    for my $i (0 .. $#lines) {
        my $n = $i + 1;
        my $l = $lines[$i];
        while ($l =~ /$banned/g) {
            print "$file:$n: banned function $1()\n";
            $bad = 1;
        }
        if (!$is_alloc) {
            while ($l =~ /$rawalloc/g) {
                print "$file:$n: raw $1() outside core/util/alloc.c (use fv_$1)\n";
                $bad = 1;
            }
        }
        # Includes are checked on the raw line (the path is a literal), but
        # only where the code view still has the directive (not in a comment).
        if ($in_core && $l =~ /^\s*#\s*include/ && $raw[$i] =~ $core_bad_include) {
            print "$file:$n: core/ includes $1... (third-party or outer layer: broken arrow, DESIGN.md 2)\n";
            $bad = 1;
        }
    }
}
exit $bad;
' "${files[@]}" || status=1

# Rule 4: formatting.
if [ "${FV_CHECK_NO_FORMAT:-0}" != 1 ] && command -v clang-format >/dev/null 2>&1; then
    clang-format --dry-run --Werror "${files[@]}" || status=1
fi

# Rule 5: static analysis (quiet unless it finds something).
if [ "${FV_CHECK_NO_CPPCHECK:-0}" != 1 ] && command -v cppcheck >/dev/null 2>&1; then
    c_files=()
    for f in "${files[@]}"; do
        case "$f" in *.c) c_files+=("$f") ;; esac
    done
    if [ ${#c_files[@]} -gt 0 ]; then
        cppcheck --quiet --std=c11 --language=c -I . --inline-suppr \
            --enable=warning,portability,performance --error-exitcode=1 \
            --template='{file}:{line}: cppcheck {severity} ({id}): {message}' \
            "${c_files[@]}" || status=1
    fi
fi

if [ $status -ne 0 ]; then
    echo "check-source: FAILED" >&2
else
    echo "check-source: ${#files[@]} files OK"
fi
exit $status
