"""User-facing errors: one clear message naming the problem and the fix, never a traceback."""

import functools
import sys


class UserError(Exception):
    """A problem the user can fix (bad setting, missing file, wrong checkpoint).

    The message must say what is wrong and what to do about it; ``cli_guard`` prints it alone.
    """


class MissingData(Exception):
    """Raised by a dataset reader when its files are absent; ``codegan.data.datasets.load_images``
    turns it into a ``UserError`` naming the files and where to put them."""


def cli_guard(main):
    """Wrap a command's ``main`` so a ``UserError`` prints ``error: <message>`` and exits with 2."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapped
