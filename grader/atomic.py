"""Files grader writes for its user: whole or not at all, under names that are safe on any disk.

`replacing(target)` gives a file object on a temporary file beside `target` (same folder, so the
rename cannot cross disks); when the block ends the data is flushed, synced and the temporary file
renamed over `target` with `os.replace` (atomic on POSIX and Windows). When a write fails (a full
disk, a read-only folder, a quota), the temporary file is removed, any earlier `target` is left as
it was, and the `OSError` becomes a `GraderError` that names the file, what failed and the fix;
never a traceback and never a 0-byte or half-written file. Any other error also removes the
temporary file and goes on as it was. Every byte goes through `os.write`, as a full disk reports
itself at `write(2)` (or at `fsync(2)`).

`file_stem(id)` is the one place a transcript id becomes a file name (score sheets, HTML sheets).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from grader.errors import GraderError

FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


class _Raw(io.RawIOBase):
    """An open file descriptor written with `os.write`, the system call a full disk fails."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Any) -> int:  # a bytes-like object
        return os.write(self._fd, data)

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


def _fix(exc: OSError, option: str | None) -> str:
    elsewhere = f"give another path with {option}" if option else "write it to another folder"
    if exc.errno in FULL:
        return f"free space on that disk, or {elsewhere}"
    if exc.errno in READ_ONLY:
        return f"make the folder writable, or {elsewhere}"
    return f"check the disk and the folder, or {elsewhere}"


def write_error(target: Path, exc: OSError, *, option: str | None = None, kept: bool = False) -> GraderError:
    """The error a user reads when `target` could not be written (`kept`: an earlier file is left as it was)."""
    what = exc.strerror or str(exc) or type(exc).__name__
    left = "the earlier file is left as it was" if kept else "no file was left"
    return GraderError(f"cannot write this file: {what} (nothing was written; {left})", path=target,
                       fix=_fix(exc, option))


def make_folder(folder: Path, *, option: str | None = None) -> None:
    """`folder` and its parents, as `mkdir -p`; a folder that cannot be made is a `GraderError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"cannot make this folder: {exc.strerror or exc}", path=folder,
                          fix=_fix(exc, option)) from None


def _temporary(final: Path) -> tuple[Path, int]:
    name = f".{final.name[:200]}.{secrets.token_hex(4)}.tmp"  # hidden, beside the target, within NAME_MAX
    path = final.with_name(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    return path, os.open(path, flags, 0o666)  # the umask applies, as to any file opened for writing


@contextlib.contextmanager
def replacing(target: Path, *, text: bool = False, newline: str | None = None,
              option: str | None = None) -> Iterator[IO[Any]]:
    """A file object (binary, or UTF-8 text with `text`) whose content replaces `target` when the block ends.

    `option` is the command-line option that names the file (`--to`), for the fix of an error.
    """
    target = Path(target)
    kept, temp = False, None
    try:
        final = Path(os.path.realpath(target))  # a link to a file is written through, as open() does
        kept = final.is_file()
        final.parent.mkdir(parents=True, exist_ok=True)
        temp, fd = _temporary(final)
        buffered = io.BufferedWriter(_Raw(fd))
        handle: IO[Any] = io.TextIOWrapper(buffered, encoding="utf-8", newline=newline) if text else buffered
        try:
            yield handle
            handle.flush()
            os.fsync(fd)  # a full disk may only say so here (delayed allocation, network disks)
        finally:
            handle.close()
        if kept:
            with contextlib.suppress(OSError):  # the earlier file's permissions stay
                os.chmod(temp, stat.S_IMODE(os.stat(final).st_mode))
        os.replace(temp, final)
        temp = None
    except OSError as exc:
        raise write_error(target, exc, option=option, kept=kept) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()


def write_text(target: Path, content: str, *, option: str | None = None) -> None:
    """`target.write_text(content, encoding="utf-8")`, whole or not at all."""
    with replacing(target, text=True, option=option) as out:
        out.write(content)


# A transcript id becomes a file name --------------------------------------------------------------

WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{p}{n}" for p in ("COM", "LPT") for n in range(10))}
MAX_STEM = 200  # a stem longer than this (once encoded) is cut and given a hash: room for `.json`, `.tmp`
EMPTY = "%empty"  # quote() never writes "%" before anything but two upper-case hex digits: no id gives this


def file_stem(transcript_id: str, reserved: Collection[str] = ()) -> str:
    """The file name (without extension) of a transcript id's sheets: safe, and distinct for distinct ids.

    Percent-encoding (RFC 3986, as `urllib.parse.quote(id, safe="")`) keeps letters, digits and `_.-~`
    and writes every other UTF-8 byte as `%XX`: no `/`, `\\`, NUL, `:`, space or control character is
    left. Then a leading `.` (the ids `.` and `..`, and hidden files), a Windows device name (CON,
    NUL, COM1, ... before the first dot, any case) and a stem in `reserved` (any case: a name the
    caller writes itself, such as `index`) get their first character encoded too. Each such
    stem decodes (`urllib.parse.unquote`) back to its id, so two ids never share a file name. A stem
    over MAX_STEM characters is cut and ends with a SHA-256 of the id (longer than any uncut stem).
    """
    if not transcript_id:
        return EMPTY
    stem = quote(transcript_id, safe="")
    taken = {name.casefold() for name in reserved}
    if stem.startswith(".") or stem.split(".", 1)[0].upper() in WINDOWS_DEVICES or stem.casefold() in taken:
        stem = f"%{ord(stem[0]):02X}{stem[1:]}"
    if len(stem) > MAX_STEM:
        cut = stem[:180]
        cut = cut[: cut.rfind("%")] if "%" in cut[-2:] else cut  # never half of a %XX
        stem = f"{cut}~{hashlib.sha256(transcript_id.encode('utf-8', 'surrogatepass')).hexdigest()}"
    return stem


def href(file_name: str) -> str:
    """A relative URL that opens `file_name` in the same folder (its `%` become `%25`, and so on)."""
    return quote(file_name, safe="")
