"""Every patch the plugin knows, grouped by target family (policy: when to fall back)."""

from .audio import PATCHES as AUDIO
from .compile import PATCHES as COMPILE
from .cuda import PATCHES as CUDA

PATCHES = AUDIO + COMPILE + CUDA
