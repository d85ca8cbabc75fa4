"""An agent's own keyring: where a party keeps its private keys, outside every escrow.

    ring = Keyring(keyring_path())          # $DSC_KEYRING, else ~/.config/datastation/keys
    key = ring.create("bank1", new_passphrase("bank1", None, no_passphrase=False))
    key = ring.load("bank1")                 # asks for the passphrase (env var or terminal)

`<agent>.pem` is the private key (mode 0600, passphrase-protected unless made for development
with no passphrase), `<agent>.pub` its public half, the file an escrow operator registers. The
directory is made with mode 0700 and refused when other users may write to it. The escrow never
reads a keyring: requests and approvals are signed on the client side, with the escrow's id in
them (`check_pinned_escrow` lets a script refuse to sign for any escrow but the one it expects).

Passphrases, without a terminal (scripts, CI): the environment variable named by
`--passphrase-env VAR`, else `DSC_PASSPHRASE_<AGENT>` (agent name upper-cased), else
`DSC_PASSPHRASE`. On a terminal, a prompt. A key made with `--no-passphrase` needs none.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .keyfile import (
    KeysError,
    check_private,
    decrypt_private_key,
    is_encrypted,
    private_pem,
    sweep_temporary_keys,
    write_secret_file,
)
from .keys import check_name, generate_key, normalized_public_pem, public_pem, publish_public_key

KEYRING_ENV = "DSC_KEYRING"
PASSPHRASE_ENV = "DSC_PASSPHRASE"
PIN_ENV = "DSC_ESCROW_ID"


def default_keyring_path() -> Path:
    """`$XDG_CONFIG_HOME/datastation/keys`, or `~/.config/datastation/keys`."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "datastation" / "keys"


def keyring_path(configured: Path | None = None) -> Path:
    """Where this user's keys live: `$DSC_KEYRING`, else `configured` (the config's
    `keyring_path`), else the default of `default_keyring_path`."""
    env = os.environ.get(KEYRING_ENV)
    if env:
        return Path(os.path.expanduser(env)).absolute()
    return Path(configured) if configured is not None else default_keyring_path()


# ------------------------------------------------------------------ passphrases


def _env_passphrase(var: str) -> bytes:
    value = os.environ.get(var)
    if value is None:
        raise KeysError(f"environment variable {var} (the key passphrase) is not set")
    if not value:
        raise KeysError(f"environment variable {var} (the key passphrase) is empty")
    return value.encode()


def _from_environment(agent: str | None) -> bytes | None:
    for var in ([f"{PASSPHRASE_ENV}_{agent.upper()}"] if agent else []) + [PASSPHRASE_ENV]:
        if os.environ.get(var):
            return os.environ[var].encode()
    return None


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def passphrase_for(agent: str, passphrase_env: str | None = None) -> bytes:
    """The passphrase that opens `agent`'s key: --passphrase-env VAR, the environment, or a prompt."""
    if passphrase_env:
        return _env_passphrase(passphrase_env)
    found = _from_environment(agent)
    if found is not None:
        return found
    if _interactive():
        return getpass.getpass(f"passphrase of {agent}'s key: ").encode()
    raise KeysError(f"the private key of {agent} is protected by a passphrase: set {PASSPHRASE_ENV} (or "
                    f"{PASSPHRASE_ENV}_{agent.upper()}), or pass --passphrase-env VAR")


