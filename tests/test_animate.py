"""clustersim animate: a GIF without ffmpeg, an MP4 with imageio-ffmpeg, bad input refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "classroom_free_riding.toml"


def test_gif_has_a_frame_a_month(tmp_path, capsys):
    out = tmp_path / "anim" / "run.gif"
    assert main(["animate", str(SCENARIO), "--steps", "4", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "GIF"
        assert im.n_frames == 5  # the set-up and four months
        assert im.size[0] > 600
    assert list(out.parent.iterdir()) == [out]  # no temporary file left
    assert "animation:" in capsys.readouterr().out


def test_mp4(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "run.mp4"
    assert main(["animate", str(SCENARIO), "--steps", "2", "--out", str(out)]) == 0
    assert out.read_bytes()[4:8] == b"ftyp"  # an MP4 container


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "x.avi"], "allowed: .gif, .mp4"),
    (["--out", "x.gif", "--steps", "0"], "--steps"),
    (["--out", "x.gif", "--fps", "0"], "--fps"),
    (["--out", "x.gif", "--set", "nonsense=1"], "nonsense"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["animate", str(SCENARIO), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_missing_scenario_and_existing_output(tmp_path, capsys):
    out = tmp_path / "a.gif"
    assert main(["animate", str(tmp_path / "none.toml"), "--out", str(out)]) == 2
    assert "none.toml" in capsys.readouterr().err
    out.write_bytes(b"keep")
    assert main(["animate", str(SCENARIO), "--steps", "1", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
