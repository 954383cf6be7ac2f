"""Figures as rows: each a measurement beside its baseline, the ratio, the target and whether it was met.

Written three ways: a printed table, ``results.json`` (every number, for tooling) and
``results.md`` (the table the README embeds).
"""

import json
import math


class Row:
    """One figure: the plugin's number, its baseline's, how they compare, and the target."""

    def __init__(self, figure, what, plugin=None, baseline=None, unit="", baseline_label="",
                 comparison="", target="", met=None, note="", data=None, status=None):
        self.figure = figure
        self.what = what
        self.plugin = plugin
        self.baseline = baseline
        self.unit = unit
        self.baseline_label = baseline_label
        self.comparison = comparison
        self.target = target
        self.met = met
        self.note = note
        self.data = data or {}
        self.status = status or ("info" if met is None else "met" if met else "missed")

    def as_dict(self):
        return {
            "figure": self.figure, "what": self.what, "plugin": self.plugin, "baseline": self.baseline,
            "unit": self.unit, "baseline_label": self.baseline_label, "comparison": self.comparison,
            "target": self.target, "met": self.met, "status": self.status, "note": self.note, "data": self.data,
        }


def overhead(figure, what, plugin, baseline, unit, baseline_label, target, max_added=None, max_relative=None,
             note="", data=None):
    """The plugin's cost over its baseline; met when within ``max_added`` (absolute) or ``max_relative``."""
    added = plugin - baseline
    relative = added / baseline if baseline else float("inf")
    met = (max_added is not None and added <= max_added) or (max_relative is not None and relative <= max_relative)
    comparison = f"{added:+.3g} {unit} ({relative:+.1%})"
    data = dict(data or {}, added=added, relative=relative)
    return Row(figure, what, plugin, baseline, unit, baseline_label, comparison, target, met, note, data)


def speedup(figure, what, plugin, baseline, unit, baseline_label, target, min_speedup, note="", data=None):
    """How many times faster the plugin is than its baseline; met when at least ``min_speedup``."""
    factor = baseline / plugin
    data = dict(data or {}, speedup=factor)
    return Row(figure, what, plugin, baseline, unit, baseline_label, times_faster(factor), target,
               factor >= min_speedup, note, data)


def throughput(figure, what, plugin, baseline, unit, baseline_label, target, min_ratio, note="", data=None):
    """A rate (higher is better) against its baseline's; met when at least ``min_ratio`` times it."""
    factor = plugin / baseline
    data = dict(data or {}, speedup=factor)
    return Row(figure, what, plugin, baseline, unit, baseline_label, times_faster(factor), target,
               factor >= min_ratio, note, data)


def at_most(figure, what, plugin, unit, limit, target, baseline=None, baseline_label="", comparison="",
            note="", data=None):
    """An absolute bound on the plugin's number, shown beside a baseline for scale."""
    if not comparison and baseline:
        comparison = times_faster(baseline / plugin)
    return Row(figure, what, plugin, baseline, unit, baseline_label, comparison, target, plugin <= limit, note, data)


def info(figure, what, plugin, unit, baseline=None, baseline_label="", comparison="", note="", data=None):
    """A number the issue asks for without a target (context for the others)."""
    return Row(figure, what, plugin, baseline, unit, baseline_label, comparison, "-", None, note, data)


def unavailable(figure, what, target, reason, data=None):
    """A figure that could not be measured here, with the reason."""
    return Row(figure, what, target=target, note=f"not measured: {reason}", data=data, status="n/a")


def times_faster(factor):
    """Rounded against the plugin, so a factor just short of a target never reads as reaching it."""
    if factor >= 1:
        return f"{math.floor(factor * 100) / 100:.2f}x faster"
    return f"{math.ceil(100 / factor) / 100:.2f}x slower"


def number(value, unit):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{text} {unit}".strip()


def _cells(row):
    baseline = number(row.baseline, row.unit)
    if row.baseline_label and row.baseline is not None:
        baseline = f"{baseline} ({row.baseline_label})"
    return [row.figure, row.what, number(row.plugin, row.unit), baseline, row.comparison or "-",
            row.target or "-", row.status]


HEADER = ["#", "measurement", "plugin", "baseline", "comparison", "target", "result"]


def text_table(rows):
    """A fixed-width table for the terminal."""
    body = [_cells(row) for row in rows]
    widths = [max(len(str(line[i])) for line in [HEADER] + body) for i in range(len(HEADER))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) for line in [HEADER] + body]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"  [{row.figure}] {row.what}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def markdown(summary, rows, tables):
    """The README's table: machine, every figure with its target, then the notes and extra tables."""
    lines = [f"Measured on {describe_machine(summary['machine'])}, {summary['generated'][:10]}, "
             f"`{summary['command']}` ({summary['elapsed_s']:.0f} s).", ""]
    busy = summary["load_average"]["start"]  # the run itself loads the machine; other work shows at start
    if busy > 1.0:
        lines += [f"The machine was busy with other work (load average up to {busy:.1f} on "
                  f"{summary['machine']['cores']} cores): absolute times are inflated; each ratio compares "
                  "measurements taken side by side.", ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "---|" * len(HEADER))
    notes = []
    for row in rows:
        cells = _cells(row)
        if row.note:
            notes.append(row.note)
            cells[1] = f"{cells[1]} [{len(notes)}]"
        cells[6] = {"missed": "**missed**"}.get(row.status, row.status)
        lines.append("| " + " | ".join(escape(str(cell)) for cell in cells) + " |")
    if notes:
        lines.append("")
        lines.extend(f"{index}. {escape(note)}" for index, note in enumerate(notes, 1))
    for table in tables:
        lines += ["", f"**{table['title']}**", ""]
        lines.append("| " + " | ".join(table["header"]) + " |")
        lines.append("|" + "---|" * len(table["header"]))
        lines.extend("| " + " | ".join(escape(str(cell)) for cell in line) + " |" for line in table["rows"])
    return "\n".join(lines) + "\n"


def escape(text):
    return text.replace("|", "\\|")


def describe_machine(machine):
    versions = ", ".join(f"{name} {machine['versions'][name]}" for name in ("torch", "torchaudio", "torchcodec")
                         if machine["versions"].get(name))
    return (f"{machine['cpu']} ({machine['cores']} cores), {machine['os']}, Python {machine['python']}, "
            f"{versions}, {machine['torch_threads']} torch threads")


def write(folder, summary, rows, tables):
    """Write ``results.json`` and ``results.md`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = dict(summary, rows=[row.as_dict() for row in rows], tables=tables)
    json_path, md_path = folder / "results.json", folder / "results.md"
    for path, text in ((json_path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n"),
                       (md_path, markdown(summary, rows, tables))):
        partial = path.with_suffix(path.suffix + ".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return json_path, md_path
