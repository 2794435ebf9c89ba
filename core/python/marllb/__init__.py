"""marllb: lock-free shared memory between a MARLLB load balancer and its RL agent.

    from marllb import shm                  # the extension: AgentRegion, LbRegion, errors
    agent = shm.AgentRegion("marllb_lb0")   # an LB's region, attached as its agent
    from marllb.env import LoadBalanceEnv   # a Gymnasium-API environment over marllb-sim
    from marllb import reward, result_rows  # MARLLB's reward; the result rows scripts write

The seed's names stay: `from shm_layout import SharedMemoryRegion`, `import marllb_shm`,
`import marllb_env`, `import marllb_reward` are these modules under their old names.
"""
__version__ = "0.1.0"  # the project's version (CMakeLists.txt project(VERSION)); tests compare them
