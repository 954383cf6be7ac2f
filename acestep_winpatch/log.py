"""The ``acestep_winpatch`` logger, created on first use so that importing the package
does not import :mod:`logging` (about 7 ms) in processes where nothing ever falls back.

It carries a NullHandler, as a library's logger should; ``ACESTEP_WINPATCH_LOG_LEVEL``
adds a stderr handler at that level for users who want to see it without configuring
logging themselves.
"""

import threading

_lock = threading.Lock()
_logger = None
_warned = set()


def get_logger():
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                _logger = _configure()
    return _logger


def _configure():
    import logging

    from . import config

    logger = logging.getLogger("acestep_winpatch")
    logger.addHandler(logging.NullHandler())
    level = config.current().log_level
    if level:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[acestep_winpatch] %(levelname)s: %(message)s"))
        handler.setLevel(level)
        logger.addHandler(handler)
        logger.setLevel(level)
    return logger


def warn_once(key, message, *args):
    """Log ``message`` as a warning the first time ``key`` is seen in this process."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    get_logger().warning(message, *args)
