"""The one place that sets up matplotlib for every PNG jp-bench writes: style and a Japanese font.

Japanese labels (model names, categories, legends) need a font with Japanese glyphs, and a fresh
machine has none, so matplotlib would draw boxes ("tofu"). The ``report`` extra installs
``matplotlib-fontja``, which ships IPAexGothic; :func:`plot_style` registers that file with
matplotlib's font manager and puts it after DejaVu Sans in the family list, so Latin text keeps
matplotlib's default look and every character DejaVu Sans lacks falls back to IPAexGothic.

The font file is located without importing ``matplotlib_fontja``: importing it calls its
``japanize()``, which changes matplotlib's global settings for the whole process (a library must
not do that to its caller). Without the package, installed CJK fonts are the fallback and one
warning says what to install when glyphs are missing.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jp_bench.errors import JpBenchError

JAPANESE_FONT_PACKAGE = "matplotlib-fontja"
_FONT_FILE = Path("fonts") / "ipaexg.ttf"  # where matplotlib-fontja 1.x keeps IPAexGothic
# System fonts tried after the bundled one (or instead of it, when the package is missing).
_CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "VL Gothic")


def matplotlib_module() -> Any:
    """``matplotlib``, or one line saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise JpBenchError("plots need matplotlib: pip install 'jp-bench[report]' (matplotlib and matplotlib-fontja)"
                           ) from None
    return matplotlib


def japanese_font_path() -> Path | None:
    """The Japanese font file that ``matplotlib-fontja`` ships, or None when it is not installed."""
    spec = importlib.util.find_spec("matplotlib_fontja")  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / _FONT_FILE
        if path.is_file():
            return path
    return None


@functools.cache
def _registered(path: Path) -> str:
    """Add ``path`` to matplotlib's font manager once; returns its family name (IPAexGothic)."""
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def font_families() -> list[str]:
    """``font.family`` for our plots: DejaVu Sans, the bundled Japanese font, then installed CJK fonts."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    bundled = japanese_font_path()
    if bundled is not None:
        families.append(_registered(bundled))
    installed = {font.name for font in font_manager.fontManager.ttflist}
    families += [name for name in _CJK_FONTS if name in installed and name not in families]
    return families


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """Matplotlib's own defaults (not the user's matplotlibrc: images depend on the data alone), our
    font families, and missing-glyph warnings gathered into one (instead of one per character)."""
    matplotlib = matplotlib_module()
    from matplotlib import style

    with matplotlib.rc_context(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        style.use("default")
        matplotlib.rcParams.update({"font.family": font_families(), "svg.hashsalt": "jp-bench", "figure.dpi": 100})
        yield
    missing_glyphs = False
    for warning in caught:
        if re.match(r"Glyph \d+ .*missing from font", str(warning.message)):
            missing_glyphs = True
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if missing_glyphs:
        hint = ("" if japanese_font_path() is not None else
                f"install {JAPANESE_FONT_PACKAGE} (pip install 'jp-bench[report]'), or ")
        warnings.warn(f"plots: some labels use characters no available font has (shown as boxes); {hint}install a "
                      "CJK font (Debian: apt-get install fonts-noto-cjk) and remove matplotlib's font cache "
                      "(~/.cache/matplotlib) so it is found", UserWarning, stacklevel=3)
