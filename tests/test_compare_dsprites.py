"""python -m codegan.compare on dSprites: InfoGAN-CR's metric table beside its Table 1,
scored once per checkpoint at protocol sizes (or from the runs' train_metrics), with the
"InfoGAN (modified)" row from InfoGAN-CR's pre-switch checkpoint, which keep_checkpoints spares;
the budget line per method schedule."""

import glob
import json
import os
import re

import numpy as np
import pytest

from codegan import compare
from codegan.errors import UserError
from codegan.evaluation import compare_report as rep
from codegan.evaluation import disentangle

from test_dsprites_folder import write_fixture

TINY = ["--g_batch_size=6", "--d_batch_size=6", "--test_iters=2", "--progress=false",
        "--device=cpu", "--grid_per_class=2", "--dsprites_test_images=30", "--num_threads=1",
        "--train_metrics=[factor_vae,mig]", "--train_metric_n=60", "--train_metric_groups=5",
        "--train_metric_group_size=6", "--keep_checkpoints=1", "--tsne_per_class=0"]
SMALL = {"n": 60, "n_groups": 5, "group_size": 6}  # protocol scoring shrunk for the tests


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("dsprites_cmp"), n=120, seed=2)


@pytest.fixture
def small_protocol(monkeypatch):
    """The comparison's protocol scoring (checkpoint_scores) at tiny sizes, counting the
    checkpoints it really scores (not read back from their kept files)."""
    calls = []
    real = disentangle.checkpoint_scores

    def small(ckpt, *args, **kw):
        if not os.path.isfile(os.path.splitext(ckpt)[0] + ".disentanglement.json"):
            calls.append(os.path.basename(ckpt))
        return real(ckpt, *args, metrics=["factor_vae", "mig", "sap"], **SMALL, **kw)

    monkeypatch.setattr(disentangle, "checkpoint_scores", small)
    return calls


def table_row(md: str, metric: str) -> list:
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| {metric} |") and "paper" not in ln
                and ln.count("|") > 4 and md.index(ln) > md.index("Table 1"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_infogan_cr_rows_are_scored_once_beside_table_1(fixture_root, tmp_path, small_protocol,
                                                         capsys):
    out = tmp_path / "cmp"
    argv = ["--folder=dSprites", "--methods=infogan-cr", "--seeds=0,1", "--max_iters=4",
            f"--out={out}", f"--data_root={fixture_root}", "--cr_start=0.5", *TINY]
    path = compare.run_compare(argv)
    md = open(path).read()
    assert "## Disentanglement against InfoGAN-CR's Table 1" in md
    assert "| metric | infogan-cr | infogan-cr: InfoGAN (modified) | paper: InfoGAN (modified) " \
           "| paper: InfoGAN-CR |" in md
    # each seed's final checkpoint and its pre-switch one (kept despite keep_checkpoints: 1)
    for s in (0, 1):
        ck = sorted(glob.glob(str(out / "infogan-cr" / f"seed{s}" / "*" / "checkpoints" / "*")))
        names = [os.path.basename(p) for p in ck]
        assert names == ["ckpt-00000002.disentanglement.json", "ckpt-00000002.pt",
                         "ckpt-00000004.disentanglement.json", "ckpt-00000004.pt"]
    assert sorted(small_protocol) == ["ckpt-00000002.pt"] * 2 + ["ckpt-00000004.pt"] * 2
    # the table's numbers are the mean (and std) over seeds of the files' headline numbers
    for label, it, col in (("infogan-cr", 4, 1), ("InfoGAN (modified)", 2, 2)):
        vals = []
        for s in (0, 1):
            f = glob.glob(str(out / "infogan-cr" / f"seed{s}" / "*" / "checkpoints" /
                              f"ckpt-0000000{it}.disentanglement.json"))[0]
            vals.append(json.load(open(f))["factor_vae"]["factor_vae"])
        row = table_row(md, "factor_vae")
        assert row[col] == f"{np.mean(vals):.3f} ± {np.std(vals, ddof=1):.3f}"
        assert row[-2:] == ["0.82", "0.88"]
    assert table_row(md, "beta_vae")[1:3] == ["–", "–"]  # not scored in this test
    # a second report reads the kept scores instead of scoring again
    capsys.readouterr()
    path2 = compare.run_compare(argv)
    assert path2.endswith("comparison-1.md") and len(small_protocol) == 4
    assert table_row(open(path2).read(), "factor_vae") == table_row(md, "factor_vae")


def test_train_records_feed_the_table_and_other_folders_refuse_it(fixture_root, tmp_path,
                                                                   small_protocol):
    out = tmp_path / "cmp"
    path = compare.run_compare(["--folder=dSprites", "--methods=infogan", "--seeds=0",
                                "--max_iters=2", f"--out={out}", f"--data_root={fixture_root}",
                                "--final_metrics=train", *TINY])
    md = open(path).read()
    rec = [json.loads(ln) for ln in open(glob.glob(str(out / "infogan/seed0/*/metrics.jsonl"))[0])]
    assert table_row(md, "mig")[1] == f"{rec[-1]['mig']:.3f}"
    assert "last train_metrics" in md and small_protocol == []
    assert "No method here has a class code" in md and "| method | seeds | purity" not in md
    budget = re.search(r"Budget: (.*)", md).group(1)
    assert "of the official schedule" not in budget  # infogan follows its own, not CoDeGAN's
    assert "% of the schedule infogan's authors published for this dataset (infogan: max_step " \
           "28 epochs x 1 iterations per epoch = 28 iterations)" in budget
    with pytest.raises(UserError, match="dSprites only"):
        compare.run_compare(["--folder=MNIST", "--methods=codegan", "--seeds=0", "--max_iters=2",
                             f"--out={tmp_path / 'm'}", "--final_metrics=train"])
    with pytest.raises(UserError, match="choose protocol"):
        compare.Request(["--folder=dSprites", "--methods=infogan", "--seeds=0", "--max_iters=2",
                         "--final_metrics=all"])


def test_budget_line_names_each_schedule():
    one = rep.budget_line(1000, {"codegan": (10, 100), "infogan": (10, 100)}, (10, 100), "X")
    assert one.startswith("1,000 iterations per run = 100% of the official schedule, CoDeGAN's: "
                          "max_step 10 epochs x 100 iterations per epoch = 1,000 iterations")
    two = rep.budget_line(500, {"codegan": (10, 100), "infogan": (5, 50), "x": (5, 50)},
                          (10, 100), "P")
    assert two.startswith("500 iterations per run = 50% of CoDeGAN's schedule (codegan: max_step "
                          "10 epochs x 100 iterations per epoch = 1,000 iterations); 200% of the "
                          "schedule infogan, x's authors published for this dataset (infogan, x: "
                          "max_step 5 epochs")


def test_disentanglement_table_known_answer():
    rows = {"a": {"mig": (0.1, 0.02, 2)},
            "b": {"mig": (0.3, 0.0, 1), "sap": (0.5, 0.0, 1), "dhsic": (0.01, 0.0, 1)}}
    lines = rep.disentanglement_table(rows, {"sap": (0.41, 0.58), "mig": (0.22, 0.37)})
    assert lines[0] == "| metric | a | b | paper: InfoGAN (modified) | paper: InfoGAN-CR |"
    assert lines[2:] == ["| sap | – | 0.500 | 0.41 | 0.58 |",
                         "| mig | 0.100 ± 0.020 | 0.300 | 0.22 | 0.37 |",
                         "| dhsic | – | 0.010 | – | – |"]
