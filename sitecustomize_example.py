"""Copy this file to ``site-packages/sitecustomize.py`` (or any folder on PYTHONPATH) to apply
acestep_winpatch in every Python process of the environment. It can never raise, it chains a
sitecustomize that was already on the path, and ``ACESTEP_WINPATCH=0`` switches it off."""

try:
    from acestep_winpatch import bootstrap
except Exception:
    bootstrap = None
if bootstrap is not None:
    bootstrap.activate("sitecustomize")
    bootstrap.chain_sitecustomize(__file__)
