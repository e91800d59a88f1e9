import os

import pytest

from codegan.config import SCHEMA, load_config, parse_overrides, schema_for
from codegan.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_YML = os.path.join(REPO, "MNIST", "param.yml")


def cfg(**over):
    return load_config(MNIST_YML, over)


def test_folder_settings_are_the_official_ones():
    m = load_config(MNIST_YML)
    assert (m.beta_1, m.beta_2, m.chain_step, m.max_step) == (75, 0.0005, 0, 400)
    assert (m.zn_dim, m.zc_dim, m.fc_dim, m.lr, m.adam_betas) == (30, 10, 120, 1e-4, [0.5, 0.9])
    assert (m.g_batch_size, m.d_batch_size, m.e_batch_size) == (64, 64, 256)
    assert m.aug_crop_scale == [0.7, 1.0] and not m.aug_per_sample and m.weight_decay == 2.5e-5
    f = load_config(os.path.join(REPO, "Fashion-MNIST", "param.yml"))
    assert (f.beta_1, f.zn_dim, f.e_batch_size, f.max_step) == (100, 40, 300, 600)
    assert f.aug_crop_scale == [0.8, 1.0]


def test_every_folder_key_is_documented_in_the_schema():
    import yaml

    for folder in ("MNIST", "Fashion-MNIST"):
        with open(os.path.join(REPO, folder, "param.yml")) as fh:
            assert set(yaml.safe_load(fh)) - {"modes"} <= set(schema_for("codegan"))


def test_overrides_are_typed():
    o = parse_overrides(["--beta_1=50", "--lr=1e-4", "--aug_crop_scale=[0.5,1]",
                         "--device=cpu", "--max_iters=null"])
    c = cfg(**o)
    assert c.beta_1 == 50.0 and c.lr == 1e-4 and c.aug_crop_scale == [0.5, 1.0]
    assert c.max_iters is None and c.device == "cpu"


@pytest.mark.parametrize("over, words", [
    ({"beta1": 3}, ["unknown", "beta1", "beta_1"]),
    ({"zc_dim": 12}, ["zc_dim", "10 classes"]),
    ({"g_batch_size": 0}, ["g_batch_size", "> 0"]),
    ({"d_batch_size": -4}, ["d_batch_size"]),
    ({"beta_2": 0}, ["beta_2", "> 0"]),
    ({"beta_1": "lots"}, ["beta_1", "a number"]),
    ({"chain_step": 500}, ["chain_step", "max_step"]),
    ({"max_iters": 2.5}, ["max_iters", "whole number"]),
    ({"shared_encoder": "maybe"}, ["shared_encoder", "true or false"]),
    ({"gan_loss": "wgan"}, ["gan_loss", "hinge"]),
    ({"aug_crop_scale": [0.9, 0.5]}, ["aug_crop_scale"]),
    ({"adam_betas": [0.5]}, ["adam_betas"]),
    ({"device": "tpu"}, ["device"]),
    ({"meta": True}, ["meta", "few_labels"]),
    ({"temp_C": None}, ["temp_C", "null"]),
])
def test_bad_values_are_rejected_with_the_key_named(over, words):
    with pytest.raises(UserError) as e:
        cfg(**over)
    for w in words:
        assert w in str(e.value)


