"""The seed's import name: `from shm_layout import SharedMemoryRegion` for code following the
seed's Python API. Everything here is marllb_shm's (see help(marllb_shm))."""
from marllb_shm import *  # noqa: F401,F403
from marllb_shm import (ABI_VERSION, FEATURE_NAMES, MAX_SERVERS, RESERVOIR_CAPACITY, RESERVOIR_DTYPE,  # noqa: F401
                        ActionRejected, ActionTypeError, NoRegionError, RegionError, ReservoirsGone,
                        SharedMemoryRegion)
