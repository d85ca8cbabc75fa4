#!/usr/bin/env bash
# Grammar and extension tests: generated JSON up to date, scope assertions
# (tests/unit/*.test.dsc, tests/markdown/*.test.md for fenced ```dsc blocks), snapshots of tests/snap/*.dsc and of every example
# (examples/*/*.dsc, snapshots kept in tests/snap/examples/), and the client stub test.
# Installs the npm dev dependencies first if they are missing.
#   bash editors/vscode/scripts/test.sh            # run
#   bash editors/vscode/scripts/test.sh --update   # accept grammar changes: rewrite the snapshots
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
repo=$(cd ../.. && pwd)
update=0
[ "${1:-}" = "--update" ] && update=1

if ! python3 -c 'import yaml' 2>/dev/null; then  # build_grammar.py reads the YAML source
  echo "test.sh: installing pyyaml (a dependency of datastation) for $(command -v python3)" >&2
  python3 -m pip install -q 'pyyaml>=6.0' >&2
fi
if [ ! -x node_modules/.bin/vscode-tmgrammar-test ] || [ ! -x node_modules/.bin/vscode-tmgrammar-snap ]; then
  echo "test.sh: installing npm dev dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

passed=0
failed=0
step() {  # step NAME COMMAND...
  if "${@:2}"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

if [ $update = 1 ]; then python3 scripts/build_grammar.py >/dev/null; fi
step "generated grammar JSON matches its YAML source" python3 scripts/build_grammar.py --check
step "scope assertions (tests/unit)" node_modules/.bin/vscode-tmgrammar-test --compact 'tests/unit/**/*.test.dsc'
# The Markdown injection, over a stand-in for VS Code's Markdown grammar (only its scope matters).
step "Markdown code blocks (tests/markdown)" node_modules/.bin/vscode-tmgrammar-test --compact \
  -g tests/markdown/markdown-stub.tmLanguage.json 'tests/markdown/*.test.md'

snap_flags=()
[ $update = 1 ] && snap_flags=(--updateSnapshot)

# Every construct: inputs and snapshots both live in tests/snap.
missing=0
for f in tests/snap/*.dsc; do
  [ -f "$f.snap" ] || { [ $update = 1 ] || { echo "missing snapshot $f.snap" >&2; missing=1; }; }
done
step "snapshots present for tests/snap" test $missing = 0
step "snapshots of tests/snap" node_modules/.bin/vscode-tmgrammar-snap "${snap_flags[@]}" 'tests/snap/*.dsc'

# Examples: copied next to their committed snapshots in a scratch folder, so examples/ stays untouched.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
examples=("$repo"/examples/*/*.dsc)
if [ ${#examples[@]} -gt 0 ]; then
  missing=0
  for src in "${examples[@]}"; do
    rel=${src#"$repo"/examples/}
    mkdir -p "$work/$(dirname "$rel")"
    cp "$src" "$work/$rel"
    if [ -f "tests/snap/examples/$rel.snap" ]; then
      cp "tests/snap/examples/$rel.snap" "$work/$rel.snap"
    elif [ $update = 0 ]; then
      echo "missing snapshot tests/snap/examples/$rel.snap (run scripts/test.sh --update)" >&2
      missing=1
    fi
  done
  for snap in tests/snap/examples/*/*.dsc.snap; do
    rel=${snap#tests/snap/examples/}
    if [ ! -f "$repo/examples/${rel%.snap}" ]; then
      if [ $update = 1 ]; then rm "$snap"; else echo "stale snapshot $snap: its example is gone" >&2; missing=1; fi
    fi
  done
  step "snapshots present for examples" test $missing = 0
  step "snapshots of examples (${#examples[@]} files)" node_modules/.bin/vscode-tmgrammar-snap "${snap_flags[@]}" "$work/*/*.dsc"
  if [ $update = 1 ]; then
    for snap in "$work"/*/*.dsc.snap; do
      rel=${snap#"$work"/}
      mkdir -p "tests/snap/examples/$(dirname "$rel")"
      cp "$snap" "tests/snap/examples/$rel"
    done
  fi
fi

step "extension client (node --test)" node --test --test-reporter=dot tests/extension.test.js

echo "grammar: $passed passed, $failed failed"
[ $failed = 0 ]
