"""SUMO interoperability: read ``.net.xml``, ``.rou.xml`` and additional files; write ``tlLogic``."""

from traffic.sumo.importer import import_sumo
from traffic.sumo.tls import plan_to_sumo_phases, write_tls_additional

__all__ = ["import_sumo", "plan_to_sumo_phases", "write_tls_additional"]
