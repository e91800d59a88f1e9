"""The table's label-free checkpoint rule ``--select=fake_codes``: its score's known answers (an
encoder that reads the code back scores NMI 1, one that ignores it about 0), the choice among
scores, and the page reporting the chosen checkpoint's own evaluation."""

import json
import os
import re
import types

import pytest
import torch
import torch.nn.functional as F

from codegan import table
from codegan.config import load_config
from codegan.errors import UserError
from codegan.evaluation import fake_codes as fc
from codegan.methods import METHODS
from codegan.training.runs import checkpoint_iteration, list_checkpoints, resume_chain

from conftest import REPO, TINY, make_tiny_mnist

pytestmark = pytest.mark.usefixtures("drop_checkpoints")  # conftest.py


def _toy(monkeypatch, features):
    """CoDeGAN's place in the registry taken by a method whose ``represent`` is
    ``features(x)``, and a G that writes the class code into pixel (0, 0) and the first noise
    entry into pixel (0, 1)."""
    class Toy(METHODS["codegan"]):
        @classmethod
        def represent(cls, nets, cfg, x, keys=None):
            return {"features": features(x)}

    monkeypatch.setitem(METHODS, "codegan", Toy)
    cfg = load_config(os.path.join(REPO, "MNIST", "param.yml"), {"kmeans_runs": 3})

    def G(z, c):
        x = torch.zeros(len(z), 1, 28, 28)
        x[:, 0, 0, 0] = c.float()
        x[:, 0, 0, 1] = z[:, 0]
        return x

    return G, types.SimpleNamespace(), cfg  # a namespace: represent is called as it is


def test_an_encoder_that_reads_the_code_back_scores_1(monkeypatch):
    G, nets, cfg = _toy(monkeypatch, lambda x: F.one_hot(x[:, 0, 0, 0].long(), 10).float())
    res = fc.fake_code_scores(G, nets, cfg, "cpu", n=500)
    assert res["fake_nmi"] == pytest.approx(1.0) and res["fake_acc_purity"] == pytest.approx(1.0)
    assert res["n"] == 500


def test_an_encoder_that_ignores_the_code_scores_near_0(monkeypatch):
    G, nets, cfg = _toy(monkeypatch, lambda x: x[:, 0, 0, 1:2])  # the noise, not the code
    res = fc.fake_code_scores(G, nets, cfg, "cpu", n=2000)
    assert res["fake_nmi"] < 0.05, res


def test_the_held_out_latents_are_their_own_stream(monkeypatch):
    """The score does not depend on (or move) the global random stream."""
    G, nets, cfg = _toy(monkeypatch, lambda x: torch.cat([x[:, 0, 0, :2],
                                                          x[:, 0, 0, :1] * 0.1], 1))
    torch.manual_seed(0)
    a = fc.fake_code_scores(G, nets, cfg, "cpu", n=300)
    after = torch.rand(1)
    torch.manual_seed(1)
    assert fc.fake_code_scores(G, nets, cfg, "cpu", n=300) == a
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), after)


def test_a_method_without_class_codes_is_refused(monkeypatch):
    G, nets, cfg = _toy(monkeypatch, lambda x: x[:, 0, 0, :1])
    cfg = load_config(os.path.join(REPO, "MNIST", "param.yml"), {"method": "mathieu16"})
    with pytest.raises(UserError, match="use --select=final"):
        fc.fake_code_scores(G, nets, cfg, "cpu", n=10)


def test_the_rule_takes_the_highest_score_and_of_equal_ones_the_latest():
    s = {2: {"fake_nmi": 0.5}, 4: {"fake_nmi": 0.9}, 6: {"fake_nmi": 0.7}}
    assert fc.best_iteration(s) == 4
    s[8] = {"fake_nmi": 0.9}
    assert fc.best_iteration(s) == 8


def test_the_page_reports_the_chosen_checkpoints_own_evaluation(tmp_path, capsys):
    """Checkpoints and evaluations at 2 and 4: the rule picks by the scores kept beside the
    checkpoints; with iteration 2's made the best, the next page reports iteration 2's record
    and names it, while --select=final reports iteration 4's."""
    # noise nearly as bright as the bars: the scores still move between iterations 2 and 4
    data = make_tiny_mnist(tmp_path / "data", n_train=64, n_test=40, noise=250)
    out = tmp_path / "t"
    train = [f"--{k}={v}" for k, v in TINY.items() if k != "max_iters"]
    argv = ["--folders=MNIST", "--methods=codegan", "--seeds=0", "--max_iters=4",
            "--save_iters=2", "--test_iters=2", f"--out={out}", f"--data_root={data}",
            "--num_threads=1", *train]
    first = table.run_table(argv + ["--select=fake_codes"])
    seed_dir = str(out / "MNIST" / "codegan" / "seed0")
    run = resume_chain(seed_dir)[-1][0]
    ckpts = {checkpoint_iteration(c): c for c in list_checkpoints(run)}
    assert sorted(ckpts) == [2, 4]
    kept = {it: json.load(open(os.path.splitext(c)[0] + ".fake_codes.json"))
            for it, c in ckpts.items()}
    picked = fc.best_iteration(kept)
    text = open(first).read()
    assert f"chosen: s0 iteration {picked:,} of 2" in text
    assert "--select=fake_codes" in text
    # make iteration 2 the best and 4 the worst: the next page must report iteration 2
    for it, v in ((2, 1.0), (4, 0.0)):
        path = os.path.splitext(ckpts[it])[0] + ".fake_codes.json"
        json.dump({**kept[it], "fake_nmi": v}, open(path, "w"))
    records = {r["iteration"]: r for r in map(json.loads, open(os.path.join(run, "metrics.jsonl")))}
    assert records[2]["nmi_best_of_runs"] != records[4]["nmi_best_of_runs"]  # can tell them apart
    text = open(table.run_table(argv + ["--select=fake_codes"])).read()
    assert "chosen: s0 iteration 2 of 2" in text
    nmi = _row(text)[7]
    assert nmi == table.rep.fmt(records[2]["nmi_best_of_runs"], 0, 1)
    final = open(table.run_table(argv)).read()
    assert "chosen:" not in final
    assert _row(final)[7] == table.rep.fmt(records[4]["nmi_best_of_runs"], 0, 1)


def _row(text: str) -> list:
    line = next(ln for ln in text.splitlines() if ln.startswith("| MNIST | codegan |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_an_unknown_rule_is_one_message(tmp_path):
    with pytest.raises(UserError, match=re.escape("--select=best: the rules are final")):
        table.TableRequest(["--folders=MNIST", "--max_iters=2", "--select=best"])
