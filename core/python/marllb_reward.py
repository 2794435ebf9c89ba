"""The reward's earlier name: `import marllb_reward` is `marllb.reward` (the same module object)."""
import sys

from marllb import reward as _reward

sys.modules[__name__] = _reward
