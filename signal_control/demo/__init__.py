"""``greenwave demo``: adaptive control against the best fixed plan and the scenario's own plan.

The entry points live in ``signal_control.demo.core`` (``run_demo``, ``DemoConfig``) and
``signal_control.demo.output`` (``write_report``); this package imports nothing so that
``greenwave --help`` stays fast.
"""
