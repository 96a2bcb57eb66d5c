#!/bin/sh
# The exposition of a populated fv_metrics must parse and pass promtool's
# lint: `promtool check metrics` (Debian's prometheus package, installed by
# scripts/install-deps.sh) prints nothing and exits 0 for a clean one.
#
#   check_promtool.sh PATH/TO/metrics_dump
set -u

dump=$1
if ! command -v promtool >/dev/null 2>&1; then
    echo "check_promtool: promtool not found: install Debian's prometheus package" \
        "(scripts/install-deps.sh)" >&2
    exit 1
fi

tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT

if ! "$dump" >"$tmp"; then
    echo "check_promtool: $dump failed" >&2
    exit 1
fi
lines=$(wc -l <"$tmp")
if [ "$lines" -lt 50 ]; then
    echo "check_promtool: only $lines lines of exposition: not populated" >&2
    cat "$tmp" >&2
    exit 1
fi

out=$(promtool check metrics <"$tmp" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "check_promtool: promtool check metrics (exit $rc) on $lines lines:" >&2
    echo "$out" >&2
    exit 1
fi
echo "ok: promtool check metrics accepts $lines lines of exposition, lint included"
exit 0
