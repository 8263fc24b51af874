"""Compatibility names; new code imports from session/server/series/figures.

(app_support.charts was split by concern: records -> series in app_support.series, every figure in
app_support.figures, the redraw interval in app_support.server. Each name below is the new one.)
"""
# ruff: noqa: F401
from nn_core.twins import TWIN_NAMES

from .figures import CHART_HEIGHT, FONT_SIZE, LAYER_DASHES, MAX_WEIGHT_UNITS, TWIN_LINE_WIDTHS
from .figures import TWIN_COLOURS as TWIN_COLORS
from .figures import FIRST_TILE_NUMBER, ReadyFigure, ready, first_layer_images, tiles_shown_text
from .figures import _xy, loss_figure, accuracy_figure, grad_norm_figure, gap_figure, weights_figure
from .figures import training_speed_figure as speed_figure
from .figures import history_figure
from .series import MAX_POINTS, TwinSeries, series_for, thinned, extremes, TwinGap, twin_gap
from .series import steps_per_epoch, progress, config_summary, never_inked
from .series import history_table, history_frame, records_frame, records_csv
from .server import redraw_every
