"""python -m codegan.compare: the aggregation over seeds, the run histories, reuse / resume /
changed settings, bad input, and one tiny comparison on real Fashion-MNIST."""

import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from codegan import compare
from codegan.errors import UserError
from codegan.evaluation import compare_report as rep
from codegan.methods import METHODS, CoDeGAN
from codegan.training.loop import Trainer
from codegan.training.runs import resume_chain

from conftest import REPO, SHARED_DATA, TINY

# train.py settings of a tiny run (TINY less max_iters, which the comparison sets)
# (one thread: on cores shared with other processes k-means and torch are several times faster)
TRAIN = [f"--{k}={v}" for k, v in TINY.items() if k != "max_iters"] + ["--num_threads=1"]


pytestmark = pytest.mark.usefixtures("drop_checkpoints")  # conftest.py


def cmp_args(out, data, methods="codegan", seeds="0,1", max_iters=2, folder="MNIST", *extra):
    return [f"--folder={folder}", f"--methods={methods}", f"--seeds={seeds}",
            f"--max_iters={max_iters}", f"--out={out}", f"--data_root={data}", *TRAIN, *extra]


def run_dirs(out):
    """Every run folder under a comparison folder, with its newest file's mtime."""
    found = {}
    for root, dirs, files in os.walk(out):
        if os.path.basename(root)[:5].isdigit():
            found[os.path.relpath(root, out)] = max(
                os.path.getmtime(os.path.join(r, f)) for r, _, fs in os.walk(root) for f in fs)
    return found


# -- numbers, by hand -------------------------------------------------------------------------
def test_aggregate_over_seeds_known_answers():
    finals = [
        {"epoch": 1.0, "iteration": 10, "seconds": 3.0, "eval_seconds": 0.5, "protocol": "e",
         "acc_purity": 0.5, "acc_purity_std": 0.2, "acc_purity_best_of_runs": 0.4,
         "assign_acc": 0.3, "converged": True},
        {"iteration": 10, "acc_purity": 0.6, "acc_purity_best_of_runs": 0.6, "assign_acc": 0.5},
        {"iteration": 10, "acc_purity": 0.7, "acc_purity_best_of_runs": 0.8},
    ]
    got = rep.aggregate(finals)
    # only the scores: no bookkeeping, no std over k-means runs, no strings or flags
    assert sorted(got) == ["acc_purity", "acc_purity_best_of_runs", "assign_acc"]
    mean, std, n = got["acc_purity"]
    assert (mean, n) == (pytest.approx(0.6), 3) and std == pytest.approx(0.1)  # sample std
    assert got["acc_purity_best_of_runs"][:2] == (pytest.approx(0.6), pytest.approx(0.2))
    assert got["assign_acc"] == (pytest.approx(0.4), pytest.approx(np.sqrt(0.02)), 2)
    assert rep.aggregate(finals[:1])["acc_purity"] == (0.5, 0.0, 1)
    assert rep.fmt(0.6, 0.1, 3) == "0.600 ± 0.100" and rep.fmt(0.5, 0.0, 1) == "0.500"
    # below 1e-3 (dHSIC) in 3 significant digits, not as 0.000
    assert rep.fmt(2.5e-5, 1.25e-5, 2) == "2.5e-05 ± 1.25e-05"
    assert rep.fmt(0.6, 4e-4, 2) == "0.600 ± 0.0004" and rep.fmt(-0.25, 0.0, 1) == "-0.250"


def test_seed_curve_uses_the_iterations_every_seed_evaluated():
    a = [{"iteration": i, "nmi": v} for i, v in ((100, 0.2), (200, 0.4), (300, 0.6))]
    b = [{"iteration": i, "nmi": v} for i, v in ((200, 0.6), (300, 0.8))]
    its, m, s = rep.seed_curve([a, b], "nmi")
    assert its.tolist() == [200, 300]
    assert m == pytest.approx([0.5, 0.7]) and s == pytest.approx([np.sqrt(0.02)] * 2)
    assert len(rep.seed_curve([a, b], "ari")[0]) == 0


