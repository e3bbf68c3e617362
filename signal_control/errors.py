"""Errors of the signal optimiser; all are ``TrafficError``s (one line in the CLI, exit 2)."""

from __future__ import annotations

from traffic.errors import TrafficError


class OptimizerError(TrafficError, ValueError):
    """Bad input to the optimiser (no demand, negative flows, unknown corridor node, bad bounds)."""


class InfeasibleDemandError(OptimizerError):
    """The demand cannot be served by any fixed-time plan (flow ratio sum Y >= 1)."""
