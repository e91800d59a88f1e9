"""bench/official_diff.py: the refusal of a folder that is not the official code, the weight-name
map and the draw-injection helpers on our own nets; and, when CODEGAN_OFFICIAL names a checkout
of the official code at 348d046, three iterations of Fashion-MNIST and two of COIL-20 against it."""

import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO, load_script

od = load_script("official_diff", "bench", "official_diff.py")
SCRIPT = od.__file__  # run as a command too


def run_script(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600)


def assert_refused(res, *words):
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_refuses_a_missing_folder(tmp_path):
    assert_refused(run_script(f"--official={tmp_path / 'nope'}"), "is not a folder",
                   "git clone https://github.com/learninginvision/CoDeGAN")


def test_refuses_a_folder_without_the_official_files(tmp_path):
    assert_refused(run_script(f"--official={tmp_path}", "--folder=Fashion-MNIST"),
                   "Fashion-MNIST/solver.py is missing", "348d046")


def test_refuses_files_of_another_commit(tmp_path):
    """Every expected file present, one with other content (another commit, a local edit)."""
    fdir = tmp_path / "Fashion-MNIST"
    for rel in od.OFFICIAL_FILES["Fashion-MNIST"]:
        (fdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (fdir / rel).write_text("# not the official file\n")
    assert_refused(run_script(f"--official={tmp_path}"), "differs from that commit's file")


@pytest.mark.parametrize("folder", ["COIL-20", "3D-Chairs", "CIFAR-10", "dSprites"])
def test_refuses_folder_files_of_another_commit(tmp_path, folder):
    """The ResNet folders' and dSprites' files (solver, train.py, models, utils/) are checked as
    well."""
    fdir = tmp_path / folder
    for rel in od.OFFICIAL_FILES[folder]:
        (fdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (fdir / rel).write_text("# not the official file\n")
    assert_refused(run_script(f"--official={tmp_path}", f"--folder={folder}"),
                   f"{folder}/", "differs from that commit's file", "348d046")


def test_refuses_a_folder_it_does_not_drive(tmp_path):
    assert_refused(run_script(f"--official={tmp_path}", "--folder=FACES"), "not driven yet")
    # 3D-Cars: the official folder itself does not run (no utils/, no train.py)
    assert_refused(run_script(f"--official={tmp_path}", "--folder=3D-Cars"), "does not run",
                   "solver.py:4")
    assert_refused(run_script(f"--official={tmp_path}", "--folder=Nope"), "not a dataset folder")


def our_nets(folder="Fashion-MNIST"):
    from codegan.config import load_config
    from codegan.training.loop import load_models

    cfg = load_config(os.path.join(REPO, folder, "param.yml"), {"device": "cpu"})
    torch.manual_seed(0)
    return load_models(os.path.join(REPO, folder)).build_nets(cfg)


@pytest.mark.parametrize("folder", ["Fashion-MNIST", "MNIST", "COIL-20", "3D-Chairs",
                                    "CIFAR-10"])
def test_name_map_round_trip_is_the_identity(folder):
    nets = our_nets(folder)
    for net, _ in od.nets_of(folder):
        sd = getattr(nets, net).state_dict()
        mapped = od.to_official(net, sd, folder)
        assert len(mapped) == len(sd)  # no two of ours land on one official name
        back = od.from_official(net, mapped, folder)
        assert back.keys() == sd.keys()
        assert all(torch.equal(back[k], sd[k]) for k in sd)


@pytest.mark.parametrize("folder", ["COIL-20", "3D-Chairs"])
def test_resnet_name_map_lands_on_the_official_modules(folder):
    """Without the checkout: the mapped names of each network are the parameter names of the
    official module, rebuilt here from its layout (models/ of the folder): the same set, each
    tensor the shape the official module gives it, and D's last linear negated."""
    nets = our_nets(folder)
    g = nets.G.state_dict()
    mapped = od.to_official("G", g, folder)
    assert "output.2.weight" in mapped and "blocks.0.residual.6.bias" in mapped
    assert mapped["blocks.0.shortcut.1.weight"].shape[-1] == 1  # the 1x1 conv after Upsample
    assert mapped["blocks.0.residual.3.weight"].shape[-1] == 3
    d = nets.D.state_dict()
    md = od.to_official("D", d, folder)
    assert md["model.0.shortcut.1.weight"].shape[-1] == 1  # pool, then conv
    assert md["model.1.shortcut.0.weight"].shape[-1] == 1  # conv, then pool
    n_down = 1 if folder == "COIL-20" else 2  # 3D-Chairs/models/Discriminator.py: two
    assert md[f"model.{n_down}.shortcut.0.weight"].shape[-1] == 1
    assert f"model.{n_down + 1}.shortcut.0.weight" not in md  # plain blocks: identity shortcut
    assert torch.equal(md["linear.weight"], -d["linear.weight"])
    assert torch.equal(md["linear.bias"], -d["linear.bias"])
    assert torch.equal(md["model.0.residual.0.weight"], d["blocks.0.conv1.weight"])
    e = nets.E_c.state_dict()
    me = od.to_official("E_c", e, folder)
    assert torch.equal(me["encoder.layer2.0.shortcut.1.running_var"],
                       e["trunk.layer2.0.downsample.1.running_var"])
    assert all(k.startswith(("encoder.", "head.")) for k in me)


@pytest.mark.parametrize("old_sn", [False, True])
def test_cifar_name_map_lands_on_the_official_modules(old_sn):
    """CIFAR-10/models/Generator.py (l1, block2-block4: b1 c1 b2 c2 c_sc, b5, c5) and
    Discriminator.py (block1-block4: c1 c2 [c_sc], l5, all under spectral norm): known names,
    the hinge loss's sign (none mirrored), and the old spectral-norm API's names (sn_power_order v_first)."""
    nets = our_nets("CIFAR-10")
    g, d = nets.G.state_dict(), nets.D.state_dict()
    mg, md = (od.to_official("G", g, "CIFAR-10", old_sn),
              od.to_official("D", d, "CIFAR-10", old_sn))
    assert {"l1.weight", "block2.b1.running_mean", "block4.c_sc.bias", "b5.weight",
            "c5.weight"} <= set(mg)
    assert not any(k.startswith(("block1.", "block5.", "blocks.")) for k in mg)
    assert torch.equal(mg["block3.c2.weight"], g["blocks.1.conv2.weight"])
    w, u, v = ((".weight_orig", ".weight_u", ".weight_v") if old_sn else
               (".parametrizations.weight.original", ".parametrizations.weight.0._u",
                ".parametrizations.weight.0._v"))
    assert {f"block1.c_sc{w}", f"block2.c_sc{u}", f"block4.c2{v}", f"l5{w}"} <= set(md)
    assert "block3.c_sc" + w not in md  # plain blocks: identity shortcut
    assert not any(k.startswith("l5.bias") for k in md)  # the bias-free last linear
    assert torch.equal(md[f"l5{w}"], d["linear.parametrizations.weight.original"])
    assert od.from_official("D", md, "CIFAR-10", old_sn).keys() == d.keys()


def test_old_spectral_norm_layers_become_the_parametrization():
    """sn_api_to_parametrizations: a module under torch.nn.utils.spectral_norm, once converted
    and given our state, computes what ours computes (train mode: one power step each)."""
    from torch.nn.utils import spectral_norm as old
    from torch.nn.utils.parametrizations import spectral_norm as new

    torch.manual_seed(0)
    ours = torch.nn.Sequential(new(torch.nn.Conv2d(3, 4, 3)), torch.nn.Flatten(),
                               new(torch.nn.Linear(4 * 6 * 6, 1, bias=False)))
    theirs = torch.nn.Sequential(old(torch.nn.Conv2d(3, 4, 3)), torch.nn.Flatten(),
                                 old(torch.nn.Linear(4 * 6 * 6, 1, bias=False)))
    od.sn_api_to_parametrizations(theirs)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 8, 8)
    for _ in range(3):
        assert torch.equal(theirs(x), ours(x))
    assert not any(hasattr(m, "weight_orig") for m in theirs.modules())


def test_name_map_mirrors_only_ds_last_layer():
    """The WGAN sign: our D is the official D negated, i.e. its last linear layer."""
    nets = our_nets()
    sd = nets.D.state_dict()
    mapped = od.to_official("D", sd)
    last = [k for k in sd if k.startswith("net.7.")]
    assert sorted(last) == ["net.7.bias", "net.7.weight"]
    for k, v in sd.items():
        official = mapped[od._rename(k, od.NAME_MAP["D"])]
        assert torch.equal(official, -v if k in last else v), k
    g = nets.G.state_dict()
    assert all(torch.equal(od.to_official("G", g)[od._rename(k, od.NAME_MAP["G"])], v)
               for k, v in g.items())


def test_name_map_refuses_an_unknown_name():
    with pytest.raises(KeyError):
        od.to_official("G", {"extra.weight": torch.zeros(1)})


def test_cuda_targets_go_to_the_cpu_only_inside_the_context():
    m = torch.nn.Linear(2, 2)
    before = (torch.nn.Module.to, torch.Tensor.to)
    with od.cuda_to_cpu():
        assert m.to("cuda:2") is m and next(m.parameters()).device.type == "cpu"
        assert torch.zeros(2).to("cuda:1").device.type == "cpu"
        assert torch.zeros(2).to(device=torch.device("cuda", 0)).device.type == "cpu"
        assert torch.zeros(2).to(torch.float64).dtype == torch.float64
    assert (torch.nn.Module.to, torch.Tensor.to) == before
    if not torch.cuda.is_available():
        with pytest.raises((RuntimeError, AssertionError)):
            torch.zeros(2).to("cuda:1")


def test_draws_are_taken_in_order_and_leftovers_are_reported():
    d = od.Draws()
    d.put("latent", 1)
    d.put("latent", 2)
    assert d.take("latent", "x") == 1
    with pytest.raises(od.Mismatch, match="ours drew"):
        d.check_empty("G step")
    assert d.take("latent", "x") == 2
    d.check_empty("G step")
    with pytest.raises(od.Mismatch, match="official code draws a box"):
        d.take("box", "train_transform")


def test_official_schedule_follows_train_py():
    """MNIST/train.py:53-55: G, E, D; Fashion-MNIST/train.py:84-90: the labelled batch goes to G
    before the chain epoch (no E step) and to E from it on."""
    assert od.official_schedule("MNIST", 0, 0, False) == [("G", False), ("E", False),
                                                          ("D", False)]
    assert od.official_schedule("Fashion-MNIST", 0, 1, True) == [("G", True), ("D", False)]
    assert od.official_schedule("Fashion-MNIST", 1, 1, True) == [("G", False), ("E", True),
                                                                 ("D", False)]
    # COIL-20/train.py:67-78: D first; E_c from epoch chain_step - 1; E_z always
    assert od.official_schedule("COIL-20", 0, 2, False) == [("D", False), ("G", False),
                                                            ("EZ", False)]
    assert od.official_schedule("COIL-20", 1, 2, False) == [("D", False), ("G", False),
                                                            ("EC", False), ("EZ", False)]
    assert od.official_schedule("COIL-20", 0, 0, False)[2] == ("EC", False)
    # CIFAR-10/train.py:93-104: G and the encoders at idx % critic == 0 only; E_c (with the
    # labelled batch) from epoch chain_step - 1, before it the labelled batch is G's; D always
    cifar = od.official_schedule
    assert cifar("CIFAR-10", 0, 0, False, idx=1, critic=3) == [("D", False)]
    assert cifar("CIFAR-10", 0, 0, True, idx=3, critic=3) == [("G", False), ("EC", True),
                                                              ("EZ", False), ("D", False)]
    assert cifar("CIFAR-10", 0, 2, True, idx=0, critic=3) == [("G", True), ("EZ", False),
                                                              ("D", False)]
    assert cifar("CIFAR-10", 1, 2, True, idx=0, critic=3)[1] == ("EC", True)


def test_relative_difference():
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert od.rel_diff(a, a) == 0.0
    assert od.rel_diff(a + torch.tensor([0.0, 2e-6], dtype=torch.float64), a) == pytest.approx(1e-6)
    assert od.rel_diff(torch.zeros(2), torch.zeros(2)) == 0.0


OFFICIAL = os.environ.get("CODEGAN_OFFICIAL")


@pytest.mark.skipif(not OFFICIAL, reason="CODEGAN_OFFICIAL (a checkout of the official code "
                                         "at 348d046) is not set")
def test_three_fashion_iterations_match_the_official_code():
    res = run_script(f"--official={OFFICIAL}", "--folder=Fashion-MNIST", "--mode=unsupervised",
                     "--iters=3", "--quiet", "--tol=1e-9")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "> tol" not in res.stdout


@pytest.mark.skipif(not OFFICIAL, reason="CODEGAN_OFFICIAL (a checkout of the official code "
                                         "at 348d046) is not set")
def test_two_coil20_iterations_match_the_official_code():
    """D first, G, E_z (E_c's step starts at epoch 1 with chain_step 2; two iterations stay in
    epoch 0 to keep the test short), one flip a batch injected into RandomHorizontalFlip."""
    res = run_script(f"--official={OFFICIAL}", "--folder=COIL-20", "--mode=unsupervised",
                     "--iters=2", "--quiet", "--tol=1e-9", "--set=chain_step=0")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "> tol" not in res.stdout and "E_c L_c" in res.stdout


def test_carry_bounds_hold_a_bias_shift_through_the_shortcuts():
    """G's shortcut path (up-sampling, 1x1 conv) has no BatchNorm, so a shift of the linear's
    bias moves the batch mean that the last BatchNorm sees (a bound from the last block's own
    biases only would be 0 here); ``carry_bounds`` must bound it, and put nothing on a bn2 whose
    conv1 bias did not move."""
    import copy

    rn = od.rn
    torch.manual_seed(0)
    g = our_nets("COIL-20").G.double().train()
    g2 = copy.deepcopy(g)
    delta = 1e-3
    with torch.no_grad():
        g2.linear.bias.add_(delta * torch.sign(torch.randn_like(g2.linear.bias)))
    seen = {}
    for name, m in (("a", g), ("b", g2)):
        m.bn.register_forward_hook(lambda mod, inp, out, name=name:
                                   seen.__setitem__(name, inp[0].mean((0, 2, 3))))
    z, c = torch.randn(3, 118, dtype=torch.float64), torch.tensor([0, 5, 19])
    g(z, c)
    g2(z, c)
    shift = (seen["a"] - seen["b"]).abs()
    sd = g.state_dict()
    bias_max = {k: torch.zeros_like(v) for k, v in sd.items() if k in rn.bn_fed(sd)}
    bias_max["linear.bias"] = torch.full_like(sd["linear.bias"], delta)
    bounds = rn.carry_bounds(bias_max, sd)
    assert (shift <= bounds["bn.running_mean"] * (1 + 1e-9)).all()
    assert shift.max() > 1e-5  # the linear's bias does reach the last BatchNorm
    assert float(bounds["blocks.1.bn2.running_mean"].max()) == 0.0


@pytest.mark.parametrize("method", ["codegan", "infogan", "clustergan"])
def test_d_step_penalty_sees_fakes_in_the_real_images_dtype(monkeypatch, method):
    """Our D step handed the gradient penalty ``fake.float()``: a no-op in float32 runs (and the
    intended cast of bf16 fakes under autocast), but in a float64 run it rounded the fakes to
    float32 (~3e-8), so the penalty's interpolates differed from the official float64 ones; D is
    piecewise linear, so this showed only when a ReLU of an interpolate changed sign (COIL-20 at
    batches of 16: D 1.3e-5 apart in one step). The fakes must reach the penalty in the real
    images' dtype. InfoGAN's and ClusterGAN's D steps (with the penalty switched on) too."""
    import tempfile

    import importlib

    from codegan.config import load_config
    from codegan.training.loop import Trainer

    meth = importlib.import_module(f"codegan.methods.{method}")
    seen = {}
    gp = meth.gradient_penalty

    def spy(D, real, fake, *a, **k):
        seen.update(real=real.dtype, fake=fake.dtype)
        return gp(D, real, fake, *a, **k)

    monkeypatch.setattr(meth, "gradient_penalty", spy)
    old = torch.get_default_dtype()
    with tempfile.TemporaryDirectory() as tmp:
        over = dict(od.SMALL, device="cpu", progress=False, kmeans_runs=1, out=tmp,
                    data_root=od.make_data(tmp, "mnist.npz", 32), method=method,
                    gan_loss="wgan-gp", gp_weight=10)  # InfoGAN publishes no penalty
        try:
            torch.set_default_dtype(torch.float64)
            tr = Trainer(load_config(os.path.join(REPO, "MNIST", "param.yml"), over),
                         os.path.join(REPO, "MNIST"))
            real = tr.real
            tr.real = lambda xb: real(xb).to(torch.float64)
            tr.method.d_step()
        finally:
            torch.set_default_dtype(old)
    assert seen == {"real": torch.float64, "fake": torch.float64}


@pytest.mark.skipif(not OFFICIAL, reason="CODEGAN_OFFICIAL (a checkout of the official code "
                                         "at 348d046) is not set")
def test_four_cifar10_iterations_match_the_official_code():
    """G, E_c, E_z at idx 0 and 3 (critic 3), D in each; crop, flip, colour jitter and grayscale
    injected into torchvision's transforms; spectral norm mapped. Each step from equal states
    (--resync): with batches of 4 the free run's rounding grows past 1e-9 within a few
    iterations (bench/results/official_diff.md, CIFAR-10), each step stays below it."""
    res = run_script(f"--official={OFFICIAL}", "--folder=CIFAR-10", "--mode=unsupervised",
                     "--iters=4", "--quiet", "--tol=1e-9", "--resync")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "> tol" not in res.stdout and "T colour" in res.stdout and "E_c L_c" in res.stdout


def test_dsprites_name_map_lands_on_the_official_modules():
    """dSprites/model.py: G.fc, G.cnn; D.cnn, D.fc (its Linear layers inside a Sequential with
    the final Sigmoid); E.cnn1, E.fc1; spectral-norm states under the old API's names
    (sn_power_order v_first), back to ours unchanged."""
    nets = our_nets("dSprites")
    for net, want in (("G", {"fc.0.weight", "fc.2.running_var", "cnn.9.weight"}),
                      ("D", {"cnn.0.weight_orig", "cnn.6.weight_u", "fc.0.0.weight_v",
                             "fc.0.2.bias"}),
                      ("E", {"cnn1.2.weight_orig", "fc1.0.weight_u", "fc1.4.bias"})):
        state = getattr(nets, net).state_dict()
        mapped = od.to_official(net, state, "dSprites", old_sn=True)
        assert want <= set(mapped), (net, sorted(mapped))
        assert od.from_official(net, mapped, "dSprites", old_sn=True).keys() == state.keys()


@pytest.mark.skipif(not OFFICIAL, reason="CODEGAN_OFFICIAL (a checkout of the official code "
                                         "at 348d046) is not set")
def test_dsprites_iterations_with_labels_match_the_official_code():
    """G (the labelled reals in L_c before the chain epoch), E (after it, with them), D; the
    encoder called once per view, the official spectral norm kept, D's halved BCE; crossing
    an epoch (4 iterations each) and the chain epoch."""
    res = run_script(f"--official={OFFICIAL}", "--folder=dSprites", "--mode=few-labels",
                     "--iters=6", "--quiet", "--tol=1e-9")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "> tol" not in res.stdout and "E L_c" in res.stdout