def test_paper_table_puts_published_acc_beside_our_purity():
    stats = {"codegan": rep.aggregate([{"acc_purity_best_of_runs": 0.5, "nmi_best_of_runs": 0.4,
                                        "ari_best_of_runs": 0.3}] * 2),
             "new": rep.aggregate([{"acc_purity_best_of_runs": 0.1}])}
    head, _, row, new = rep.paper_table("fashion_mnist", ["codegan", "new"], stats)
    assert "ACC (= purity), paper" in head
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["codegan", "2", "0.500 ± 0.000", "0.65", "0.400 ± 0.000", "0.66",
                     "0.300 ± 0.000", "0.52"]
    assert "| new | 1 | 0.100 | – | – | – |" in new  # no published number, no NMI yet
    assert rep.PUBLISHED["fashion_mnist"]["infogan-cr"]["rerun"]  # starred in the paper


def test_report_names_never_reuse_an_existing_file(tmp_path):
    first = rep.report_names(str(tmp_path), ["a"])
    assert os.path.basename(first["md"]) == "comparison.md"
    open(first["grid"]["a"], "w").close()  # one file of the report is enough to move on
    second = rep.report_names(str(tmp_path), ["a"])
    assert os.path.basename(second["md"]) == "comparison-1.md"
    assert os.path.basename(second["curve"]["nmi"]) == "curve-nmi-1.png"
    with pytest.raises(UserError, match="exists"):
        rep.plot_tsne({"a": (np.zeros((3, 2)), np.arange(3))}, first["grid"]["a"])


# -- run histories ------------------------------------------------------------------------------
def fake_run(seed_dir, name, ckpts, iterations, resume=None):
    run = os.path.join(seed_dir, name)
    os.makedirs(os.path.join(run, "checkpoints"))
    with open(os.path.join(run, "config.yml"), "w") as f:
        f.write(f"method: codegan\nresume: {resume}\n" if resume else "method: codegan\n")
    for it in ckpts:
        open(os.path.join(run, "checkpoints", f"ckpt-{it:08d}.pt"), "w").close()
    with open(os.path.join(run, "metrics.jsonl"), "w") as f:
        for it in iterations:
            f.write(json.dumps({"iteration": it, "nmi": it / 10, "run": name}) + "\n")
    return run


def test_history_follows_resume_across_run_folders(tmp_path):
    d = str(tmp_path)
    a = fake_run(d, "00000-x-u", [4], [2, 4, 6])  # evaluated at 6, crashed before saving it
    # resumed from a's checkpoint, recorded under another (moved) path
    b = fake_run(d, "00001-x-u", [6, 8], [6, 8],
                 resume="/elsewhere/00000-x-u/checkpoints/ckpt-00000004.pt")
    fake_run(d, "00002-x-u", [], [])  # crashed before its first checkpoint: not in the history
    assert resume_chain(d) == [(a, 4), (b, None)]
    recs, _ = compare.history(d)
    assert [(r["iteration"], r["run"]) for r in recs] == \
        [(2, "00000-x-u"), (4, "00000-x-u"), (6, "00001-x-u"), (8, "00001-x-u")]
    assert resume_chain(str(tmp_path / "none")) == []


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--methods=codegan,nogan"], "unknown method nogan in --methods; choose from codegan"),
    (["--seeds=0,0"], "0 listed twice"),
    (["--seed=1"], "--seed is set per run by the comparison"),
    (["--max_iters="], "--max_iters is missing"),
    (["--folder=Nowhere"], "no param.yml there"),
    (["--beta_11=3"], "unknown option --beta_11"),
])
def test_bad_input_is_one_clear_error(tmp_path, argv, message):
    base = {a.split("=")[0]: a for a in cmp_args(tmp_path / "c", tmp_path)}
    base.update({a.split("=")[0]: a for a in argv})
    with pytest.raises(UserError, match=message):
        compare.run_compare(list(base.values()))
    assert not os.path.exists(tmp_path / "c" / "codegan")  # nothing trained


