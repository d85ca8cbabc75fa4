"""Build the no-trust runtime image offline, without any container registry.

Recipe: `debootstrap --variant=minbase` a Debian rootfs with `python3` from the
Debian mirror apt already uses, copy in the host's installed wheels of the
runtime dependencies (pandas, pyarrow, numpy, scikit-learn, duckdb, ... — same
versions as the escrow, so no-trust results equal full-trust results), add an
unprivileged user, and `docker import` the tarball. The tag is a hash of
everything that goes in, so an unchanged recipe is never rebuilt.

The DataStation sources are not baked in: the executor mounts them read-only at
run time, so the image does not change when the project's code does.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

IMAGE_REPO = "datastation-runtime"
LATEST = f"{IMAGE_REPO}:latest"  # what every build is also tagged: config.DEFAULT_IMAGE
RECIPE_VERSION = "2"
SUITE = "bookworm"
DEBIAN_PYTHON = (3, 11)  # bookworm's python3: the host's wheels must be built for it
DEBIAN_PACKAGES = ("python3",)
# Top-level distributions a contract function may use inside the container.
ROOT_DISTRIBUTIONS = ("pandas", "pyarrow", "numpy", "scikit-learn", "scipy", "duckdb", "pyyaml")
RUNNER_UID = 65534  # nobody
SITE_DIR = "usr/local/lib/python3.11/dist-packages"
# Trimmed from the rootfs: documentation and apt state are never needed at run time.
TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists")


class ImageError(Exception):
    """The image could not be built (clear message for the user)."""


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    files: tuple[Path, ...]  # absolute paths of the installed files


def dependency_closure(roots=ROOT_DISTRIBUTIONS) -> list[Dist]:
    """The installed distributions `roots` need on Linux, with their files."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a bare venv: pip always carries its own copy
        from pip._vendor.packaging.requirements import Requirement

    env = {"extra": "", "sys_platform": "linux", "platform_system": "Linux"}
    seen: dict[str, Dist] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in roots:
                raise ImageError(f"runtime dependency {name!r} is not installed on this machine") from None
            continue
        files = tuple(Path(dist.locate_file(f)).resolve() for f in dist.files or ())
        seen[key] = Dist(dist.metadata["Name"], dist.version, files)
        for raw in dist.requires or ():
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return sorted(seen.values(), key=lambda d: d.name.lower())


def image_tag(dists: list[Dist] | None = None) -> str:
    """`datastation-runtime:<hash>`: changes whenever anything baked into the image changes."""
    dists = dependency_closure() if dists is None else dists
    h = hashlib.sha256()
    h.update(f"recipe={RECIPE_VERSION};suite={SUITE};debs={','.join(DEBIAN_PACKAGES)};uid={RUNNER_UID}\n".encode())
    h.update(f"python={sys.version_info.major}.{sys.version_info.minor}\n".encode())
    for d in dists:
        h.update(f"{d.name}=={d.version}\n".encode())
    return f"{IMAGE_REPO}:{h.hexdigest()[:16]}"


