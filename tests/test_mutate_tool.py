"""bench/mutate.py on a tiny fake repository: a broken function is KILLED, a change that matters
to no test SURVIVES (unexplained unless declared equivalent), a snippet that no longer matches is
STALE, the unmutated tests must pass first, and the working tree is never written."""

import hashlib
import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import mutate  # noqa: E402
from mutate import Mutant  # noqa: E402

LIB = '''def area(w, h):
    """Area of a w x h rectangle."""
    unused = 0
    return w * h
'''
TEST = '''from lib import area


def test_area():
    assert area(2, 3) == 6
'''


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def fake_repo(tmp_path):
    repo = tmp_path / "fake"
    (repo / "tests").mkdir(parents=True)
    (repo / "lib.py").write_text(LIB)
    (repo / "tests" / "test_lib.py").write_text(TEST)
    # an isolated pytest root, so the project's conftest and settings do not apply
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "fake")
    # an untracked, not ignored file travels too (a test being written)
    (repo / "tests" / "test_more.py").write_text(TEST.replace("test_area", "test_area_again"))
    return str(repo)


def hashes(root):
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".git"]
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


TESTS = ("tests/test_lib.py", "tests/test_more.py")


def test_killed_survived_stale_and_the_tree_untouched(fake_repo):
    mutants = [
        Mutant("breaks", "lib.py", "return w * h", "return w + h", "area is a sum", TESTS),
        Mutant("harmless", "lib.py", "unused = 0", "unused = 1", "a dead variable", TESTS),
        Mutant("stale", "lib.py", "return w * h * 1", "return w", "code since changed", TESTS),
        Mutant("twice", "lib.py", "w", "x", "matches more than once", TESTS),
    ]
    before = hashes(fake_repo)
    results, baselines = mutate.run(mutants, fake_repo, timeout=60, log=lambda *a: None)
    assert hashes(fake_repo) == before
    got = {r.mutant.id: r.status for r in results}
    assert got == {"breaks": "KILLED", "harmless": "SURVIVED", "stale": "STALE",
                   "twice": "STALE"}
    assert [b.ok for b in baselines.values()] == [True]
    by_id = {r.mutant.id: r for r in results}
    assert by_id["breaks"].line == 4 and not by_id["harmless"].explained
    assert "3 times" in by_id["twice"].detail
    assert mutate.summary_line(results) == \
        "1 killed, 1 survived (0 explained as equivalent), 2 stale"
    text = mutate.report(results, baselines, 60)
    assert "1 unexplained survivor(s)" in text and "`harmless`" in text
    assert "**unexplained**" in text and "| breaks | lib.py:4 |" in text
    # the same survivor declared equivalent: explained, with its reason in the report
    explained = mutate.Result(Mutant("harmless", "lib.py", "unused = 0", "unused = 1", "dead",
                                     TESTS, equivalent="the variable is never read"),
                              "SURVIVED", 3)
    results = [r for r in results if r.mutant.id != "harmless"] + [explained]
    assert mutate.summary_line(results) == \
        "1 killed, 1 survived (1 explained as equivalent), 2 stale"
    text = mutate.report(results, baselines, 60)
    assert "No unexplained survivor." in text
    assert "equivalent: the variable is never read" in text


def test_failing_baseline_makes_its_mutants_errors(fake_repo):
    with open(os.path.join(fake_repo, "tests", "test_lib.py"), "a") as f:
        f.write("\n\ndef test_broken():\n    assert False\n")
    m = Mutant("breaks", "lib.py", "return w * h", "return w + h", "area is a sum",
               ("tests/test_lib.py",))
    (r,), baselines = mutate.run([m], fake_repo, timeout=60, log=lambda *a: None)
    assert r.status == "ERROR" and "unmutated tests fail" in r.detail
    assert not next(iter(baselines.values())).ok


def test_timeout_and_cli_report(fake_repo, tmp_path):
    decl = tmp_path / "decl.py"
    decl.write_text(
        "from mutate import Mutant\n"
        "MUTANTS = [Mutant('spins', 'lib.py', 'return w * h', "
        "'import time; time.sleep(60)', 'never returns', ('tests/test_lib.py',))]\n")
    out = tmp_path / "r" / "report.md"
    before = signal.getsignal(signal.SIGTERM)
    rc = mutate.main([f"--repo={fake_repo}", f"--mutations={decl}", "--timeout=3",
                      f"--report={out}"])
    assert rc == 1
    # main's own SIGTERM handler is gone again: a caller in this process keeps its own
    assert signal.getsignal(signal.SIGTERM) is before
    text = out.read_text()
    assert "| spins |" in text and "TIMEOUT" in text
    assert mutate.main([f"--repo={fake_repo}", f"--mutations={decl}", "--only=nothing"]) == 2


def test_only_selects_by_substring_glob_or_a_comma_separated_list():
    ms = [Mutant(i, "lib.py", "w * h", "w + h", "x", ("tests",)) for i in
          ("lib_area_sum", "lib_area_diff", "other_x")]
    ids = lambda sel: [m.id for m in sel]  # noqa: E731
    assert ids(mutate.select(ms, "area")) == ["lib_area_sum", "lib_area_diff"]
    assert ids(mutate.select(ms, "*_x")) == ["other_x"]
    assert ids(mutate.select(ms, "area_sum,other")) == ["lib_area_sum", "other_x"]
    assert ids(mutate.select(ms, None)) == ids(ms)