def test_command_line_error_exits_2_with_the_names(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(cmp_args(tmp_path, tmp_path, methods="infogan-xx"))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown method infogan-xx") and ", ".join(METHODS) in err


# -- training: reuse, changed settings, resume --------------------------------------------------
def test_second_call_reuses_runs_and_changed_settings_stop(tiny_data, tmp_path, monkeypatch,
                                                            capsys):
    # a second method on the same networks, so the report's per-method parts are exercised
    # whatever methods exist yet
    monkeypatch.setitem(METHODS, "codegan-copy",
                        type("CoDeGANCopy", (CoDeGAN,), {"name": "codegan-copy"}))
    out = tmp_path / "cmp"
    args = cmp_args(out, tiny_data, "codegan,codegan-copy", "0,1", 2, "MNIST",
                    "--tsne_per_class=3")
    md = compare.run_compare(args)
    runs = run_dirs(out)
    # CoDeGAN's run folders are named by mode, the other methods' by method
    assert sorted(runs) == sorted(f"{m}/seed{s}/00000-mnist-{name}"
                                  for m, name in (("codegan", "unsupervised"),
                                                  ("codegan-copy", "codegan-copy"))
                                  for s in (0, 1))
    text = open(md).read()
    assert "| codegan-copy | 2 |" in text and "Seeds: 0, 1" in text
    for f in ("curve-acc_purity.png", "curve-nmi.png", "curve-ari.png", "grid-codegan.png",
              "grid-codegan-copy.png", "tsne.png"):
        assert os.path.isfile(out / f), f
    printed = capsys.readouterr().out
    assert "[4/4] codegan-copy seed 1: training to iteration 2" in printed
    # each run is announced when it starts, after the one before it trained
    assert printed.index("[1/4]") < printed.index("run folder") < printed.index("[2/4]")

    md2 = compare.run_compare(args)  # the same command: nothing trains, a new report
    assert run_dirs(out) == runs
    assert "[1/4] codegan seed 0: finished at iteration 2" in capsys.readouterr().out
    assert os.path.basename(md2) == "comparison-1.md" and open(md).read() == text
    assert os.path.isfile(out / "tsne-1.png")

    with pytest.raises(UserError, match=r"beta_1 is 50.0, was 75.0 \(codegan, codegan-copy\)"):
        compare.run_compare(args + ["--beta_1=50"])
    with pytest.raises(UserError, match="max_iters is 1, was 2"):
        compare.run_compare([a for a in args if not a.startswith("--max_iters")]
                            + ["--max_iters=1"])
    assert run_dirs(out) == runs


def test_stopped_run_is_continued_by_resume(tiny_data, tmp_path, monkeypatch, capsys):
    step = Trainer.train_iteration

    def ctrl_c_after_one(self):  # what the first Ctrl-C does: the run ends after this iteration
        losses = step(self)
        if self.iteration == 1:
            self.stop_requested = True
        return losses

    out = tmp_path / "cmp"
    args = cmp_args(out, tiny_data, "codegan", "0", 3, "MNIST", "--tsne_per_class=0",
                    "--test_iters=1")
    monkeypatch.setattr(Trainer, "train_iteration", ctrl_c_after_one)
    assert compare.run_compare(args) is None  # stopped: no report
    assert "stopped: codegan seed 0 at iteration 1 of 3" in capsys.readouterr().out
    assert not os.path.exists(out / "comparison.md")
    monkeypatch.setattr(Trainer, "train_iteration", step)

    md = compare.run_compare(args)
    assert "continuing from" in capsys.readouterr().out
    seed_dir = str(out / "codegan" / "seed0")
    recs, chain = compare.history(seed_dir)
    assert [os.path.basename(r) for r, _ in chain] == ["00000-mnist-unsupervised",
                                                       "00001-mnist-unsupervised"]
    assert [r["iteration"] for r in recs] == [1, 2, 3]
    assert "00000-mnist-unsupervised → codegan/seed0/00001" in open(md).read()

    # a larger budget continues the finished run; the manifest keeps the new one
    compare.run_compare([a for a in args if not a.startswith("--max_iters")] + ["--max_iters=4"])
    assert [r["iteration"] for r in compare.history(seed_dir)[0]] == [1, 2, 3, 4]
    assert json.load(open(out / "compare.json"))["max_iters"] == 4


def test_sigterm_records_the_run_exits_143_and_the_same_command_continues(tiny_data, tmp_path,
                                                                           monkeypatch, capsys):
    """What a cluster does before it preempts the job: the run under way checkpoints, the
    manifest lists it as trained, the command exits 143 (requeue) saying to run it again, and
    the requeued command continues it (the trainer's own line, --resume=auto, used to be printed
    and the manifest left without the run)."""
    step = Trainer.train_iteration

    def sigterm(self):
        out = step(self)
        if self.iteration == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    out = tmp_path / "cmp"
    args = cmp_args(out, tiny_data, "codegan", "0,1", 3, "MNIST", "--tsne_per_class=0",
                    "--test_iters=1")
    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_iteration", sigterm)
        with pytest.raises(SystemExit) as e:
            compare.run_compare(args)
    assert e.value.code == 143
    said = capsys.readouterr()
    assert "stopped: codegan seed 0 at iteration 1 of 3. Run the same command again" in said.out
    assert "--resume=auto" not in said.err
    sittings = json.load(open(out / "compare.json"))["sittings"]
    assert [s["trained"] for s in sittings] == [["codegan/seed0"]]
    assert not os.path.isdir(out / "codegan" / "seed1")  # no run starts after SIGTERM
    assert compare.run_compare(args) == str(out / "comparison.md")
    assert [r["iteration"] for r in compare.history(str(out / "codegan" / "seed0"))[0]] == \
        [1, 2, 3]


def test_a_run_aborted_by_a_second_ctrl_c_is_recorded_as_trained(tiny_data, tmp_path,
                                                                   monkeypatch):
    """The aborted run trained and left a checkpoint that the next invocation continues from,
    so the manifest lists it under this invocation (it used to be left out: the abort passed
    by the bookkeeping)."""
    step = Trainer.train_iteration

    def aborted(self):
        if self.iteration == 2:
            raise KeyboardInterrupt  # what the handler raises on the second signal
        return step(self)

    out = tmp_path / "cmp"
    args = cmp_args(out, tiny_data, "codegan", "0,1", 4, "MNIST", "--tsne_per_class=0",
                    "--save_iters=1")
    monkeypatch.setattr(Trainer, "train_iteration", aborted)
    with pytest.raises(KeyboardInterrupt):
        compare.run_compare(args)
    sittings = json.load(open(out / "compare.json"))["sittings"]
    assert [s["trained"] for s in sittings] == [["codegan/seed0"]]  # seed 1 not started
    assert not os.path.isdir(out / "codegan" / "seed1")


# -- the whole command on real data -------------------------------------------------------------
def test_tiny_comparison_on_real_fashion_mnist(tmp_path, capsys):
    if not os.path.isfile(os.path.join(SHARED_DATA, "fashion_mnist.npz")):
        pytest.skip(f"no fashion_mnist.npz in {SHARED_DATA}")
    out = tmp_path / "cmp"
    args = cmp_args(out, SHARED_DATA, "codegan", "0,1", 2, "Fashion-MNIST", "--test_iters=2",
                    "--tsne_per_class=10")
    md = compare.run_compare(args)
    assert md == str(out / "comparison.md")
    text = open(md).read()
    assert "python -m codegan.compare --folder=Fashion-MNIST --methods=codegan" in text
    assert "Seeds: 0, 1" in text and "CPUs)" in text
    # 60,000 images / 64 per batch = 937 iterations per epoch, 600 epochs
    assert "2 iterations per run = 0.000356% of the official schedule, CoDeGAN's: max_step " \
           "600 epochs x 937 iterations per epoch = 562,200 iterations" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("| codegan | 2 |"))
    assert " 0.65 | " in row and " 0.66 | " in row and row.endswith(" 0.52 |")
    for key in ("acc", "acc_purity", "nmi", "ari", "acc_best_of_runs", "nmi_best_of_runs"):
        assert f"\n| {key} | " in text, key
    assert "acc_std" not in text and "eval_seconds" not in text
    assert Image.open(out / "grid-codegan.png").size == (302, 302)  # 10 codes x 10 samples
    for f in ("curve-acc_purity.png", "curve-nmi.png", "curve-ari.png", "tsne.png"):
        assert Image.open(out / f).size[0] > 300, f


