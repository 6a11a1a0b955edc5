"""Writing a folder atomically: build it beside its final place, then rename it there.

One rule for every folder crossrank writes (bundles, bi-encoders, retriever indexes): a folder
that holds crossrank's own ``marker`` file is replaced, an empty one is filled, and any other
folder is refused, so a typo in ``--out`` never deletes a user's files. A failure or Ctrl-C
midway leaves the old folder (or nothing) in place, never half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def check_replaceable(out_dir: str | os.PathLike[str], marker: str, what: str) -> Path:
    """Return OUT_DIR as an absolute path, or raise FileExistsError when writing there would
    overwrite something that is not a crossrank WHAT (a folder without MARKER)."""
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise FileExistsError(f"{out} is not empty and holds no crossrank {what}; refusing to overwrite it")
    return out


@contextlib.contextmanager
def atomic_folder(out_dir: str | os.PathLike[str], marker: str, what: str) -> Iterator[Path]:
    """Yield a fresh temporary folder beside OUT_DIR; on success it becomes OUT_DIR.

    Args:
        out_dir: the folder to write.
        marker: the file that says a folder is a crossrank WHAT (e.g. ``crossrank.json``).
        what: how errors name it ("bundle", "encoder", "index").

    Raises:
        FileExistsError: OUT_DIR is a file, or a non-empty folder without MARKER.
    """
    out = check_replaceable(out_dir, marker, what)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the result should read like any folder
    try:
        yield tmp
        check_replaceable(out, marker, what)  # it may have changed while we worked
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}-{int(time.time() * 1000)}")
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
