"""``greenwave demo``: adaptive control against the best fixed plan and the scenario's own plan."""

from signal_control.demo.core import DEFAULT_SCENARIO, KINDS, DemoConfig, DemoResult, gain_pct, run_demo
from signal_control.demo.output import write_report

__all__ = ["DEFAULT_SCENARIO", "KINDS", "DemoConfig", "DemoResult", "gain_pct", "run_demo", "write_report"]
