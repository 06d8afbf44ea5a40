"""app.py's flags and start-up: the operator's caps reach the form, and a bad start is a message, not a traceback."""

from __future__ import annotations

import socket

import pytest

import app
from demo.app import DEVICE_JOBS, Access, build_demo, configure, guard_options
from demo.config import DemoConfig
from demo.layout import header
from demo.worker import GenerationWorker
from longcat_i2v.settings import RuntimeSettings


def test_flags_become_the_form_caps_and_the_access_rules() -> None:
    args = app.parse_args(
        [
            "--max-frames",
            "45",
            "--max-queue",
            "4",
            "--concurrency",
            "2",
            "--auth",
            "ann:pw",
            "--token",
            "t",
            "--rate-limit",
            "5",
            "--keep-outputs",
            "600",
            "--max-upload-mb",
            "8",
        ]
    )
    changes = app.config_changes(args)
    config = configure(DemoConfig(), **changes)
    assert (config.max_frames, config.num_frames) == (45, 45)  # the starting 93 frames are lowered to the cap
    assert (config.max_queue, config.concurrency, config.keep_outputs_s) == (4, 2, 600.0)
    assert config.max_image_bytes == 8 * 2**20
    assert configure(DemoConfig.tiny(), **changes).num_frames == DemoConfig.tiny().num_frames  # already below
    assert args.auth == [("ann", "pw")] and args.token == "t" and args.rate_limit == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--auth", "ann"], "expected USER:PASSWORD"), (["--max-queue", "0"], "expected a number >= 1")],
)
def test_bad_flags_are_refused_by_name(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        app.parse_args(argv)
    assert message in capsys.readouterr().err


def test_a_frame_cap_the_model_cannot_make_is_refused() -> None:
    with pytest.raises(ValueError, match="num_frames=6 is invalid"):
        configure(DemoConfig(), max_frames=6)


def test_a_bad_checkpoint_or_a_busy_port_is_a_message(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # main() points it at its own folder
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert app.main(["--checkpoint", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert app.main(["--port", str(busy.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("longcat-demo-")] == []  # cleaned up


def test_runtime_flags_come_from_the_settings_and_offload_starts_at_auto(tiny_pipe) -> None:
    assert app.runtime_settings(app.parse_args([])) == RuntimeSettings(offload="auto")
    args = app.parse_args(["--offload", "sequential", "--quantize", "int8", "--attention", "sdpa", "--compile",
                           "--text-encoder-device", "cpu", "--device", "cpu", "--max-segments", "3"])  # fmt: skip
    runtime = app.runtime_settings(args)
    assert (runtime.offload, runtime.quantize, runtime.attention, runtime.compile) == (
        "sequential",
        "int8",
        "sdpa",
        True,
    )
    assert (runtime.text_encoder_device, runtime.device) == ("cpu", "cpu")
    assert configure(DemoConfig(), **app.config_changes(args)).max_segments == 3
    with pytest.raises(SystemExit):
        app.parse_args(["--sp", "2"])  # several ranks are the CLI's, not the demo's
    # the header names the mode in use, and that the planner chose it
    text = header(tiny_pipe, "auto")
    assert "offload none" in text and "picked by the planner" in text and "no offload modes" not in text


def test_a_bad_runtime_flag_is_a_message_naming_it(capsys) -> None:
    assert app.main(["--text-encoder-device", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--text-encoder-device" in err and "Traceback" not in err


def test_every_route_that_runs_on_the_device_is_rate_limited(tiny_pipe, tiny_form, tmp_path) -> None:
    worker = GenerationWorker(tiny_pipe, output_dir=tmp_path)
    try:
        page = build_demo(worker=worker, config=tiny_form)
        limited = guard_options(page, worker, 1, Access(rate_limit=1)).generate_fns()
        assert {fn.api_name for fn in page.fns.values() if fn._id in limited} == set(DEVICE_JOBS)
        assert set(DEVICE_JOBS) == {"generate", "extend", "long_video", "refine"}
    finally:
        worker.close()
