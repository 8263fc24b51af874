"""Imported first by the forkserver that starts the trainer processes (nn_core.pool), never by the
server or the CLI themselves: it lowers the forkserver's CPU priority, and so that of every worker
forked from it. When the cores are busy (a fresh server importing torch for its workers, a class
training), the server process that draws the pages comes first.
"""

import os

from .worker import NICENESS

os.nice(NICENESS)
