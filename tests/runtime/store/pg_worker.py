"""One OS process working on a shared PostgreSQL escrow store (driven by test_store_pg_concurrency).

    python pg_worker.py SPEC.json

SPEC: {"mode": "approve" | "execute" | "claim", "root", "dsc", "url", "agent", "ids": [...],
       "ready": path, "go": path, "out": path}. The worker opens the escrow (or, for "claim", the
store alone), writes `ready`, waits for `go` to exist so that both workers start together, does its
work on every id in order and writes what happened to `out` as JSON.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the harness


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    from datastation.runtime.config import config_from_dict

    config = config_from_dict({"store": {"url": spec["url"]}}, spec["root"])
    outcomes: list = []
    if spec["mode"] == "claim":
        from datastation.runtime.store import open_store

        store = open_store(config)
        act = lambda cid: store.swap_contract_status(cid, "approved", "running")  # noqa: E731
        close = store.close
    else:
        from harness import World
        from datastation.runtime.escrow import EscrowRefusal

        world = World(Path(spec["root"]), Path(spec["dsc"]), config)
        close = world.close

        def act(cid):
            try:
                if spec["mode"] == "approve":
                    return world.approve(cid, spec["agent"]).status
                return world.execute(cid, spec["agent"]).status
            except EscrowRefusal as exc:
                return f"refused:{exc.code}"
    Path(spec["ready"]).write_text("ready")
    deadline = time.monotonic() + 60
    while not Path(spec["go"]).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.005)
    for cid in spec["ids"]:
        outcomes.append(act(cid))
    close()
    Path(spec["out"]).write_text(json.dumps(outcomes))


if __name__ == "__main__":
    main(sys.argv[1])
