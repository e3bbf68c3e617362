"""Greenwave's wiring room: the ``greenwave`` console entry point (``greenwave.cli``) and the closed-loop demo
(``greenwave.demo``), which join the domain packages (``traffic``, ``detection``, ``signal_control``,
``simulation``) and the control API (``api``).

Nothing below imports the wiring room back except the domain packages' command modules (``cli.py``,
``*_cli.py``), for the argument helpers of ``greenwave.cli.common``; ``tests/test_import_rules.py`` holds
every package to its side of these rules. This package imports nothing, so ``greenwave --help`` stays fast.
"""
