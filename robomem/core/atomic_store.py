"""Crash-safe directory store: the mechanics of saving a directory of files atomically and loading it back.

:mod:`robomem.core.persistence` decides *what* a memory directory holds; this module decides *how* it gets
onto disk without ever destroying data:

* **Safe targets.** A save refuses an empty path (or one no file can have), an existing file, a non-empty
  directory that is not entirely robomem's (no valid manifest, or anything in it the manifest does not list: a
  user's notes, a subdirectory, a link), a store of another format version, a ``<name>.previous`` that is not
  ours, and a target inside another store (it would be deleted with that one): nothing that robomem did not
  write is ever moved, replaced or deleted. Directories are created with the usual permissions (0777 less the
  umask), not mkdtemp's 0700.
* **Atomic writes.** Files go to a hidden sibling ``.<name>.tmp-<random>`` (marked as ours by a marker file
  until its manifest exists); every file is fsynced, its sha256 and size go into ``manifest.json`` (written
  last); then the old target is renamed to ``<name>.previous``, the new one renamed into place, and the
  previous one removed. At every instant ``<name>`` or ``<name>.previous`` is a complete store.
* **Self-healing.** Leftovers of a killed save (``.<name>.tmp-*`` and ``.<name>.trash-*`` directories that are
  provably ours: see :func:`_foreign`) are removed by the next save or load of that target. A load whose
  target is missing or fails verification falls back to ``<name>.previous`` and logs that it did.
* **Verified reads.** The manifest must name the format and version and list every file the format requires,
  each with its size and sha256; everything is checked before the caller builds anything.
* **Clear errors.** Every filesystem failure becomes a :class:`~robomem.errors.PersistenceError` naming the
  path and the cause.

Saves and loads of directories with the same parent are serialised with an advisory ``flock`` on the parent
directory, so two processes never clean up each other's in-progress save.

Fault injection: tests set :data:`FAULT_HOOK` to a callable receiving the name of each step
(``"tmp_created"``, ``"file_written"``, ``"manifest_written"``, ``"rotated"``, ``"swapped"``,
``"removing"``), e.g. to kill the process at a chosen point or to raise ``OSError(ENOSPC)``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from robomem.errors import PersistenceError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MARKER = ".robomem-store-partial"
"""Present in a temporary or dying directory while it has no manifest: proves the directory is ours."""

FAULT_HOOK: Optional[Callable[[str], None]] = None
"""Test hook, called with the name of each step of a save (see the module docstring). None in production."""

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class StoreFormat:
    """What a store directory of one kind must look like.

    ``name``: the manifest's ``format`` field. ``version``: the only version this code reads and replaces.
    ``required_files``: data files the manifest must list (and the directory hold, checksummed).
    """

    name: str
    version: int
    required_files: tuple[str, ...]


@dataclass(frozen=True)
class Opened:
    """A verified store directory. ``fallback_reason`` is set when ``directory`` is ``<name>.previous``
    because the target itself was missing or invalid (the reason says which)."""

    directory: Path
    manifest: dict[str, Any]
    target: Path
    fallback_reason: str = ""


def _fault(step: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(step)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{exc.strerror or exc} ({name})"
    return f"{type(exc).__name__}: {exc}"


def previous_of(target: Path) -> Path:
    return target.with_name(target.name + ".previous")


def resolve_target(directory: PathLike) -> Path:
    """The absolute path a store at ``directory`` lives at (symlinks resolved). Rejects empty paths."""
    raw = os.fspath(directory) if not isinstance(directory, str) else directory
    if not str(raw).strip():
        raise PersistenceError("the directory path is empty; give the directory to save to or load from")
    if "\0" in str(raw):
        raise PersistenceError(f"the path {str(raw)[:200]!r} contains a NUL character; no file can have that name")
    try:
        path = Path(raw).expanduser().resolve()
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # a new target (or one under a file: the save says so with the path)
    except (OSError, RuntimeError, ValueError) as exc:
        shown = str(raw) if len(str(raw)) <= 200 else f"{str(raw)[:200]}... ({len(str(raw))} characters)"
        raise PersistenceError(f"cannot resolve the path {shown!r}: {_cause(exc)}") from exc
    if not path.name or path == path.parent:
        raise PersistenceError(f"{path} cannot hold a memory (it is a filesystem root); give a subdirectory")
    return path


# ---------------------------------------------------------------------------------------------- manifests


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _peek_manifest(directory: Path) -> Optional[dict[str, Any]]:
    """The parsed manifest of ``directory`` when it is a JSON object with a ``format`` field, else None."""
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and "format" in data else None


def read_manifest(directory: Path, fmt: StoreFormat, verify_checksums: bool = True) -> dict[str, Any]:
    """Verify ``directory`` as a complete store of ``fmt``; returns its manifest. PersistenceError otherwise."""
    if not directory.is_dir():
        what = "it does not exist" if not directory.exists() else "it is not a directory"
        raise PersistenceError(f"{directory} is not a memory directory ({what})")
    path = directory / MANIFEST
    if not path.is_file():
        raise PersistenceError(f"{directory} has no {MANIFEST}: not a robomem memory (or an interrupted copy)")
    try:
        manifest = json.loads(path.read_text())
    except OSError as exc:
        raise PersistenceError(f"cannot read {path}: {_cause(exc)}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise PersistenceError(f"{path} is not valid JSON ({exc}); the save is corrupted") from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt.name:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise PersistenceError(f"{path} is not a robomem memory manifest (format {got!r})")
    version = manifest.get("version")
    if version != fmt.version:
        raise PersistenceError(
            f"{directory} was saved in format version {version}; this robomem reads version {fmt.version}. "
            "Use the robomem release that wrote it, or rebuild the memory (e.g. robomem ingest-bag)."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise PersistenceError(f"{path} lists no files: the manifest is incomplete or was edited")
    missing = [name for name in fmt.required_files if name not in files]
    if missing:
        raise PersistenceError(
            f"{path} does not list {missing}: every data file must be checksummed (incomplete or edited manifest)"
        )
    for name, info in files.items():
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise PersistenceError(f"{path} lists an invalid file name {name!r}")
        if not isinstance(info, dict) or not isinstance(info.get("bytes"), int) or not isinstance(
            info.get("sha256"), str
        ):
            raise PersistenceError(f"{path}: the entry of {name} needs integer 'bytes' and string 'sha256'")
        f = directory / name
        if not f.is_file():
            raise PersistenceError(f"{directory} is incomplete: {name} is missing")
        try:
            size = f.stat().st_size
            if size != info["bytes"]:
                raise PersistenceError(
                    f"{f} is {size} bytes but the manifest says {info['bytes']}: truncated or edited"
                )
            if verify_checksums and sha256_file(f) != info["sha256"]:
                raise PersistenceError(f"{f} does not match its checksum in the manifest: corrupted or edited")
        except OSError as exc:
            raise PersistenceError(f"cannot read {f}: {_cause(exc)}") from exc
    return manifest


# ---------------------------------------------------------------------------------------------- ownership


def _foreign(directory: Path, fmt: StoreFormat) -> Optional[str]:
    """None when robomem provably wrote everything in ``directory``; else why not (for a message).

    Ours: an empty directory; or one holding only regular files that are its manifest (of this format) and the
    files it lists; or our marker and files of this format (a temporary or dying directory). A subdirectory, a
    link or a file the manifest does not list (a user's notes, another memory saved inside this one) makes it
    not ours: robomem then neither replaces nor deletes it.
    """
    try:
        if directory.is_symlink() or not directory.is_dir():
            return "it is not a directory (a file or a link)"
        entries = sorted(os.listdir(directory))
    except (OSError, ValueError) as exc:
        return f"it cannot be read ({_cause(exc)})"
    if not entries:
        return None
    manifest = _peek_manifest(directory)
    listed = manifest.get("files") if manifest is not None and manifest.get("format") == fmt.name else None
    allowed = {MANIFEST} | (set(listed) if isinstance(listed, dict) else set())
    if MARKER in entries:
        allowed |= {MARKER, *fmt.required_files}
    elif not isinstance(listed, dict):
        return f"no valid {MANIFEST} of a robomem memory"
    foreign = [e for e in entries if e not in allowed]
    try:
        foreign += [e for e in entries if e in allowed and not stat.S_ISREG(os.lstat(directory / e).st_mode)]
    except OSError as exc:
        return f"it cannot be read ({_cause(exc)})"
    if foreign:
        shown = ", ".join(repr(e) for e in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        return f"{len(foreign)} entr{'y' if len(foreign) == 1 else 'ies'} robomem did not write: {shown}"
    return None


def _ours(directory: Path, fmt: StoreFormat) -> bool:
    """True when robomem provably wrote everything in ``directory`` (see :func:`_foreign`)."""
    return _foreign(directory, fmt) is None


def enclosing_store(path: Path, fmt: StoreFormat) -> Optional[Path]:
    """The robomem store (or temporary store directory) that ``path`` lies inside, if any: a memory saved there
    would be deleted together with it the next time that one is saved."""
    for parent in path.parents:
        try:
            if (parent / MARKER).exists():
                return parent
        except (OSError, ValueError):
            continue
        manifest = _peek_manifest(parent)
        if manifest is not None and manifest.get("format") == fmt.name:
            return parent
    return None


def _check_not_inside_store(target: Path, fmt: StoreFormat) -> None:
    outer = enclosing_store(target, fmt)
    if outer is not None:
        raise PersistenceError(
            f"{target} is inside the robomem memory {outer}: a memory saved there would be deleted the next time "
            "that one is saved; choose a directory outside it"
        )


def check_target(target: Path, fmt: StoreFormat) -> None:
    """Refuse a save target (or its ``.previous`` sibling) that exists and is not a store of ``fmt`` written
    entirely by robomem, and a target inside another store."""
    _check_not_inside_store(target, fmt)
    for path, role in ((target, "the save target"), (previous_of(target), "the previous-save slot")):
        try:
            if not path.exists() and not path.is_symlink():
                continue
            if path.is_symlink() or not path.is_dir():
                raise PersistenceError(
                    f"{path} ({role}) exists and is not a directory (a file or a link): refusing to replace it; "
                    "choose a new or empty directory"
                )
            entries = sorted(os.listdir(path))
        except (OSError, ValueError) as exc:
            raise PersistenceError(f"cannot inspect {path} ({role}): {_cause(exc)}") from exc
        if not entries:
            continue
        manifest = _peek_manifest(path)
        if manifest is not None and manifest.get("format") == fmt.name and manifest.get("version") != fmt.version:
            raise PersistenceError(
                f"{path} ({role}) holds a robomem memory in format version {manifest.get('version')} (this "
                f"robomem writes version {fmt.version}): refusing to replace it; move it away or choose another "
                "directory"
            )
        why = _foreign(path, fmt)
        if why is not None:
            shown = ", ".join(repr(e) for e in entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise PersistenceError(
                f"{path} ({role}) is not empty and is not a robomem memory ({why}; it holds {len(entries)} "
                f"entr{'y' if len(entries) == 1 else 'ies'}: {shown}): refusing to overwrite it; choose a new or "
                "empty directory, or move what robomem did not write out of it"
            )


def _leftovers(target: Path) -> list[Path]:
    prefixes = (f".{target.name}.tmp-", f".{target.name}.trash-")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / n for n in sorted(names) if n.startswith(prefixes)]


def _unique_name(parent: Path, prefix: str) -> Path:
    """A path ``parent/<prefix><random>`` that does not exist yet (nothing is created)."""
    while True:
        p = parent / f"{prefix}{secrets.token_hex(6)}"
        if not p.exists() and not p.is_symlink():
            return p


def _mkdir_unique(parent: Path, prefix: str) -> Path:
    """Create ``parent/<prefix><random>`` with the usual permissions (0777 less the umask, like ``mkdir``:
    a memory must stay readable by whoever could read the directory it replaces, unlike mkdtemp's 0700)."""
    while True:
        p = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            os.mkdir(p, 0o777)
            return p
        except FileExistsError:
            continue


def _remove_ours(directory: Path, fmt: StoreFormat) -> bool:
    """Delete a directory robomem wrote, in an order that keeps it recognisable as ours if interrupted:
    marker first, then the files, the marker last, then the empty directory. A directory holding anything
    robomem did not write (see :func:`_foreign`) is left in place and logged; returns whether it was removed."""
    why = _foreign(directory, fmt)
    if why is not None:
        log.warning("leaving %s in place: %s", directory, why)
        return False
    marker = directory / MARKER
    if not marker.exists():
        marker.touch()
        _fsync_dir(directory)
    for entry in os.listdir(directory):
        if entry != MARKER:
            (directory / entry).unlink()  # regular files only (checked above)
    marker.unlink()
    directory.rmdir()
    return True


def _discard(path: Path, target: Path, fmt: StoreFormat) -> None:
    """Remove a complete store (``<name>.previous``): renamed to a trash name first, so an interrupted
    deletion never leaves a half-deleted directory under a name that loads. Left in place (and logged) when
    it holds anything robomem did not write."""
    why = _foreign(path, fmt)
    if why is not None:
        log.warning("leaving %s in place: %s", path, why)
        return
    trash = _unique_name(target.parent, f".{target.name}.trash-")
    os.replace(path, trash)
    _fault("removing")
    _remove_ours(trash, fmt)


def cleanup(target: Path, fmt: StoreFormat) -> list[Path]:
    """Remove the leftovers of killed saves of ``target`` (only directories provably ours). Returns them."""
    removed = []
    for p in _leftovers(target):
        if not _ours(p, fmt):
            log.warning("leaving %s alone: it looks like a robomem leftover but holds files robomem did not write", p)
            continue
        try:
            if _remove_ours(p, fmt):
                removed.append(p)
        except OSError as exc:
            log.warning("could not remove the leftover %s of an interrupted save: %s", p, _cause(exc))
    if removed:
        log.info("removed %d leftover(s) of interrupted saves next to %s", len(removed), target)
    return removed


@contextlib.contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Advisory exclusive lock on ``parent`` (a directory) for the duration; best effort where unsupported."""
    try:
        fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. a filesystem without flock
            log.debug("no lock on %s (%s); continuing without", parent, exc)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------------------------------------- save / load


def save(directory: PathLike, fmt: StoreFormat, fill: Callable[[Path], dict[str, Any]]) -> Path:
    """Write a store of ``fmt`` at ``directory`` atomically; returns the absolute target path.

    ``fill(tmp)`` writes the data files into the (new, empty) directory ``tmp`` and returns extra manifest
    fields (e.g. ``{"encoder": ..., "config": ...}``). Raises PersistenceError, with nothing at the target
    changed, when the target is not ours, when the disk is full or unwritable, or when ``fill`` fails.
    """
    target = resolve_target(directory)
    _check_not_inside_store(target, fmt)  # before creating any missing parent directory
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PersistenceError(f"cannot save to {target}: cannot create {target.parent}: {_cause(exc)}") from exc
    with _locked(target.parent):
        check_target(target, fmt)
        cleanup(target, fmt)
        tmp: Optional[Path] = None
        try:
            tmp = _mkdir_unique(target.parent, f".{target.name}.tmp-")
            (tmp / MARKER).touch()
            _fault("tmp_created")
            extra = fill(tmp)
            _fault("file_written")
            files = {}
            for p in sorted(tmp.iterdir()):
                if p.name in (MARKER, MANIFEST):
                    continue
                with open(p, "rb+") as f:
                    os.fsync(f.fileno())
                files[p.name] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            missing = [n for n in fmt.required_files if n not in files]
            if missing:
                raise PersistenceError(f"internal error: the save did not write {missing}")
            manifest = {"format": fmt.name, "version": fmt.version, "saved_at_unix": time.time(), **extra,
                        "files": files}
            with open(tmp / MANIFEST, "w") as f:
                f.write(json.dumps(manifest, separators=(",", ":")))
                f.flush()
                os.fsync(f.fileno())
            (tmp / MARKER).unlink()  # the manifest marks it as ours from here on
            _fsync_dir(tmp)
            _fault("manifest_written")
            _swap_in(tmp, target, fmt)
            tmp = None
        except PersistenceError:
            raise
        except Exception as exc:
            raise PersistenceError(f"cannot save to {target}: {_cause(exc)}") from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    _remove_ours(tmp, fmt)
    log.info("saved %s to %s (%d files)", fmt.name, target, len(files))
    return target


def _intact(path: Path, fmt: StoreFormat) -> bool:
    try:
        read_manifest(path, fmt, verify_checksums=False)
        return True
    except PersistenceError:
        return False


def _swap_in(tmp: Path, target: Path, fmt: StoreFormat) -> None:
    """Replace ``target`` by the complete store ``tmp``. At every instant ``target`` or ``target.previous``
    is a complete store (the newest one that was complete before this call, or the new one)."""
    previous = previous_of(target)
    if target.exists():
        if previous.exists() and not _intact(target, fmt) and _intact(previous, fmt):
            # the target was damaged (edited, truncated) but the previous save is good: keep that one
            _discard(target, target, fmt)
        else:
            if previous.exists():
                _discard(previous, target, fmt)
            os.replace(target, previous)
            _fsync_dir(target.parent)
            _fault("rotated")
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    _fault("swapped")
    if previous.exists():
        try:
            _discard(previous, target, fmt)
        except OSError as exc:  # the new save is in place; a stale previous is removed next time
            log.warning("saved to %s but could not remove %s: %s", target, previous, _cause(exc))
    _fsync_dir(target.parent)


@contextlib.contextmanager
def open_store(directory: PathLike, fmt: StoreFormat) -> Iterator[Opened]:
    """Verify the store at ``directory`` (falling back to ``<name>.previous``) and hold it while the caller
    reads it. Removes leftovers of killed saves first (best effort: a read-only medium still loads)."""
    target = resolve_target(directory)
    with _locked(target.parent):
        cleanup(target, fmt)
        try:
            manifest = read_manifest(target, fmt)
        except PersistenceError as exc:
            previous = previous_of(target)
            if not previous.is_dir():
                raise
            try:
                manifest = read_manifest(previous, fmt)
            except PersistenceError as exc_prev:
                raise PersistenceError(
                    f"{exc}; the previous save {previous} is not usable either: {exc_prev}"
                ) from None
            log.warning("%s; loading the previous save %s instead", exc, previous)
            yield Opened(previous, manifest, target, fallback_reason=str(exc))
            return
        previous = previous_of(target)
        if previous.is_dir() and _ours(previous, fmt):  # a save was killed after its swap: stale
            try:
                _discard(previous, target, fmt)
            except OSError as exc_rm:
                log.warning("could not remove the stale previous save %s: %s", previous, _cause(exc_rm))
        yield Opened(target, manifest, target)
