#!/usr/bin/env bash
# All set-up for `make run` and `make test`: Debian packages when missing, npm dependencies
# (dev ones too, whatever NODE_ENV says: the build needs them), and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v yt-dlp >/dev/null || need+=(yt-dlp)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v redis-server >/dev/null || need+=(redis-server)
command -v make >/dev/null && command -v g++ >/dev/null || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v docker-compose >/dev/null || need+=(docker-compose)
if ((${#need[@]})); then
  echo "setup: installing Debian packages: ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

stamp=node_modules/.ultra-dl-stamp
if [[ ! -f $stamp || package-lock.json -nt $stamp || package.json -nt $stamp ]]; then
  echo "setup: installing npm dependencies"
  npm ci --include=dev --no-audit --no-fund --engine-strict=false
  touch "$stamp"
fi

echo "setup: building"
npx tsc -p tsconfig.build.json
# The `ultra-dl` bin (`npx ultra-dl …`) must be executable.
chmod +x dist/src/main.js
