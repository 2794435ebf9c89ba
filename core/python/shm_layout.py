"""The seed's import name: `from shm_layout import SharedMemoryRegion` for code following the
seed's Python API. Everything here is marllb.shm's (see help(marllb.shm)); the LB and the agent
side as their own types are marllb.shm.LbRegion and marllb.shm.AgentRegion."""
from marllb.shm import *  # noqa: F401,F403
from marllb.shm import (ABI_VERSION, FEATURE_NAMES, MAX_SERVERS, RESERVOIR_CAPACITY, RESERVOIR_DTYPE,  # noqa: F401
                        ActionRejected, ActionTypeError, AgentRegion, LbRegion, NoRegionError, RegionError,
                        ReservoirsGone, SharedMemoryRegion, __version__)
