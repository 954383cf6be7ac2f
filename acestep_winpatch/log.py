"""The ``acestep_winpatch`` logger, created on first use so that importing the package
does not import :mod:`logging` (about 7 ms) in processes where nothing ever falls back.

It carries a NullHandler, as a library's logger should; ``ACESTEP_WINPATCH_LOG_LEVEL``
(or ``apply(log_level=...)``) adds a stderr handler at that level for users who want to
see it without configuring logging themselves.
"""

from . import forksafe

_lock = forksafe.RLock()
_logger = None
_stderr_handler = None
_warned = set()


def get_logger():
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                import logging

                from . import config

                logger = logging.getLogger("acestep_winpatch")
                logger.addHandler(logging.NullHandler())
                _logger = logger
                configure(config.current().log_level)
    return _logger


def configure(level):
    """Show records of ``level`` and above on stderr, or stop doing so when ``level`` is None.

    Does nothing until the logger exists: it reads the settings in force when it is created.
    """
    global _stderr_handler
    with _lock:
        if _logger is None:
            return
        import logging

        if _stderr_handler is not None:  # undo only what we did: the user may set levels too
            _logger.removeHandler(_stderr_handler)
            _logger.setLevel(logging.NOTSET)
            _stderr_handler = None
        if level:
            _logger.setLevel(level)
            _stderr_handler = logging.StreamHandler()
            _stderr_handler.setFormatter(logging.Formatter("[acestep_winpatch] %(levelname)s: %(message)s"))
            _stderr_handler.setLevel(level)
            _logger.addHandler(_stderr_handler)


def warn_once(key, message, *args):
    """Log ``message`` as a warning the first time ``key`` is seen in this process."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    get_logger().warning(message, *args)
