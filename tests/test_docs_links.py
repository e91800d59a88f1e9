"""Every relative link of the README and of the pages it links (docs/, CHANGELOG.md,
dSprites/README.md) points to a file or folder that exists in the repository."""

import glob
import os
import re

from conftest import REPO

# [text](target) or [text](target "title"); images ![alt](target) match too
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def pages():
    return ["README.md", "CHANGELOG.md", "dSprites/README.md"] + sorted(
        os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))


def relative_links(text: str) -> list:
    """The relative targets of ``text``'s links, outside code, without their #anchor."""
    text = CODE.sub("", FENCE.sub("", text))
    out = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # https:, mailto:, ... or an anchor in the same page
        out.append(target.split("#", 1)[0])
    return out


def broken_links(page: str) -> list:
    with open(os.path.join(REPO, page), encoding="utf-8") as f:
        links = relative_links(f.read())
    base = os.path.dirname(os.path.join(REPO, page))
    return [f"{page}: {t}" for t in links if not os.path.exists(os.path.join(base, t))]


def test_every_relative_link_points_to_a_file_that_exists():
    found = [p for p in pages() if os.path.isfile(os.path.join(REPO, p))]
    assert "README.md" in found and any(p.startswith("docs") for p in found)
    broken = [b for p in found for b in broken_links(p)]
    assert not broken, "\n".join(broken)


def test_the_check_reads_links_as_markdown_does():
    text = ("[a](docs/x.md) [b](../y.md#part) ![c](fig.png) [d](https://arxiv.org/abs/1) "
            "[e](#here) `[f](in/code.md)`\n```bash\n[g](in/fence.md)\n```\n[h](z.md \"title\")")
    assert relative_links(text) == ["docs/x.md", "../y.md", "fig.png", "z.md"]
