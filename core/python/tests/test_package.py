"""The package as users import it: one version everywhere, the earlier names are the same
modules, the two sides are two types with only their own methods (SharedMemoryRegion keeps
both), every method has a signature inspect reads, and the hand-written stubs say what the
extension has (mypy's stubtest, and the signatures compared here parameter by parameter)."""
import ast
import inspect
import os
import re
import shutil
import site
import subprocess
import sys

import pytest

import marllb
import marllb.env
import marllb.result_rows
import marllb.reward
import marllb.shm as shm

SOURCE = os.environ.get("MARLLB_SOURCE", os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
ALLOWLIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stubtest-allowlist.txt")
STUBS = os.path.join(os.path.dirname(marllb.__file__), "shm.pyi")
AGENT_ONLY = {"read_observation", "read_observation_arrays", "read_next_observation", "read_next_observation_arrays",
              "wait_observation", "read_reservoirs", "write_action", "verdicts", "action_verdict",
              "published_sequence", "total_lost", "pending_lost"}
LB_ONLY = {"set_servers", "write_observation", "read_action"}
CLASSES = (shm.AgentRegion, shm.LbRegion, shm.SharedMemoryRegion)


def public(cls):
    return {n for n in dir(cls) if not n.startswith("_")}


def test_one_version_everywhere_and_it_is_the_projects():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        project = re.search(r"project\(marllb_shm VERSION (\S+)", f.read()).group(1)
    import marllb_env
    import marllb_reward
    import marllb_shm
    import shm_layout
    versions = {m.__name__: m.__version__ for m in (marllb, shm, marllb.env, marllb.reward, marllb.result_rows,
                                                     marllb_shm, marllb_env, marllb_reward, shm_layout)}
    assert set(versions.values()) == {project}, versions


def test_the_earlier_names_are_the_same_modules():
    import marllb_env
    import marllb_reward
    import marllb_shm
    import shm_layout
    assert marllb_shm is shm and marllb_env is marllb.env and marllb_reward is marllb.reward
    assert shm_layout.SharedMemoryRegion is shm.SharedMemoryRegion
    assert shm.RegionError.__module__ == "marllb.shm" and shm.ActionRejected.__module__ == "marllb.shm"


def test_each_side_is_a_type_with_only_its_own_methods():
    assert AGENT_ONLY <= public(shm.AgentRegion) and not LB_ONLY & public(shm.AgentRegion)
    assert LB_ONLY <= public(shm.LbRegion) and not AGENT_ONLY & public(shm.LbRegion)
    assert AGENT_ONLY | LB_ONLY <= public(shm.SharedMemoryRegion)  # the seed's entry point keeps both


def test_the_two_types_talk_to_each_other_and_to_the_seeds_type(name):
    with shm.LbRegion(name, num_servers=3) as lb:
        with shm.AgentRegion(name, num_servers=3) as agent:
            assert (lb.role, agent.role) == ("lb", "agent")
            seq = lb.write_observation([1, 2, 3])
            assert agent.read_observation()["sequence_id"] == seq
            agent.write_action(seq, [1.0, 2.0, 3.0])
            assert lb.read_action()["status"] == "applied"
            assert agent.action_verdict(timeout=1.0)["status"] == "applied"
        with shm.SharedMemoryRegion(name) as seed_agent:  # one agent at a time: the seed's type now
            seq = lb.write_observation([3, 2, 1])
            assert seed_agent.role == "agent" and seed_agent.read_observation()["sequence_id"] == seq


def test_the_agent_type_refuses_the_lbs_options_by_signature(name):
    with shm.LbRegion(name):
        with pytest.raises(TypeError):
            shm.AgentRegion(name, raw_reservoirs=True)  # an LB's choice: not a parameter of the agent


def test_every_method_has_a_signature_inspect_reads(name):
    for cls in CLASSES:
        for n in public(cls):
            attr = inspect.getattr_static(cls, n)
            if isinstance(attr, property):
                continue
            sig = inspect.signature(getattr(cls, n))
            assert list(sig.parameters)[:1] == ["self"], (cls.__name__, n, sig)
        assert "name" in inspect.signature(cls).parameters
    with shm.LbRegion(name) as lb, shm.AgentRegion(name) as agent:
        assert str(inspect.signature(agent.wait_observation)) == "(after=None, timeout=1.0, arrays=False)"
        assert str(inspect.signature(lb.write_observation)) == "(n_flow_on, features=None, reservoirs=None)"
        assert str(inspect.signature(agent.read_observation)) == "()"


def stub_signatures():
    """{class: {method: [(parameter, default source or None)]}} from shm.pyi."""
    with open(STUBS) as f:
        tree = ast.parse(f.read())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            methods = {}
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and not any(
                        isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list):
                    args = fn.args.posonlyargs + fn.args.args
                    defaults = [None] * (len(args) - len(fn.args.defaults)) + [ast.unparse(d) for d in fn.args.defaults]
                    methods[fn.name] = [(a.arg, d) for a, d in zip(args, defaults)]
            out[node.name] = methods
    return out


def test_the_stubs_name_every_method_with_the_runtime_parameters_and_defaults():
    stubs = stub_signatures()
    for cls in CLASSES:
        stub = stubs[cls.__name__]
        runtime = {n for n in public(cls) if not isinstance(inspect.getattr_static(cls, n), property)}
        assert runtime <= set(stub) | {"__init__"}, (cls.__name__, runtime - set(stub))
        for n, params in stub.items():
            if n in ("__enter__", "__exit__"):
                continue
            sig = inspect.signature(getattr(cls, n))
            got = [(p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
                   for p in sig.parameters.values()]
            want = [(a, None if d is None else repr(ast.literal_eval(d))) for a, d in params]
            assert got == want, (cls.__name__, n)


def test_stubtest_finds_no_difference_between_stubs_and_module(tmp_path):
    """mypy's stubtest imports marllb.shm and checks the stubs against it (Debian's mypy)."""
    if shutil.which("stubtest") is None and subprocess.run([sys.executable, "-c", "import mypy.stubtest"]).returncode:
        pytest.fail("mypy's stubtest is not installed: apt-get install mypy (scripts/debian-packages.txt lists it)")
    pkg_dir = os.path.dirname(os.path.dirname(marllb.__file__))
    env = dict(os.environ)
    if pkg_dir not in site.getsitepackages():  # a build tree: mypy finds an installed one by itself
        env.update(MYPYPATH=pkg_dir, PYTHONPATH=pkg_dir)
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "marllb.shm", "--allowlist", ALLOWLIST],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_package_is_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(marllb.__file__), "py.typed"))
    assert os.path.isfile(STUBS)


