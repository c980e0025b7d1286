"""Writing output files safely: every target is checked before anything is written; a group of files (an IR's
`.xml` + `.bin` + report, or all of `infer`'s outputs) is written all-or-nothing, each under a temporary name in
its own folder and then renamed over the target; and the files get the permissions a normally created file
gets (0666 & ~umask, default ACLs applied), since the temporary files are created with mode 0666 rather than
`tempfile.mkstemp`'s 0600. Failures raise OutputError naming the path, never a bare OSError."""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from irforge.errors import OutputError

Chunks = Iterable["bytes | memoryview"]


def _reason(e: OSError) -> str:
    reason = e.strerror or type(e).__name__
    return f"{reason} ('{e.filename}')" if e.filename else reason


def _existing_ancestor(path: Path) -> Path:
    """The nearest of `path` and its parents that exists (the folder a mkdir would start from)."""
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: str | os.PathLike[str], what: str) -> Path:
    """`path` must be a folder, or creatable as one: an existing file, a file on the way to it, or a folder we
    may not write into is an OutputError (`what` names the option or argument, e.g. '-o/--output-dir')."""
    p = Path(path)
    if str(path) == "":
        raise OutputError(f"{what}: the folder name is empty")
    anc = _existing_ancestor(p.absolute())
    if not anc.is_dir():
        kind = "" if anc == p.absolute() else f" (on the way to '{p}')"
        raise OutputError(f"{what}: '{anc}' is not a folder{kind}")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"{what}: no permission to write in '{anc}'")
    return p


def check_output_file(path: str | os.PathLike[str], what: str) -> Path:
    """`path` must be writable as a file: not an existing folder, and its folder as in `check_output_dir`."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise OutputError(f"{what}: '{path}' is not a file name")
    if p.is_dir():
        raise OutputError(f"{what}: '{p}' is a folder")
    if os.path.lexists(p) and not p.is_file():
        raise OutputError(f"{what}: '{p}' exists and is not a regular file")
    check_output_dir(p.parent, what)
    return p


def _make_dirs(folder: Path, created: list[Path]) -> None:
    """mkdir -p, recording the folders made (so a failed write can remove them again)."""
    missing: list[Path] = []
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        os.mkdir(d)
        created.append(d)


def _write_temp(target: Path, chunks: Chunks) -> Path:
    """Write `chunks` to a new hidden file beside `target`, created with mode 0666 (the umask applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        tmp = target.with_name(f".{target.name}.{os.urandom(4).hex()}.tmp")  # not secrets: OpenSSL
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_files(files: Sequence[tuple[str | os.PathLike[str], Chunks] | tuple[str | os.PathLike[str], Chunks, str]],
                what: str = "output") -> None:
    """Write every (path, chunks[, what]) entry, all or nothing; `what` (per entry, else the argument) names the
    option or argument the path came from in errors. Each target is checked first; then all are written under
    temporary names (folders created as needed) and renamed over their targets. On any failure the temporary
    files, the targets already renamed and the folders created are removed, and OutputError names the path.
    (A target that existed before and was already replaced is not restored: the checks make a failure after the
    first rename very unlikely.)"""
    labels = [entry[2] if len(entry) > 2 else what for entry in files]  # type: ignore[misc]
    targets = [check_output_file(entry[0], label) for entry, label in zip(files, labels)]
    if len({t.absolute() for t in targets}) != len(targets):
        raise OutputError(f"{what}: the same file is given twice ({', '.join(str(t) for t in targets)})")
    created: list[Path] = []
    temps: list[Path] = []
    renamed: list[Path] = []
    current = 0
    try:
        for current, (target, entry) in enumerate(zip(targets, files)):
            _make_dirs(target.parent, created)
            temps.append(_write_temp(target, entry[1]))
        for current, (target, tmp) in enumerate(zip(targets, temps)):
            os.replace(tmp, target)
            renamed.append(target)
    except OSError as e:
        _cleanup(temps + renamed, created)
        raise OutputError(f"{labels[current]}: cannot write '{targets[current]}': {_reason(e)}") from None
    except BaseException:
        _cleanup(temps + renamed, created)
        raise


def _cleanup(files: list[Path], folders: list[Path]) -> None:
    for f in files:
        try:
            os.unlink(f)
        except OSError:
            pass
    for d in reversed(folders):
        try:
            os.rmdir(d)
        except OSError:
            pass
