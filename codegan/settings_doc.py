"""The settings reference, ``docs/settings.md``, written from the declarations themselves: the
shared settings in their groups (``codegan.config.GROUPS``), then each method's own settings
(``Method.settings``, declared beside its maths; in groups where the method declares them,
``Method.setting_groups``).

    python -m codegan.settings_doc            # rewrite docs/settings.md
    python -m codegan.settings_doc --check    # exit 1 when docs/settings.md is not current

tests/test_settings_doc.py runs the check, so the page cannot fall behind the code.
"""

from __future__ import annotations

import os
import sys

from . import config
from .keys import Key

PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                    "settings.md")


def _value(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _row(name: str, key: Key) -> str:
    allowed = []
    if key.choices:
        allowed.append(" / ".join(_value(c) for c in key.choices))
    if key.need:
        allowed.append(key.need)
    if key.optional:
        allowed.append("or null")
    doc = key.doc.replace("|", "\\|").replace("\n", " ")
    return (f"| `{name}` | {key.type} | `{_value(key.default)}` | {doc} | "
            f"{'; '.join(allowed).replace('|', chr(92) + '|')} | {key.role} |")


HEAD = ["| key | type | default | meaning | allowed | role |", "|---|---|---|---|---|---|"]


def render() -> str:
    from .methods import METHODS

    lines = ["# Settings reference", "",
             "Written by `python -m codegan.settings_doc` from the declarations in "
             "`codegan/config.py` (shared settings) and in each method's module (its own "
             "settings: CoDeGAN's, its pre-training's included, in "
             "`codegan/methods/codegan_settings.py`); tests/test_settings_doc.py fails when this "
             "page is not current. A folder's `param.yml` sets what differs from these "
             "defaults for its dataset; its top level is the folder's CoDeGAN, whose settings "
             "another method's run leaves out; "
             "`python train.py --key=value` overrides any of them for one run "
             "([training.md](training.md)).", "",
             "The role column says what changing a key changes (`codegan/keys.py`, `ROLES`); "
             "every list of keys that may differ somewhere is derived from it:", ""]
    from .keys import RESUMABLE, ROLES

    lines += [f"- **{r}**: {what}" for r, what in ROLES.items()]
    lines += ["", f"A resumed run may change the keys of the roles {', '.join(RESUMABLE)} "
              "(`--resume`); the sittings of one comparison may differ in place and files; "
              "`test.py` takes the evaluation keys.", ""]
    for title, keys in config.GROUPS.items():
        lines += [f"## {title[0].upper() + title[1:]}", "", *HEAD]
        lines += [_row(k, v) for k, v in keys.items()]
        lines.append("")
    for name, method in METHODS.items():
        groups = getattr(method, "setting_groups", None) or {"": method.settings}
        for title, own in groups.items():
            if not own:
                continue
            lines += [f"## Method `{name}`" + (f": {title}" if title else ""), "",
                      f"Read only when `method: {name}`.", "", *HEAD]
            lines += [_row(k, v) for k, v in own.items()]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = open(PAGE).read() if os.path.exists(PAGE) else ""
        if current != text:
            print(f"{os.path.relpath(PAGE)} is not current: run python -m codegan.settings_doc",
                  file=sys.stderr)
            return 1
        return 0
    with open(PAGE, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(PAGE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
