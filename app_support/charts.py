"""Compatibility names; new code imports from session/server/series/figures.

(app_support.charts was split by concern: records -> series in app_support.series, every figure in
app_support.figures, the redraw interval in app_support.server. Each name below is the new one.)
"""
# ruff: noqa: F401
from nn_core.twins import TWIN_NAMES
from .figures import CHART_HEIGHT
from .figures import FONT_SIZE
from .figures import LAYER_DASHES
from .figures import MAX_WEIGHT_UNITS
from .figures import TWIN_LINE_WIDTHS
from .figures import TWIN_COLOURS as TWIN_COLORS
from .figures import FIRST_TILE_NUMBER
from .figures import ReadyFigure
from .figures import ready
from .figures import first_layer_images
from .figures import tiles_shown_text
from .figures import _xy
from .figures import loss_figure
from .figures import accuracy_figure
from .figures import grad_norm_figure
from .figures import gap_figure
from .figures import weights_figure
from .figures import training_speed_figure as speed_figure
from .figures import history_figure
from .series import MAX_POINTS
from .series import TwinSeries
from .series import series_for
from .series import thinned
from .series import extremes
from .series import TwinGap
from .series import twin_gap
from .series import steps_per_epoch
from .series import progress
from .series import config_summary
from .series import never_inked
from .series import history_table
from .series import history_frame
from .series import records_frame
from .series import records_csv
from .server import redraw_every
