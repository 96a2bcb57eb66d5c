#!/bin/sh
# The OpenAPI document through a real validator: Redocly CLI's lint with
# tests/openapi/redocly.yaml (its recommended rules, warnings as errors).
#
#   check_openapi.sh DOCUMENT WORKDIR
#
# Redocly CLI comes from the npm registry at the version pinned by
# package-lock.json, installed with `npm ci` into WORKDIR (the build tree)
# the first time and again whenever the lock file changes. Needs node and
# npm (the machine's Node.js 20.19 or later).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
doc=$1
work=$2

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "check_openapi: node and npm are needed (scripts/install-deps.sh)" >&2
    exit 1
fi

mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/installed-lock.json" ||
    [ ! -f "$work/node_modules/@redocly/cli/bin/cli.js" ]; then
    rm -f "$work/installed-lock.json"
    cp "$here/package.json" "$here/package-lock.json" "$work/"
    npm ci --prefix "$work" --no-audit --no-fund --ignore-scripts --loglevel=error
    cp "$here/package-lock.json" "$work/installed-lock.json"
fi

# No usage report and no update check: the tests talk to no one.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    node "$work/node_modules/@redocly/cli/bin/cli.js" lint \
    --config "$here/redocly.yaml" --format stylish "$doc"
