"""Put on PYTHONPATH by ``python -m acestep_winpatch run`` so that worker processes
(multiprocessing "spawn", DataLoader workers, subprocesses) activate the plugin too."""

try:
    from acestep_winpatch import bootstrap
except Exception:
    bootstrap = None
if bootstrap is not None:
    bootstrap.activate("launcher")
    bootstrap.chain_sitecustomize(__file__)
