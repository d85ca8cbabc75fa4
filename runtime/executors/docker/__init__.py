"""The no-trust executor: functions run in single-use Docker containers.

`executor.py` adapts the sandbox to the escrow's executor interface (`DockerExecutor`);
`sandbox.py` runs one function in a container (`DockerSandbox`); `container.py` holds one
container, the warm pool and the limits; `runner.py` is the program that runs inside the
container; `image.py` builds the runtime image offline.
"""

from __future__ import annotations

from .container import Limits, SandboxError, SandboxOutcome
from .executor import DockerExecutor, close_all, sandbox_for, to_outcome
from .sandbox import DataRef, DockerSandbox, InputSource, Serialized

__all__ = ["DockerExecutor", "DockerSandbox", "DataRef", "InputSource", "Serialized", "Limits", "SandboxError",
           "SandboxOutcome", "close_all", "sandbox_for", "to_outcome"]
