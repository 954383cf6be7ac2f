"""Every patch the plugin knows, grouped by target family (policy: when to fall back)."""

from .audio import PATCHES as AUDIO
from .compile import PATCHES as COMPILE
from .cuda import PATCHES as CUDA
from .cuda_housekeeping import PATCHES as CUDA_HOUSEKEEPING
from .distributed import PATCHES as DISTRIBUTED
from .mps import PATCHES as MPS

PATCHES = AUDIO + COMPILE + CUDA + CUDA_HOUSEKEEPING + MPS + DISTRIBUTED
