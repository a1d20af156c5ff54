"""One downloader for datasets and pretrained weights: checksums, resume, progress, safe extraction.

``download(url, dest, sha256)`` writes ``dest`` only once its bytes are complete and, when a
checksum is known, verified: it downloads into ``dest.part`` (resuming it with an HTTP Range
request when a previous attempt left one), checks the sha256, then renames. A mismatch deletes
the partial file and raises; nothing half-downloaded is ever left under the final name.
``extract(archive, target)`` unpacks zip and tar files and refuses any member that would land
outside ``target`` (absolute paths, ``..``, links).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's sha256 differs from the expected one."""


def cache_dir() -> Path:
    """The user cache directory of tsadbench (``$XDG_CACHE_HOME/tsadbench``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tsadbench"


def weights_dir() -> Path:
    """Where pretrained weights live: ``$TSADBENCH_WEIGHTS``, else the user cache."""
    env = os.environ.get("TSADBENCH_WEIGHTS")
    return Path(env) if env else cache_dir() / "weights"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, sha256: str) -> None:
    actual = sha256_of(path)
    if actual != sha256:
        raise ChecksumError(
            f"The checksum of {path} is {actual}, expected {sha256}: the file is "
            f"corrupted or not the one tsadbench knows."
        )


def offline() -> bool:
    """``TSADBENCH_OFFLINE=1`` forbids every download."""
    return os.environ.get("TSADBENCH_OFFLINE", "").lower() in ("1", "true", "yes")


def download(
    url: str, dest: Path, sha256: str | None = None, *, progress: bool = True, timeout: float = 60.0
) -> Path:
    """Fetch ``url`` to ``dest`` (resuming a ``.part`` file), verify ``sha256`` when given and
    the size the server announced. ``timeout``: seconds to connect and between reads. Processes
    fetching the same ``dest`` at once (parallel sweep jobs) take turns on a lock file: the later
    ones find the file done."""
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    if offline():
        raise OSError(f"Not downloading {url}: TSADBENCH_OFFLINE=1 forbids the network.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock_path = dest.with_name(dest.name + ".lock")
    with open(lock_path, "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # no fcntl (Windows): no lock
            pass
        try:
            if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
                return dest  # another process finished it while this one waited
            return _download(url, dest, sha256, progress, timeout)
        finally:
            lock_path.unlink(missing_ok=True)


def _download(url: str, dest: Path, sha256: str | None, progress: bool, timeout: float) -> Path:
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206
            total = response.headers.get("Content-Length")
            size = (int(total) + (have if resumed else 0)) if total else None
            with open(part, "ab" if resumed else "wb") as fh:
                done = have if resumed else 0
                bar = _Bar(dest.name, size, done) if progress else None
                for block in iter(lambda: response.read(CHUNK), b""):
                    fh.write(block)
                    done += len(block)
                    if bar:
                        bar.update(done)
                if bar:
                    bar.close()
            if size is not None and done != size:
                raise OSError(
                    f"Could not download {url}: the connection ended after {done} of {size} "
                    f"bytes. The partial file {part} is kept and the next attempt resumes it."
                )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete
            pass
        else:
            raise OSError(f"Could not download {url}: HTTP {exc.code} {exc.reason}.") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        kept = (
            f" The partial file {part} is kept and the next attempt resumes it."
            if part.exists() and part.stat().st_size
            else ""
        )
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise OSError(f"Could not download {url}: {reason}.{kept}") from None
    if sha256 is not None:
        try:
            verify(part, sha256)
        except ChecksumError:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, dest)
    return dest


def reachable(url: str, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers a HEAD request within ``timeout`` seconds, else why not."""
    if offline():
        return "TSADBENCH_OFFLINE=1 forbids the network"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"{url} is unreachable ({getattr(exc, 'reason', exc)})"


def _inside(target: Path, name: str) -> Path:
    path = (target / name).resolve()
    if not path.is_relative_to(target.resolve()):
        raise ValueError(f"Refusing to extract {name!r}: it would land outside {target}.")
    return path


def extract(archive: Path, target: Path) -> list[Path]:
    """Unpack a zip or tar ``archive`` (a download) into ``target``; members escaping it are
    refused (before anything is written). A file that is no readable archive (an HTML error page
    served in its place, a truncated file) is deleted, so that the next download fetches it
    again, and named in the error with what it holds."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, target)
        if not tarfile.is_tarfile(archive):
            raise tarfile.ReadError("neither a zip nor a tar archive")
        return _extract_tar(archive, target)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        head = Path(archive).read_bytes()[:60]
        what = "an HTML page" if head.lstrip().lower().startswith((b"<!doctype", b"<html")) else ""
        Path(archive).unlink(missing_ok=True)
        raise ValueError(
            f"The downloaded file {archive} is not a readable archive ({exc}); it holds "
            f"{what or repr(head)}{' (' + repr(head) + ')' if what else ''}. It was deleted: "
            "download again (check the URL, or the host's answer)."
        ) from None


def _extract_zip(archive: Path, target: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _inside(target, info.filename)
        for info in infos:
            zf.extract(info, target)
    return [target / info.filename for info in infos]


def _extract_tar(archive: Path, target: Path) -> list[Path]:
    out = []
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            _inside(target, m.name)
            if m.issym() or m.islnk():
                raise ValueError(f"Refusing to extract the link {m.name!r} from {archive}.")
            if not (m.isfile() or m.isdir()):
                raise ValueError(f"Refusing to extract the special file {m.name!r} from {archive}.")
        for m in members:
            dest = target / m.name
            if m.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            if src is None:
                raise ValueError(f"Cannot read the member {m.name!r} of {archive}.")
            with src, open(dest, "wb") as fh:
                shutil.copyfileobj(src, fh)
            out.append(dest)
    return out


class _Bar:
    """A rich progress bar on stderr when it is a terminal."""

    def __init__(self, name: str, total: int | None, done: int) -> None:
        self._progress = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

            self._progress = Progress(
                *Progress.get_default_columns(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(name, total=total, completed=done)

    def update(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