def debian_mirror() -> str:
    """The Debian mirror apt is configured with on this machine (deb822 or one-line format)."""
    candidates = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    candidates += sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    candidates += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for m in re.finditer(r"^\s*URIs:\s*(\S+)|^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M):
            uri = m.group(1) or m.group(2)
            if "security" not in uri and "debian" in uri:
                return uri
    return "http://deb.debian.org/debian"


def _run(cmd: list[str], log, **kw) -> None:
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise ImageError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


def _docker_image_exists(tag: str) -> bool:
    proc = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return proc.returncode == 0


def build_image(*, force: bool = False, log=print, cache_dir: Path | None = None, also_tag=()) -> str:
    """Build (or reuse) the runtime image; return its content tag. `also_tag`: extra names for it."""
    if shutil.which("docker") is None:
        raise ImageError("the docker CLI is not installed (run docker/setup-docker.sh)")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise ImageError("the Docker engine is not running (run docker/setup-docker.sh)")
    if sys.version_info[:2] != DEBIAN_PYTHON:
        raise ImageError(f"the offline image reuses this Python's wheels in Debian {SUITE}'s Python "
                         f"{DEBIAN_PYTHON[0]}.{DEBIAN_PYTHON[1]}; this is Python {sys.version_info.major}."
                         f"{sys.version_info.minor}: build with python3.11, or use docker/Dockerfile")
    dists = dependency_closure()
    tag = image_tag(dists)
    if not force and _docker_image_exists(tag):
        log(f"image {tag} is up to date")
        _tag_all(tag, also_tag, log)
        return tag
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed (apt-get install -y debootstrap)")
    cache_dir = Path(cache_dir or os.environ.get("DSC_IMAGE_CACHE", "/var/cache/datastation"))
    with tempfile.TemporaryDirectory(prefix="dsc-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _debootstrap(rootfs, cache_dir, log)
        _install_dists(rootfs, dists, log)
        _finish_rootfs(rootfs)
        # Byte-compile once at build time: the root filesystem is read-only at run time, and
        # compiling pandas & co. on every container start would cost seconds.
        _run(["chroot", str(rootfs), "python3", "-m", "compileall", "-q", "-j", "0",
              "/" + SITE_DIR, "/usr/lib/python3.11"], log)
        tarball = Path(tmp) / "rootfs.tar"
        log(f"packing {tarball.name}")
        with tarfile.open(tarball, "w") as tar:
            for entry in sorted(rootfs.iterdir()):
                tar.add(entry, arcname=entry.name)
        _run(
            ["docker", "import",
             "--change", f"USER {RUNNER_UID}:{RUNNER_UID}",
             "--change", "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8 PYTHONPATH=/opt/datastation",
             "--change", "WORKDIR /tmp",
             "--change", 'CMD ["python3", "-I", "-c", "print(1)"]',
             str(tarball), tag],
            log,
        )
    _tag_all(tag, also_tag, log)
    log(f"built {tag}")
    return tag


def _tag_all(tag: str, names, log) -> None:
    for name in dict.fromkeys([LATEST, *names]):
        if name and name != tag:
            _run(["docker", "tag", tag, name], log)


def image_exists(name: str) -> bool:
    return _docker_image_exists(name)


def _debootstrap(rootfs: Path, cache_dir: Path, log) -> None:
    """A minbase rootfs with python3; the .deb downloads are cached between builds."""
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
           f"--cache-dir={debs}", SUITE, str(rootfs), debian_mirror()]
    _run(cmd, log)


def _install_dists(rootfs: Path, dists: list[Dist], log) -> None:
    """Copy the host's installed files of each distribution into the image's site directory."""
    site = rootfs / SITE_DIR
    site.mkdir(parents=True, exist_ok=True)
    count = 0
    for dist in dists:
        for src in dist.files:
            rel = _site_relative(src)
            if rel is None or "__pycache__" in rel.parts or not src.is_file():
                continue  # scripts in bin/ and caches are not needed
            dst = site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            count += 1
        log(f"  {dist.name}=={dist.version}")
    log(f"copied {count} files of {len(dists)} distributions")


def _site_relative(path: Path) -> Path | None:
    for base in sys.path:
        if base and (base.endswith("site-packages") or base.endswith("dist-packages")):
            try:
                return path.relative_to(Path(base).resolve())
            except ValueError:
                continue
    return None


def _finish_rootfs(rootfs: Path) -> None:
    for rel in TRIM:
        shutil.rmtree(rootfs / rel, ignore_errors=True)
    for rel in ("opt/datastation", "job/in", "job/out"):
        (rootfs / rel).mkdir(parents=True, exist_ok=True)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the DataStation no-trust runtime image offline.")
    parser.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    parser.add_argument("--tag", action="append", default=[], help="extra name for the image")
    args = parser.parse_args(argv)
    try:
        print(build_image(force=args.force, also_tag=args.tag, log=lambda m: print(m, file=sys.stderr, flush=True)))
    except ImageError as exc:
        print(f"build-image: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
