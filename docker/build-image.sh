#!/usr/bin/env bash
# Build the no-trust runtime image offline (no container registry): a debootstrap'ed Debian
# rootfs with python3 plus this machine's installed pandas/pyarrow/numpy/scikit-learn/duckdb
# wheels, imported with `docker import`. Skipped when an image with the same content tag
# exists. Tags it datastation-runtime:<content hash> and datastation-runtime:latest (the
# config's default `docker.image`; `--tag NAME` adds another name) and prints the content tag.
# Same as `dsc image build`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m datastation.runtime.executors.docker.image "$@"