def test_jobs_train_the_runs_in_parallel_processes(tiny_data, tmp_path, capsys):
    """--jobs=2: the baselines' runs as two processes (codegan.training.seeds.train_runs); the
    same final weights as one at a time, and a second call reuses them."""
    import torch

    from codegan.checkpoint import list_checkpoints

    finals = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        args = cmp_args(out, tiny_data, "infogan,clustergan", "0", 2, "MNIST",
                        "--tsne_per_class=0", f"--jobs={jobs}")
        compare.run_compare(args)
        finals[jobs] = {m: torch.load(list_checkpoints(os.path.join(out, r))[-1],
                                      weights_only=True)["nets"]
                        for m in ("infogan", "clustergan")
                        for r in run_dirs(out) if r.startswith(m + "/")}
    for m in ("infogan", "clustergan"):
        for k, v in finals[1][m].items():
            assert torch.equal(v, finals[2][m][k]), (m, k)
    capsys.readouterr()
    compare.run_compare(args)
    assert capsys.readouterr().out.count("; reused") == 2


def test_a_setting_added_to_the_code_later_is_not_a_change_at_its_default():
    """A comparison started before a setting existed: the new key at its default is the old
    behaviour; at another value it is a change."""
    from codegan.config import load_config

    new = json.loads(json.dumps(load_config(os.path.join(REPO, "MNIST", "param.yml")).to_dict()))
    old = {k: v for k, v in new.items() if k != "grid_per_class"}
    assert compare.settings_differences({"codegan": old}, {"codegan": new}) == []
    assert compare.settings_differences({"codegan": old},
                                        {"codegan": {**new, "grid_per_class": 3}}) == \
        ["grid_per_class is 3, was None (codegan)"]


