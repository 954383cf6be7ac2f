"""Doctor's two outputs: a plain aligned table for people, one JSON object for machines."""

import json
import textwrap

WIDTH = 110
CHECK_COLUMN = 20
OUTCOME_COLUMN = 11


def as_json(diagnosis):
    return json.dumps(diagnosis, indent=2, default=str)


def as_table(diagnosis):
    environment, checks, verdict = diagnosis["environment"], diagnosis["checks"], diagnosis["verdict"]
    key_width = max(len(name) for name in environment) + 2
    lines = ["acestep_winpatch doctor", "", "Environment"]
    for name, entry in environment.items():
        lines += _row([name.ljust(key_width)], entry["summary"], indent=2)
    lines += ["", "Live checks"]
    if checks:
        lines.append("  " + "check".ljust(CHECK_COLUMN) + "outcome".ljust(OUTCOME_COLUMN) + "detail")
    else:
        lines.append("  none run")
    for name, result in checks.items():
        lines += _row([name.ljust(CHECK_COLUMN), result["outcome"].ljust(OUTCOME_COLUMN)], result["detail"], indent=2)
    lines += [""] + textwrap.wrap(f"Verdict: {verdict['summary']}", WIDTH, subsequent_indent="  ",
                                        break_on_hyphens=False)
    return "\n".join(lines)


def _row(columns, text, indent):
    """One table row whose last column wraps under itself."""
    prefix = " " * indent + "".join(columns)
    wrapped = textwrap.wrap(str(text), WIDTH - len(prefix), break_on_hyphens=False) or [""]
    return [prefix + wrapped[0]] + [" " * len(prefix) + line for line in wrapped[1:]]
