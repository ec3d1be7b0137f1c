# syntax=docker/dockerfile:1
# One image for every role: `api`, `worker` or `serve` (the default) as the command.

# ---- build: compile TypeScript and keep only the production dependencies
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source where no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime
FROM node:24-bookworm-slim
# tini reaps what yt-dlp leaves behind (ffmpeg runs as its grandchild) and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg python3 python3-venv ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

# Debian's yt-dlp lags behind the sites it extracts; a current one comes from PyPI, in a venv of its
# own. `[default]` brings its optional extras (e.g. the scripts for YouTube's JavaScript challenges).
ARG YTDLP_REQUIREMENT="yt-dlp[default]"
RUN python3 -m venv /opt/yt-dlp \
 && /opt/yt-dlp/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/yt-dlp/bin/pip install --no-cache-dir "${YTDLP_REQUIREMENT}" \
 && /opt/yt-dlp/bin/yt-dlp --version

WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
RUN mkdir -p /data/downloads /data/db && chown -R node:node /data

# ultra-dl probes yt-dlp at start-up and, when it supports `--js-runtimes`, passes
# `--js-runtimes node`: yt-dlp then solves YouTube's challenges with this image's Node (on PATH).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKER_PORT=8001 \
    DOWNLOAD_DIR=/data/downloads \
    DATA_DIR=/data/db \
    YTDLP_PATH=/opt/yt-dlp/bin/yt-dlp \
    FFMPEG_PATH=/usr/bin/ffmpeg

USER node
EXPOSE 8000 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/deploy/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/src/main.js"]
CMD ["serve"]
