#!/usr/bin/env bash
# Package the VS Code extension as dist/dsc-VERSION.vsix (or the path given as $1).
# Uses `npx @vscode/vsce package`; when vsce cannot run (offline, no npm) or
# DSC_VSIX_BUILDER=python, the same archive is built by scripts/build_vsix.py.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(python3 -c 'import json; print(json.load(open("package.json"))["version"])')
out=${1:-dist/dsc-$version.vsix}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")"

# package what is committed: a stale JSON grammar is an error, not silently rebuilt
python3 scripts/build_grammar.py --check
if [ ! -d node_modules/vscode-languageclient ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi

builder=${DSC_VSIX_BUILDER:-auto}
if [ "$builder" != python ] && command -v npx >/dev/null 2>&1; then
  if npx --yes @vscode/vsce@3 package --allow-missing-repository --skip-license --out "$out" </dev/null >&2; then
    echo "$out"
    exit 0
  fi
  if [ "$builder" = vsce ]; then exit 1; fi
  echo "package.sh: vsce failed; building the .vsix with scripts/build_vsix.py" >&2
fi
python3 scripts/build_vsix.py --out "$out" >&2
echo "$out"
