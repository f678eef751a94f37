#!/usr/bin/env bash
# The library on the newest stacks, as a user installs it: packs it (`npm pack`,
# which builds it with the main stack), installs Node 22 from the npm package
# `node@22`, then for each stack of compat/next/stacks.json a scratch consumer
# (compat/next) with that stack and the tarball; builds its app as an ES-module
# and as a CommonJS project, and runs its end-to-end suite (Jest, on the stack's
# Node) against each, on a real PostgreSQL. A stack that the README's Install
# section gives a line for must install exactly that line's packages, in its
# ranges (test/support/readme.js check-stack), and builds and runs the README's
# Quick start (test/support/readme.js quickstart).
#
# Usage: .ci/stack-next.sh DATABASE_URL RESULTS_DIR [STACK...]
#   DATABASE_URL  a database the suites may fill (they re-create tables `sessions` and `api_keys`)
#   RESULTS_DIR   where STACK-esm.json and STACK-cjs.json (jest --json) go
#   STACK         names from compat/next/stacks.json; default: all of them
#                 (orm6: the main stack, on the system's Node 20; next: Node 22, NestJS 12,
#                 MikroORM 7; nest11: Node 22, NestJS 11, MikroORM 7)
# Env: STACK_NEXT_NODE (default 22.23.3), STACK_NEXT_KEEP=1 keeps the scratch folder.
# Exit status: 0 only when every run passed.
set -uo pipefail
db_url=${1:?usage: stack-next.sh DATABASE_URL RESULTS_DIR [STACK...]}
results=${2:?usage: stack-next.sh DATABASE_URL RESULTS_DIR [STACK...]}
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$results" && results=$(cd "$results" && pwd)
node_version=${STACK_NEXT_NODE:-22.23.3}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/stack-next.XXXXXX")
started=$SECONDS

step() { printf '\n=== stack-next: %s (%ss)\n' "$*" "$((SECONDS - started))"; }
die() {
  echo "stack-next: $*" >&2
  echo "stack-next: scratch folder kept at $scratch" >&2
  exit 1
}
npm_quiet() { npm "$@" --no-audit --no-fund --loglevel=error; }

if [ $# -gt 0 ]; then stacks=("$@"); else
  mapfile -t stacks < <(node -p 'Object.keys(require(process.argv[1])).join("\n")' "$repo/compat/next/stacks.json")
fi
for stack in "${stacks[@]}"; do rm -f "$results/$stack-esm.json" "$results/$stack-cjs.json"; done

step "pack the library"
cd "$repo" || die "no repository at $repo"
[ -x node_modules/.bin/tsc ] || npm_quiet ci || die "npm ci failed"
npm pack --pack-destination "$scratch" >"$scratch/pack.log" 2>&1 || { cat "$scratch/pack.log"; die "npm pack failed"; }
tarball=$(ls "$scratch"/nestjs-ecto-sessions-*.tgz 2>/dev/null | head -1)
[ -n "$tarball" ] || die "npm pack made no tarball"
echo "tarball: $(basename "$tarball")"

step "Node $node_version from the npm package node@$node_version"
mkdir -p "$scratch/node" && cd "$scratch/node" || die "no scratch folder"
printf '{ "name": "node-runtime", "private": true, "allowScripts": { "node": true } }\n' >package.json
npm_quiet install "node@$node_version" || die "npm install node@$node_version failed"
system_path=$PATH
node22_path="$scratch/node/node_modules/.bin:$PATH"
[ "$(PATH=$node22_path node -v)" = "v$node_version" ] ||
  die "node -v gives $(PATH=$node22_path node -v), not v$node_version (did npm skip node's install script?)"
echo "node $(PATH=$node22_path node -v); the system's: $(node -v)"

status=0
for stack in "${stacks[@]}"; do
  consumer="$scratch/consumer-$stack"
  node_of_stack=$(node -p 'require(process.argv[1])[process.argv[2]]?.node ?? ""' "$repo/compat/next/stacks.json" "$stack")
  # "system": the Node CI runs the main suite on; otherwise the Node 22 installed above.
  if [ "$node_of_stack" = system ]; then export PATH=$system_path; else export PATH=$node22_path; fi
  step "$stack: install the stack and the tarball (node $(node -v))"
  cp -r "$repo/compat/next" "$consumer" && cd "$consumer" || die "cannot copy compat/next"
  node -e '
    const fs = require("fs");
    const stack = require("./stacks.json")[process.argv[1]];
    if (!stack) { console.error(`unknown stack "${process.argv[1]}"`); process.exit(1); }
    const manifest = require("./package.json");
    Object.assign(manifest.dependencies, stack.overrides);
    fs.writeFileSync("package.json", JSON.stringify(manifest, null, 2) + "\n");
    console.log(stack.title);
  ' "$stack" || die "cannot lay out stack $stack"
  npm_quiet install || die "$stack: installing the stack failed"
  npm_quiet install "$tarball" || die "$stack: installing the tarball failed"
  npm ls --all >npm-ls.log 2>&1 || { grep -E 'invalid|missing|ERR' npm-ls.log; die "$stack: npm ls finds the tree broken (peer ranges?)"; }
  npm ls nestjs-ecto-sessions @nestjs/core @mikro-orm/core @mikro-orm/nestjs express fastify 2>/dev/null | sed 1d
  # The README's install line for this stack (if it has one) names exactly what was installed here.
  node "$repo/test/support/readme.js" check-stack "$stack" "$consumer" ||
    die "$stack: the README's install line and this stack's packages disagree (README.md, compat/next)"

  step "$stack: build the app as an ES module and as CommonJS"
  for kind in esm cjs; do
    rm -rf "app/$kind/src" "app/$kind/out" && cp -r app/src "app/$kind/src" || die "cannot lay out app/$kind"
    # Both builds at once; then the library's own declarations must type-check against
    # this stack with skipLibCheck off (other packages' declarations are not ours to judge).
    (cd "app/$kind" && ../../node_modules/.bin/tsc -p . >../../build-$kind.log 2>&1 &&
      { ../../node_modules/.bin/tsc -p . --noEmit --skipLibCheck false >../../libcheck-$kind.log 2>&1; true; }) &
    eval "build_$kind=$!"
  done
  for kind in esm cjs; do
    pid_var="build_$kind"
    wait "${!pid_var}" || { cat "build-$kind.log"; die "$stack: the $kind app does not compile against the installed library"; }
    if grep -q 'node_modules/nestjs-ecto-sessions/' "libcheck-$kind.log"; then
      grep -A3 'node_modules/nestjs-ecto-sessions/' "libcheck-$kind.log"
      die "$stack: the library's type declarations do not type-check in the $kind app"
    fi
  done

  for kind in esm cjs; do
    step "$stack: end-to-end suite, $kind app"
    STACK=$stack CONSUMER=$kind DATABASE_URL="$db_url" REPO_DIR="$repo" node node_modules/jest/bin/jest.js --ci \
      --json --outputFile="$results/$stack-$kind.json" || status=1
  done

  step "$stack: the README's Quick start, as written for this stack, built and driven over HTTP"
  node "$repo/test/support/readme.js" quickstart "$stack" "$consumer" "$db_url" || status=1
done

step "done: $([ $status = 0 ] && echo passed || echo failed)"
if [ $status = 0 ] && [ "${STACK_NEXT_KEEP:-}" != 1 ]; then rm -rf "$scratch"; else echo "scratch folder: $scratch"; fi
exit $status
