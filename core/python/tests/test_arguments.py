"""Bad arguments from Python: every refusal names what was wrong (for weights, the index) and
nothing reaches the region."""
import decimal
import fractions
import math
import os
import pathlib

import numpy as np
import pytest

import marllb_shm as m


@pytest.mark.parametrize("weights,num,exc,reason,index,says", [
    ([1.0, float("nan"), 1.0], None, m.ActionRejected, "weight_not_finite", 1, r"weights\[1\] is nan"),
    ([1.0, 1.0, float("inf")], None, m.ActionRejected, "weight_not_finite", 2, r"weights\[2\] is inf"),
    ([1.0, 2.0, 3.0, -0.5], None, m.ActionRejected, "weight_negative", 3, r"weights\[3\] is -0.5"),
    ([1e39, 1.0], None, m.ActionRejected, "weight_too_large", 0, r"weights\[0\] is 1e\+39.*float32"),
    ([1.0, 1e-50], None, m.ActionRejected, "weight_too_small", 1, r"weights\[1\] is 1e-50.*below what a float32"),
    ([1.0, decimal.Decimal("1e-400")], None, m.ActionRejected, "weight_too_small", 1, r"weights\[1\] is Decimal\('1E-400'\)"),
    ([fractions.Fraction(1, 10 ** 400), 1.0], None, m.ActionRejected, "weight_too_small", 0, r"weights\[0\] is Fraction"),
    ([1.0, decimal.Decimal("-1e-400")], None, m.ActionRejected, "weight_negative", 1, r"weights\[1\] is Decimal\('-1E-400'\): weights must be >= 0"),
    ([fractions.Fraction(-1, 10 ** 400), 1.0], None, m.ActionRejected, "weight_negative", 0, r"weights\[0\] is Fraction.*>= 0"),
    (np.array([1.0, np.longdouble("-1e-4000")], dtype=np.longdouble), None, m.ActionRejected, "weight_negative", 1,
     r"weights\[1\] is .*e-4000: weights must be >= 0"),
    (np.array([1.0, np.longdouble("1e-4000")], dtype=np.longdouble), None, m.ActionRejected, "weight_too_small", 1,
     r"weights\[1\] is .*e-4000"),
    ([1.0, 1.0, 1.0, 1.0, 0.0, 0.0], 4, m.ActionRejected, "weight_beyond_n", 4,
     r"6 values but num_servers is 4: weights\[4\] and later"),
    ([1.0, 1.0], 3, m.ActionRejected, "num_servers", 2, r"weights\[2\] is missing"),
    ([1.0] * 65, None, m.ActionRejected, "num_servers", 64, r"65 values: at most 64"),
    ([], None, m.ActionRejected, "num_servers", None, "empty"),
    ([0, 0.0], None, m.ActionRejected, "weights_all_zero", None, "all 0"),
    ([1.0, True], None, m.ActionTypeError, "not_a_number", 1, r"weights\[1\] is a bool \(True\)"),
    ([np.bool_(False), 1.0], None, m.ActionTypeError, "not_a_number", 0, r"weights\[0\] is a bool"),
    ([1.0, "2"], None, m.ActionTypeError, "not_a_number", 1, r"weights\[1\] is a str \('2'\)"),
    ([1.0, None], None, m.ActionTypeError, "not_a_number", 1, r"weights\[1\] is a NoneType"),
    (np.array([True, False]), None, m.ActionTypeError, "not_a_number", None, "array of bool"),
    (np.ones((2, 2)), None, m.ActionRejected, "shape", None, r"1-D.*\(2, 2\)"),
    (np.array([1.0, -2.0], dtype=np.float32), None, m.ActionRejected, "weight_negative", 1, r"weights\[1\] is -2.0"),
    ("1.0", None, m.ActionTypeError, "not_a_number", None, "got str"),
    ({0: 1.0}, None, m.ActionTypeError, "not_a_number", None, "got dict"),
    ([1.0, 1.0], True, m.ActionTypeError, "num_servers", None, "num_servers is a bool"),
    ([1.0, 1.0], 2.0, m.ActionTypeError, "num_servers", None, "num_servers is a float"),
    ([1.0] * 65, 65, m.ActionRejected, "num_servers", 64, "at most 64"),
])
def test_a_bad_action_names_the_index_and_reason_and_nothing_is_written(pair, weights, num, exc, reason, index, says):
    lb, agent = pair
    seq = lb.write_observation([0, 0, 0, 0])
    with pytest.raises(exc, match=says) as e:
        agent.write_action(seq, weights, num)
    assert isinstance(e.value, ValueError)
    assert e.value.reason == reason and e.value.index == index
    if exc is m.ActionTypeError:
        assert isinstance(e.value, TypeError)
    assert lb.read_action() is None  # nothing reached the LB
    assert agent.verdicts()["actions_rejected"] == 0


