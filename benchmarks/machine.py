"""What machine a benchmark ran on (imported by the scripts beside it), and
the benchmarks' bootstrap: importing this module installs the torchvision
import hook of ``tests/bootstrap/torchvision_compat.py`` (torchvision, timm and
open_clip beside a torch build torchvision's extension does not fit, as on CI's
CPU torch; a no-op for a matching pair). The libraries never install it."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

_BOOTSTRAP = Path(__file__).resolve().parents[1] / "tests" / "bootstrap"
sys.path.insert(0, str(_BOOTSTRAP))
try:
    import torchvision_compat
finally:
    sys.path.remove(str(_BOOTSTRAP))
torchvision_compat.install()


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