def test_help_prints_the_usage(capsys):
    from codegan import compare

    assert compare.main(["--help"]) is True
    out = capsys.readouterr().out
    assert "python -m codegan.compare --folder=" in out and "--seeds" in out


def test_a_comparison_stored_before_a_key_became_free_is_not_changed_by_it():
    """compare.json holds what ``settings_of`` holds; a key stored by an older comparison that
    may now differ between sittings (a role declared since: a checkpoint interval) or that the
    method no longer reads (CoDeGAN's settings in a baseline's entry) is no change."""
    from codegan.config import load_config

    mnist = os.path.join(REPO, "MNIST", "param.yml")
    new = {m: {k: v for k, v in json.loads(json.dumps(load_config(
        mnist, {"method": m}).to_dict())).items() if k not in compare.NOT_COMPARED}
        for m in ("codegan", "infogan")}
    assert "pretrain_save_iters" in compare.FREE_KEYS
    old = {"codegan": {**new["codegan"], "pretrain_save_iters": 1000, "meta_save_iters": 500},
           "infogan": {**new["infogan"], "beta_1": 75.0, "chain_step": 0}}
    assert compare.settings_differences(old, new) == []
    old["codegan"]["beta_1"] = 50.0  # a change of what is computed still is one
    assert compare.settings_differences(old, new) == ["beta_1 is 75.0, was 50.0 (codegan)"]


def test_how_a_run_ended_is_read_from_its_end_record(tmp_path, capsys):
    """``finished`` reads the run folder's end.json (written as the run ends): a run a signal cut
    short is continued by the next command, one whose schedule ended first is an error, and one
    killed before it could end (no end.json) is continued, not blamed on the settings."""
    from codegan.training.runs import END_FILE

    run = tmp_path / "00000-run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "ckpt-00000002.pt").write_bytes(b"")
    assert compare.finished(str(run), 2, "codegan", 0)
    assert not compare.finished(str(run), 5, "codegan", 0)
    assert "without ending (no end.json)" in capsys.readouterr().out
    (run / END_FILE).write_text(json.dumps({"iteration": 2, "interrupted": True}))
    assert not compare.finished(str(run), 5, "codegan", 0)
    assert "stopped: codegan seed 0 at iteration 2 of 5." in capsys.readouterr().out
    (run / END_FILE).write_text(json.dumps({"iteration": 2, "interrupted": False}))
    with pytest.raises(UserError, match="ended at iteration 2, before --max_iters=5"):
        compare.finished(str(run), 5, "codegan", 0)