@pytest.mark.parametrize("seq,exc,says", [
    (True, m.ActionTypeError, "sequence_id is a bool"),
    (-3, m.ActionRejected, "sequence_id is -3"),
    ("1", m.ActionTypeError, "sequence_id is a str"),
    (1.0, m.ActionTypeError, "sequence_id is a float"),
    (2 ** 64, m.ActionRejected, "larger than 64 bits"),
    (0, m.ActionRejected, "sequence_id is 0"),
    (7, m.ActionRejected, "refused"),
])
def test_a_bad_sequence_id_is_refused_with_what_it_was(pair, seq, exc, says):
    lb, agent = pair
    lb.write_observation([0, 0])
    with pytest.raises(exc, match=says):
        agent.write_action(seq, [1.0, 1.0])
    assert lb.read_action() is None


def test_weights_as_ints_numpy_arrays_and_numpy_scalars_are_accepted(pair):
    lb, agent = pair
    seq = lb.write_observation([0, 0, 0])
    for w in ([1, 2, 0], np.array([1.0, 2.0, 0.0]), np.array([1, 2, 0], dtype=np.int64),
              [np.float32(1.0), np.float64(2.0), np.int32(0)], (1.0, 2.0, 0.0)):
        agent.write_action(seq, w, 3)
        assert lb.read_action()["weights"] == [1.0, 2.0, 0.0]


@pytest.mark.parametrize("bad", ["marllb\0lb0", "\0"])
def test_a_region_name_with_nul_is_refused_not_cut_short(name, bad):
    # Without the check the C side would open "/dev/shm/marllb" for "marllb\0lb0".
    with pytest.raises(ValueError, match="NUL character at index"):
        m.SharedMemoryRegion(bad, create=True)
    with pytest.raises(ValueError, match="NUL"):
        m.SharedMemoryRegion(name, create=True, dir="/dev/shm\0/x")


@pytest.mark.parametrize("timeout,exc,says", [
    (-1.0, ValueError, r"timeout is -1.0: it must be seconds in \(0.0, 86400.0\]"),
    (0, ValueError, "timeout is 0.0"),
    (math.nan, ValueError, "timeout is nan"),
    (math.inf, ValueError, "timeout is inf"),
    (1e12, ValueError, "timeout is 1000000000000.0"),
    (True, TypeError, "timeout is a bool"),
    ("1", TypeError, "timeout is a str"),
])
def test_peer_alive_refuses_timeouts_out_of_range(pair, timeout, exc, says):
    lb, agent = pair
    for side in (lb, agent):
        with pytest.raises(exc, match=says):
            side.peer_alive(timeout)


def test_peer_alive_accepts_its_range_and_answers(pair):
    lb, agent = pair
    lb.heartbeat()
    assert agent.peer_alive(86400) and agent.peer_alive(1)


@pytest.mark.parametrize("timeout", [-0.1, math.nan, math.inf, True])
def test_waits_refuse_timeouts_out_of_range(pair, timeout):
    lb, agent = pair
    with pytest.raises((ValueError, TypeError), match="timeout"):
        agent.wait_observation(timeout=timeout)
    seq = lb.write_observation([1])
    agent.write_action(seq, [1.0])
    with pytest.raises((ValueError, TypeError), match="timeout"):
        agent.action_verdict(timeout=timeout)


@pytest.mark.parametrize("after,exc,says", [(-1, ValueError, "after is -1"), (True, TypeError, "after is a bool"),
                                            ("3", TypeError, "after is a str")])
def test_wait_observation_refuses_a_bad_after(pair, after, exc, says):
    lb, agent = pair
    with pytest.raises(exc, match=says):
        agent.wait_observation(after=after, timeout=0)


class _Closes:
    """A number whose conversion runs the caller's code: it closes `region` first."""

    def __init__(self, region, value):
        self.region, self.value = region, value

    def __float__(self):
        self.region.close()
        return float(self.value)

    def __index__(self):
        self.region.close()
        return int(self.value)


