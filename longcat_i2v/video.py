"""Frames → uint8 → H.264 mp4, as the original demo writes them (truncating uint8 conversion,
optional bicubic resize back to the input size, 15 fps, libx264 crf 18).

Every video is written to a hidden temporary file in the target's folder, checked (ffmpeg's exit status, then
the file decodes to the expected frame count and size) and only then renamed over the target, so a failed
write (full disk, killed encoder) leaves the previous file as it was and raises VideoWriteError with the reason.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from . import defaults
from .errors import InvalidInputError, OutputPathError, VideoWriteError

VIDEO_SUFFIXES = (".mp4",)
_STDERR_TAIL = 600  # characters of ffmpeg's error output quoted in a VideoWriteError


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """[F, H, W, 3] floats in [0, 1] → uint8 by truncation ``(x * 255).astype(uint8)``, the original demo's
    conversion (not rounding); uint8 input is returned unchanged."""
    if frames.dtype == np.uint8:
        return frames
    return (frames * 255).astype(np.uint8)


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: round each down to even (at least 2)."""
    return max(2, width - width % 2), max(2, height - height % 2)


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of uint8 frames to (width, height), as the original demo resizes to the input size."""
    return np.stack(
        [np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BICUBIC)) for f in to_uint8(frames)]
    )


def check_output_path(path: str | Path) -> Path:
    """Refuse, before any work, an output the writer could not produce: a name not ending in .mp4, an existing
    directory or device (a symlink is followed), a missing folder, or a folder where no file can be created
    (checked by creating and removing a probe file). Returns the path, ``~`` expanded."""
    if not isinstance(path, str | Path) or not str(path):
        raise OutputPathError(f"the output must be a non-empty file path ending in .mp4, got {path!r}")
    target = Path(path).expanduser()
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        found = f"{target.suffix!r}" if target.suffix else "no extension"
        raise OutputPathError(f"output {target} must end in .mp4 (an H.264 mp4 is written), got {found}")
    real = Path(os.path.realpath(target))
    if real.exists() and not real.is_file():
        kind = "a directory" if real.is_dir() else "not a regular file"
        raise OutputPathError(f"output {target} exists and is {kind}; give a file path ending in .mp4")
    folder = real.parent
    if not folder.is_dir():
        raise OutputPathError(f"the folder of output {target} does not exist: {folder}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".longcat-i2v-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(f"cannot create files in {folder} (for output {target}): {exc.strerror}") from exc
    return target


def _check_fps(fps: int) -> None:
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 120:
        raise InvalidInputError(f"fps must be an integer between 1 and 120, got {fps!r}")


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = to_uint8(np.asarray(frames))
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InvalidInputError(f"frames must be [F, H, W, 3] with F >= 1, got shape {list(frames.shape)}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise InvalidInputError(f"H.264 needs even frame sides, got {width}x{height}; resize with even_size() first")
    return frames


def _ffmpeg_failure(name: str, returncode: int, stderr: str) -> VideoWriteError:
    if returncode < 0:
        status = f"was killed by {signal.Signals(-returncode).name} ({signal.strsignal(-returncode)})"
    else:
        status = f"exited with status {returncode}"
    reason = stderr.strip()[-_STDERR_TAIL:] or "no error message"
    return VideoWriteError(f"writing {name} failed: ffmpeg {status}: {reason}")


def _run_ffmpeg(args: list[str], name: str, stdin_chunks: Iterable[bytes] = ()) -> None:
    """Run ffmpeg, feeding it ``stdin_chunks``; its exit status is checked and its error output quoted.

    imageio-ffmpeg's ``write_frames`` is not used: it neither checks ffmpeg's exit status nor keeps its error
    output, and a dead encoder surfaces there as a bare broken pipe."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-y", "-v", "error", *args]
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty ffmpeg can never block on it
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None  # stdin=PIPE
        try:
            with contextlib.suppress(BrokenPipeError):  # ffmpeg died early; its status and message tell why
                for chunk in stdin_chunks:
                    proc.stdin.write(chunk)
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if returncode != 0:
            err.seek(0)
            raise _ffmpeg_failure(name, returncode, err.read().decode(errors="replace"))


def _encode(frames: np.ndarray, out: Path, fps: int, crf: int, name: str) -> None:
    height, width = frames.shape[1:3]
    source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-an"]
    encoder = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf), "-movflags", "+faststart"]
    args = [*source, *encoder, str(out)]
    _run_ffmpeg(args, name, (np.ascontiguousarray(f).tobytes() for f in frames))


