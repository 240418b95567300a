"""Japanese text in every PNG we write is drawn with the font the report extra ships, not as boxes (tofu)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from jp_bench.reporting import fonts
from jp_bench.reporting.fonts import plot_style
from jp_bench.reporting.plots import render_radar

pytestmark = pytest.mark.unit

JAPANESE = "日本語"


@pytest.fixture(scope="module")
def fontja_file() -> Path:
    """The font matplotlib-fontja ships, from the package itself (CI installs the report extra).

    Importing the package calls its japanize(), which sets the global font and registers the font with
    matplotlib: both are undone, so what the tests see is what jp-bench itself set up.
    """
    fonts_before = list(font_manager.fontManager.ttflist)
    with matplotlib.rc_context():
        import matplotlib_fontja
    font_manager.fontManager.ttflist[:] = fonts_before
    font_manager.fontManager._findfont_cached.cache_clear()
    fonts._registered.cache_clear()
    return Path(matplotlib_fontja.get_font_ttf_path()).resolve()


def _font_for(char: str) -> Path:
    """The file matplotlib draws ``char`` from under the current settings: the first font of the
    ``font.family`` fallback chain that has a glyph for it (glyph index 0 is .notdef, the box)."""
    for family in matplotlib.rcParams["font.family"]:
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        if FT2Font(path).get_char_index(ord(char)) != 0:
            return Path(path).resolve()
    raise AssertionError(f"no font of {matplotlib.rcParams['font.family']} has {char!r}")


def _render(text: str, **font: object) -> np.ndarray:
    fig = Figure(figsize=(1.6, 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.05, 0.3, text, fontsize=20, **font)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def test_japanese_characters_come_from_the_bundled_font(fontja_file: Path) -> None:
    assert fonts.japanese_font_path().resolve() == fontja_file
    with plot_style():
        for char in JAPANESE:
            assert _font_for(char) == fontja_file
            assert FT2Font(str(fontja_file)).get_char_index(ord(char)) != 0
        assert _font_for("A").name.startswith("DejaVuSans")  # Latin text keeps matplotlib's default font
    # Without the bundled font (nothing else on this machine has the glyphs), there would be no font for it.
    dejavu = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"), fallback_to_default=False)
    assert FT2Font(dejavu).get_char_index(ord(JAPANESE[0])) == 0


def test_rendered_japanese_is_the_bundled_font_and_not_boxes(fontja_file: Path) -> None:
    with plot_style(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = _render(JAPANESE)
        with_fontja = _render(JAPANESE, fontproperties=font_manager.FontProperties(fname=str(fontja_file)))
        tofu = _render(JAPANESE, family="DejaVu Sans")
    assert (ours < 128).any()  # something was drawn
    assert np.array_equal(ours, with_fontja)  # exactly what IPAexGothic draws...
    assert not np.array_equal(ours, tofu)  # ...and not DejaVu Sans' missing-glyph boxes
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing and all("DejaVu Sans" in message for message in missing)  # only the tofu rendering warned
    assert all("boxes" not in str(w.message) for w in caught)  # plot_style itself saw nothing missing


def _radar_report() -> dict:
    categories = ["ライティング", "ロールプレイ", "数学", "コーディング"]
    return {"single": [{"judge": "gpt-4", "model": model, "mean": 6.0, "scale": [1.0, 10.0],
                        "by_category": {c: {"mean": 2.0 + i + j} for j, c in enumerate(categories)}}
                       for i, model in enumerate(["カラクリ-7b", "rinna/ユリ"])]}


def test_report_radar_and_selfinstruct_plots_draw_every_japanese_label() -> None:
    from jp_bench.selfinstruct.export import stats_plot

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        radar = render_radar(_radar_report())
        stats = stats_plot([{"instruction": "説明して", "output": "はい"}],
                           {"drop_reasons": {"重複": 2, "長すぎる": 1}})
    assert radar.startswith(b"\x89PNG") and stats.startswith(b"\x89PNG")
    assert [str(w.message) for w in caught if "missing" in str(w.message) or "boxes" in str(w.message)] == []


def test_without_a_japanese_font_the_plots_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: with no Japanese font the same labels are boxes, and one warning says so."""
    monkeypatch.setattr(fonts, "japanese_font_path", lambda: None)
    monkeypatch.setattr(fonts, "_CJK_FONTS", ())
    with pytest.warns(UserWarning, match=r"shown as boxes\); install matplotlib-fontja"):
        tofu = render_radar(_radar_report())
    monkeypatch.undo()
    assert tofu != render_radar(_radar_report())
