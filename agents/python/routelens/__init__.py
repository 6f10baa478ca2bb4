"""Routelens Python agent: traces, logs and process metrics for a local API, sent to Routelens.

Importing this package changes nothing. The agent runs after `routelens.start()`,
`routelens.instrument(app)`, or automatically through the bundled sitecustomize
when ROUTELENS_ENDPOINT is set.
"""

from ._agent import flush, instrument, shutdown, start
from ._config import VERSION as __version__
from ._logs import structlog_processor
from ._trace import Span, current_span, span, traced

__all__ = [
    "Span",
    "current_span",
    "flush",
    "instrument",
    "shutdown",
    "span",
    "start",
    "structlog_processor",
    "traced",
    "__version__",
]
