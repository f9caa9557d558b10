"""Reading files that kspec did not write: one mechanism for every reader.

Specs, run directories, dataset annotations and weights files may come from anyone.
Every reader of such a file goes through here, so that each of them:
- opens only a regular file (a FIFO or a device would block or never end; a folder is a
  mistake to name), without waiting on it;
- knows the size before it allocates, and refuses a file over its bound;
- decodes text as strict UTF-8 and JSON as strict JSON (no NaN or Infinity, bounded
  nesting and number length), naming where it stops;
- keeps paths a file names inside the root they belong to, after symlinks.

Hand-written because the standard library's `open` and `json` accept all of the above.
Nothing here imports TensorFlow or Keras.
"""
from __future__ import annotations

import json
import os
import stat

MB = 1 << 20


class UntrustedFileError(ValueError):
    """A file that cannot be read as asked; the message says what to change."""


def _size_text(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


def read_bytes(path: str, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `chunks`)."""
    return b"".join(chunks(path, limit, what))


def chunks(path: str, limit: int, what: str = "file", size: int = 4 * MB):
    """The bytes of a regular file of at most `limit` bytes, in pieces of `size`.

    Opened non-blocking, so a FIFO named as a spec fails at once instead of waiting for
    a writer; the size is checked on the open descriptor (no race with a swap), and at
    most `limit + 1` bytes are read, so a file that grows meanwhile is refused too.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise UntrustedFileError(f"{path}: is a folder; expected a {what}") from None
    except FileNotFoundError:
        raise UntrustedFileError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise UntrustedFileError(f"{path}: cannot open the {what} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise UntrustedFileError(f"{path}: is a folder; expected a {what}")
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedFileError(f"{path}: is not a regular file (a pipe, socket or "
                                     f"device); expected a {what}")
        if st.st_size > limit:
            raise UntrustedFileError(f"{path}: the {what} is {_size_text(st.st_size)}, over "
                                     f"the {_size_text(limit)} kspec reads for it")
        left = limit + 1
        while True:
            chunk = os.read(fd, min(left, size))
            if not chunk:
                return
            left -= len(chunk)
            if left <= 0:
                raise UntrustedFileError(f"{path}: the {what} grew past the "
                                         f"{_size_text(limit)} kspec reads for it")
            yield chunk
    except OSError as exc:
        raise UntrustedFileError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, path: str, what: str = "file") -> str:
    """Strict UTF-8 (a BOM is dropped); the error names the line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UntrustedFileError(f"{path}:{line}:{col}: the {what} is not UTF-8 text "
                                 f"(byte 0x{data[exc.start]:02x}); save it as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str, limit: int, what: str = "file") -> str:
    return decode_text(read_bytes(path, limit, what), path, what)


MAX_NUMBER_DIGITS = 40


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(text: str):
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _bounded_float(text: str):
    if len(text) > MAX_NUMBER_DIGITS + 10:
        raise ValueError(f"a number of {len(text)} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def parse_json(text: str, path: str, constants: bool = False):
    """Strict JSON: no NaN/Infinity (unless `constants`: a file of kspec's own that
    Python's json wrote, whose metrics may be NaN), numbers of at most 40 digits; errors
    are `path:line:col: reason`. Nesting is bounded by the parser's recursion guard (a
    RecursionError at about a thousand levels, caught here)."""
    try:
        return json.loads(text, parse_constant=float if constants else _reject_constant,
                          parse_int=_bounded_int, parse_float=_bounded_float)
    except json.JSONDecodeError as exc:
        raise UntrustedFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON "
                                 f"({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise UntrustedFileError(f"{path}: not valid JSON ({reason})") from None


def read_json(path: str, limit: int, what: str = "JSON file"):
    return parse_json(read_text(path, limit, what), path)


def inside(path: str, roots) -> bool:
    """Whether `path`, with every symlink resolved, lies inside one of `roots` (also
    resolved). A path that does not exist is judged by where it would be."""
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return True
    return False


def contained(root: str, name: str, roots=None) -> str:
    """`name` (relative to `root`, as a dataset file names it) as a path, if it resolves
    inside `roots` (default: `root` alone); otherwise UntrustedFileError."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise UntrustedFileError(f"{name!r} is not a file name")
    path = os.path.normpath(os.path.join(root, name))
    if not inside(path, roots or [root]):
        raise UntrustedFileError(f"{name} resolves outside the dataset folder "
                                 f"{os.path.realpath(root)}")
    return path


# -- writing into a place the user named ----------------------------------------------
def data_dir_option(text: str) -> str:
    """An argparse type for `--data-dir`: a folder, or a path where one can be made (TFDS
    writes there); a file or a FIFO is refused at parse time."""
    import argparse
    if os.path.lexists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder; name the folder "
                                         "of prepared TFDS datasets (it is made if new)")
    return text



def output_folder(path: str, option: str) -> str:
    """The folder an option such as `--draw DIR` names, made if new: the root, a file, or
    a path through a file is refused (UntrustedFileError) before anything is written."""
    if os.path.realpath(path) == os.path.realpath(os.sep):
        raise UntrustedFileError(f"{option} {path} is the file-system root; name a folder "
                                 "for the files")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UntrustedFileError(f"{option} {path} is a file, not a folder; name a folder "
                                 "for the files")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UntrustedFileError(f"{option} {path}: cannot make that folder "
                                 f"({exc.strerror}); name a folder in a place you can "
                                 "write") from None
    return path


def replace_file(path: str, data: bytes) -> None:
    """Writes `data` as the file `path`: a new file beside it, then renamed over it, so a
    link already at `path` is replaced, never written through (it may point anywhere),
    and a reader never sees half a file."""
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.kspec-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