def test_a_weight_whose_conversion_empties_the_list_is_read_from_a_snapshot(pair):
    """The weights are those of the list as passed: a __float__ that clears (and refills) the
    list while it is read changes nothing, and reads no freed item."""
    lb, agent = pair
    seq = lb.write_observation([0] * 8)
    weights = []

    class Clears:
        def __init__(self, value):
            self.value = value

        def __float__(self):
            weights.clear()
            weights.extend(["junk"] * 3)
            return self.value

    weights.extend(Clears(float(i + 1)) for i in range(8))
    agent.write_action(seq, weights)
    assert lb.read_action()["weights"] == [float(i + 1) for i in range(8)]


@pytest.mark.parametrize("where", ["weight", "sequence_id", "num_servers"])
def test_closing_the_region_while_an_action_argument_converts_is_the_closed_error(pair, where):
    """A conversion that closes the region (its own code, or another thread meanwhile) leaves
    write_action nothing to write to: RegionError 'closed', not a write through a closed mapping."""
    lb, agent = pair
    seq = lb.write_observation([0, 0])
    args = {"weight": (seq, [1.0, _Closes(agent, 2.0)], None),
            "sequence_id": (_Closes(agent, seq), [1.0, 2.0], None),
            "num_servers": (seq, [1.0, 2.0], _Closes(agent, 2))}[where]
    with pytest.raises(m.RegionError) as e:
        agent.write_action(*args)
    assert e.value.code == "closed"
    assert lb.read_action() is None


def test_closing_the_region_while_a_wait_or_a_server_count_converts_is_the_closed_error(name):
    """The same for the other calls that convert an argument on an open side."""
    with m.SharedMemoryRegion(name, create=True, raw_reservoirs=True) as lb, m.SharedMemoryRegion(name) as agent:
        seq = lb.write_observation([0, 0])
        with pytest.raises(m.RegionError) as e:
            agent.wait_observation(after=_Closes(agent, seq - 1), timeout=0.01)
        assert e.value.code == "closed"
    with m.SharedMemoryRegion(name, create=True, raw_reservoirs=True) as lb, m.SharedMemoryRegion(name) as agent:
        seq = lb.write_observation([0, 0], reservoirs=np.zeros((), m.RESERVOIR_DTYPE))
        with pytest.raises(m.RegionError) as e:
            agent.read_reservoirs(_Closes(agent, seq))
        assert e.value.code == "closed"
        with pytest.raises(m.RegionError) as e:
            lb.set_servers(_Closes(lb, 2))
        assert e.value.code == "closed"


@pytest.mark.parametrize("n_flow_on,feats,exc,says", [
    ([-1, 0], None, ValueError, r"n_flow_on\[0\] is -1: .*0\.\.4294967295"),
    ([0, 2 ** 32], None, ValueError, r"n_flow_on\[1\] is 4294967296"),
    ([1.5, 0], None, TypeError, r"n_flow_on\[0\] is a float \(1\.5\)"),
    ([0, True], None, TypeError, r"n_flow_on\[1\] is a bool"),
    (np.array([1.0, 2.0]), None, TypeError, "dtype.*float64.*ints"),
    (np.array([[1, 2]]), None, ValueError, r"1-D.*\(1, 2\)"),
    (np.array([2 ** 40, 0], dtype=np.uint64), None, ValueError, r"n_flow_on\[0\] is 1099511627776"),
    ("ab", None, TypeError, "list, tuple or 1-D numpy array of ints, got str"),
    ([], None, ValueError, "1..64 entries, got 0"),
    ([0] * 65, None, ValueError, "1..64 entries, got 65"),
    ([0, 0], "abc", TypeError, r"features must have shape .* \(2, 10\), numbers, got str"),
    ([0, 0], np.zeros(10), ValueError, r"\(2, 10\), numbers, got shape \(10,\)"),
    ([0, 0], [["x"] * 10] * 2, TypeError, "numpy cannot read a list as float32"),
])
def test_a_bad_observation_names_the_argument_and_nothing_is_published(pair, n_flow_on, feats, exc, says):
    lb, agent = pair
    with pytest.raises(exc, match=says):
        lb.write_observation(n_flow_on, feats)
    assert lb.last_sequence == 0 and agent.published_sequence == 0


def test_counts_as_ints_of_any_width_and_features_as_nested_lists_are_published(pair):
    lb, agent = pair
    for counts in ([1, 2], (np.uint32(1), np.int64(2)), np.array([1, 2], dtype=np.uint64), np.array([1, 2], dtype=np.int8)):
        lb.write_observation(counts, [[0.5] * 10, [1.5] * 10])
        obs = agent.read_observation()
        assert [s["n_flow_on"] for s in obs["server_stats"].values()] == [1, 2]


