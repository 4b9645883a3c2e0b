# herald's container image.
#
# Base: node:24-bookworm-slim, Node 24 (the active LTS) on Debian 12 (slim).
#  - SQLite driver: better-sqlite3 13 on Node >= 22 (src/store/driver.ts), a Node-API addon whose npm
#    package ships prebuilt binaries: nothing is compiled here, so the build stage needs no python3,
#    make or g++. better-sqlite3 12 is only for Node 20 (where 13 segfaults); on Node >= 24.19 it can
#    abort the process when the GC finalizes a statement, so the image does not ship it at all.
#  - glibc: bookworm is the same Debian as CI and the test machine, so what is tested is what runs.
#    better-sqlite3 13 has musl binaries too, but alpine would save only ~40 MB of the base.
#  - size: the runtime stage holds Node, the production node_modules (better-sqlite3 13 cut to this
#    platform's binary) and dist/; see README ("Run with Docker") for the figures.
#
# Build:  docker build -t herald .
# Run:    see docker-compose.yml and README ("Run with Docker").

# ---- build: compile TypeScript, then keep only what the runtime needs ------------------------------
FROM node:24-bookworm-slim AS build

WORKDIR /app

# Dependencies first, so this layer is reused while only the sources change. --ignore-scripts: the
# prepare script (tsc) needs the sources, which are not here yet, and better-sqlite3 12's install
# script would compile it for nothing (Node 20 only; removed below).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
# After the build, only what the runtime loads:
#  - production dependencies, without better-sqlite3 12 (and the prebuild-install tree it pulls in),
#    and without zod, yaml, js-yaml and commander, which scripts/build.mjs bundles into dist/bundle;
#  - better-sqlite3 13 without its C sources, SQLite amalgamation, node-addon-api headers and the
#    other platforms' binaries;
#  - of dist/, the bundle bin/herald runs and the dashboard's files (ui/); no source maps.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm uninstall better-sqlite3 zod yaml js-yaml commander --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && platform=$(node -p 'process.platform + "-" + process.arch') \
 && test -f "node_modules/better-sqlite3-13/prebuilds/$platform.node" \
 && find node_modules/better-sqlite3-13/prebuilds -type f ! -name "$platform.node" -delete \
 && rm -rf node_modules/better-sqlite3-13/deps node_modules/better-sqlite3-13/src node_modules/node-addon-api \
 && find dist -mindepth 1 -maxdepth 1 ! -name bundle ! -name ui -exec rm -rf {} + \
 && find dist -name '*.map' -delete \
 && node -e "const D = require('better-sqlite3-13'); new D(':memory:').exec('select 1')"

# ---- runtime: Node, production dependencies, the compiled code ----------------------------------
FROM node:24-bookworm-slim

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Watches container images in registries and tells people when they change" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"

ENV NODE_ENV=production \
    HERALD_CONFIG=/etc/herald/herald.yml \
    HERALD_DB_PATH=/data/herald.db

WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
COPY bin ./bin
COPY migrations ./migrations
# A default config that watches nothing yet and serves HTTP on :8080 (for the HEALTHCHECK). Mount
# your own over it, or add images through the environment: HERALD_IMAGES_0_NAME=nginx:1.27.
COPY config/herald.container.yml /etc/herald/herald.yml

# `herald` on the PATH for `docker exec <container> herald events`; /data owned by the node user
# (uid 1000), so a new named volume starts out writable for it.
RUN ln -s /app/bin/herald /usr/local/bin/herald \
 && mkdir -p /data \
 && chown node:node /data

USER node
VOLUME /data
EXPOSE 8080

# node is PID 1 (exec form, no shell): herald handles SIGTERM and SIGINT itself (stop scheduling,
# flush deliveries for up to 9 s, exit 0), so no init process is needed. Give `docker stop` more than
# that: `--stop-timeout 15` / compose `stop_grace_period: 15s`.
STOPSIGNAL SIGTERM

# /healthz through node itself (no curl in slim). The address comes from server.listen (env
# overrides included); 200 ("ok", or "starting" before the first run) is healthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["node", "/app/bin/herald", "health"]

ENTRYPOINT ["node", "/app/bin/herald"]
CMD ["serve"]
