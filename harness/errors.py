"""Errors of the harness, each with the exit code the CLI returns for it.

    LoadgateError                exit_code
    ├── UsageError               2  bad flags, budgets file, compose file, result file
    │   ├── ComposeError
    │   └── BudgetsError
    ├── SetupError               3  the machine cannot run the test
    │   ├── EngineUnavailableError  no Docker engine answers
    │   ├── ImageBuildError         an image could not be built or imported
    │   └── StackNotReadyError      a container never became ready (its logs attached)
    └── LoadGeneratorError       4  Locust failed or produced no data

Ctrl-C and SIGTERM end a run with exit code 130, after everything it started was removed.

A budget breach is not an error: it is a verdict, exit code 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUDGET_BREACHED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_LOAD_GENERATOR = 4
EXIT_INTERRUPTED = 130


class LoadgateError(Exception):
    exit_code = EXIT_ENVIRONMENT


class UsageError(LoadgateError):
    exit_code = EXIT_USAGE


class ComposeError(UsageError):
    pass


class BudgetsError(UsageError):
    pass


class SetupError(LoadgateError):
    exit_code = EXIT_ENVIRONMENT


class EngineUnavailableError(SetupError):
    pass


class ImageBuildError(SetupError):
    def __init__(self, image: str, reason: str, log_tail: str = "") -> None:
        self.image = image
        self.log_tail = log_tail
        message = f"could not build image {image}: {reason}"
        super().__init__(
            message + (f"\n--- build log (last lines) ---\n{log_tail}" if log_tail else "")
        )


class StackNotReadyError(SetupError):
    def __init__(
        self, service: str, reason: str, logs: str = "", *, oom_killed: bool = False
    ) -> None:
        self.service = service
        self.logs = logs
        self.oom_killed = oom_killed
        """The container was OOM-killed before it became ready (a finding, not a setup error)."""
        message = f"{service} never became ready: {reason}"
        super().__init__(
            message + (f"\n--- {service} logs (last lines) ---\n{logs}" if logs else "")
        )


class LoadGeneratorError(LoadgateError):
    exit_code = EXIT_LOAD_GENERATOR
