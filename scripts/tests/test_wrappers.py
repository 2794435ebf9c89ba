"""The fuzzer wrapper (core/fuzz/run_fuzzer.sh) passes its child's failure through: each test runs
it on a fake fuzzer that fails (crashes, or prints nothing the log filter keeps) and requires a
non-zero exit; on a fake fuzzer that succeeds, zero. (The pipeline's own such tests are the
package's: core/python/tests/tools/test_pipeline.py.)"""
import os
import stat
import subprocess
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN_FUZZER = os.path.join(ROOT, "core", "fuzz", "run_fuzzer.sh")


def script(path, body):
    path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def seeds(tmp_path):
    d = tmp_path / "seeds"
    d.mkdir()
    (d / "one").write_bytes(b"x")
    return str(d)


def run_fuzzer(fuzzer, seeds, tmp_path):
    return subprocess.run([RUN_FUZZER, fuzzer, seeds, "1", str(tmp_path / "artifacts")],
                          capture_output=True, text=True, timeout=60)


def test_run_fuzzer_fails_when_the_fuzzer_crashes(tmp_path, seeds):
    # What libFuzzer prints and returns when an input crashes the target.
    fuzzer = script(tmp_path / "crashing_fuzzer", """\
        echo "==1234==ERROR: AddressSanitizer: heap-buffer-overflow"
        echo "SUMMARY: AddressSanitizer: heap-buffer-overflow"
        exit 77
        """)
    r = run_fuzzer(fuzzer, seeds, tmp_path)
    assert r.returncode == 77, r.stderr
    assert "exited 77" in r.stderr


def test_run_fuzzer_fails_when_the_fuzzer_prints_nothing_the_filter_keeps(tmp_path, seeds):
    # The filter on the log matches nothing here: the status must still be the fuzzer's.
    fuzzer = script(tmp_path / "silent_crash", "exit 1\n")
    assert run_fuzzer(fuzzer, seeds, tmp_path).returncode == 1


def test_run_fuzzer_passes_a_clean_run(tmp_path, seeds):
    fuzzer = script(tmp_path / "clean_fuzzer", """\
        echo "#2 DONE cov: 10 ft: 12 corp: 1/1b"
        echo "stat::number_of_executed_units: 2"
        exit 0
        """)
    r = run_fuzzer(fuzzer, seeds, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stat::number_of_executed_units" in r.stderr


def test_run_fuzzer_refuses_a_missing_corpus(tmp_path):
    fuzzer = script(tmp_path / "clean_fuzzer", "exit 0\n")
    r = run_fuzzer(fuzzer, str(tmp_path / "nowhere"), tmp_path)
    assert r.returncode == 2 and "no seed corpus" in r.stderr
