"""The project's exception hierarchy.

Every error a user can cause (a malformed file, an unsafe plan, a bad argument) is a
``TrafficError``. The CLI prints it as one line with exit code 2; the API maps it to a 4xx.
"""

from __future__ import annotations


class TrafficError(Exception):
    """Base class for user-facing errors of the traffic domain."""


class ModelError(TrafficError, ValueError):
    """A domain object was built with inconsistent or out-of-range values."""


class ScenarioError(TrafficError):
    """A scenario or plan file is malformed (bad JSON, wrong field, unknown reference)."""


class SumoFormatError(TrafficError):
    """A SUMO file (net, routes, additional, config) cannot be read or is not supported."""


class PlanValidationError(TrafficError):
    """A signal plan breaks a safety rule; ``issues`` lists every violation found."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(self.issues) if self.issues else "invalid plan")

    def __reduce__(self) -> tuple[type[PlanValidationError], tuple[list[str]]]:
        """Pickled with its issues (a run in a worker process raises it back to the caller intact)."""
        return (type(self), (self.issues,))
