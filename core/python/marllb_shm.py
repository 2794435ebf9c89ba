"""The module's earlier name: `import marllb_shm` is `marllb.shm` (the same module object)."""
import sys

from marllb import shm as _shm

sys.modules[__name__] = _shm
