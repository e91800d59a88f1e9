"""User-facing errors: one clear message naming the problem and the fix, never a traceback.

Every file the project writes goes through ``write_file`` (whole files: written to
``.tmp-<name>`` and renamed into place) or ``append_file`` (logs, metrics records): a write that
fails for want of space or permission (an ``OSError``, or the ``RuntimeError`` of torch's zip
writer) becomes one ``WriteFailed`` naming the file, the cause and the fix, and leaves what was
there before as it was.
"""

import errno
import functools
import os
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


# errno of a write the user can fix: the cause in words, and what to do about it
WRITE_ERRNOS = {
    errno.ENOSPC: ("the disk is full", "free space on that disk"),
    errno.EDQUOT: ("the disk quota is used up", "free space within the quota"),
    errno.EFBIG: ("the file is too large for that file system", "use another disk"),
    errno.EACCES: ("the folder is not writable", "make the folder writable"),
    errno.EPERM: ("the folder is not writable", "make the folder writable"),
    errno.EROFS: ("the file system is read-only", "use a writable disk"),
}
# torch.save to a path writes through its C++ zip writer, which raises RuntimeError, not
# OSError, when the disk fills up ('[enforce fail at inline_container.cc:...] . unexpected pos')
TORCH_WRITER_SIGNS = ("inline_container", "unexpected pos", "PytorchStreamWriter",
                      "file write failed", "iostream error")


class WriteFailed(UserError):
    """A file could not be written (disk full, no permission). ``last_checkpoint``: the run's
    last good checkpoint, named in the message (the training loop adds it: ``after``)."""

    def __init__(self, path: str, cause: str, fix: str, last_checkpoint=None,
                 option: str = "--out"):
        self.path, self.cause, self.fix, self.option = path, cause, fix, option
        self.last_checkpoint = last_checkpoint
        msg = f"could not write {path}: {cause}. Nothing written before it was lost"
        if last_checkpoint:
            msg += (f"; the previous checkpoint is intact: {last_checkpoint}. {fix.capitalize()} "
                    f"or choose another {option}, then resume from it "
                    f"(--resume={last_checkpoint}).")
        elif last_checkpoint is None:
            msg += f". {fix.capitalize()} or choose another {option}, then run it again."
        else:  # "": a run that has written no checkpoint yet
            msg += (f"; no checkpoint was written yet. {fix.capitalize()} or choose another "
                    f"{option}, then start the run again.")
        super().__init__(msg)

    def after(self, last_checkpoint: str) -> "WriteFailed":
        """The same failure, naming the run's last good checkpoint ("": none yet)."""
        return WriteFailed(self.path, self.cause, self.fix, last_checkpoint or "", self.option)


def write_failure(e: BaseException, path: str):
    """``(cause, fix)`` when ``e`` is a failed write of ``path`` the user can fix, else None."""
    if isinstance(e, OSError) and e.errno in WRITE_ERRNOS:
        cause, fix = WRITE_ERRNOS[e.errno]
        return f"{cause} ({e.strerror})", fix
    if isinstance(e, OSError) and e.errno is None and _disk_full(path):
        # numpy's tofile (np.save to a path) on a full disk: 'N requested and M written'
        return f"the disk is full ({e})", "free space on that disk"
    if isinstance(e, RuntimeError) and any(s in str(e) for s in TORCH_WRITER_SIGNS):
        # torch gives no errno: look at the disk (the partial file is still there)
        why = str(e).strip().splitlines()[0][:120]
        if _disk_full(path):
            return f"the disk is full (torch: {why})", "free space on that disk"
        return (f"torch's file writer failed (disk full or not writable? torch: {why})",
                "free space on that disk or make the folder writable")
    return None


def _disk_full(path: str) -> bool:
    """Less than 1 MiB is left on the disk of ``path``'s folder."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1 << 20


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def write_file(path: str, write, option: str = "--out", exclusive: bool = False) -> str:
    """Write ``path`` whole: ``write(tmp)`` writes the temporary file ``.tmp-<name>`` beside it
    (by its name: torch.save, PIL, np.save; ``write_text`` for text), which is then renamed into
    place, so a failed or killed write never leaves a part file under ``path`` nor destroys
    the file it replaces; the part file is removed. A failure for want of space or permission
    raises ``WriteFailed`` (``option``: the setting that chooses another folder); others are
    raised as they are. ``exclusive``: an existing ``path`` is an error (FileExistsError), as
    ``open(path, "x")``. Returns ``path``."""
    if exclusive and os.path.exists(path):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, ".tmp-" + name)  # the same extension: PIL, np.save go by it
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        failure = write_failure(e, tmp)
        if failure is None:
            raise
        raise WriteFailed(path, *failure, option=option) from None
    finally:
        if os.path.exists(tmp):
            _remove_quietly(tmp)
    return path


def write_text(path: str, text: str, option: str = "--out", exclusive: bool = False) -> str:
    """``write_file`` of a text file."""

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    return write_file(path, write, option, exclusive)


def append_file(path: str, text: str, option: str = "--out") -> None:
    """Append ``text`` to ``path`` (a log, metrics records); a failure for want of space or
    permission cuts the file back to what it held (no half line) and raises ``WriteFailed``."""
    size = os.path.getsize(path) if os.path.exists(path) else None
    try:
        with open(path, "a") as f:
            f.write(text)
    except OSError as e:
        failure = write_failure(e, path)
        if failure is None:
            raise
        try:
            if size is None:
                os.remove(path)
            else:
                os.truncate(path, size)
        except OSError:
            pass
        raise WriteFailed(path, *failure, option=option) from None
