"""Safe output files: check the destination first, write to a temporary file, rename when complete.

An interrupted run (exception, Ctrl-C, SIGTERM through the CLI's handler) never leaves a partial
output under the user's chosen name, and nothing the user gave is ever overwritten by accident.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from emocli.errors import OutputError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path: Path, inputs: Iterable[Path] = ()) -> Path:
    """Fail early, with one clear line, when ``path`` cannot receive an output file.

    Returns the absolute path. Refuses a path equal to an input, a directory, a missing parent
    folder and a folder without write permission.
    """
    path = Path(path).expanduser()
    for src in inputs:
        src = Path(src).expanduser()
        if _same_file(path, src) or path.resolve() == src.resolve():
            raise OutputError(
                f"Output {path} is the input file itself.",
                "Choose another output name; emocli never overwrites its input.",
            )
    if path.is_dir():
        raise OutputError(f"Output {path} is a folder.", "Give a file name, e.g. out.mp4.")
    parent = path.resolve().parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"Output folder {parent} is a file, not a folder.", "Choose another output path.")
    if not parent.is_dir():
        raise OutputError(
            f"Output folder {parent} does not exist.", "Create it first or choose another path."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"Output folder {parent} is not writable.", "Choose a folder you can write to.")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"Output file {path} exists and is read-only.", "Remove it or choose another name.")
    _probe_writable(parent)
    return path.resolve()


def _probe_writable(folder: Path) -> None:
    """Create and remove a hidden file in ``folder``: the one sure test that it takes files
    (root passes permission checks; /proc and read-only mounts still refuse)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".emocli-probe-", dir=folder)
    except OSError as e:
        raise OutputError(
            f"Cannot write to {folder}: {e.strerror}.", "Choose a folder you can write to."
        ) from e
    os.close(fd)
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block completes.

    The temporary name keeps the suffix (ffmpeg picks its muxer from it) and starts with a dot so
    that a crash by SIGKILL leaves at worst a hidden ``.name.emocli-XXXX.ext`` file, never ``path``.
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.emocli-", suffix=path.suffix, dir=path.parent)
    except OSError as e:
        raise OutputError(
            f"Cannot write to {path.parent}: {e.strerror}.", "Choose a folder you can write to."
        ) from e
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"Nothing was written for {path}.")
        # mkstemp creates 0600; give the result the permissions a normal file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file."""
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
