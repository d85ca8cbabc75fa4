"""A real `dsc serve` for tests: a subprocess on 127.0.0.1 at a free port, its own escrow
directory, and agents that talk to it through `datastation.client`, each with its own home
directory and keyring (`Served.agent`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from datastation.client import Client
from datastation.runtime.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`dsc serve` on a fresh escrow in `root`; `extra_config` is YAML added to its `server:`
    section, `extra_top` to the top level of its config."""

    def __init__(self, root: Path, extra_config: str = "", tls: tuple[Path, Path] | None = None,
                 extra_top: str = ""):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.verify = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        if tls:
            extra_config += f"  tls_cert: {tls[0]}\n  tls_key: {tls[1]}\n"
        self.config = self.root / "escrow.yaml"
        self.config.write_text(f"escrow_dir: {self.root / 'escrow'}\n{extra_top}server:\n  port: {self.port}\n"
                               f"{extra_config}")
        with contextlib.redirect_stdout(io.StringIO()):  # `dsc serve` serves an escrow made by `dsc init`
            code = main(["init", "--config", str(self.config)])
        if code != 0:
            raise RuntimeError(f"dsc init --config {self.config} exited {code}")
        self.start()
        self.clients: list[Client] = []

    def start(self) -> None:
        """Start (or start again, on the same escrow and port) the `dsc serve` process; wait until it answers."""
        self.log = open(self.root / "server.log", "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DSC_PASSPHRASE")}
        env["DSC_KEYRING"] = str(self.root / "operator-keys")  # the server never reads a keyring
        self.proc = subprocess.Popen([sys.executable, "-m", "datastation.runtime.cli", "serve", "--config",
                                      str(self.config), "--log-level", "warning"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        self._wait()

    def kill(self) -> None:
        """SIGKILL the server process (no shutdown of any kind) and reap it."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def _wait(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dsc serve exited {self.proc.returncode}: {self.log_text()}")
            try:
                if httpx.get(self.url + "/v1/escrow", timeout=1, verify=self.verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dsc serve did not answer within {timeout} s: {self.log_text()}")

    def log_text(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-3000:]

    def dsc(self, *args) -> tuple[int, str]:
        """`dsc ARGS --config <this escrow's config>` on the escrow's machine (in-process): (exit, stdout)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*map(str, args), "--config", str(self.config)])
        return code, out.getvalue()

    def invite(self, agent: str, ttl: float | None = None) -> str:
        code, out = self.dsc("invite", agent, "--format", "json", *(["--ttl", ttl] if ttl else []))
        assert code == 0, out
        return json.loads(out)["token"]

    def agent(self, name: str, register: bool = True) -> Client:
        """A client of `name` with a home and keyring of its own (its key made on registering)."""
        home = self.root / "homes" / name
        home.mkdir(parents=True, exist_ok=True)
        client = Client(self.url, name, keyring=home / ".config" / "datastation" / "keys", verify=self.verify)
        client.home = home
        self.clients.append(client)
        if register:
            client.register(self.invite(name), no_passphrase=True)
        return client

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
