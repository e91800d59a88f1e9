"""docs/settings.md is written from the declarations (codegan/settings_doc.py): it must be
current, and list every shared and every method setting once, in a group."""

import re

from codegan import config, settings_doc
from codegan.methods import METHODS


def test_settings_page_is_current():
    with open(settings_doc.PAGE) as f:
        assert f.read() == settings_doc.render(), \
            "docs/settings.md is stale: run python -m codegan.settings_doc"


def test_every_setting_is_listed_once():
    rows = re.findall(r"^\| `(\w+)` \|", settings_doc.render(), flags=re.M)
    own = [k for m in METHODS.values() for k in (getattr(m, "settings", {}) or {})]
    assert sorted(rows) == sorted([*config.SCHEMA, *own])
    grouped = [k for keys in config.GROUPS.values() for k in keys]
    assert sorted(grouped) == sorted(config.SCHEMA)  # no shared key outside a group
    for m in METHODS.values():  # a method's groups, where it declares them, hold all its keys
        groups = getattr(m, "setting_groups", None)
        if groups:
            assert sorted(k for g in groups.values() for k in g) == sorted(m.settings)


def test_check_reports_a_stale_page(tmp_path, monkeypatch, capsys):
    page = tmp_path / "settings.md"
    page.write_text(settings_doc.render().replace("| `seed` |", "| `seed_` |"))
    monkeypatch.setattr(settings_doc, "PAGE", str(page))
    assert settings_doc.main(["--check"]) == 1
    assert "not current" in capsys.readouterr().err
    page.write_text(settings_doc.render())
    assert settings_doc.main(["--check"]) == 0


def test_roles_decide_what_may_change():
    """The lists derived from the declared roles: what a resumed run may change, what the
    sittings of a comparison may differ in, what test.py takes; never a key of the maths."""
    import pytest

    from codegan.compare import FREE_KEYS
    from codegan.keys import Key
    from codegan.training.cli import TEST_KEYS
    from codegan.training.train import RESUME_KEYS

    assert {"max_iters", "out", "device", "save_iters", "test_step", "mode"} <= RESUME_KEYS
    assert {"device", "data_root", "num_threads", "save_step"} <= FREE_KEYS
    assert "max_iters" not in FREE_KEYS and "test_step" not in FREE_KEYS
    assert {"kmeans_runs", "classifier_path", "probe_epochs", "checkpoint"} <= TEST_KEYS
    for k in ("beta_1", "beta_2", "temp_C", "chain_step", "lr", "seed", "aug_crop_edge",
              "g_batch_size"):
        assert config.schema_for("codegan")[k].role == "maths"
        assert k not in RESUME_KEYS | FREE_KEYS | TEST_KEYS
    with pytest.raises(ValueError, match="role"):
        Key("int", 0, "x", role="speed")
