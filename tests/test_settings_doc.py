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
    grouped = [k for _, keys in settings_doc.groups() for k in keys]
    assert sorted(grouped) == sorted(config.SCHEMA)  # no shared key outside a group


def test_check_reports_a_stale_page(tmp_path, monkeypatch, capsys):
    page = tmp_path / "settings.md"
    page.write_text(settings_doc.render().replace("| `seed` |", "| `seed_` |"))
    monkeypatch.setattr(settings_doc, "PAGE", str(page))
    assert settings_doc.main(["--check"]) == 1
    assert "not current" in capsys.readouterr().err
    page.write_text(settings_doc.render())
    assert settings_doc.main(["--check"]) == 0
