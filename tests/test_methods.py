"""The method interface (codegan/methods): the ``method`` setting picks a registered method, and a
new method trains, checkpoints, resumes and is evaluated by the unchanged loop."""

import json
import os

import pytest
import torch

from codegan.config import load_config
from codegan.errors import UserError
from codegan.methods import METHODS, CoDeGAN, Method
from codegan.methods.losses import d_loss
from codegan.training import cli
from codegan.training.loop import Trainer
from codegan.training.runs import latest_checkpoint
from conftest import REPO, TINY

MNIST_DIR = os.path.join(REPO, "MNIST")


def config(data_root, out, **over):
    return load_config(os.path.join(MNIST_DIR, "param.yml"),
                       {**TINY, "data_root": data_root, "out": str(out), **over})


def test_the_registry_names_each_method_by_its_setting():
    assert METHODS["codegan"] is CoDeGAN
    for name, cls in METHODS.items():
        assert issubclass(cls, Method) and cls.name == name


def test_codegan_is_the_default_method():
    cfg = load_config(os.path.join(MNIST_DIR, "param.yml"))
    assert cfg.method == "codegan"


def test_an_unknown_method_is_one_clear_error_listing_the_names(tiny_data, tmp_path, capsys):
    names = "codegan, infogan, clustergan, infogan-cr, mathieu16, congan"
    with pytest.raises(UserError, match=rf"'method' is 'info-gan'; choose one of {names}\."):
        config(tiny_data, tmp_path, method="info-gan")
    with pytest.raises(SystemExit) as e:
        cli.train_main(MNIST_DIR, ["--method=nope", f"--data_root={tiny_data}"])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: 'method' is 'nope'; choose one of {names}."


class DOnly(Method):
    """A method of the tests: D steps only, a step counter in its checkpoints, E_c as its
    encoder. It is registered without touching the loop."""

    name = "d-only"
    folder_encoders = True  # it evaluates with the folder's E_c

    def __init__(self, loop):
        super().__init__(loop)
        self.steps = 0

    def train_iteration(self, epoch, idx):
        loop = self.loop
        real = loop.real(loop.stream.next())
        with torch.no_grad():
            fake = self.nets.G(*loop.latents(len(real)))
        loss = d_loss("wgan-gp", self.nets.D(real), self.nets.D(fake))
        loop.opt["D"].zero_grad(set_to_none=True)
        loss.backward()
        loop.opt["D"].step()
        self.steps += 1
        return {"D/loss": loss.detach()}

    def state_dict(self):
        return {"d_only_steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["d_only_steps"]

    @classmethod
    def eval_encoder(cls, nets, cfg):
        return CoDeGAN.eval_encoder(nets, cfg)


def test_a_new_method_runs_on_the_unchanged_loop(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "d-only", DOnly)
    tr = Trainer(config(tiny_data, tmp_path / "runs", method="d-only"), MNIST_DIR)
    assert isinstance(tr.method, DOnly) and set(tr.opt) == {"G", "D"}
    g0 = {k: v.detach().clone() for k, v in tr.nets.G.named_parameters()}
    d0 = {k: v.detach().clone() for k, v in tr.nets.D.named_parameters()}
    run = tr.run()
    state = torch.load(latest_checkpoint(str(tmp_path / "runs")), weights_only=True)
    assert state["config"]["method"] == "d-only" and state["d_only_steps"] == 2
    assert all(torch.equal(v, state["nets"]["G." + k]) for k, v in g0.items())  # G not trained
    assert any(not torch.equal(v, state["nets"]["D." + k]) for k, v in d0.items())  # D trained
    with open(os.path.join(run, "metrics.jsonl")) as f:
        assert json.loads(f.readline())["iteration"] == 2

    resumed = Trainer(config(tiny_data, tmp_path / "runs"), MNIST_DIR,
                      resume=latest_checkpoint(str(tmp_path / "runs")),
                      resume_overrides={"max_iters": 3})
    assert isinstance(resumed.method, DOnly) and resumed.method.steps == 2
    resumed.run()
    assert torch.load(latest_checkpoint(str(tmp_path / "runs")),
                      weights_only=True)["d_only_steps"] == 3

    # test.py evaluates the method's checkpoint with the method's encoder
    res = cli.test_main(MNIST_DIR, [f"--checkpoint={latest_checkpoint(str(tmp_path / 'runs'))}",
                                    f"--data_root={tiny_data}", "--kmeans_runs=1",
                                    "--device=cpu"])
    assert res["iteration"] == 3 and 0 <= res["acc"] <= 1


def test_a_method_cannot_overwrite_the_loops_checkpoint_entries(tiny_data, tmp_path,
                                                                monkeypatch):
    class Clash(DOnly):
        name = "clash"

        def state_dict(self):
            return {"iteration": -1}

    monkeypatch.setitem(METHODS, "clash", Clash)
    tr = Trainer(config(tiny_data, tmp_path, method="clash"), MNIST_DIR)
    with pytest.raises(ValueError, match=r"saves \['iteration'\], which the loop saves"):
        tr.state_dict()
