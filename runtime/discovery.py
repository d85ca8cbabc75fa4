"""Finding the escrow a command acts on, the way git finds a repository.

One resolution point for every command (`locate`), in this order:

1. `--escrow DIR` (a global flag of every command), else `--config PATH`, else `$DSC_ESCROW`,
   else `$DSC_CONFIG`;
2. otherwise walking up from the current directory: the first directory holding a
   `data_station_config.yaml` (its `escrow_dir` is the escrow) or a `.dsc-escrow/` directory.

`DIR` (of `--escrow` or `$DSC_ESCROW`) is a project directory (holding a
`data_station_config.yaml` or a `.dsc-escrow/`) or an escrow directory itself (holding
`escrow.db`; the settings are those of a `data_station_config.yaml` inside it, as `dsc run
--keep` writes, or of one beside it naming it, else the defaults). Only `dsc init` creates an
escrow: `locate` never writes anything, and with none found raises `NoEscrow`, which says how
to create one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import CONFIG_NAME, Config, ConfigError, config_from_dict, load_config

ESCROW_ENV = "DSC_ESCROW"
CONFIG_ENV = "DSC_CONFIG"
ESCROW_DIR_NAME = ".dsc-escrow"
DB_NAME = "escrow.db"


class NoEscrow(ConfigError):
    """No escrow where the command looked; the message says where it looked and how to make one."""


@dataclass(frozen=True)
class Located:
    config: Config
    how: str  # how it was found: "--escrow", "$DSC_ESCROW", "--config", "$DSC_CONFIG", "found in DIR"

    @property
    def exists(self) -> bool:
        if self.config.store.backend == "postgresql":  # the database is elsewhere; the key is here
            return Path(self.config.escrow_key_path).exists()
        return Path(self.config.store.path).exists()


def locate(escrow: str | None = None, config: str | None = None, *, cwd: str | os.PathLike | None = None,
           must_exist: bool = True) -> Config:
    """The configuration of the escrow a command acts on (see the module docstring). With
    `must_exist` (every command but `dsc init`), an escrow that was never initialised is `NoEscrow`."""
    found = find(escrow, config, cwd=cwd)
    if must_exist and not found.exists:
        raise NoEscrow(f"no escrow at {found.config.escrow_dir} ({found.how}): create it with `dsc init`"
                       + _init_hint(found))
    return found.config


def find(escrow: str | None = None, config: str | None = None, *, cwd: str | os.PathLike | None = None) -> Located:
    """Where the escrow is (or would be) for these flags and the environment; raises `NoEscrow`
    when nothing names one."""
    if escrow is not None and config is not None:
        raise ConfigError("give --escrow DIR or --config PATH, not both")
    if escrow is not None:
        return Located(_from_dir(escrow, "--escrow"), "--escrow")
    if config is not None:
        return Located(load_config(config), "--config")
    env = os.environ.get(ESCROW_ENV)
    if env:
        return Located(_from_dir(env, f"${ESCROW_ENV}"), f"${ESCROW_ENV}")
    if os.environ.get(CONFIG_ENV):
        return Located(load_config(None), f"${CONFIG_ENV}")
    start = Path(cwd or Path.cwd()).absolute()
    for d in (start, *start.parents):
        here = _project(d)
        if here is not None:
            return Located(here, f"found from {start}")
    raise NoEscrow(f"no escrow found in {start} or any directory above it: create one with `dsc init` "
                   f"(in the directory to share), or name one with --escrow DIR or ${ESCROW_ENV}")


def for_init(directory: str | None, config: str | None) -> Config:
    """The configuration `dsc init [DIR]` creates: `--config`'s, else DIR's (default: the current
    directory) `data_station_config.yaml`, else `DIR/.dsc-escrow` with the defaults."""
    if config is not None:
        return load_config(config)
    d = Path(directory or Path.cwd()).absolute()
    if d.exists() and not d.is_dir():
        raise ConfigError(f"{d} is not a directory")
    if (d / DB_NAME).exists():
        return _from_dir(str(d), "dsc init")
    here = _project(d)
    return here if here is not None else config_from_dict({}, d)


def _project(d: Path) -> Config | None:
    """The escrow configuration a project directory `d` holds, if any."""
    if (d / CONFIG_NAME).is_file():
        return load_config(d / CONFIG_NAME)
    if (d / ESCROW_DIR_NAME).is_dir():
        return config_from_dict({}, d)
    return None


def _from_dir(text: str, how: str) -> Config:
    if "://" in text:
        raise ConfigError(f"{how} {text}: only a local escrow directory can be named here")
    d = Path(text).expanduser().absolute()
    if not d.is_dir():
        raise NoEscrow(f"no escrow at {d} ({how}: no such directory): create one with `dsc init {d}`")
    if (d / DB_NAME).exists():  # an escrow directory itself
        own = d / CONFIG_NAME
        if own.is_file():
            return load_config(own)
        beside = d.parent / CONFIG_NAME
        if beside.is_file():
            cfg = load_config(beside)
            if cfg.escrow_dir.resolve() == d.resolve():
                return cfg
        return config_from_dict({}, d).with_root(d)
    here = _project(d)
    if here is None:
        raise NoEscrow(f"no escrow at {d} ({how}): create one with `dsc init {d}`")
    return here


def _init_hint(found: Located) -> str:
    source = found.config.source
    if source is not None:
        return f" in {source.parent} (its {source.name} names this escrow)"
    return f" in {Path(found.config.escrow_dir).parent}"
