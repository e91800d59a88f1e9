"""Mutation testing of the maths: does a test fail when a loss term or a step rule is broken?

Each mutant of ``bench/mutations.py`` replaces one exact source snippet (it must occur exactly
once in its file; otherwise the code changed under the declaration and the mutant is STALE) and
names the few test files that should notice. For each mutant the tool writes the mutated file
into a temporary COPY of the checkout (tracked and untracked-but-not-ignored files), runs
``python -m pytest -q -x -p no:cacheprovider <tests>`` there under a timeout, and records

  KILLED    the tests fail (or cannot even be collected): the break is caught;
  SURVIVED  the tests pass: a gap, unless the declaration explains it (``equivalent=``: why the
            change cannot alter any result);
  TIMEOUT   the tests ran past ``--timeout`` (a mutant that makes a loop spin);
  ERROR     pytest could not run them (usage error, no tests), or the unmutated tests fail, so
            the mutant means nothing;
  STALE     the snippet does not occur exactly once any more.

The working tree is only ever read: a crash or Ctrl-C can leave a mutated file only in the
temporary copy, which is removed at exit. Each distinct test set first runs unmutated in the
copy (its baseline, and its time). The copy is checked to import its own ``codegan``, not an
installed one, so that a mutant cannot survive by not being imported at all.

    python bench/mutate.py                      # every mutant, one at a time
    python bench/mutate.py --only=infogan_cr    # the mutants whose id contains infogan_cr
    python bench/mutate.py --jobs=2 --timeout=120 --report=bench/results/mutation_report.md
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KILLED, SURVIVED, TIMEOUT, ERROR, STALE = "KILLED", "SURVIVED", "TIMEOUT", "ERROR", "STALE"


@dataclass(frozen=True)
class Mutant:
    """One declared break: in ``file`` (relative to the repository root) the snippet ``find``,
    which must occur exactly once, becomes ``replace``; ``breaks`` says in one line which
    property of the maths that destroys; ``tests`` are the test files that must notice;
    ``equivalent`` (optional) explains why a survivor cannot change any result."""

    id: str
    file: str
    find: str
    replace: str
    breaks: str
    tests: tuple
    equivalent: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "tests", tuple(self.tests))
        if self.find == self.replace:
            raise ValueError(f"mutant {self.id}: the replacement equals the snippet")


@dataclass
class Result:
    mutant: Mutant
    status: str
    line: int | None = None
    seconds: float = 0.0
    detail: str = ""  # why it is stale / an error, or the last line of pytest's output

    @property
    def explained(self) -> bool:
        return self.status == SURVIVED and bool(self.mutant.equivalent)


@dataclass
class Baseline:
    ok: bool
    seconds: float
    detail: str = ""
    results: list = field(default_factory=list)


# -- the declarations ---------------------------------------------------------------------------
def load_mutants(path: str) -> list:
    """``MUTANTS`` of the Python file ``path`` (ids unique)."""
    spec = importlib.util.spec_from_file_location("_mutations", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_mutations", mod)
    spec.loader.exec_module(mod)
    mutants = list(mod.MUTANTS)
    seen = set()
    for m in mutants:
        if m.id in seen:
            raise ValueError(f"mutant id {m.id!r} declared twice in {path}")
        seen.add(m.id)
    return mutants


def select(mutants, pattern: str | None):
    """The mutants whose id contains ``pattern`` (or matches it as a glob); several patterns
    separated by commas select every mutant one of them selects."""
    if not pattern:
        return list(mutants)
    pats = [p for p in pattern.split(",") if p]
    return [m for m in mutants if any(p in m.id or fnmatch.fnmatch(m.id, p) for p in pats)]


def locate(repo: str, m: Mutant):
    """(source text, the snippet's 1-based line) or (None, why it is stale)."""
    path = os.path.join(repo, m.file)
    if not os.path.isfile(path):
        return None, f"{m.file} does not exist"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    n = text.count(m.find)
    if n != 1:
        return None, f"snippet found {n} times in {m.file} (must be exactly once)"
    return text, text[:text.index(m.find)].count("\n") + 1


# -- the copy -----------------------------------------------------------------------------------
def repo_files(repo: str) -> list:
    """Tracked files and untracked files git does not ignore (a test being written counts)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=repo, check=True, capture_output=True).stdout
    return sorted({p for p in out.decode().split("\0") if p})


def make_copy(repo: str, parent: str, files: list) -> str:
    """A copy of ``files`` of ``repo`` under ``parent``/<repo's name>. The real datasets beside
    the checkout (``shared/``, read by the tests' ``real_data`` fixture through a path relative to
    the checkout) are linked beside the copy, so the copy's tests skip nothing that the
    checkout's tests run."""
    dst = os.path.join(parent, os.path.basename(os.path.abspath(repo)))
    for rel in files:
        src = os.path.join(repo, rel)
        if not os.path.lexists(src):  # a tracked file deleted in the working tree
            continue
        out = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copy2(src, out, follow_symlinks=False)
    shared = os.path.join(os.path.dirname(os.path.abspath(repo)), "shared")
    if os.path.isdir(shared):
        os.symlink(shared, os.path.join(parent, "shared"))
    return dst


def test_env(copy: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = copy + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # a mutant and the original can have the same size and mtime second: never reuse bytecode
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


def check_imports_copy(copy: str) -> None:
    """Stop unless Python run in the copy imports the copy's package (an editable install of
    another checkout would otherwise be tested, and every mutant would survive)."""
    pkgs = sorted({p.split(os.sep)[0] for p in os.listdir(copy)
                   if os.path.isfile(os.path.join(copy, p, "__init__.py"))})
    for pkg in pkgs:
        r = subprocess.run([sys.executable, "-c", f"import {pkg}; print({pkg}.__file__)"],
                           cwd=copy, env=test_env(copy), capture_output=True, text=True)
        where = os.path.realpath(r.stdout.strip()) if r.returncode == 0 else ""
        if not where.startswith(os.path.realpath(copy) + os.sep):
            raise RuntimeError(f"in the copy, 'import {pkg}' does not load the copy's package "
                               f"({where or r.stderr.strip()[-300:]})")


_LIVE, _LIVE_LOCK = set(), threading.Lock()  # the pytest processes running now


def kill_live() -> None:
    """Kill every running pytest session (the tool was stopped: leave nothing running)."""
    with _LIVE_LOCK:
        for proc in _LIVE:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_tests(copy: str, tests, timeout: float):
    """(status, seconds, last output line) of pytest on ``tests`` in ``copy``."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=copy, env=test_env(copy), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session: pytest and what it started
        proc.communicate()
        return TIMEOUT, time.monotonic() - t0, f"over {timeout:g} s"
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    secs = time.monotonic() - t0
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    # pytest: 0 passed, 1 a test failed, 2 interrupted (-x, or a collection error: the mutant
    # broke an import), 3 internal error, 4 usage error, 5 no tests collected
    status = {0: SURVIVED, 1: KILLED, 2: KILLED}.get(proc.returncode, ERROR)
    if status == ERROR:
        last = f"pytest exit {proc.returncode}: {last}"
    return status, secs, last


# -- the run ------------------------------------------------------------------------------------
def run(mutants, repo: str = REPO, timeout: float = 120.0, jobs: int = 1, log=print,
        progress=None):
    """Run ``mutants`` against ``repo`` (read only). Returns (results in declaration order,
    {test set: Baseline}). ``progress(results so far, baselines)``, when given, is called after
    each mutant (the CLI rewrites its report, so a stopped run keeps what it measured)."""
    results, todo = {}, []
    for m in mutants:
        text, where = locate(repo, m)
        if text is None:
            results[m.id] = Result(m, STALE, detail=where)
        else:
            todo.append((m, text, where))
    baselines = {}
    with tempfile.TemporaryDirectory(prefix="mutate-", ignore_cleanup_errors=True) as tmp:
        files = repo_files(repo)
        copies = queue.Queue()
        for j in range(max(1, jobs)):
            os.makedirs(os.path.join(tmp, str(j)))
            copies.put(make_copy(repo, os.path.join(tmp, str(j)), files))
        if todo:
            probe = copies.get()
            check_imports_copy(probe)
            copies.put(probe)

        locks, guard = {}, threading.Lock()

        def baseline(tests):
            """The set's unmutated run, once, when its first mutant needs it."""
            with guard:
                lock = locks.setdefault(tests, threading.Lock())
            with lock:
                if tests in baselines:
                    return baselines[tests]
                copy = copies.get()
                try:
                    status, secs, last = run_tests(copy, tests, max(3 * timeout, 300))
                finally:
                    copies.put(copy)
                b = baselines[tests] = Baseline(status == SURVIVED, secs, last)
                log(f"baseline {' '.join(tests)}: {'ok' if b.ok else 'FAILS'} in {secs:.1f} s"
                    + ("" if b.ok else f" ({last})"))
                return b

        def one(item):
            m, text, line = item
            b = baseline(m.tests)
            if not b.ok:
                return Result(m, ERROR, line, 0.0, "the unmutated tests fail: " + b.detail)
            copy = copies.get()
            target = os.path.join(copy, m.file)
            try:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text.replace(m.find, m.replace, 1))
                status, secs, last = run_tests(copy, m.tests, timeout)
            finally:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
                copies.put(copy)
            r = Result(m, status, line, secs, last)
            log(f"{status:8s} {m.id} ({secs:.1f} s)")
            return r

        pool = ThreadPoolExecutor(max(1, jobs))
        try:
            for r in pool.map(one, todo):
                results[r.mutant.id] = r
                if progress:
                    progress([results[m.id] for m in mutants if m.id in results], baselines)
        except BaseException:  # Ctrl-C or SIGTERM: no pytest left running, copies removed
            pool.shutdown(wait=False, cancel_futures=True)
            kill_live()
            pool.shutdown()  # quick now: the running mutant's tests are gone
            raise
        pool.shutdown()
    return [results[m.id] for m in mutants], baselines


def counts(results) -> dict:
    c = {s: sum(r.status == s for r in results) for s in (KILLED, SURVIVED, TIMEOUT, ERROR, STALE)}
    c["explained"] = sum(r.explained for r in results)
    c["unexplained"] = c[SURVIVED] - c["explained"]
    return c


def summary_line(results) -> str:
    c = counts(results)
    line = (f"{c[KILLED]} killed, {c[SURVIVED]} survived ({c['explained']} explained as "
            f"equivalent), {c[STALE]} stale")
    if c[TIMEOUT] or c[ERROR]:
        line += f", {c[TIMEOUT]} timeout, {c[ERROR]} error"
    return line


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def report(results, baselines, timeout: float, total: int | None = None) -> str:
    """The markdown report: summary, unexplained survivors, baselines, the table (``total``:
    the mutants selected, when only some have run yet)."""
    c = counts(results)
    lines = ["# Mutation testing of the methods and metrics", "",
             "Made by `python bench/mutate.py` (declarations in `bench/mutations.py`): each mutant "
             "breaks one loss term, step rule or metric formula in a temporary copy of the "
             "checkout and runs the test files named for it; a survivor is a gap in the tests "
             "unless its declaration explains why the change is equivalent.", "",
             f"**{summary_line(results)}**", ""]
    if total is not None and total > len(results):
        lines += [f"PARTIAL: {len(results)} of {total} mutants have run.", ""]
    unexplained = [r for r in results if r.status == SURVIVED and not r.explained]
    if unexplained:
        lines.append(f"{c['unexplained']} unexplained survivor(s), each a property no test "
                     f"checks yet: " + ", ".join(f"`{r.mutant.id}`" for r in unexplained) + ".")
    else:
        lines.append("No unexplained survivor.")
    bad = [r for r in results if r.status in (STALE, ERROR, TIMEOUT)]
    if bad:
        lines.append("Not run to a verdict: " + ", ".join(
            f"`{r.mutant.id}` ({r.status.lower()})" for r in bad) + ".")
    lines += ["", "## Baselines (unmutated, in the copy)", "",
              "| tests | result | seconds |", "|---|---|---|"]
    for tests, b in sorted(baselines.items()):
        lines.append(f"| {' '.join(tests)} | {'pass' if b.ok else 'FAIL: ' + _cell(b.detail)} "
                     f"| {b.seconds:.1f} |")
    lines += ["", f"## Mutants (timeout {timeout:g} s each)", "",
              "| id | file:line | breaks | tests | result | why |", "|---|---|---|---|---|---|"]
    for r in results:
        m = r.mutant
        where = f"{m.file}:{r.line}" if r.line else m.file
        if r.status == SURVIVED:
            why = ("equivalent: " + m.equivalent) if m.equivalent else "**unexplained**"
        elif r.status in (STALE, ERROR, TIMEOUT):
            why = r.detail
        else:
            why = ""
        tests = " ".join(t.replace("tests/", "") for t in m.tests)
        res = r.status + (f" ({r.seconds:.0f} s)" if r.status in (KILLED, SURVIVED) else "")
        lines.append(f"| {m.id} | {where} | {_cell(m.breaks)} | {tests} | {res} | {_cell(why)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="run the mutants whose id contains this (or matches it as a "
                    "glob); several, separated by commas")
    ap.add_argument("--jobs", type=int, default=1, help="mutants at a time, each in its own copy")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant's tests "
                    "(a baseline gets 3 times as long, at least 300 s: it must pass)")
    ap.add_argument("--report", default=None, help="write the markdown report here (relative "
                    "to the current directory)")
    ap.add_argument("--mutations", default=os.path.join(REPO, "bench", "mutations.py"),
                    help="the declarations (a Python file defining MUTANTS)")
    ap.add_argument("--repo", default=REPO, help="the checkout to mutate (read only)")
    ap.add_argument("--list", action="store_true", help="list the selected mutants and whether "
                    "each snippet still matches; run nothing")
    a = ap.parse_args(argv)
    mutants = select(load_mutants(a.mutations), a.only)
    if not mutants:
        print(f"no mutant id matches {a.only!r}", file=sys.stderr)
        return 2
    if a.list:
        for m in mutants:
            text, where = locate(a.repo, m)
            print(f"{m.id:40s} {m.file}:{where if text else '-'} "
                  f"{'' if text else 'STALE: ' + where}")
        return 0

    def write(results, baselines):
        if a.report:
            os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
            with open(a.report, "w", encoding="utf-8") as f:
                f.write(report(results, baselines, a.timeout, len(mutants)))

    # SIGTERM as Ctrl-C: the temporary copies are removed and the running tests killed; the
    # caller's handler is put back afterwards (main also runs inside the tests' process)
    old = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    try:
        results, baselines = run(mutants, a.repo, a.timeout, a.jobs, progress=write)
    finally:
        signal.signal(signal.SIGTERM, old)
    write(results, baselines)
    if a.report:
        print(f"report: {a.report}")
    print(f"{len(results)} mutants in {(time.monotonic() - t0) / 60:.1f} min")
    for r in results:
        if r.status == SURVIVED:
            print(f"survived: {r.mutant.id}: "
                  + (f"equivalent ({r.mutant.equivalent})" if r.explained else "UNEXPLAINED"))
    print(summary_line(results))
    c = counts(results)
    return 1 if (c["unexplained"] or c[STALE] or c[ERROR] or c[TIMEOUT]) else 0


if __name__ == "__main__":
    sys.exit(main())
