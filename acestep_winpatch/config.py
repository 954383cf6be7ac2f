"""Every environment variable the plugin reads, parsed in one place into one settings object.

Explicit arguments to :func:`acestep_winpatch.apply` override the environment. A value that
cannot be parsed never raises: the default is used, and ``apply()`` says so with one
:class:`~acestep_winpatch.ConfigWarning` per variable naming the value and what is accepted
(:func:`report_problem`, also used for mistakes found later, such as an unknown compile backend).
"""

import os

from . import forksafe, notices

MASTER_SWITCH = "ACESTEP_WINPATCH"
DISABLE = "ACESTEP_WINPATCH_DISABLE"
COMPILE = "ACESTEP_WINPATCH_COMPILE"
LOG_LEVEL = "ACESTEP_WINPATCH_LOG_LEVEL"

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
COMPILE_POLICIES = ("attempt", "eager")  # or the name of a torch.compile backend

SHOWN_VALUE_LENGTH = 80

_lock = forksafe.Lock()
_current = None
_reported = {}  # variable -> message, for status(): every problem reported in this process


def parse_bool(text):
    """``True``/``False`` for the accepted words (any case, surrounding blanks ignored), else None."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


class Settings:
    """The parsed configuration, with the origin of every value for ``status()`` and doctor."""

    __slots__ = ("enabled", "disabled", "compile_policy", "log_level", "sources", "problems")

    def __init__(self, environ):
        self.sources = {}
        self.problems = []
        self.enabled = self._read(environ, MASTER_SWITCH, True, _bool_value,
                                  "one of " + "/".join(TRUE_WORDS + FALSE_WORDS), "on")
        self.disabled = self._read(environ, DISABLE, frozenset(), _name_list,
                                   "a comma-separated list of patch names, or *", "nothing disabled")
        self.compile_policy = self._read(environ, COMPILE, "attempt", _policy,
                                         "attempt, eager, or a torch.compile backend name", "attempt")
        self.log_level = self._read(environ, LOG_LEVEL, None, _log_level,
                                    "one of " + "/".join(LOG_LEVELS), "no log on stderr")

    def _read(self, environ, variable, default, convert, accepted, default_text):
        text = environ.get(variable)
        if text is None or not text.strip():
            self.sources[variable] = "default"
            return default
        value = convert(text)
        if value is None:
            self.problems.append((variable, text, accepted, f"using the default ({default_text})"))
            self.sources[variable] = "default (invalid value ignored)"
            return default
        self.sources[variable] = f"environment {variable}={text}"
        return value

    def override(self, disable=None, compile=None, log_level=None):
        """Return a copy with explicit ``apply()`` arguments taking precedence over the environment."""
        settings = object.__new__(Settings)
        for name in Settings.__slots__:
            setattr(settings, name, getattr(self, name))
        settings.sources = dict(self.sources)
        if disable is not None:
            text = disable if isinstance(disable, str) else ",".join(disable)
            settings.disabled = _name_list(text) or frozenset()
            settings.sources[DISABLE] = f"apply(disable={disable!r})"
        if compile is not None:
            if _policy(compile) is None:
                raise ValueError(f"compile={compile!r}: expected attempt, eager or a backend name")
            settings.compile_policy = _policy(compile)
            settings.sources[COMPILE] = f"apply(compile={compile!r})"
        if log_level is not None:
            if _log_level(log_level) is None:
                raise ValueError(f"log_level={log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
            settings.log_level = _log_level(log_level)
            settings.sources[LOG_LEVEL] = f"apply(log_level={log_level!r})"
        return settings

    def is_disabled(self, patch_name):
        """True when the patch, or its group (the part before the dot), or ``*`` is listed."""
        group = patch_name.split(".", 1)[0]
        return bool({"*", patch_name, group} & self.disabled)

    def as_dict(self):
        return {
            "enabled": self.enabled,
            "disabled": sorted(self.disabled),
            "compile_policy": self.compile_policy,
            "log_level": self.log_level,
            "sources": dict(self.sources),
            "problems": [problem_text(*problem) for problem in self.problems]
                        + [text for variable, text in _reported.items()
                           if variable not in {problem[0] for problem in self.problems}],
        }

    def report_problems(self):
        """Say every parsing problem: one :class:`~acestep_winpatch.ConfigWarning` per variable."""
        for problem in self.problems:
            report_problem(*problem)


def problem_text(variable, value, accepted, consequence):
    value = str(value)
    shown = value if len(value) <= SHOWN_VALUE_LENGTH else value[:SHOWN_VALUE_LENGTH - 3] + "..."
    return f"{variable}={shown!r} is not valid ({accepted} accepted); {consequence}"


def report_problem(variable, value, accepted, consequence="using the default"):
    """Tell the user that ``variable=value`` cannot be used: a
    :class:`~acestep_winpatch.ConfigWarning` naming the variable, the value and what is
    accepted, once per variable and process (later calls are kept for ``status()`` only).
    """
    text = problem_text(variable, value, accepted, consequence)
    with _lock:
        _reported.setdefault(variable, text)
    notices.config_problem(variable, text)


def _bool_value(text):
    return parse_bool(text)


def _name_list(text):
    names = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    return names or None


def _policy(text):
    word = text.strip()
    if not word or not all(ch.isalnum() or ch in "_-." for ch in word):
        return None
    return word.lower() if word.lower() in COMPILE_POLICIES else word


def _log_level(text):
    word = text.strip().upper()
    return word if word in LOG_LEVELS else None


def current():
    """The settings in force: read from the environment once, then replaced by ``use()``."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Settings(os.environ)
    return _current


def use(settings):
    """Make ``settings`` the ones in force (``apply()`` calls this with its overrides)."""
    global _current
    _current = settings


def reload():
    """Read the environment again (tests, and ``apply()`` without overrides after a change)."""
    use(Settings(os.environ))
    return current()
