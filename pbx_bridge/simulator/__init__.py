"""The PBX simulator: plays Asterisk 22 from the outside for the demo, tests and load tests.

Public API (what the composition root wires): :class:`SimulatorSettings`, :class:`Simulator`
(``start() -> port``, ``stop()``, ``start_call()``), :func:`run_simulator`.
"""

from pbx_bridge.simulator.runner import Simulator, run_simulator
from pbx_bridge.simulator.settings import SimulatorSettings

__all__ = ["Simulator", "SimulatorSettings", "run_simulator"]
