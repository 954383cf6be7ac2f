"""Put on PYTHONPATH by ``python -m acestep_winpatch run`` so that worker processes
(multiprocessing "spawn", DataLoader workers, subprocesses) activate the plugin too.

Every child sees it, also one that runs another interpreter where acestep_winpatch is not
installed: there it only runs that interpreter's own sitecustomize, which it would otherwise
hide, with ``bootstrap.py`` loaded from its file (it needs nothing but the standard library).
"""

try:
    from acestep_winpatch import bootstrap
except Exception:
    bootstrap = None
if bootstrap is not None:
    bootstrap.activate("launcher")
    bootstrap.chain_sitecustomize(__file__)
else:
    try:
        import importlib.util
        import os

        _path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bootstrap.py")
        _spec = importlib.util.spec_from_file_location("_acestep_winpatch_bootstrap", _path)
        _chain = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_chain)
        _chain.chain_sitecustomize(__file__)
    except Exception:  # an interpreter too old for bootstrap.py: it cannot have worked with us anyway
        pass
