"""How one live check is judged: native, fell back (to what, and why) or failed (with the error).

The judgement rests on what the plugin itself recorded while the check ran: the fallback
counters and notes of ``acestep_winpatch.status()``, read before and after. Nothing here
imports torch, so the compile probe's child process can use it too.
"""

import re

NATIVE = "native"
FELL_BACK = "fell back"
FAILED = "failed"

# Inner lines worth quoting from a long message such as torchcodec's, which embeds one
# traceback per FFmpeg version it tried; the wrapper lines repeat what the first line says.
_CAUSE_LINE = re.compile(r"^\s*(OSError|FileNotFoundError|ImportError|ModuleNotFoundError): (.+)$")
_WRAPPER_TEXT = "Could not load this library"
_MAX_CAUSES = 6


class FellBack(str):
    """What a check returns when it saw for itself that the fallback served the call."""


class CheckFailed(Exception):
    """A check ran without an exception but its result is wrong (for example a short read-back)."""


def error_text(error, omit=None):
    """``Type: first line`` of ``error``, plus the distinct loader errors its message quotes
    (except those the regular expression ``omit`` matches)."""
    message = str(error)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    first = lines[0].removesuffix(" Likely causes:") if lines else ""
    causes = []
    for line in lines[1:]:
        match = _CAUSE_LINE.match(line)
        if (match and _WRAPPER_TEXT not in match.group(2) and match.group(2) not in causes
                and not (omit and omit.match(match.group(2)))):
            causes.append(match.group(2))
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    if causes:
        text += " [" + "; ".join(causes[:_MAX_CAUSES]) + "]"
    return text


def observe(action, status):
    """Run ``action()`` and judge it.

    ``action`` returns a short description of what it did, or a :class:`FellBack` when the
    check itself saw the fallback (a compiled module that ran eagerly). ``status`` is
    ``acestep_winpatch.status``: a fallback it counted during the call means the plugin
    stepped in, and the detail quotes the plugin's own reason; notes it recorded meanwhile
    are quoted too, and so are the decoders that served its audio reads. An exception, a
    :class:`CheckFailed` included, means "failed".
    """
    before = _plugin_record(status)
    try:
        result = action()
    except Exception as error:
        return {"outcome": FAILED, "detail": error_text(error)}
    after = _plugin_record(status)
    fallbacks = {
        kind: entry.get("first_reason", "")
        for kind, entry in after["fallbacks"].items()
        if entry.get("count", 0) > before["fallbacks"].get(kind, {}).get("count", 0)
    }
    notes = {key: text for key, text in after["notes"].items() if before["notes"].get(key) != text}
    decoders = _served_since(before["decoders"], after["decoders"])
    reasons = {}
    for kind, reason in fallbacks.items():
        # A kind keeps only its first reason, which may belong to another call of that kind
        # (cuda.empty_cache's for a later synchronize): a note written now under the kind
        # (cuda.synchronize) is the better "why". A note named like the kind repeats its reason.
        specific = {key: text for key, text in notes.items() if key.startswith(kind + ".")}
        reasons.update(specific or {kind: reason})
    reasons.update((key, text) for key, text in notes.items()
                   if not any(key == kind or key.startswith(kind + ".") for kind in fallbacks))
    parts = _grouped(reasons)
    if isinstance(result, FellBack) or fallbacks:
        outcome = FELL_BACK
        parts = ([str(result)] if isinstance(result, FellBack) and not parts else []) + parts
    else:
        outcome = NATIVE
        parts = [str(result)] + parts
    if decoders:
        parts.append("decoded: " + ", ".join(f"{kind.split('.', 1)[-1]} by {'/'.join(sorted(served))}"
                                             for kind, served in sorted(decoders.items())))
    return {"outcome": outcome, "detail": "; ".join(parts), "fallbacks": fallbacks, "notes": notes,
            "decoders": decoders}


def _served_since(before, after):
    """``{read kind: {decoder: reads}}`` counted between two records."""
    served = {}
    for kind, counts in after.items():
        grown = {name: n - before.get(kind, {}).get(name, 0) for name, n in counts.items()}
        grown = {name: n for name, n in grown.items() if n > 0}
        if grown:
            served[kind] = grown
    return served


def _grouped(reasons):
    """``"a, b: why"`` for the names that share a reason, in order of first appearance."""
    names = {}
    for name, text in reasons.items():
        names.setdefault(text, []).append(name)
    return [f"{', '.join(group)}: {text}" for text, group in names.items()]


def _plugin_record(status):
    try:
        snapshot = status()
        return {"fallbacks": snapshot.get("fallbacks", {}), "notes": snapshot.get("notes", {}),
                "decoders": snapshot.get("decoders", {})}
    except Exception:
        return {"fallbacks": {}, "notes": {}, "decoders": {}}
