"""The ComfyUI node pack's one node: the plugin's status as a STRING, visible from a workflow.

The repository's root ``__init__.py`` (what ComfyUI imports from ``custom_nodes/``) exports
these mappings. The node takes no input and is an output node, so a workflow holding only it
runs it; it runs again on every queue, since fallbacks happen while ComfyUI works.
"""

import acestep_winpatch


def describe(status):
    """``status()`` as a few lines a person can read: patches, fallbacks taken and why."""
    lines = [f"acestep_winpatch: {'applied' if status['applied'] else 'NOT applied'}"
             f" (activated by {', '.join(status['activated_by']) or 'nothing'})"]
    by_state = {}
    for name, patch in status["patches"].items():
        by_state.setdefault(patch["state"], []).append(name + (f" ({patch['detail']})" if patch["detail"] else ""))
    lines += [f"{state}: {', '.join(names)}" for state, names in by_state.items()]
    fallbacks = status["fallbacks"]
    if not fallbacks:
        lines.append("fallbacks: none so far")
    for kind, entry in fallbacks.items():
        lines.append(f"fallback {kind} x{entry['count']}: {entry['first_reason']}")
    lines += [f"note {key}: {text}" for key, text in status["notes"].items()]
    return "\n".join(lines)


class WinpatchStatus:
    """ACE-Step WinPatch status: what the plugin patched, and every fallback it took."""

    CATEGORY = "utils"
    DESCRIPTION = "What acestep_winpatch patched in this ComfyUI, and which fallbacks it took and why."
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("status",)
    FUNCTION = "report"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):  # noqa: N802 - ComfyUI's name
        return {"required": {}}

    @classmethod
    def IS_CHANGED(cls, **inputs):  # noqa: N802 - ComfyUI's name; NaN never equals itself: always re-run
        return float("nan")

    def report(self):
        text = describe(acestep_winpatch.status())
        return {"ui": {"text": [text]}, "result": (text,)}


NODE_CLASS_MAPPINGS = {"AceStepWinPatchStatus": WinpatchStatus}
NODE_DISPLAY_NAME_MAPPINGS = {"AceStepWinPatchStatus": "ACE-Step WinPatch status"}
