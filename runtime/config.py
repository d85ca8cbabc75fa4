"""Escrow configuration: `data_station_config.yaml`.

Lookup order: an explicit path (`--config PATH`), then the env var `DSC_CONFIG`, then
`data_station_config.yaml` in the current directory; with none found the defaults apply.
Relative paths are resolved against the directory of the config file (or the current
directory). Paths left unset derive from `escrow_dir`, except the agents' keyring: it belongs to
the user, not to the escrow (`$DSC_KEYRING`, else `keyring_path`, else
`~/.config/datastation/keys`), and it may not lie inside the escrow directory.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .keyring import KEYRING_ENV, default_keyring_path, keyring_path as user_keyring_path

CONFIG_NAME = "data_station_config.yaml"
TRUST_MODES = ("full_trust", "no_trust")
EXECUTORS = ("inprocess", "docker")
BACKENDS = ("sqlite", "postgresql")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# The name `dsc image build` (and docker/build-image.sh) always gives the runtime image.
DEFAULT_IMAGE = "datastation-runtime:latest"
# The executor used when the config does not name one.
DEFAULT_EXECUTOR = {"full_trust": "inprocess", "no_trust": "docker"}


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


@dataclass(frozen=True)
class StoreConfig:
    backend: str = "sqlite"  # sqlite (embedded, the default) | postgresql (chosen by `url`)
    path: Path = Path(".dsc-escrow/escrow.db")  # SQLite's database file
    synchronous: str = "FULL"  # SQLite synchronous pragma: FULL survives power loss, NORMAL only crashes
    url: str | None = field(default=None, repr=False)  # postgresql://USER@HOST:PORT/DB (may hold a password)


@dataclass(frozen=True)
class DockerConfig:
    image: str = DEFAULT_IMAGE
    cpus: float = 1.0
    memory: str = "512m"
    pids: int = 128
    timeout_seconds: float = 300.0
    warm_pool: int = 0


@dataclass(frozen=True)
class ServerConfig:
    """`dsc serve`: where it listens, TLS, and how much a request may carry."""

    host: str = "127.0.0.1"
    port: int = 8750
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_request_bytes: int = 16 * 1024 * 1024  # a JSON request (proposals carry their bundle)
    max_upload_bytes: int = 4 * 1024 * 1024 * 1024  # one data upload (streamed to a temp file)
    invite_ttl_seconds: float = 7 * 24 * 3600.0  # default lifetime of a `dsc invite` token
    forwarded_allow_ips: str | None = None  # behind a reverse proxy: the proxy's address(es)
    threads: int = 4  # worker threads for the escrow's blocking work (bench/server_load.py)
    workers: int = 1  # server processes sharing the port and the store (docs/server.md)
    warm_decisions: bool = True  # verify the approved contracts into the decision index at start-up


@dataclass(frozen=True)
class KekConfig:
    file: Path | None = None
    env: str | None = None


@dataclass(frozen=True)
class Config:
    escrow_dir: Path = Path(".dsc-escrow")
    store: StoreConfig = field(default_factory=StoreConfig)
    storage_path: Path = Path(".dsc-escrow/storage")
    keyring_path: Path = field(default_factory=user_keyring_path)  # the user's, outside the escrow
    outbox_path: Path = Path(".dsc-escrow/outbox")
    trust_mode: str = "full_trust"
    executor: str | None = None  # None: DEFAULT_EXECUTOR[trust_mode]
    docker: DockerConfig = field(default_factory=DockerConfig)
    kek: KekConfig = field(default_factory=KekConfig)
    request_window_seconds: float = 300.0
    server: ServerConfig = field(default_factory=ServerConfig)
    source: Path | None = None  # the file this was loaded from, if any

    def __post_init__(self):
        if self.executor is None:
            object.__setattr__(self, "executor", DEFAULT_EXECUTOR.get(self.trust_mode, "inprocess"))
        check_trust(self.trust_mode, self.executor)
        check_keyring(self.keyring_path, self.escrow_dir)

    @property
    def escrow_key_path(self) -> Path:
        """The escrow's signing key (mode 0600, read by the escrow's process only)."""
        return self.escrow_dir / "escrow_key.pem"

    @property
    def escrow_pub_path(self) -> Path:
        """The escrow's public key, for anyone to read: it gives the escrow's id."""
        return self.escrow_dir / "escrow.pub"

    @property
    def datakeys_path(self) -> Path:
        """The escrow's wrapped data keys (no_trust); where escrows made before 0.2 kept them, if there."""
        legacy = self.escrow_dir / "keyring" / "datakeys.json"
        return legacy if legacy.exists() else self.escrow_dir / "datakeys.json"

    def with_root(self, root: str | os.PathLike, keyring: str | os.PathLike | None = None) -> "Config":
        """The same settings with every escrow path moved under `root` (temporary escrows), and
        the agents' keyring at `keyring` when given (it stays outside `root`)."""
        root = Path(root).resolve()
        return dataclasses.replace(
            self,
            escrow_dir=root,
            store=dataclasses.replace(self.store, path=root / "escrow.db"),
            storage_path=root / "storage",
            keyring_path=Path(keyring).resolve() if keyring is not None else self.keyring_path,
            outbox_path=root / "outbox",
        )


