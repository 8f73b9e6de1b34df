"""A local WHM/cPanel server for tests, benchmarks and ``make run``: WHM API 1
and UAPI JSON over HTTP, with state, WHM's validation and injectable faults.

    python -m hospeda.provisioning.simulator --port 2087 --token <token>
"""

from hospeda.provisioning.simulator.control import SimulatorControl
from hospeda.provisioning.simulator.server import SimulatorServer, WhmSimulator
from hospeda.provisioning.simulator.whm import Fault, WhmState

__all__ = ["Fault", "SimulatorControl", "SimulatorServer", "WhmSimulator", "WhmState"]
