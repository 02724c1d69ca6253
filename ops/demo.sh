#!/usr/bin/env bash
# Install, build and start MindQuiz on the embedded defaults, then print its
# URL. Everything it makes lives under ./demo/ (data dir, releases, .env):
#   demo/.env            config (0600): fresh secrets, payments pointed at the
#                        local gateway simulator
#   demo/releases/       one release published from this build, `current`
#   demo/data/           NDJSON data, access log, pid file
#   mq-pgsim             the KakaoPay/NaverPay simulator on port+1
# Stop both with: kill "$(cat demo/data/mindquiz.pid)" "$(cat demo/pgsim.pid)"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ops/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

demo="$root/demo"
port="${MQ_DEMO_PORT:-8080}"
mkdir -p "$demo"
chmod 700 "$demo"
sim_port=$((port + 1))
sim="http://127.0.0.1:$sim_port"
if [ -f "$demo/data/mindquiz.pid" ] && kill -0 "$(cat "$demo/data/mindquiz.pid")" 2>/dev/null; then
  echo "stopping the demo already running (pid $(cat "$demo/data/mindquiz.pid"))"
  kill "$(cat "$demo/data/mindquiz.pid")"
  for _ in $(seq 50); do [ -f "$demo/data/mindquiz.pid" ] || break; sleep 0.1; done
fi
if [ -f "$demo/pgsim.pid" ] && kill -0 "$(cat "$demo/pgsim.pid")" 2>/dev/null; then
  kill "$(cat "$demo/pgsim.pid")"
  sleep 0.3
fi
nohup build/mq-pgsim --listen "127.0.0.1:$sim_port" --public-base "$sim" \
  --state-file "$demo/pgsim-state.json" >>"$demo/pgsim.log" 2>&1 &
echo $! > "$demo/pgsim.pid"
if [ ! -f "$demo/.env" ]; then
  umask 077
  cat > "$demo/.env" <<ENV
# MindQuiz demo configuration (paths are relative to this file).
LISTEN=127.0.0.1:$port
PUBLIC_BASE_URL=http://127.0.0.1:$port
APP_ENV=demo
RELEASES_DIR=releases
DATA_DIR=data
METRICS_TOKEN=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
ADMIN_PASS=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
ORDER_SECRET=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')
# Payments go to the local simulator (mq-pgsim) with its demo keys.
PAYMENTS_ENABLED=1
KAKAOPAY_API_BASE=$sim
KAKAOPAY_SECRET_KEY=DEVSIMKAKAOSECRET
KAKAOPAY_CID=TC0ONETIME
NAVERPAY_API_BASE=$sim
NAVERPAY_PARTNER_ID=np_sim
NAVERPAY_CLIENT_ID=SIMNAVERCLIENTID
NAVERPAY_CLIENT_SECRET=SIMNAVERCLIENTSECRET
NAVERPAY_CHAIN_ID=SIMNAVERCHAINID
NAVERPAY_PAYMENT_PAGE_BASE=$sim/payments
ENV
fi
id="demo-$(date +%Y%m%d-%H%M%S)"
build/mindquiz release --env "$demo/.env" --from build --id "$id"
build/mindquiz activate --env "$demo/.env" "$id" >/dev/null
nohup build/mindquiz serve --env "$demo/.env" >>"$demo/mindquiz.log" 2>&1 &
url="http://127.0.0.1:$port"
for _ in $(seq 100); do
  curl -sf "$url/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$url/api/health" >/dev/null || { echo "the server did not start; see $demo/mindquiz.log"; exit 1; }
echo
echo "MindQuiz is running: $url"
echo "  version: $(curl -s "$url/api/version")"
echo "  result:  $url/app/result/demo1   (test payment through the simulator at $sim)"
echo "  admin:   $url/admin/status   (password: ADMIN_PASS in demo/.env)"
echo "  metrics: curl -H \"Authorization: Bearer \$(grep ^METRICS_TOKEN= demo/.env | cut -d= -f2)\" $url/metrics"
echo "  log:     $demo/mindquiz.log    stop: kill \$(cat demo/data/mindquiz.pid) \$(cat demo/pgsim.pid)"
