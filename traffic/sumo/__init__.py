"""SUMO interoperability: read ``.net.xml``, ``.rou.xml`` and additional files; write ``tlLogic``."""

from traffic.sumo.importer import import_sumo, import_sumocfg
from traffic.sumo.tls import plan_to_sumo_phases, write_tls_additional

__all__ = ["import_sumo", "import_sumocfg", "plan_to_sumo_phases", "write_tls_additional"]