def find_config(path: str | os.PathLike | None = None) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        return p
    env = os.environ.get("DSC_CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"config file {p} (from DSC_CONFIG) does not exist")
        return p
    p = Path.cwd() / CONFIG_NAME
    return p if p.is_file() else None


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load and validate the configuration (see the module docstring for the lookup order)."""
    file = find_config(path)
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {file} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {file} must be a mapping of keys to values")
    base = (file.parent if file else Path.cwd()).resolve()
    return _build(raw, base, file.resolve() if file else None)


def config_from_dict(raw: dict[str, Any], base: str | os.PathLike | None = None) -> Config:
    """Build a Config from a mapping shaped like the YAML file (tests, `dsc run`)."""
    return _build(raw, Path(base or Path.cwd()).resolve(), None)


_TOP = {
    "escrow_dir", "store", "storage_path", "keyring_path", "outbox_path", "trust_mode", "executor",
    "docker", "kek", "request_window_seconds", "server",
}


def _build(raw: dict[str, Any], base: Path, source: Path | None) -> Config:
    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise ConfigError(f"unknown config key {unknown[0]!r} (known: {', '.join(sorted(_TOP))})")

    def path(key: str, value: Any, default: Path) -> Path:
        if value is None:
            return default
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise ConfigError(f"config key {key!r} must be a path")
        p = Path(os.path.expandvars(os.path.expanduser(str(value))))
        return p if p.is_absolute() else (base / p)

    escrow_dir = path("escrow_dir", raw.get("escrow_dir"), base / ".dsc-escrow")
    store = _store(_mapping(raw, "store"), path, escrow_dir)

    docker_raw = _mapping(raw, "docker")
    _only(docker_raw, "docker", {f.name for f in dataclasses.fields(DockerConfig)})
    d = DockerConfig()
    docker = DockerConfig(
        image=_typed(docker_raw, "image", str, d.image, "docker"),
        cpus=float(_typed(docker_raw, "cpus", (int, float), d.cpus, "docker")),
        memory=str(_typed(docker_raw, "memory", (str, int), d.memory, "docker")),
        pids=_typed(docker_raw, "pids", int, d.pids, "docker"),
        timeout_seconds=float(_typed(docker_raw, "timeout_seconds", (int, float), d.timeout_seconds, "docker")),
        warm_pool=_typed(docker_raw, "warm_pool", int, d.warm_pool, "docker"),
    )
    kek_raw = _mapping(raw, "kek")
    _only(kek_raw, "kek", {"file", "env"})
    kek = KekConfig(
        file=path("kek.file", kek_raw.get("file"), None) if kek_raw.get("file") is not None else None,  # type: ignore[arg-type]
        env=_typed(kek_raw, "env", str, None, "kek"),
    )
    configured_keyring = path("keyring_path", raw.get("keyring_path"), None)  # type: ignore[arg-type]
    if configured_keyring is not None:  # wrong even when $DSC_KEYRING overrides it
        check_keyring(configured_keyring, escrow_dir, "config key 'keyring_path'")
    window = raw.get("request_window_seconds", 300)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0:
        raise ConfigError("config key 'request_window_seconds' must be a positive number")
    server = _server(_mapping(raw, "server"), path)
    return Config(
        escrow_dir=escrow_dir,
        store=store,
        storage_path=path("storage_path", raw.get("storage_path"), escrow_dir / "storage"),
        keyring_path=user_keyring_path(configured_keyring),
        outbox_path=path("outbox_path", raw.get("outbox_path"), escrow_dir / "outbox"),
        trust_mode=_choice(raw.get("trust_mode", "full_trust"), "trust_mode", TRUST_MODES),
        executor=(None if raw.get("executor") is None else _choice(raw["executor"], "executor", EXECUTORS)),
        docker=docker,
        kek=kek,
        request_window_seconds=float(window),
        server=server,
        source=source,
    )


def _server(raw: dict, path) -> ServerConfig:
    """The `server:` section (defaults: a local escrow on 127.0.0.1, no TLS)."""
    _only(raw, "server", {f.name for f in dataclasses.fields(ServerConfig)})
    d = ServerConfig()

    def positive(key: str, default):
        value = _typed(raw, key, (int, float), default, "server")
        if value <= 0:
            raise ConfigError(f"config key 'server.{key}' must be a positive number")
        return value

    port = _typed(raw, "port", int, d.port, "server")
    if not 0 <= port <= 65535:
        raise ConfigError("config key 'server.port' must be a port number (0-65535)")
    cert = path("server.tls_cert", raw.get("tls_cert"), None)
    key = path("server.tls_key", raw.get("tls_key"), None)
    if (cert is None) != (key is None):
        raise ConfigError("config keys 'server.tls_cert' and 'server.tls_key' go together: set both or neither")
    forwarded = raw.get("forwarded_allow_ips")
    if isinstance(forwarded, list):
        forwarded = ",".join(str(x) for x in forwarded)
    if forwarded is not None and not isinstance(forwarded, str):
        raise ConfigError("config key 'server.forwarded_allow_ips' must be an address or a list of addresses")
    return ServerConfig(
        host=_typed(raw, "host", str, d.host, "server"), port=port, tls_cert=cert, tls_key=key,
        max_request_bytes=int(positive("max_request_bytes", d.max_request_bytes)),
        max_upload_bytes=int(positive("max_upload_bytes", d.max_upload_bytes)),
        invite_ttl_seconds=float(positive("invite_ttl_seconds", d.invite_ttl_seconds)),
        forwarded_allow_ips=forwarded,
        threads=_whole(raw, "threads", d.threads, MAX_THREADS),
        workers=_whole(raw, "workers", d.workers, MAX_WORKERS),
        warm_decisions=_flag(raw, "warm_decisions", d.warm_decisions),
    )


MAX_THREADS, MAX_WORKERS = 256, 32


def _flag(raw: dict, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config key 'server.{key}' must be true or false")
    return value


def _whole(raw: dict, key: str, default: int, most: int) -> int:
    value = _typed(raw, key, int, default, "server")
    if not 1 <= value <= most:
        raise ConfigError(f"config key 'server.{key}' must be a whole number from 1 to {most}")
    return value


def _store(store_raw: dict, path, escrow_dir: Path) -> StoreConfig:
    """The store section: SQLite by default; PostgreSQL when `url` is a postgresql:// URL."""
    _only(store_raw, "store", {"backend", "path", "synchronous", "url"})
    url = store_raw.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(POSTGRES_SCHEMES)):
        raise ConfigError("config key 'store.url' must be a postgresql://USER@HOST:PORT/DATABASE URL")
    backend = _choice(store_raw.get("backend", "postgresql" if url else "sqlite"), "store.backend", BACKENDS)
    if backend == "postgresql":
        if url is None:
            raise ConfigError("config key 'store.url' is required with store.backend: postgresql "
                              "(postgresql://USER@HOST:PORT/DATABASE)")
        for key in ("path", "synchronous"):
            if key in store_raw:
                raise ConfigError(f"config key 'store.{key}' is for the SQLite store, not with store.url")
        return StoreConfig(backend=backend, path=escrow_dir / "escrow.db", url=url)
    if url is not None:
        raise ConfigError("config key 'store.url' names a PostgreSQL database: not with store.backend: sqlite")
    sync = str(store_raw.get("synchronous", "FULL")).upper()
    if sync not in ("FULL", "NORMAL", "EXTRA"):
        raise ConfigError("config key 'store.synchronous' must be one of FULL, NORMAL, EXTRA")
    return StoreConfig(backend=backend, path=path("store.path", store_raw.get("path"), escrow_dir / "escrow.db"),
                       synchronous=sync)


