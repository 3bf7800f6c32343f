"""Loggers of pylm components: ``time - name - LEVEL - message`` lines on standard output."""

from __future__ import annotations

import logging
import sys

__all__ = ["component_logger", "LOG_FORMAT"]

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def component_logger(name: str, level: int = logging.INFO) -> logging.Logger:
    """The logger of the component ``name``, printing to stdout, created once per name."""
    logger = logging.getLogger(name)
    if not any(getattr(h, "_pylm", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._pylm = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger
