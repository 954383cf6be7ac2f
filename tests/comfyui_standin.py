"""A stand-in for ComfyUI's start-up, as far as a custom node pack can tell (ComfyUI itself, its
server and its models cannot run here; everything a node pack sees is reproduced).

From ComfyUI's ``main.py`` (``execute_prestartup_script``): every entry of
``os.listdir(custom_nodes)``, unsorted, that is a folder (not a file, not ``*.disabled``) with a
``prestartup_script.py`` has that script run through ``importlib.util.spec_from_file_location``
(module name: the script's path without ``.py``; not put in ``sys.modules``) and
``exec_module``; an exception is logged as "Failed to execute startup-script" and start-up goes
on. Then ComfyUI imports torch (``comfy.utils``, ``comfy.model_management``), warning first if
torch was already imported.

From ComfyUI's ``nodes.py`` (``init_external_custom_nodes`` / ``load_custom_node``): every entry
of ``os.listdir(custom_nodes)`` but ``__pycache__``, skipping files that are not ``.py`` and
``*.disabled``, is loaded from ``<folder>/__init__.py`` with ``spec_from_file_location``, put in
``sys.modules`` BEFORE it runs, under the folder's path with dots replaced by ``_x_`` (ComfyUI
since 2025) or, with ``--legacy-names``, under the folder's bare name (older ComfyUI, still
common in portable installs); any exception is logged and loading goes on. The pack counts as
loaded when it defines ``NODE_CLASS_MAPPINGS`` (an empty dict is accepted) or
``comfy_entrypoint``. Then, as a queued prompt would, each node named after ``--run`` is
instantiated and its ``FUNCTION`` called with no inputs; an exception is recorded, as ComfyUI's
executor reports it.

Usage: ``python comfyui_standin.py CUSTOM_NODES [--legacy-names] [--skip-prestartup] [--run NODE ...]``.
The last line printed is one JSON object saying what happened.
"""

import importlib.util
import json
import logging
import os
import sys


def run_prestartup_scripts(custom_nodes):
    outcomes = []
    for entry in os.listdir(custom_nodes):
        path = os.path.join(custom_nodes, entry)
        if os.path.isfile(path) or path.endswith(".disabled") or entry == "__pycache__":
            continue
        script = os.path.join(path, "prestartup_script.py")
        if not os.path.exists(script):
            continue
        try:
            spec = importlib.util.spec_from_file_location(os.path.splitext(script)[0], script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            outcomes.append([entry, True])
        except Exception as error:
            logging.error(f"Failed to execute startup-script: {script} / {error}")
            outcomes.append([entry, False])
    return outcomes


def load_node_packs(custom_nodes, legacy_names):
    packs, mappings = {}, {}
    entries = [entry for entry in os.listdir(custom_nodes) if entry != "__pycache__"]
    for entry in entries:
        path = os.path.join(custom_nodes, entry)
        if (os.path.isfile(path) and not path.endswith(".py")) or path.endswith(".disabled"):
            continue
        name = entry if legacy_names else path.replace(".", "_x_")
        try:
            spec = importlib.util.spec_from_file_location(name, os.path.join(path, "__init__.py"))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            if getattr(module, "NODE_CLASS_MAPPINGS", None) is not None:
                mappings.update(module.NODE_CLASS_MAPPINGS)
                packs[entry] = {"loaded": True, "nodes": sorted(module.NODE_CLASS_MAPPINGS),
                                "display_names": getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) or {}}
            else:
                packs[entry] = {"loaded": hasattr(module, "comfy_entrypoint"), "nodes": []}
        except Exception as error:
            logging.warning(f"Cannot import {path} module for custom nodes: {error}")
            packs[entry] = {"loaded": False, "error": f"{type(error).__name__}: {error}"}
    return packs, mappings


def run_nodes(names, mappings):
    results = {}
    for name in names:
        try:
            node = mappings[name]()
            output = getattr(node, node.FUNCTION)()
            results[name] = {"result": list(output["result"] if isinstance(output, dict) else output)}
        except Exception as error:
            results[name] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"}
    return results


def main(argv):
    custom_nodes, options = argv[0], argv[1:]
    run = options[options.index("--run") + 1:] if "--run" in options else []
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    prestartup = [] if "--skip-prestartup" in options else run_prestartup_scripts(custom_nodes)
    torch_imported_early = "torch" in sys.modules
    if torch_imported_early:
        logging.warning("WARNING: Potential Error in code: Torch already imported, torch should never be imported before this point.")
    import torch  # noqa: F401 - ComfyUI imports torch here, before any node pack

    packs, mappings = load_node_packs(custom_nodes, "--legacy-names" in options)
    results = run_nodes(run, mappings)
    package = sys.modules.get("acestep_winpatch")
    copies = sorted(name for name, module in list(sys.modules.items())
                    if (getattr(module, "__file__", None) or "").endswith(os.path.join("acestep_winpatch", "registry.py")))
    print(json.dumps({
        "listdir": os.listdir(custom_nodes), "prestartup": prestartup, "torch_imported_early": torch_imported_early,
        "packs": packs, "runs": results, "plugin": getattr(package, "__file__", None), "registry_copies": copies,
        "status": package.status() if hasattr(package, "status") else None,
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