def _check_decodes(path: Path, num_frames: int, width: int, height: int, name: str) -> None:
    """The written file must decode (every frame, not only its header) to the frames and size that were sent."""
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        size = tuple(next(reader)["size"])
        reader.close()
        decoded, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, StopIteration, KeyError) as exc:
        raise VideoWriteError(f"writing {name} failed: the written file does not decode: {exc}") from exc
    if decoded != num_frames or size != (width, height):
        raise VideoWriteError(
            f"writing {name} failed: the written file decodes to {decoded} frames of {size[0]}x{size[1]}, "
            f"expected {num_frames} frames of {width}x{height}"
        )


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A new hidden file beside ``target``, renamed over it when the block succeeds and removed when it fails.

    Created with mode 0o666 so that the umask applies as for a plain ``open``; synced before the rename."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part{target.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise VideoWriteError(f"cannot create a file in {target.parent}: {exc.strerror}") from exc
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise VideoWriteError(f"writing {target} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _writable_target(path: str | Path) -> tuple[Path, Path]:
    """(path as given, the real file to replace), creating a missing folder (the eval harness relies on it)."""
    if isinstance(path, str | Path) and str(path) and not (folder := Path(path).expanduser().parent).exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(f"cannot create the folder of output {path}: {exc}") from exc
    target = check_output_path(path)
    return target, Path(os.path.realpath(target))


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = defaults.FPS, crf: int = defaults.CRF) -> Path:
    """Write frames (uint8, or floats in [0, 1]) as a browser-playable H.264/yuv420p mp4, atomically: the target
    is replaced only by a file that ffmpeg finished without error and that decodes to every frame."""
    _check_fps(fps)
    frames = _check_frames(frames)
    target, real = _writable_target(path)
    height, width = frames.shape[1:3]
    with _staged(real) as tmp:
        _encode(frames, tmp, fps, crf, str(target))
        _check_decodes(tmp, len(frames), width, height, str(target))
    return target


class Mp4Appender:
    """An mp4 that grows as segments finish (long videos): after each ``append`` the target is a complete,
    checked video of every frame so far, replaced atomically as ``write_mp4`` does.

    Each segment is encoded once into a hidden folder beside the target; the target is then rebuilt by ffmpeg's
    concat demuxer with stream copy (no re-encoding, so an append costs one segment's encode plus a copy).
    Only the segment being appended is held in memory. ``close`` (or leaving the ``with`` block) removes the
    segment files and keeps the target."""

    def __init__(self, path: str | Path, fps: int = defaults.FPS, crf: int = defaults.CRF) -> None:
        _check_fps(fps)
        self.path, self._real = _writable_target(path)
        self.fps, self.crf = fps, crf
        self.num_frames = 0
        self._size: tuple[int, int] | None = None
        self._segments: list[Path] = []
        self._dir = Path(tempfile.mkdtemp(prefix=f".{self._real.name}.segments-", dir=self._real.parent))

    def append(self, frames: np.ndarray) -> Path:
        """Add frames at the end; on failure the target and the segments so far stay as they were."""
        self._check_open()
        frames = _check_frames(frames)
        size = self._check_size((frames.shape[2], frames.shape[1]))
        segment = write_mp4(frames, self._dir / f"{len(self._segments):05d}.mp4", self.fps, self.crf)
        return self._join(segment, len(frames), size)

    def append_file(self, mp4: str | Path) -> Path:
        """Add the frames of an mp4 written by ``write_mp4`` or an ``Mp4Appender`` (the same encoder settings, so
        the stream is copied, not re-encoded: resuming a partial long video loses nothing more)."""
        self._check_open()
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(mp4))
        reader = imageio_ffmpeg.read_frames(str(mp4), pix_fmt="rgb24")
        size = self._check_size(tuple(next(reader)["size"]))
        reader.close()
        segment = self._dir / f"{len(self._segments):05d}.mp4"
        shutil.copyfile(mp4, segment)
        return self._join(segment, frames, size)

    def _check_open(self) -> None:
        if not self._dir.is_dir():
            raise VideoWriteError(f"{self.path} is closed; open a new Mp4Appender to write more")

    def _check_size(self, size: tuple[int, int]) -> tuple[int, int]:
        if self._size is not None and size != self._size:
            raise InvalidInputError(
                f"every segment of {self.path} must be {self._size[0]}x{self._size[1]}, got {size[0]}x{size[1]}"
            )
        return size

    def _join(self, segment: Path, num_frames: int, size: tuple[int, int]) -> Path:
        """Rebuild the target as the segments so far followed by ``segment`` (stream copy, checked)."""
        listing = self._dir / "segments.txt"
        listing.write_text("".join(f"file '{s.name}'\n" for s in [*self._segments, segment]))
        total = self.num_frames + num_frames
        try:
            with _staged(self._real) as tmp:
                args = ["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", "+faststart"]
                _run_ffmpeg([*args, str(tmp)], str(self.path))
                _check_decodes(tmp, total, *size, str(self.path))
        except BaseException:
            segment.unlink(missing_ok=True)
            raise
        self._segments.append(segment)
        self.num_frames, self._size = total, size
        return self.path

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Mp4Appender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_mp4(path: str | Path) -> np.ndarray:
    """Decode an mp4 to uint8 frames [F, H, W, 3] (for checks and the eval harness)."""
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)
