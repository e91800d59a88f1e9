"""python -m codegan.table: the collapse count's known answers, bad input, the missing-data line,
the untrained (iteration 0) row, the whole page at a tiny budget on the shared real data, the
Slurm options, and a job of submitit's local executor stopped by SIGTERM, requeued and resumed."""

import json
import os
import re
import shutil
import signal
import time

import numpy as np
import pytest
import torch

from codegan import table

try:  # the cluster launcher's submitit, imported at collection: imported for the first time
    # inside a test after TensorFlow has run in this process (tests/test_real_fid.py), it left
    # pytest's capture files closed and the test process died ("lost sys.stderr")
    import codegan.cluster  # noqa: F401
except ImportError:  # without submitit the cluster launchers refuse with one message
    pass
from codegan.config import folder_modes, read_yaml
from codegan.errors import UserError
from codegan.evaluation import collapse as col
from codegan.training.runs import checkpoint_iteration, list_checkpoints, resume_chain

from conftest import REPO, SHARED_DATA, TINY, make_tiny_mnist
from extra_fixtures import coil_classifier, coil_subset  # noqa: F401  (fixtures)
from extra_fixtures import have_shared, real_cifar_subset

# every run: tiny batches, one k-means run, one thread (the cores are shared), 2 G-based
# samples per code, one sample per code in the grids
TRAIN = [f"--{k}={v}" for k, v in TINY.items() if k != "max_iters"] + [
    "--ec_batch_size=8", "--ez_batch_size=8", "--num_threads=1", "--g_eval_per_class=2",
    "--pretrain_batch_size=16", "--grid_per_class=1"]


pytestmark = pytest.mark.usefixtures("drop_checkpoints")  # conftest.py


def rows_of(text: str) -> dict:
    """The page's table rows by (dataset, method): their cells."""
    out = {}
    for ln in text.splitlines():
        if ln.startswith("| ") and not ln.startswith("| dataset"):
            cells = [c.strip() for c in ln.strip("|").split(" | ")]
            out[(cells[0], cells[1])] = cells
    return out


