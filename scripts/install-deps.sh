#!/usr/bin/env bash
# Install the Debian (bookworm) packages the whole project needs.
#
# Quick no-op when everything is present: one dpkg-query for all packages,
# and apt runs only when something is missing (one `apt-get update`, one
# install). Never add libcurl4-openssl-dev: it conflicts with libulfius-dev,
# which pulls libcurl4-gnutls-dev (see TOOLCHAIN.md §3.1).
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake pkg-config
    # libraries
    libcunit1-dev libjansson-dev libpq-dev
    libulfius-dev libmicrohttpd-dev liborcania-dev
    libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev protobuf-compiler
    libcurl4-gnutls-dev nettle-dev
    # codegen and test clients (run with /usr/bin/python3)
    python3-jinja2 python3-grpcio python3-grpc-tools
    # tests, tools
    postgresql curl clang-format cppcheck valgrind nghttp2-client wrk
    nodejs # tests/openapi (npm comes with this machine's nodejs, which conflicts with Debian's npm)
    # promtool, which checks the /_/metrics exposition (tests/metrics)
    prometheus
)

# One dpkg-query for the whole list. Unknown packages print nothing on stdout
# (an error on stderr), so they count as missing.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! grep -qx "$p install ok installed" <<<"$installed"; then
        missing+=("$p")
    fi
done

# npm runs the OpenAPI validator of the tests. Some machines ship Node.js with
# its own npm, which conflicts with Debian's npm package: install Debian's
# only where no npm is on PATH.
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: missing: ${missing[*]}" >&2

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: not root and no sudo; please install as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
