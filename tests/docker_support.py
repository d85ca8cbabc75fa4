"""Docker test fixtures, shared by every folder with no-trust tests (`tests/docker/`,
`tests/security/`): their conftest imports them. Tests marked `docker` are skipped with the reason
when a prerequisite is missing (no engine, no way to build the image), but FAIL under CI=true (CI
must run them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import run_dsc

HERE = Path(__file__).resolve().parent / "docker"
__all__ = [
    "IN_CI",
    "_require_engine_in_ci",
    "dsc_out",
    "hostile_module",
    "no_trust_config",
    "pytest_collection_modifyitems",
    "runtime_image",
    "sandbox",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _engine_problem() -> str | None:
    try:
        from datastation.runtime.executors.docker.container import docker_client

        docker_client()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        return str(exc)
    return None


_problem = _engine_problem()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("docker") and _problem and not IN_CI:
            item.add_marker(pytest.mark.skip(reason=f"Docker engine unavailable: {_problem}"))


def _require_engine() -> None:
    """Under CI a missing engine is a failure, never a skip."""
    if _problem:
        if IN_CI:
            pytest.fail(f"CI=true but the Docker engine is unavailable: {_problem}", pytrace=False)
        pytest.skip(f"Docker engine unavailable: {_problem}")


@pytest.fixture(autouse=True)
def _require_engine_in_ci(request):
    if request.node.get_closest_marker("docker"):
        _require_engine()


@pytest.fixture(scope="session")
def runtime_image():
    """The runtime image, built offline once if missing (about a minute)."""
    from datastation.runtime.executors.docker.image import ImageError, build_image

    _require_engine()
    try:
        return build_image(log=lambda *_: None)
    except ImageError as exc:  # e.g. debootstrap missing: a prerequisite, not a failure outside CI
        if IN_CI:
            pytest.fail(f"CI=true but the runtime image cannot be built: {exc}", pytrace=False)
        pytest.skip(f"the no-trust runtime image cannot be built here: {exc}")


@pytest.fixture(scope="session")
def sandbox(runtime_image):
    from datastation.runtime.executors.docker import DockerSandbox, Limits

    box = DockerSandbox(Limits(image=runtime_image, timeout_seconds=60, memory="512m", pids=64), warm_pool=2)
    yield box
    box.close()


@pytest.fixture(scope="session")
def hostile_module():
    return HERE / "hostile.py"


@pytest.fixture(scope="session")
def dsc_out():
    """Run the `dsc` CLI in this process: (exit code, output together)."""
    return run_dsc


@pytest.fixture(scope="module")
def no_trust_config(tmp_path_factory, runtime_image):
    from datastation.runtime.crypto import generate_kek_file

    d = tmp_path_factory.mktemp("nt-config")
    generate_kek_file(d / "secret" / "kek")  # outside every escrow directory
    cfg = d / "no_trust.yaml"
    cfg.write_text(f"trust_mode: no_trust\n"  # executor: docker by default under no_trust
                   f"docker: {{image: '{runtime_image}', warm_pool: 2, timeout_seconds: 300, memory: 1g}}\n"
                   f"kek: {{file: '{d / 'secret' / 'kek'}'}}\n")
    return cfg