def check_keyring(keyring: Path, escrow_dir: Path, source: str | None = None) -> None:
    """Agents' private keys never live in the escrow directory."""
    k, e = Path(os.path.realpath(Path(keyring).absolute())), Path(os.path.realpath(Path(escrow_dir).absolute()))
    if k == e or e in k.parents:
        if source is None:
            env = os.environ.get(KEYRING_ENV)
            source = KEYRING_ENV if env and Path(os.path.realpath(Path(env).expanduser().absolute())) == k \
                else "keyring_path"
        raise ConfigError(f"the agents' keyring {keyring} ({source}) is inside the escrow directory {escrow_dir}: "
                          f"agents' private keys never live in the escrow; keep them in a keyring of your own "
                          f"(unset it for the default {default_keyring_path()})")


def check_trust(trust_mode: str, executor: str) -> None:
    """no_trust runs functions only in the Docker sandbox: an in-process executor would see every
    owner's plaintext and run untrusted code inside the escrow."""
    if trust_mode == "no_trust" and executor == "inprocess":
        raise ConfigError("config key 'executor' cannot be 'inprocess' with trust_mode: no_trust "
                          "(functions must run in the Docker sandbox): set executor: docker, or leave it unset")


def _mapping(raw: dict, key: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config key {key!r} must be a mapping")
    return value


def _only(raw: dict, section: str, known: set[str]) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown config key '{section}.{unknown[0]}' (known: {', '.join(sorted(known))})")


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"config key {key!r} must be one of {', '.join(choices)} (got {value!r})")
    return value


def _typed(raw: dict, key: str, types, default, section: str):
    if key not in raw or raw[key] is None:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, types):
        raise ConfigError(f"config key '{section}.{key}' has the wrong type ({type(value).__name__})")
    return value