# -- the collapse count -------------------------------------------------------------------------
def test_collapse_count_known_answers():
    k = 10
    codes = np.repeat(np.arange(k), 5)
    # every code makes its own class: nothing collapsed
    got = col.collapse_count(codes, codes, k)
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (0, 0, 0)
    # majority classes 0,0,0,1,2,3,3,5,6,7 (one stray sample per code): codes 0-2 share class
    # 0 and 5-6 class 3, so 3 codes have no class of their own, 5 share, classes 4, 8, 9 miss
    maj = np.array([0, 0, 0, 1, 2, 3, 3, 5, 6, 7])
    pred = np.repeat(maj, 5)
    pred[::5] = 9  # a minority vote in every code changes nothing
    got = col.collapse_count(pred, codes, k)
    assert got["majority"] == maj.tolist()
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (3, 5, 3)
    # a tie goes to the lowest class; a code without samples has no class (-1)
    got = col.collapse_count(np.array([4, 4, 2, 2, 7]), np.array([0, 0, 0, 0, 1]), 3)
    assert got["majority"] == [2, 7, -1]
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (1, 0, 1)
    # every code onto one class
    got = col.collapse_count(np.zeros(50, dtype=int), codes, k)
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (9, 10, 9)
    # 20 codes, 10 classes: codes 2j and 2j+1 make class j
    got = col.collapse_count(np.arange(20) // 2, np.arange(20), 20, n_classes=10)
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (10, 20, 0)
    assert col.collapse_text(got) == "10 / 20" and col.collapse_text({"missing": "x"}) == "–"


class CodeG(torch.nn.Module):
    """G(z, c): a 1x4x4 image whose every pixel is c / 10 (z ignored)."""

    def forward(self, z, c):
        return (c.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


class HalfClassifier(torch.nn.Module):
    """Logits for 10 classes, the highest at class floor(c / 2) of an image of CodeG."""

    def forward(self, x):
        c = torch.round(x[:, 0, 0, 0] * 10).long()
        return torch.nn.functional.one_hot(c // 2, 10).float()


def test_generator_collapse_runs_the_g_based_assignment():
    """Through the G-based protocol's own generation and classification: 10 codes made by
    a G whose codes 2j and 2j+1 the classifier both calls class j."""
    from types import SimpleNamespace

    cfg = SimpleNamespace(g_eval_per_class=3, zn_dim=2, zc_dim=10, seed=0, eval_batch_size=7,
                          z_prior="normal", z_scale=1.0)
    got = col.generator_collapse(CodeG(), cfg, HalfClassifier(), "cpu")
    assert got["majority"] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert (got["no_own_class"], got["shared"], got["missing_classes"]) == (5, 10, 5)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--folders=Nowhere"], "unknown folder Nowhere in --folders; the table's folders are MNIST"),
    (["--methods=codegan,foo"], "unknown method foo in --methods"),
    (["--budget=1.5"], r"--budget=1.5: give a fraction of the official schedule in \(0, 1\]"),
    (["--budget=abc"], "--budget=abc: give a fraction"),
    (["--budget=0"], "--budget=0: give a fraction"),
    (["--max_iters=5"], "give one of --budget=FRACTION .* not both"),
    (["--select=best"], "--select=best: the rules are final"),
    (["--launcher=pbs"], "--launcher=pbs: choose local"),
    (["--launcher=submitit-local", "--wait=false"], "--wait=false goes with --launcher=slurm"),
    (["--partition=gpu"], "--partition is a Slurm option; add --launcher=slurm"),
    (["--launcher=slurm", "--time=soon"], "--time=soon: give minutes"),
    (["--launcher=slurm", "--gpus_per_job=-1"], "--gpus_per_job=-1: give a whole number >= 0"),
    (["--seed=3"], "--seed is set per cell by the table: use --seeds=0,1,2"),
    (["--table=side"], "--table=side: the tables are main"),
    (["--COIL20:g_eval_per_class=2"], "--COIL20:key=value names no folder of the table"),
    (["nonsense"], "cannot read argument 'nonsense'"),
])
def test_bad_input_is_one_clear_message(tmp_path, capsys, argv, message):
    base = {"--budget": "--budget=0.01", "--out": f"--out={tmp_path / 't'}"}
    base.update({a.split("=")[0]: a for a in argv})
    with pytest.raises(SystemExit) as e:
        table.main(list(base.values()))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert not os.path.exists(tmp_path / "t")  # nothing written


def test_slurm_options_become_sbatch_lines(tmp_path):
    pytest.importorskip("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    from codegan.cluster import make_executor, minutes, slurm_parameters

    assert [minutes(t) for t in ("90", "1:30", "1:30:01", "1-00:00:00")] == [90, 90, 91, 1440]
    sp = slurm_parameters({"partition": "gpu", "time": "2:00:00", "gpus_per_job": "2",
                           "cpus_per_job": "16", "mem_gb": "64", "max_requeues": "5"})
    assert sp["max_num_timeout"] == 5
    text = _make_sbatch_string(command="x", folder=str(tmp_path), **sp["params"])
    for line in ("--partition=gpu", "--time=120", "--gpus-per-node=2", "--cpus-per-task=16",
                 "--mem=64GB", "--requeue", "--signal=USR2@120", "--nodes=1"):
        assert f"#SBATCH {line}\n" in text + "\n", line
    if shutil.which("srun") is None:  # no Slurm here: one message, not submitit's traceback
        with pytest.raises(UserError, match="--launcher=slurm needs Slurm .* --launcher=local"):
            make_executor("slurm", str(tmp_path), {})


def test_budget_is_a_fraction_of_each_folders_official_schedule(tmp_path):
    """--budget=0.05 of MNIST on 64 images: CoDeGAN's 400 epochs of one batch of 64 = 400
    iterations, so 20 for every method; ClusterGAN's own schedule (2,669 epochs) is longer."""
    data = make_tiny_mnist(tmp_path / "data", n_train=64)
    treq = table.TableRequest(["--folders=MNIST", "--methods=codegan,clustergan", "--budget=5%",
                               f"--out={tmp_path / 't'}", f"--data_root={data}"])
    f = table.Folder(treq, "MNIST")
    assert f.max_iters == 20 and "--max_iters=20" in f.argv and f.req.max_iters == 20
    assert f.schedules == {None: (400, 1), "codegan": (400, 1), "clustergan": (2669, 1)}
    assert table.rep.budget_fraction(20, *f.schedules["clustergan"]) == pytest.approx(20 / 2669)


# -- the page -------------------------------------------------------------------------------------
def test_missing_data_is_one_line_and_a_row(tmp_path, capsys):
    out = tmp_path / "t"
    path = table.run_table(["--folders=3D-Chairs,3D-Cars", "--budget=0.01", f"--out={out}",
                            f"--data_root={tmp_path / 'empty'}"])
    lines = capsys.readouterr().out.splitlines()
    for name, what in (("3D-Chairs", "Put the rendered_chairs/ folder"),
                       ("3D-Cars", "Put the cars/ folder of car_<NNN>_mesh.mat files")):
        said = [ln for ln in lines if ln.startswith(f"skipped {name}: ")]
        assert len(said) == 1 and what in said[0] and str(tmp_path / "empty") in said[0]
        row = rows_of(open(path).read())[(name, "all")]
        assert row[-1].startswith("data missing: ") and what in row[-1]
    assert not os.path.exists(out / "3D-Chairs")  # nothing trained, no manifest


def test_untrained_row_is_the_runs_starting_networks(tmp_path, capsys):
    """Seed 1's iteration-0 scores: the networks a fresh trainer of the run's own config.yml
    starts from, scored as the trainer scores, on their own row; the trained row differs."""
    from codegan.config import validate
    from codegan.evaluation.evaluate import evaluate
    from codegan.training.loop import Trainer

    if not have_shared("mnist.npz"):  # real digits: an untrained network's scores vary by seed
        pytest.skip(f"no mnist.npz in {SHARED_DATA}")
    data = real_subset(tmp_path / "data", "mnist.npz")
    out = tmp_path / "t"
    path = table.run_table(["--folders=MNIST", "--methods=codegan", "--seeds=1",
                            "--max_iters=3", f"--out={out}", f"--data_root={data}", *TRAIN])
    seed_dir = out / "MNIST" / "codegan" / "seed1"
    zero = json.load(open(seed_dir / "iteration0.json"))
    run = resume_chain(str(seed_dir))[-1][0]
    cfg = validate(read_yaml(os.path.join(run, "config.yml")))
    assert cfg.seed == 1
    tr = Trainer(cfg, os.path.join(REPO, "MNIST"))
    want = evaluate(tr.nets, tr.cfg, tr.eval_data, tr.device)
    other = Trainer(validate({**cfg.to_dict(), "seed": 0}), os.path.join(REPO, "MNIST"))
    assert evaluate(other.nets, other.cfg, other.eval_data, other.device)[
        "nmi_best_of_runs"] != pytest.approx(want["nmi_best_of_runs"])  # the check can tell
    for k in ("acc_purity_best_of_runs", "acc_best_of_runs", "nmi_best_of_runs",
              "ari_best_of_runs"):
        assert zero["scores"][k] == pytest.approx(want[k]), k
    final = [json.loads(ln) for ln in open(os.path.join(run, "metrics.jsonl"))][-1]
    assert final["iteration"] == 3 and sorted(table.rep.scores_of(final)) == \
        sorted(table.rep.scores_of(zero["scores"]))  # the same protocol, the same scores
    rows = rows_of(open(path).read())
    trained, untrained = rows[("MNIST", "codegan")], rows[("MNIST", "codegan, untrained "
                                                                    "(iteration 0)")]
    assert untrained[4] == table.rep.fmt(zero["scores"]["acc_purity_best_of_runs"], 0, 1)
    assert untrained[7] == table.rep.fmt(zero["scores"]["nmi_best_of_runs"], 0, 1)
    assert trained[7] == table.rep.fmt(final["nmi_best_of_runs"], 0, 1)
    assert untrained[3] == "0%" and trained[3].startswith("3 it. = ")


def real_subset(root, name: str) -> str:
    """The first 64 training and 100 test images of a shared MNIST-format file, in ``root``."""
    os.makedirs(root, exist_ok=True)
    with np.load(os.path.join(SHARED_DATA, name)) as f:
        np.savez(os.path.join(root, name), x_train=f["x_train"][:64],
                 y_train=f["y_train"][:64], x_test=f["x_test"][:100], y_test=f["y_test"][:100])
    return str(root)


def tiny_root(tmp_path, coil_subset):  # noqa: F811
    """Small copies of the shared real datasets present (the first images of each split), and
    the 3D-Cars folder itself (small already)."""
    root = tmp_path / "data"
    os.makedirs(root)
    have = []
    for name, folder in (("mnist.npz", "MNIST"), ("fashion_mnist.npz", "Fashion-MNIST")):
        if have_shared(name):
            real_subset(root, name)
            have.append(folder)
    if os.path.isfile(os.path.join(SHARED_DATA, "cifar10.npz")):
        real_cifar_subset(root, n_train=64, n_test=100)
        have.append("CIFAR-10")
    if coil_subset is not None:
        shutil.copy(os.path.join(coil_subset[0], "coil20.npz"), root / "coil20.npz")
        have.append("COIL-20")
    if os.path.isdir(os.path.join(SHARED_DATA, "cars")):
        os.symlink(os.path.join(SHARED_DATA, "cars"), root / "cars")
        have.append("3D-Cars")
    return str(root), have


@pytest.mark.parametrize("folders, methods", [
    # the default suite: every folder of the main table, those whose data is in the shared
    # datasets trained (3D-Chairs' is not: its row says what is missing), two methods
    (table.TABLES["main"]["folders"], ("codegan", "infogan")),
    # every method too: minutes more on 2 cores
    pytest.param(table.TABLES["main"]["folders"], table.TABLES["main"]["methods"],
                 marks=pytest.mark.slow),
])
def test_table_page_at_a_tiny_budget(folders, methods, tmp_path, request, capsys):
    """The folders of the table whose data is in the shared datasets, two iterations a cell:
    each row, its paper values, budget, collapse count and links; the data-less folders
    listed; a second call reuses every run and writes table-1.md beside the first page."""
    coil = "COIL-20" in folders and have_shared("coil20.npz")
    coil_subset = request.getfixturevalue("coil_subset") if coil else None  # noqa: F811
    coil_classifier = request.getfixturevalue("coil_classifier") if coil else "none.pt"
    root, have = tiny_root(tmp_path, coil_subset)
    have = [f for f in have if f in folders]
    if not have:
        pytest.skip(f"no shared datasets in {SHARED_DATA}")
    out = tmp_path / "t"
    argv = ["--table=main", f"--folders={','.join(folders)}", f"--methods={','.join(methods)}",
            "--seeds=0", "--max_iters=2", f"--out={out}", f"--data_root={root}", *TRAIN,
            f"--COIL-20:classifier_path={coil_classifier}", "--COIL-20:classifier_arch=resnet18"]
    if "3D-Cars" in folders:  # none: whatever this checkout's 3D-Cars/classifier/ holds
        argv.append(f"--3D-Cars:classifier_path={tmp_path / 'none.pt'}")
        # the real renders, in batches of 2 and without the E-based encoding of all 960
        # images at every evaluation: its 64x64 networks cost about a second per image and
        # step on 2 cores
        argv += [*(f"--3D-Cars:{k}=2" for k in ("g_batch_size", "d_batch_size",
                                                  "ec_batch_size", "ez_batch_size")),
                 "--3D-Cars:pretrain_batch_size=4", "--3D-Cars:g_eval_e_based=false"]
    path = table.run_table(argv)
    text = open(path).read()
    assert path == str(out / "table.md")
    assert "NMI: normalised mutual information with the arithmetic mean" in text
    assert "purity (ACC)" in text and "Hungarian ACC" in text and "--select=final" in text
    rows = rows_of(text)
    assert {d for d, _ in rows} == set(folders)
    for folder in folders:
        if folder not in have:
            assert rows[(folder, "all")][-1].startswith("data missing: "), folder
            continue
        for m in methods:
            row = rows[(folder, m)]
            assert row[2] == "1" and re.fullmatch(r"2 it\. = [0-9.e-]+%", row[3]), row
            links = re.findall(r"\]\(([^)]+)\)", row[-1])
            assert links and all(os.path.isdir(out / p) for p in links), row
            assert rows[(folder, f"{m}, untrained (iteration 0)")][3] == "0%"
        own_modes = folder_modes(os.path.join(REPO, folder))
        if "self" in own_modes and "codegan" in methods:  # the paper's "CoDeGAN (self)" row
            row = rows[(folder, "codegan (self)")]
            assert row[2] == "1" and re.fullmatch(r"2 it\. = [0-9.e-]+%", row[3]), row
            assert re.search(r"E_c pre-trained \d+ iterations \(SimCLR", row[-1]), row
            assert os.path.isfile(out / f"{folder}-self" / "E_c_simclr.pt")
            run = resume_chain(str(out / f"{folder}-self" / "codegan" / "seed0"))[-1][0]
            cfg = read_yaml(os.path.join(run, "config.yml"))
            assert cfg["mode"] == "self" and cfg["pretrain"] is True
            assert {k: cfg[k] for k in own_modes["self"] if k != "chain_step"} == \
                {k: v for k, v in own_modes["self"].items() if k != "chain_step"}
            assert rows[(folder, "codegan (self), untrained (iteration 0)")][3] == "0%"
        else:  # MNIST: the official folder has no pre-trained mode
            assert (folder, "codegan (self)") not in rows
    published = {("Fashion-MNIST", "codegan"): ("0.65", "0.66", "0.52"),
                 ("Fashion-MNIST", "infogan"): ("0.61", "0.59", "0.44"),
                 ("CIFAR-10", "codegan"): ("0.44", "0.35", "0.26"),
                 ("CIFAR-10", "infogan"): ("0.31*", "0.21*", "0.12*"),  # * re-run by CoDeGAN's
                 ("Fashion-MNIST", "codegan (self)"): ("0.75", "0.72", "0.63"),
                 ("CIFAR-10", "codegan (self)"): ("0.50", "0.35", "0.27"),
                 ("COIL-20", "codegan"): ("0.89", "0.91", "0.84")}
    for (folder, m), (acc, nmi, ari) in published.items():
        if folder in have:
            row = rows[(folder, m)]
            assert (row[5], row[8], row[10]) == (acc, nmi, ari), row
            assert re.fullmatch(r"-?\d\.\d{3}", row[4]), row  # one seed: no ± part
    if "MNIST" in have:  # no value recorded: a dash, not a number from elsewhere
        assert rows[("MNIST", "codegan")][5] == "–"
    if "COIL-20" in have:  # the G-based folder with a classifier: a collapse count per run
        assert re.fullmatch(r"\d+ / \d+", rows[("COIL-20", "codegan")][11])
        assert re.fullmatch(r"\d+ / \d+", rows[("COIL-20", "codegan, untrained "
                                                           "(iteration 0)")][11])
    if "3D-Cars" in have:  # no classifier: said so, not a blank
        assert "no G-based scores: no usable classifier" in rows[("3D-Cars", "codegan")][-1]
    if "MNIST" in have:  # the E-based folders have no classifier to count with
        assert rows[("MNIST", "codegan")][11] == "–"
    capsys.readouterr()
    again = table.run_table(argv)
    said = capsys.readouterr().out
    assert again == str(out / "table-1.md") and open(path).read() == text
    assert "training to iteration" not in said
    n_self = sum("self" in folder_modes(os.path.join(REPO, f)) for f in have)
    assert said.count("; reused") == len(methods) * len(have) + n_self
    assert "pre-training E_c" not in said  # the pre-trained weights are reused too


# -- the cluster launcher -------------------------------------------------------------------------
def test_local_executor_job_stopped_by_sigterm_is_requeued_and_resumes(tmp_path):
    """A cell's job under submitit's local executor (real processes and job files) gets
    SIGTERM once its first checkpoint is written: the trainer checkpoints, the job asks
    submitit to requeue it, the restarted job continues from that checkpoint and ends at the
    iteration and weights of an uninterrupted run of the same cell."""
    pytest.importorskip("submitit")
    from codegan.cluster import CellJob, make_executor

    data = make_tiny_mnist(tmp_path / "data")

    def folder_of(out):
        treq = table.TableRequest(["--folders=MNIST", "--methods=codegan", "--seeds=0",
                                   "--max_iters=6", f"--out={out}", f"--data_root={data}",
                                   "--save_iters=1", "--keep_checkpoints=1", *TRAIN])
        return table.Folder(treq, "MNIST")

    straight = folder_of(tmp_path / "straight")
    done = CellJob()(straight.argv, "codegan", 0, os.getcwd())  # uninterrupted, in-process
    assert done["iteration"] == 6

    cut = folder_of(tmp_path / "cut")
    ex = make_executor("submitit-local", str(tmp_path / "jobs"), {"time": "10"})
    job = ex.submit(CellJob(), cut.argv, "codegan", 0, os.getcwd())
    seed_dir = str(tmp_path / "cut" / "MNIST" / "codegan" / "seed0")
    t0 = time.time()
    while not resume_chain(seed_dir):  # its first checkpoint: the trainer is in its loop
        assert job.state == "RUNNING" and time.time() - t0 < 120, \
            open(job.paths.stderr).read()[-2000:]
        time.sleep(0.02)
    job._process.send_signal(signal.SIGTERM)  # as Slurm does: forwarded to the job's task
    res = job.result()
    log = open(job.paths.stderr).read() + open(job.paths.stdout).read()
    assert "SIGTERM: stopping after this iteration" in log and "Requeued job" in log
    chain = resume_chain(seed_dir)
    assert len(chain) == 2, log[-2000:]  # the first run folder, and the requeued one
    stopped_at = chain[0][1]
    assert 1 <= stopped_at < 6
    assert read_yaml(os.path.join(chain[1][0], "config.yml"))["resume"].endswith(
        f"ckpt-{stopped_at:08d}.pt")
    assert res["iteration"] == done["iteration"] == 6
    a = torch.load(list_checkpoints(chain[1][0])[-1], weights_only=True)["nets"]
    b = torch.load(list_checkpoints(done["run"])[-1], weights_only=True)["nets"]
    assert checkpoint_iteration(list_checkpoints(chain[1][0])[-1]) == 6
    assert all(torch.equal(a[k], b[k]) for k in b)


def test_wait_false_then_the_same_command_waits_instead_of_submitting_again(tmp_path,
                                                                             monkeypatch, capsys):
    """--launcher=slurm --wait=false submits one job per cell and seed and returns; the same
    command while they are queued or running waits for them (jobs.json), submits nothing."""
    pytest.importorskip("submitit")
    from codegan import cluster

    submitted, states = [], {}

    class Job:
        def __init__(self, job_id):
            self.job_id, self.paths = job_id, None

        @property
        def state(self):
            return states[self.job_id]

        def result(self):
            return {"iteration": 2}

    class Executor:
        def submit(self, fn, argv, method, seed, cwd, pretrain):
            assert isinstance(fn, cluster.CellJob) and "--max_iters=2" in argv
            if "--mode=self" in argv:  # the pre-trained cell's job pre-trains first
                folder, pre_argv, weights = pretrain
                assert folder.endswith("Fashion-MNIST") and weights.endswith(
                    os.path.join("Fashion-MNIST-self", "E_c_simclr.pt"))
                assert f"--pretrain_path={weights}" in pre_argv and f"--pretrain_path=" \
                    f"{weights}" in argv
                method += " (self)"
            else:
                assert pretrain is None
            submitted.append((method, seed))
            states[str(len(submitted))] = "PENDING"
            return Job(str(len(submitted)))

    monkeypatch.setattr(cluster, "make_executor", lambda *a: Executor())
    monkeypatch.setattr(cluster.submitit, "SlurmJob", lambda folder, job_id: Job(job_id))
    data = make_tiny_mnist(tmp_path / "data")
    make_tiny_mnist(tmp_path / "data", name="fashion_mnist.npz")
    argv = ["--folders=MNIST,Fashion-MNIST", "--methods=codegan,infogan", "--seeds=0",
            "--max_iters=2", f"--out={tmp_path / 't'}", f"--data_root={data}",
            "--launcher=slurm", *TRAIN]
    assert table.run_table([*argv, "--wait=false"]) is True
    assert sorted(submitted) == [("codegan", 0), ("codegan", 0), ("codegan (self)", 0),
                                 ("infogan", 0), ("infogan", 0)]
    book = json.load(open(tmp_path / "t" / "jobs.json"))
    assert sorted(book) == ["Fashion-MNIST-self/codegan/seed0", "Fashion-MNIST/codegan/seed0",
                            "Fashion-MNIST/infogan/seed0", "MNIST/codegan/seed0",
                            "MNIST/infogan/seed0"]
    states.update({"1": "RUNNING", "2": "PENDING", "3": "PENDING", "4": "PENDING",
                   "5": "RUNNING"})
    capsys.readouterr()
    path = table.run_table(argv)  # waits for all, submits nothing, writes the page
    said = capsys.readouterr().out
    assert len(submitted) == 5 and said.count("of an earlier invocation is") == 5
    assert path == str(tmp_path / "t" / "table.md")
    states.update({"1": "COMPLETED", "2": "FAILED"})  # ended (without runs here): submitted again
    assert table.run_table([*argv, "--wait=false"]) is True and len(submitted) == 7


def test_a_pretrained_cells_job_pretrains_once_then_trains(tmp_path):
    """The job of a "(self)" cell, called as a submitit job calls it: it writes the folder's
    pre-trained E_c first, its run starts from those weights, and a second job of the same
    cell (another seed) finds them and does not pre-train again."""
    pytest.importorskip("submitit")
    from codegan import cluster

    # noisy images: random and pre-trained encoders score differently
    data = make_tiny_mnist(tmp_path / "data", name="fashion_mnist.npz", noise=250)
    treq = table.TableRequest(["--folders=Fashion-MNIST", "--methods=codegan", "--seeds=0,1",
                               "--max_iters=2", f"--out={tmp_path / 't'}", f"--data_root={data}",
                               *TRAIN])
    f = table.Folder(treq, "Fashion-MNIST", "self")
    res = cluster.CellJob()(f.argv, "codegan", 0, str(tmp_path), f.pretrain)
    assert res["iteration"] == 2 and os.path.isfile(f.weights)
    stamp = os.stat(f.weights).st_mtime_ns
    weights = torch.load(f.weights, weights_only=True)["state_dict"]
    cfg = read_yaml(os.path.join(res["run"], "config.yml"))
    assert cfg["pretrain_path"] == f.weights and cfg["mode"] == "self"
    start = json.load(open(tmp_path / "t" / "Fashion-MNIST-self" / "codegan" / "seed0" /
                           "iteration0.json"))
    assert start["iteration"] == 0  # the run started from the pre-trained E: its scores
    pre = json.load(open(tmp_path / "t" / "Fashion-MNIST-self" / "E_c_simclr.results.json"))
    assert start["scores"]["nmi_best_of_runs"] == pytest.approx(pre["nmi_best_of_runs"])
    from codegan.cells import untrained_scores

    plain = untrained_scores(table.Folder(treq, "Fashion-MNIST").req, "codegan", 0)
    assert plain["scores"]["nmi_best_of_runs"] != pytest.approx(pre["nmi_best_of_runs"])
    res1 = cluster.CellJob()(f.argv, "codegan", 1, str(tmp_path), f.pretrain)
    assert res1["iteration"] == 2 and os.stat(f.weights).st_mtime_ns == stamp
    assert weights  # the file holds E_c's weights


@pytest.mark.slow  # two job processes start torch: about a minute on 2 shared cores
def test_submitit_local_launcher_writes_the_same_page(tmp_path, capsys):
    """--launcher=submitit-local end to end: one job per cell and seed (real processes), then
    the page, whose cell reads what the job wrote (its run, the untrained scores)."""
    pytest.importorskip("submitit")
    data = make_tiny_mnist(tmp_path / "data")
    out = tmp_path / "t"
    path = table.run_table(["--folders=MNIST", "--methods=codegan", "--seeds=0,1",
                            "--max_iters=2", f"--out={out}", f"--data_root={data}",
                            "--launcher=submitit-local", "--time=20", *TRAIN])
    said = capsys.readouterr().out
    assert said.count("submitted (training to iteration 2") == 2 and "done at iteration 2" in said
    row = rows_of(open(path).read())[("MNIST", "codegan")]
    assert row[2] == "2" and row[-1].count("](MNIST/codegan/seed") == 2
    for s in (0, 1):
        assert os.path.isfile(out / "MNIST" / "codegan" / f"seed{s}" / "iteration0.json")
    assert json.load(open(out / "jobs.json"))["MNIST/codegan/seed1"]["launcher"] == \
        "submitit-local"


@pytest.mark.parametrize("module", ["codegan.compare", "codegan.table"])
def test_a_second_ctrl_c_says_how_to_go_on(module, monkeypatch, capsys):
    """Both commands: Ctrl-C that aborts the run in progress ends with exit 130 and one line
    saying that the same command continues each run; --help prints the usage, nothing runs."""
    import importlib

    mod = importlib.import_module(module)
    run = "run_compare" if module == "codegan.compare" else "run_table"

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(mod, run, interrupted)
    with pytest.raises(SystemExit) as e:
        mod.main(["--folders=MNIST"])
    assert e.value.code == 130
    assert "Run the same command again" in capsys.readouterr().err
    assert mod.main(["--help"]) is True
    assert capsys.readouterr().out.strip() == mod.__doc__.strip()


def test_a_modes_cells_take_codegan_settings_from_the_command_line(tmp_path):
    """The "(self)" cells' pre-training and chain follow the budget's fraction of the settings
    given on the command line (CoDeGAN's own: pretrain_epochs, chain_step), not of param.yml's."""
    data = make_tiny_mnist(tmp_path / "data", name="fashion_mnist.npz", n_train=640)
    treq = table.TableRequest(["--folders=Fashion-MNIST", "--methods=codegan", "--seeds=0",
                               "--budget=0.01", f"--out={tmp_path / 't'}", f"--data_root={data}",
                               "--pretrain_epochs=10", "--chain_step=5"])
    f = table.Folder(treq, "Fashion-MNIST", "self")
    # 1% of 600 epochs of 10 iterations (640 images / 64) = 60 iterations; the pre-training 1%
    # of 10 epochs of 2 iterations (640 / 256); the chain at 1% of 5 epochs of 10 iterations
    assert f.max_iters == 60
    assert f.pretrain_iters == 1
    assert "--chain_iters=1" in f.argv
