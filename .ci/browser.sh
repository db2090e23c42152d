#!/usr/bin/env bash
# Browser tests of the kiosk pages in a real browser: Debian's chromium driven by playwright-core
# (which never downloads a browser of its own). Installs both if missing, starts `palmline serve`
# on a fresh data directory and synthetic palms, and runs kiosk/tests/browser.mjs.
#   .ci/browser.sh                      the tests (failure screenshots in target/browser-screenshots)
#   .ci/browser.sh --walkthrough DIR    also a screenshot per step of the first payment (docs/)
set -euo pipefail
cd "$(dirname "$0")/.."
walkthrough=""
if [ "${1:-}" = "--walkthrough" ]; then walkthrough="$(realpath -m "$2")"; fi

if ! command -v chromium >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
if ! command -v node >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
(cd kiosk/tests && npm install --no-audit --no-fund --silent)
cargo build --release --bin palmline
palmline="${CARGO_TARGET_DIR:-target}/release/palmline"

work="$(mktemp -d)"
"$palmline" synth --out "$work/palms" --palms 8 --captures 5 --seed 600 >/dev/null
# The dashboard's accuracy report: the real development sets when ../shared is here.
sets=("$work/palms")
if [ -d ../shared/datasets/tongji-roi ]; then sets=(../shared/datasets/tongji-roi ../shared/datasets/coep-hands); fi
"$palmline" eval "${sets[@]}" --report "$work/data/accuracy" >/dev/null 2>&1
port=18080
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
"$palmline" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
  sleep 0.2
done
PALMLINE_URL="http://127.0.0.1:$port" PALMLINE_DATA="$work/data" PALMLINE_PALMS="$work/palms" \
  PALMLINE_WALKTHROUGH="$walkthrough" node kiosk/tests/browser.mjs
