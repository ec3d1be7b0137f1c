#!/usr/bin/env bash
# Runs the whole suite. Tests need a Redis: the one on 127.0.0.1:6379 when it answers, otherwise
# one started here on a free port and stopped afterwards. Each run isolates itself by key prefix.
set -euo pipefail
cd "$(dirname "$0")/.."

own_redis_pid=
cleanup() { [[ -n $own_redis_pid ]] && kill "$own_redis_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ -z ${TEST_REDIS_URL:-} ]]; then
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    export TEST_REDIS_URL=redis://127.0.0.1:6379/0
  else
    port=$((20000 + RANDOM % 20000))
    dir=$(mktemp -d)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
      --logfile "$dir/redis.log" &
    own_redis_pid=$!
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export TEST_REDIS_URL=redis://127.0.0.1:$port/0
    echo "test: started redis-server on port $port"
  fi
fi

echo "test: type-checking the tests"
npx tsc -p tsconfig.json
npx vitest run "$@"
