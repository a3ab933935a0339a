"""The HTML report in a real browser: headless Chromium renders it, the verdict is in the DOM, the
screenshot is not blank. Skips only where no Chromium is installed (scripts/install-chromium.sh)."""

import shutil
import subprocess

import numpy as np
import pytest

from harness.audit.runner import audit_submission
from reports import render_html
from tests.audit.builders import three_seeds
from tests.reports.png import read_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars",
         "--disable-extensions", "--no-first-run"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (run scripts/install-chromium.sh)")


def _chromium(*args, tmp_path):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args], capture_output=True,
                          timeout=120)


@pytest.fixture
def page(tmp_path):
    review = audit_submission(three_seeds(tmp_path / "sub", values=(1.20, 1.21, 1.22), train_ms=600_050))
    path = tmp_path / "review.html"
    path.write_text(render_html(review), encoding="utf-8")
    return review, path


def test_dom_has_the_verdict(page, tmp_path):
    review, path = page
    dom = _chromium("--dump-dom", path.as_uri(), tmp_path=tmp_path).stdout.decode()
    assert 'id="verdict-text">WARN<' in dom
    assert "time.train" in dom and "<svg" in dom


def test_screenshot_is_not_blank(page, tmp_path):
    _, path = page
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", "--window-size=1000,1400", path.as_uri(), tmp_path=tmp_path)
    img = read_png(shot.read_bytes())[..., :3].astype(np.int32)
    assert img.shape[0] >= 1000 and img.shape[1] >= 900
    colours = np.unique(img.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 20, "the page rendered as (almost) one colour"
    # the verdict banner's border (the warn colour, #9a6700) is on screen
    warn = np.array([0x9A, 0x67, 0x00])
    assert (np.abs(img - warn).sum(axis=-1) < 30).sum() > 200