def test_an_empty_dir_is_refused_not_taken_for_dev_shm(name):
    with pytest.raises(ValueError, match="dir is ''"):
        m.SharedMemoryRegion(name, create=True, dir="")
    assert not os.path.exists(f"/dev/shm/{name}")


def test_a_weight_that_is_0_as_a_float_and_cannot_be_compared_is_taken_as_0(pair):
    """Only a weight that is positive is refused for converting to 0; one that cannot say
    whether it is (no `>`) is judged by its conversion, as before."""
    lb, agent = pair
    seq = lb.write_observation([0, 0])

    class Zero:
        def __float__(self):
            return 0.0

    agent.write_action(seq, [Zero(), 1.0])
    assert lb.read_action()["weights"] == [0.0, 1.0]


@pytest.mark.parametrize("as_type", [pathlib.Path, os.fsencode, str])
def test_dir_takes_a_path_like_object_or_bytes_as_well_as_a_str(name, tmp_path, as_type):
    """A pathlib.Path (or bytes) names the same directory as its str: the region is made there
    and an agent given the other spelling attaches to it."""
    lb = m.LbRegion(name, dir=as_type(tmp_path))
    try:
        assert os.path.exists(tmp_path / name)
        agent = m.AgentRegion(name, dir=str(tmp_path))
        seq = lb.write_observation([1, 2])
        assert agent.read_observation()["sequence_id"] == seq
        agent.close()
    finally:
        lb.close()


class _FsPathReturnsInt:
    def __fspath__(self):
        return 3


class _FsPathOnTheInstanceOnly:
    def __init__(self):
        self.__fspath__ = lambda: "/dev/shm"


@pytest.mark.parametrize("bad,exc,says", [
    (3, TypeError, r"dir is a int: it must be a directory as a str, bytes or path-like object"),
    (_FsPathReturnsInt(), TypeError, r"dir is a _FsPathReturnsInt"),
    (_FsPathOnTheInstanceOnly(), TypeError, r"dir is a _FsPathOnTheInstanceOnly"),
    ("/dev/shm/\ud800", ValueError, r"dir is '/dev/shm/\\ud800': it cannot be encoded as a file name"),
    (["/dev/shm"], TypeError, r"dir is a list"),
    (b"", ValueError, "dir is ''"),
    (pathlib.Path("/dev/shm\0x"), ValueError, "NUL"),
])
def test_a_dir_that_is_no_path_is_refused_naming_it(name, bad, exc, says):
    with pytest.raises(exc, match=says):
        m.LbRegion(name, dir=bad)
    assert not os.path.exists(f"/dev/shm/{name}")


def test_an_fspath_type_error_is_the_cause_of_the_one_naming_dir(name):
    class Refuses:
        def __fspath__(self):
            raise TypeError("my own reason")
    with pytest.raises(TypeError, match="dir is a Refuses") as caught:
        m.LbRegion(name, dir=Refuses())
    assert "my own reason" in str(caught.value.__cause__)
    assert not os.path.exists(f"/dev/shm/{name}")


def test_an_fspath_that_raises_raises_its_own_error(name):
    class Broken:
        def __fspath__(self):
            raise RuntimeError("no path here")
    with pytest.raises(RuntimeError, match="no path here"):
        m.LbRegion(name, dir=Broken())


def test_a_dir_of_bytes_that_are_not_utf8_still_gives_the_region_error(name, tmp_path):
    """The error names the path with the bytes escaped; not a UnicodeDecodeError that hides it."""
    missing = os.fsencode(tmp_path) + b"/nope\xff"
    with pytest.raises(m.NoRegionError, match=r"nope\\xff"):
        m.AgentRegion(name, dir=missing)
    made = os.fsencode(tmp_path) + b"/dir\xff"
    os.mkdir(made)
    lb = m.LbRegion(name, dir=made)
    try:
        assert os.path.exists(made + b"/" + name.encode())
    finally:
        lb.close()
        os.unlink(made + b"/" + name.encode())


def test_a_zero_weight_whose_repr_raises_is_taken_as_0(pair):
    """Only a refusal needs a weight's repr: a weight that is 0 is not asked for one."""
    class Zero:
        def __float__(self):
            return 0.0

        def __gt__(self, other):
            return False

        def __lt__(self, other):
            return False

        def __repr__(self):
            raise RuntimeError("no repr")
    lb, agent = pair
    seq = lb.write_observation([0, 0])
    agent.write_action(seq, [1.0, Zero()])
    assert lb.read_action()["weights"] == [1.0, 0.0]