def new_passphrase(agent: str, passphrase_env: str | None, *, no_passphrase: bool) -> bytes | None:
    """The passphrase to protect a new key of `agent` with (None: a development key, unprotected).

    Keys are protected by default: the passphrase comes from --passphrase-env VAR, the
    environment, or a prompt (asked twice); with none of them, the user must say --no-passphrase.
    """
    if no_passphrase:
        if passphrase_env:
            raise KeysError("--no-passphrase and --passphrase-env contradict each other")
        return None
    if passphrase_env:
        return _env_passphrase(passphrase_env)
    found = _from_environment(agent)
    if found is not None:
        return found
    if _interactive():
        first = getpass.getpass(f"passphrase for {agent}'s new key: ")
        if not first:
            raise KeysError("an empty passphrase protects nothing: type one, or pass --no-passphrase")
        if getpass.getpass("again: ") != first:
            raise KeysError("the two passphrases differ: nothing was made")
        return first.encode()
    raise KeysError(f"a new private key is protected by a passphrase and there is no terminal to ask for it: set "
                    f"{PASSPHRASE_ENV} (or pass --passphrase-env VAR) in scripts and CI, or pass --no-passphrase "
                    f"for a throwaway development key")


def check_pinned_escrow(escrow_id: str) -> None:
    """Refuse to sign for an escrow other than the one `$DSC_ESCROW_ID` pins (when set)."""
    pinned = os.environ.get(PIN_ENV)
    if pinned and pinned != escrow_id:
        raise KeysError(f"this escrow is {escrow_id}, but {PIN_ENV} pins {pinned}: nothing was signed "
                        f"(check which escrow you are talking to, or unset {PIN_ENV})")


# ------------------------------------------------------------------ the keyring


class Keyring:
    """A directory of one user's agent keys (`<agent>.pem`, `<agent>.pub`)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Keyring({str(self.path)!r})"

    def path_of(self, agent: str) -> Path:
        return self.path / f"{check_name(agent)}.pem"

    def public_path_of(self, agent: str) -> Path:
        return self.path / f"{check_name(agent)}.pub"

    def has(self, agent: str) -> bool:
        return self.path_of(agent).exists()

    def _checked_dir(self, create: bool) -> None:
        if create:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise KeysError(f"the keyring {self.path} may be written by other users (mode "
                            f"{stat.S_IMODE(st.st_mode):04o}): run chmod 700 {self.path}")
        if create:
            sweep_temporary_keys(self.path)

    def create(self, agent: str, passphrase: bytes | None) -> Ed25519PrivateKey:
        """Make `agent`'s key pair: `<agent>.pem` (0600, protected when `passphrase`), `<agent>.pub`."""
        path = self.path_of(agent)
        self._checked_dir(create=True)
        if path.exists():
            raise KeysError(f"{path} already exists: the keyring holds a key of {agent} (never overwritten)")
        key = generate_key()
        write_secret_file(path, private_pem(key, passphrase))
        self._write_public(agent, public_pem(key))
        return key

    def load(self, agent: str, passphrase: bytes | None = None, *, passphrase_env: str | None = None
             ) -> Ed25519PrivateKey:
        """`agent`'s private key (asks for its passphrase only when the key is protected)."""
        path = self.path_of(agent)
        self._checked_dir(create=False)
        if not path.exists():
            raise KeysError(f"no private key for agent {agent!r} in the keyring {self.path} (make one with "
                            f"`dsc agent create {agent}`, or set DSC_KEYRING to the keyring that holds it)")
        check_private(path, f"private key of {agent}")
        data = path.read_bytes()
        if is_encrypted(data) and not passphrase:
            passphrase = passphrase_for(agent, passphrase_env)
        return decrypt_private_key(data, passphrase, what=f"private key of {agent} ({path})")

    def public_pem(self, agent: str) -> str:
        """`agent`'s public key, from `<agent>.pub` (no passphrase needed)."""
        path = self.public_path_of(agent)
        try:
            return normalized_public_pem(path.read_bytes())
        except FileNotFoundError:
            raise KeysError(f"no public key of {agent} in the keyring {self.path} (make the key pair with "
                            f"`dsc agent keygen {agent}`)") from None

    def _write_public(self, agent: str, pem: str) -> None:
        publish_public_key(self.public_path_of(agent), pem)

    def ensure_public(self, agent: str, key: Ed25519PrivateKey) -> str:
        """The public PEM of `key`, written to `<agent>.pub` if missing or different."""
        pem = public_pem(key)
        self._write_public(agent, pem)
        return pem
