"""Video outputs: refused before any work when they cannot be written, replaced only by a checked file, and a
failed write (full disk, dead encoder, short or undecodable output) is a VideoWriteError that leaves the
previous file as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from longcat_i2v.errors import InvalidInputError, OutputPathError, VideoWriteError
from longcat_i2v.video import Mp4Appender, check_output_path, read_mp4, write_mp4


def noise(num_frames: int, height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def fake_ffmpeg(tmp_path: Path, body: str, interpreter: str = "/bin/sh") -> str:
    """An executable standing in for ffmpeg; it gets the writer's arguments, the output path last."""
    path = tmp_path / "fake-ffmpeg"
    path.write_text(f"#!{interpreter}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


@pytest.fixture()
def previous(tmp_path) -> tuple[Path, bytes]:
    """A video already at the target, whose bytes must survive every failed write."""
    path = write_mp4(noise(3, seed=9), tmp_path / "out" / "v.mp4")
    return path, path.read_bytes()


def assert_untouched(previous: tuple[Path, bytes]) -> None:
    path, data = previous
    assert path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "a temporary file was left behind"


@pytest.mark.parametrize(
    "name,match",
    [
        ("out.txt", "must end in .mp4.*'.txt'"),
        ("out.gif", "must end in .mp4.*'.gif'"),
        ("noext", "must end in .mp4.*no extension"),
        ("adir.mp4", "exists and is a directory"),
        ("device.mp4", "exists and is not a regular file"),
        ("missing/out.mp4", "folder of output .* does not exist"),
    ],
)
def test_unwritable_outputs_are_refused_before_any_work(tmp_path, name, match):
    (tmp_path / "adir.mp4").mkdir()
    (tmp_path / "device.mp4").symlink_to("/dev/full")
    with pytest.raises(OutputPathError, match=match):
        check_output_path(tmp_path / name)


def test_unwritable_folder_and_non_paths_are_refused():
    with pytest.raises(OutputPathError, match="cannot create files in /proc"):  # refused even to root
        check_output_path("/proc/out.mp4")
    for bad in ("", None, 3):
        with pytest.raises(OutputPathError, match="non-empty file path"):
            check_output_path(bad)


def test_write_refuses_what_the_check_refuses(tmp_path):
    with pytest.raises(OutputPathError, match="must end in .mp4"):
        write_mp4(noise(2), tmp_path / "out.txt")
    with pytest.raises(OutputPathError, match="not a regular file"):
        (tmp_path / "full.mp4").symlink_to("/dev/full")
        write_mp4(noise(2), tmp_path / "full.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.mp4"]


def test_write_replaces_the_previous_file_and_keeps_the_umask_mode(previous):
    path, old = previous
    frames = noise(5, seed=1)
    assert write_mp4(frames, path) == path
    assert path.read_bytes() != old and read_mp4(path).shape == (5, 32, 48, 3)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_full_disk_is_an_error_and_the_previous_file_survives(previous):
    """RLIMIT_FSIZE stands in for a full disk: ffmpeg is killed by SIGXFSZ part-way through (as `ulimit -f 8`)."""
    code = """
        import resource, sys
        import numpy as np
        from longcat_i2v.errors import VideoWriteError
        from longcat_i2v.video import write_mp4
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
        frames = np.random.default_rng(1).integers(0, 256, (16, 96, 128, 3), dtype=np.uint8)
        try:
            write_mp4(frames, sys.argv[1])
        except VideoWriteError as exc:
            print(exc)
            sys.exit(3)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(previous[0])], capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert "ffmpeg was killed by SIGXFSZ" in done.stdout and str(previous[0]) in done.stdout
    assert_untouched(previous)


def test_encoder_failure_is_reported_with_its_message_not_a_broken_pipe(tmp_path, previous, monkeypatch):
    """An encoder that stops reading and exits 1: more frames than a pipe holds are still being sent."""
    exe = fake_ffmpeg(tmp_path, 'head -c 1000 >/dev/null\necho "Error: No space left on device" >&2\nexit 1\n')
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: exe)
    with pytest.raises(VideoWriteError, match="exited with status 1: Error: No space left on device"):
        write_mp4(noise(8, 128, 128), previous[0])
    assert_untouched(previous)


def test_output_that_does_not_decode_is_refused(tmp_path, previous, monkeypatch):
    exe = fake_ffmpeg(tmp_path, 'cat >/dev/null\nfor last; do :; done\necho "not a video" > "$last"\n')
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: exe)
    with pytest.raises(VideoWriteError, match="does not decode"):
        write_mp4(noise(4), previous[0])
    assert_untouched(previous)


def test_output_with_missing_frames_is_refused(tmp_path, previous, monkeypatch):
    """An encoder that exits 0 having written only 2 of the 5 frames."""
    real = imageio_ffmpeg.get_ffmpeg_exe()
    body = f"import os, sys\nos.execv({real!r}, [{real!r}, *sys.argv[1:-1], '-frames:v', '2', sys.argv[-1]])\n"
    exe = fake_ffmpeg(tmp_path, body, sys.executable)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: exe)
    with pytest.raises(VideoWriteError, match="decodes to 2 frames of 48x32, expected 5 frames of 48x32"):
        write_mp4(noise(5), previous[0])
    assert_untouched(previous)


def test_bad_frames_and_fps(tmp_path):
    with pytest.raises(InvalidInputError, match="even frame sides"):
        write_mp4(noise(2, 31, 48), tmp_path / "v.mp4")
    with pytest.raises(InvalidInputError, match="F >= 1"):
        write_mp4(noise(0), tmp_path / "v.mp4")
    with pytest.raises(InvalidInputError, match="fps must be an integer"):
        write_mp4(noise(2), tmp_path / "v.mp4", fps=True)


def test_appender_keeps_a_complete_video_after_every_segment(tmp_path, monkeypatch):
    segments = [noise(5, seed=s) for s in range(3)]
    alone = [read_mp4(write_mp4(s, tmp_path / "alone" / f"{i}.mp4")) for i, s in enumerate(segments)]
    target = tmp_path / "out" / "long.mp4"
    with Mp4Appender(target) as video:
        for i, segment in enumerate(segments[:2]):
            assert video.append(segment) == target
            decoded = read_mp4(target)
            assert decoded.shape == (5 * (i + 1), 32, 48, 3) and video.num_frames == 5 * (i + 1)
            # stream copy: each part decodes exactly as the segment encoded on its own
            assert np.array_equal(decoded, np.concatenate(alone[: i + 1]))
        kept = target.read_bytes()
        exe = fake_ffmpeg(tmp_path, 'cat >/dev/null\necho "Conversion failed!" >&2\nexit 1\n')
        monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: exe)
        with pytest.raises(VideoWriteError, match="Conversion failed"):
            video.append(segments[2])
        assert target.read_bytes() == kept and video.num_frames == 10
        monkeypatch.undo()
        with pytest.raises(InvalidInputError, match="must be 48x32, got 64x32"):
            video.append(noise(5, 32, 64))
        video.append(segments[2])
        assert np.array_equal(read_mp4(target), np.concatenate(alone))
    assert [p.name for p in target.parent.iterdir()] == ["long.mp4"], "segment files were left behind"
    with pytest.raises(VideoWriteError, match="closed"):
        video.append(segments[0])
