"""``greenwave demo``: adaptive control against the best fixed plan and the scenario's own plan.

The entry points live in ``greenwave.demo.core`` (``run_demo``, ``DemoConfig``) and
``greenwave.demo.output`` (``write_report``); this package imports nothing so that
``greenwave --help`` stays fast.
"""
