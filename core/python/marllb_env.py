"""The environment's earlier name: `import marllb_env` is `marllb.env` (the same module object)."""
import sys

from marllb import env as _env

sys.modules[__name__] = _env