def test_find_sim_says_where_it_looked_and_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MARLLB_SIM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = str(tmp_path / "build" / "sim" / "apps" / "marllb-sim")
    monkeypatch.setattr(marllb.env, "_SIM_CANDIDATES", (missing,))
    monkeypatch.setattr(marllb.env, "_HOW_TO_BUILD_SIM", "cmake --build BUILD --target marllb-sim")
    with pytest.raises(FileNotFoundError) as e:
        marllb.env.find_sim()
    assert missing in str(e.value) and "PATH" in str(e.value) and "cmake --build BUILD --target marllb-sim" in str(e.value)
    fake = tmp_path / "marllb-sim"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setattr(marllb.env, "_SIM_CANDIDATES", (str(fake),))
    assert marllb.env.find_sim() == str(fake)  # the build's path, no environment variable
    monkeypatch.setenv("MARLLB_SIM", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="MARLLB_SIM=.*is not an executable file: unset it"):
        marllb.env.find_sim()


def test_the_package_knows_where_its_build_put_marllb_sim():
    from marllb import _paths
    assert len(_paths.SIM_CANDIDATES) == 1 and _paths.SIM_CANDIDATES[0].endswith(os.path.join("sim", "apps", "marllb-sim"))
    assert "marllb-sim" in _paths.HOW_TO_BUILD_SIM
