"""Executors run one approved function call: built-ins in the escrow and user functions in a
confined child process (full trust, "inprocess"), or everything in Docker (no trust).

`base.py` defines the interface (`Executor.run(job) -> ExecutionOutcome`); `executor_for(config)`
picks the configured one.
"""

from __future__ import annotations


def executor_for(config):
    """The executor named by `config.executor` ("inprocess" or "docker")."""
    name = getattr(config, "executor", "inprocess")
    if name == "docker":
        from .docker.executor import DockerExecutor

        return DockerExecutor(config)
    from .inprocess import InProcessExecutor

    return InProcessExecutor(config)
