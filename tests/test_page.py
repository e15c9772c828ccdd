"""The results page of a profile (results/<profile>/index.html, ortho_suite/report/page.py) and
the headline metrics the `tables` stage writes beside it, checked in a real headless browser."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from ortho_suite import runs
from ortho_suite.report.headline import HEADLINE_DIR, HEADLINE_DISPLAY, HEADLINE_METRICS
from ortho_suite.report.tables import render_profile

from . import browser
from .conftest import REPO
from .test_tables import TOY_RUNS, _toy_project

needs_chromium = pytest.mark.skipif(
    browser.CHROMIUM is None,
    reason="chromium is not installed and could not be: run 'apt-get install chromium' as root "
           "('make test' installs it when it can)")
REPO_PAGE = REPO / "results" / "smoke" / "index.html"
WINDOW = (1280, 1600)


class _Page(HTMLParser):
    """Every tag of a page with its attributes, and the verdict cells (text -> class)."""

    def __init__(self):
        super().__init__()
        self.tags, self.verdicts, self._td = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._td = [dict(attrs).get("class", ""), ""]

    def handle_data(self, data):
        if self._td is not None:
            self._td[1] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._td is not None:
            self.verdicts.append((self._td[1].strip(), self._td[0]))
            self._td = None


def _png(path: Path, size: tuple[int, int], colour=(40, 90, 160)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste(Image.new("RGB", (size[0] // 2, size[1] // 2), colour), (size[0] // 4, size[1] // 4))
    image.save(path)


@pytest.fixture
def toy_results(tmp_path):
    """The toy project of test_tables with figures where the pipeline's stages put them: an
    experiment's figure far wider than the page (with its note), an overlay group, run plots."""
    params, bench, results = _toy_project(tmp_path)
    _png(results / "figures" / "directclr_toy" / "directclr_toy.png", (3000, 600))
    (results / "figures" / "directclr_toy" / "directclr_toy.md").write_text("# Note <b>x</b>\n")
    _png(results / "figures" / "spectra" / "simclr_group" / "spectra_representation.png", (500, 400))
    _png(results / "runs" / "simclr_none_s0" / "plots" / "feature_spectra.png", (560, 470))
    (results / HEADLINE_DIR).mkdir()
    (results / HEADLINE_DIR / "removed_run.json").write_text("{}")  # a run no longer in the profile
    render_profile(params, bench, results, tmp_path / "results" / "README.md")
    return results


def test_page_holds_every_table_verdict_and_figure_and_nothing_external(toy_results):
    html = (toy_results / "index.html").read_text()
    page = _Page()
    page.feed(html)
    ids = {a["id"] for _, a in page.tags if "id" in a}
    assert {"leaderboard", "score", "tables", "figures", "runs", "table-toy"} <= ids
    # verdicts in colour: each verdict's cell carries its class
    classes = {}
    for text, css in page.verdicts:
        classes.setdefault(text, set()).add(css)
    assert classes["within tolerance"] == {"ok"} and classes["outside tolerance"] == {"bad"}
    assert classes["diverged"] == {"diverged"} and classes["not run in this profile"] == {"none"}
    # every figure is linked relatively and exists; nothing is fetched from elsewhere
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    assert sorted(images) == ["figures/directclr_toy/directclr_toy.png",
                              "figures/spectra/simclr_group/spectra_representation.png",
                              "runs/simclr_none_s0/plots/feature_spectra.png"]
    links = [a.get("href") or a.get("src") for _, a in page.tags if a.get("href") or a.get("src")]
    for link in links:
        assert not link.startswith(("http:", "https:", "//", "/")), link
        if not link.startswith(("#", "data:")):
            assert (toy_results / link).is_file(), f"{link} does not resolve"
    assert not any(tag == "script" for tag, _ in page.tags), "the page needs no script"
    assert "# Note &lt;b&gt;x&lt;/b&gt;" in html, "notes are shown as text, escaped"
    assert "[Results page](smoke/index.html)" in (toy_results.parent / "README.md").read_text()


def test_headline_metrics_one_small_flat_file_per_run(toy_results):
    files = sorted((toy_results / HEADLINE_DIR).iterdir())
    assert [f.stem for f in files] == sorted(TOY_RUNS), "one per run, stale ones removed"
    assert set(HEADLINE_METRICS) <= set(runs.METRICS), "metric names come from runs.METRICS"
    assert set(HEADLINE_DISPLAY) == set(HEADLINE_METRICS), "the page heads every headline metric"
    for f in files:
        record = json.loads(f.read_text())
        assert set(record) <= {"status", *HEADLINE_METRICS}
        assert all(isinstance(v, (int, float, str)) for v in record.values()), "scalars only"
    evaluated = json.loads((toy_results / HEADLINE_DIR / "simclr_so_s0.json").read_text())
    assert evaluated == {"status": "evaluated", "linear_top1": 73.25, "knn200_cosine_top1": 74.25,
                         "repr_effective_rank": 10.0, "repr_collapsed_dims": 0}
    diverged = json.loads((toy_results / HEADLINE_DIR / "byol_none_s0.json").read_text())
    assert diverged == {"status": "diverged"}, "no value is made up for a diverged run"


def _check_in_browser(page: Path, shot: Path) -> dict:
    loaded = browser.load(page.resolve().as_uri())
    assert loaded["errors"] == [], loaded["errors"]
    assert loaded["images"], "the page shows figures"
    broken = [i["src"] for i in loaded["images"] if not i["complete"] or i["width"] == 0]
    assert broken == [], f"images that do not resolve: {broken}"
    too_wide = [i["src"] for i in loaded["images"] if i["shown"] > i["page"]]
    assert too_wide == [], f"figures wider than the page: {too_wide}"
    browser.screenshot(page.resolve().as_uri(), shot, *WINDOW)
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == WINDOW
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50, "the screenshot shows a rendered page"
    return loaded


@needs_chromium
def test_page_in_headless_chromium(toy_results, tmp_path):
    loaded = _check_in_browser(toy_results / "index.html", tmp_path / "page.png")
    assert loaded["title"] == "ortho-suite results, profile smoke"
    wide = next(i for i in loaded["images"] if i["src"].endswith("directclr_toy.png"))
    assert wide["width"] == 3000 and wide["shown"] <= WINDOW[0], "sized for the page"


@needs_chromium
def test_browser_check_catches_a_missing_image_and_a_console_error(tmp_path):
    """The check itself: a page with a missing figure and a script error fails it."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="figures/nosuch.png"><script>console.error("boom")</script>'
                    "</body></html>")
    loaded = browser.load(page.as_uri())
    assert any("boom" in e for e in loaded["errors"]), loaded["errors"]
    assert any("nosuch.png" in e or "ERR_FILE_NOT_FOUND" in e for e in loaded["errors"])
    assert loaded["images"][0]["width"] == 0


@needs_chromium
@pytest.mark.skipif(not REPO_PAGE.is_file(), reason="results/smoke/index.html is not rendered "
                    "(dvc repro -s tables)")
def test_repository_results_page_in_headless_chromium(tmp_path):
    """The committed page of the smoke profile: every table, figure and run plot resolves."""
    loaded = _check_in_browser(REPO_PAGE, tmp_path / "smoke.png")
    assert len(loaded["images"]) >= 3 + len(list((REPO_PAGE.parent / "runs").glob("*/plots/*.png")))
