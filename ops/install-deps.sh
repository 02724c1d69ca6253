#!/usr/bin/env bash
# Install what building, running and testing MindQuiz needs on Debian 12.
# Idempotent: does nothing when every package is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config binutils curl ca-certificates python3
      libevent-dev libjson-c-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
      wrk)
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
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
