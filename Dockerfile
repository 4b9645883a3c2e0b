# herald's container image.
#
# Base: node:22-bookworm-slim, Node 22 LTS on Debian 12 (slim).
#  - Node 22, not 24: better-sqlite3 12 (the newest that still runs on Node 20, which herald supports)
#    aborts the process on Node >= 24.19 when a garbage-collected Statement is finalized outside a
#    JS context ("Assertion failed: (env) != nullptr" in node::RemoveEnvironmentCleanupHook); CI's
#    Node 24 run hit it. better-sqlite3 13 fixes it but needs Node >= 22: once herald drops Node 20,
#    move to better-sqlite3 13 and node:24-bookworm-slim (CI follows this FROM line by itself).
#  - glibc: better-sqlite3 ships prebuilt binaries for glibc, and when none fits (another arch, no
#    network to fetch it) it compiles against glibc with Debian's gcc. On alpine (musl) there are fewer
#    prebuilt binaries and every build compiles, with musl's slower malloc under SQLite.
#  - size: slim is ~75 MB of Debian plus Node, alpine saves only ~40 MB of that, and the runtime stage
#    holds nothing but Node, production node_modules and dist/.
#  - the same Debian as CI and the test machine, so what is tested is what runs.
#
# Build:  docker build -t herald .
# Run:    see docker-compose.yml and README ("Run with Docker").

# ---- build: compile TypeScript and better-sqlite3, then drop the dev dependencies --------------
FROM node:22-bookworm-slim AS build

# Toolchain for better-sqlite3's fallback compile (node-gyp); only in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# node-gyp compiles against the headers this Node ships in /usr/local/include/node, instead of
# downloading them from nodejs.org: the build works offline and matches the Node it runs on.
# JOBS=max: compile SQLite and the binding in parallel.
ENV npm_config_nodedir=/usr/local \
    JOBS=max

WORKDIR /app

# Dependencies first, so this layer is reused while only the sources change. --ignore-scripts: the
# prepare script (tsc) needs the sources, which are not here yet; better-sqlite3 is built right after.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
           node_modules/better-sqlite3/build/Release/obj* node_modules/better-sqlite3/build/Release/.deps \
           node_modules/better-sqlite3/build/deps

# ---- runtime: Node, production dependencies, the compiled code ----------------------------------
FROM node:22-bookworm-slim

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Watches container images in registries and tells people when they change" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:22-bookworm-slim"

ENV NODE_ENV=production \
    HERALD_CONFIG=/etc/herald/herald.yml \
    HERALD_DB_PATH=/data/herald.db

WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
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
