#!/usr/bin/env bash
# Install what building, running and testing MindQuiz needs on Debian 12.
# Idempotent: does nothing when every package is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config binutils curl ca-certificates python3
      libevent-dev libjson-c-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
      wrk prometheus strace
      nginx openssl systemd jq     # ops: nginx -t + e2e, certs, systemd-analyze, runbook
      chromium)                    # e2e: the browser test (node + npm come with the image)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# The tests run their own Prometheus and nginx on loopback: keep the
# packages' services from starting (policy-rc.d 101 = "do not start"),
# unless a policy exists.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  made_policy=1
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
