"""The project speaks for itself: its files cite the paper, the official code
(repository@commit:file:line) or the project's own files, never notes kept outside the
repository, numbered work items, or a machine's absolute paths."""

import os
import re
import subprocess

from conftest import REPO

# notes kept beside the repository, and absolute paths of the machines that made the files
# (the notes' names in any case: a project file of the same name would read as a citation of
# them), and the work items behind them. Written in parts, so that this file, which the check
# reads too, names none of them.
NOTES = ("CODE" + "GAN", "BASE" + "LINES", "DESIGN-" + "EXAMPLES")
MACHINE_DIRS = ("wo" + "rk", "t" + "mp", "ro" + "ot")
FORBIDDEN = re.compile(r"(?i:(?:" + "|".join(NOTES) + r")\.md)|shared/" + "reference"
                       + r"|/(?:" + "|".join(MACHINE_DIRS) + r")/"
                       + r"|\b[Ii]ssues? [0-9]|\b[Ss]essions? [0-9]")
TEXT = (".py", ".yml", ".yaml", ".md", ".sh", ".txt", ".toml", ".cfg", ".json", ".jsonl")


def tracked_text_files():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    return [f for f in out if f.endswith(TEXT)]


def test_no_file_cites_notes_outside_the_repository_or_a_machine_path():
    found = []
    for f in tracked_text_files():
        with open(os.path.join(REPO, f), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if FORBIDDEN.search(line):
                    found.append(f"{f}:{n}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_the_check_finds_such_a_reference():
    note, base = NOTES[0] + ".md", NOTES[1].lower() + ".md"
    work, tmp, root = (f"/{d}/" for d in MACHINE_DIRS)
    assert FORBIDDEN.search(f"see {note} section 3") and FORBIDDEN.search(f"docs/{base}")
    assert FORBIDDEN.search(f"see {note} section 3") and FORBIDDEN.search(f"in `{work}main`")
    assert FORBIDDEN.search(f"--data_root={tmp}dsp") and FORBIDDEN.search(f'"{root}.cache/x"')
    assert FORBIDDEN.search("(iss" + "ue 12)") and FORBIDDEN.search("found in sess" + "ion 7")
    assert not FORBIDDEN.search("learninginvision/CoDeGAN@348d046:MNIST/solver.py:94")