def test_unknown_key_in_yaml_and_bad_yaml(tmp_path):
    p = tmp_path / "param.yml"
    p.write_text(open(MNIST_YML).read() + "\nbeta_one: 3\n")
    with pytest.raises(UserError, match="beta_one"):
        load_config(str(p))
    p.write_text("dataset: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(str(p))
    p.write_text("\n".join(line for line in open(MNIST_YML).read().splitlines()
                           if not line.startswith("beta_1")))
    with pytest.raises(UserError, match="'beta_1' is missing"):
        load_config(str(p))
    with pytest.raises(UserError, match="not found"):
        load_config(str(tmp_path / "nope.yml"))


def test_malformed_override():
    with pytest.raises(UserError, match="--key=value"):
        parse_overrides(["beta_1=3"])


# -- modes: the paper's other modes of a folder, by name ------------------------------------------
def test_a_mode_listed_under_modes_applies_its_settings_and_the_command_line_wins():
    fashion = os.path.join(REPO, "Fashion-MNIST", "param.yml")
    plain = load_config(fashion)
    assert (plain.pretrain, plain.chain_step, plain.max_step) == (False, 0, 600)
    own = load_config(fashion, {"mode": "self"})
    assert (own.mode, own.pretrain, own.chain_step, own.max_step) == ("self", True, 200, 600)
    assert load_config(fashion, {"mode": "self", "chain_step": 100}).chain_step == 100
    ls = load_config(fashion, {"mode": "labels-self"})
    assert (ls.few_labels, ls.pretrain, ls.max_step, ls.chain_step) == (True, True, 300, 200)
    named = load_config(fashion, {"mode": "my-try"})  # not listed: it only names the run folder
    assert named.to_dict() == {**plain.to_dict(), "mode": "my-try"}
    c = load_config(os.path.join(REPO, "CIFAR-10", "param.yml"), {"mode": "self"})
    assert (c.pretrain, c.max_step, c.beta_1, c.beta_2) == (True, 300, 1.5, 0.5)


@pytest.mark.parametrize("folder", ["Fashion-MNIST", "CIFAR-10", "COIL-20", "3D-Chairs",
                                    "3D-Cars"])
def test_every_folder_has_the_papers_pretrained_mode(folder):
    c = load_config(os.path.join(REPO, folder, "param.yml"), {"mode": "self"})
    assert c.pretrain and not c.few_labels


@pytest.mark.parametrize("modes, words", [
    ({"self": {"pretrian": True}}, ["modes: self: 'pretrian'", "Did you mean 'pretrain'"]),
    ({"self": {"method": "infogan"}}, ["modes: self: 'method'", "not a setting a mode"]),
    ([1, 2], ["'modes'", "must map each mode's name to its settings"]),
    ({"self": True}, ["'modes'", "must map"]),
])
def test_a_bad_modes_entry_is_one_message(tmp_path, modes, words):
    import yaml

    with open(os.path.join(REPO, "MNIST", "param.yml")) as fh:
        values = yaml.safe_load(fh)
    path = tmp_path / "param.yml"
    path.write_text(yaml.safe_dump({**values, "modes": modes}))
    with pytest.raises(UserError) as e:
        load_config(str(path))
    for w in words:
        assert w in str(e.value), (w, str(e.value))


# -- settings the code no longer has ---------------------------------------------------------------
def test_a_retired_setting_is_dropped_from_stored_configs_and_refused_where_a_user_sets_it(
        tmp_path):
    from codegan.compare import settings_differences
    from codegan.config import RETIRED, validate

    assert "im2col_first_conv" in RETIRED and "im2col_first_conv" not in SCHEMA
    mnist = os.path.join(REPO, "MNIST", "param.yml")
    stored = load_config(mnist).to_dict()  # as an older run's config.yml holds it
    assert validate({**stored, "im2col_first_conv": True}).to_dict() == stored
    with pytest.raises(UserError, match="'im2col_first_conv' is no longer a setting .* remove "
                                        "it from the command line"):
        load_config(mnist, {"im2col_first_conv": False})
    import yaml

    with open(mnist) as fh:
        values = yaml.safe_load(fh)
    path = tmp_path / "param.yml"
    path.write_text(yaml.safe_dump({**values, "im2col_first_conv": False}))
    with pytest.raises(UserError, match=f"remove it from {path}"):
        load_config(str(path))
    # a comparison started before the key was retired continues: nothing it computes changed
    assert settings_differences({"codegan": {**stored, "im2col_first_conv": False}},
                                {"codegan": stored}) == []


# -- CoDeGAN's settings belong to CoDeGAN ----------------------------------------------------------
def codegan_keys():
    from codegan.methods import METHODS

    return set(METHODS["codegan"].settings)


def test_another_methods_run_holds_only_the_settings_it_reads():
    """param.yml's top level is the folder's CoDeGAN: an InfoGAN run of the folder neither reads
    nor stores CoDeGAN's settings, and CoDeGAN's rules do not judge it."""
    own = codegan_keys()
    assert {"beta_1", "beta_2", "temp_C", "chain_step", "e_batch_size", "aug_crop_scale",
            "pretrain", "pretrain_epochs", "meta_iters"} <= own
    assert not own & set(SCHEMA)  # declared once, in CoDeGAN's module
    c = cfg()
    assert own <= set(c.to_dict())
    for method in ("infogan", "clustergan", "mathieu16"):
        b = cfg(method=method)
        assert not own & set(b.to_dict()), method
        assert set(SCHEMA) <= set(b.to_dict())
    # CoDeGAN's rule "E_c must train before max_step" is CoDeGAN's alone
    with pytest.raises(UserError, match="chain_step"):
        load_config(MNIST_YML, {"chain_step": 500})
    assert "chain_step" not in load_config(MNIST_YML, {"chain_step": 500,
                                                       "method": "infogan"}).to_dict()


def test_codegan_settings_given_to_another_method_are_left_out_with_a_note(capsys):
    b = cfg(method="infogan", beta_1=3, e_batch_size=8, lr=3e-4)
    assert b.lr == 3e-4 and "beta_1" not in b.to_dict()
    err = capsys.readouterr().err
    assert "--beta_1, --e_batch_size" in err and "infogan does not read" in err
    with pytest.raises(UserError, match="unknown option --beta_11"):  # a typo is still one
        cfg(method="infogan", beta_11=3)


def test_a_stored_config_of_another_method_with_codegan_settings_still_reads():
    """Runs stored every setting before CoDeGAN's were its own: such a config.yml reads, less
    CoDeGAN's settings, and its comparison sees no change."""
    from codegan.compare import settings_differences
    from codegan.config import stored, validate

    new = cfg(method="infogan").to_dict()
    old = {**cfg().to_dict(), **new}  # as an InfoGAN run's config.yml held it
    assert "beta_1" in old
    assert validate(stored(old)).to_dict() == new
    assert settings_differences({"infogan": old}, {"infogan": new}) == []


def test_a_mode_that_sets_codegan_settings_is_refused_for_another_method():
    fashion = os.path.join(REPO, "Fashion-MNIST", "param.yml")
    with pytest.raises(UserError, match="mode 'self' .* sets pretrain, chain_step: settings of "
                                        "codegan, which method infogan does not read"):
        load_config(fashion, {"mode": "self", "method": "infogan"})
    assert load_config(fashion, {"mode": "my-try", "method": "infogan"}).mode == "my-try"


# -- a folder's param.yml: the official folder's settings, and what differs here -------------------
_ALL = ("g_batch_size", "d_batch_size", "lr", "zn_dim", "zc_dim", "fc_dim", "beta_1", "beta_2",
        "max_step", "save_step", "test_step", "gan_loss", "temp_C", "device")
_RESNET = (*_ALL, "ec_batch_size", "ez_batch_size", "critic", "chain_step", "pretrain")
# the keys of learninginvision/CoDeGAN@348d046:<folder>/param.yml in our names (wgan_gp and
# loss_metric: gan_loss; gpu_id: device; dSprites' beta_zc / beta_zn: beta_1 / beta_2, g_lr and
# e_lr: lr, d_lr: lr_d); their keys without a counterpart here (ch, im_size, real_critic, ...)
# are not listed
OFFICIAL_KEYS = {
    "MNIST": {*_ALL, "e_batch_size"},
    "Fashion-MNIST": {*_ALL, "e_batch_size", "chain_step", "few_labels", "pretrain", "meta",
                      "r_batch_size"},
    "CIFAR-10": {*_RESNET, "few_labels", "meta", "use_ema", "r_batch_size"},
    "COIL-20": set(_RESNET), "3D-Chairs": set(_RESNET), "3D-Cars": set(_RESNET),
    "dSprites": {*_ALL, "lr_d", "e_batch_size", "critic", "chain_step", "pretrain",
                 "r_batch_size"},
}
# kept at their defaults because their comment names a deliberate difference from the official
# code, or because the user edits them there
KEPT_AT_DEFAULT = {"dataset", "beta_1", "beta_2", "chain_step"}
DIFFERENCES_AT_DEFAULT = {"dSprites": {"few_labels", "dsprites_test_images"},
                          "COIL-20": {"g_eval_e_based"}, "3D-Chairs": {"g_eval_e_based"},
                          "3D-Cars": {"g_eval_e_based"}}


@pytest.mark.parametrize("folder", sorted(OFFICIAL_KEYS))
def test_param_yml_holds_the_official_keys_and_what_differs_from_the_defaults(folder):
    """The rest is in docs/settings.md: a key at its default that is neither the official
    folder's nor a documented difference does not belong in param.yml."""
    import yaml

    path = os.path.join(REPO, folder, "param.yml")
    with open(path) as fh:
        top = yaml.safe_load(fh)
    assert OFFICIAL_KEYS[folder] <= set(top), sorted(OFFICIAL_KEYS[folder] - set(top))
    schema, c = schema_for("codegan"), load_config(path).to_dict()
    at_default = {k for k in top if k in schema and c[k] == schema[k].default}
    extra = at_default - OFFICIAL_KEYS[folder] - KEPT_AT_DEFAULT - \
        DIFFERENCES_AT_DEFAULT.get(folder, set())
    assert not extra, f"{folder}/param.yml restates defaults: {sorted(extra)}"
