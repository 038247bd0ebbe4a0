"""Registry of scoring dimensions.

Every dimension declares, in one place, its name, what it measures (units,
direction), its weight in the composite and whether it runs by default; a
``compute`` function turns an :class:`~vqeval.analysis.Analysis` into a
:class:`~vqeval.results.DimensionScore` (score 0-100, higher is better).
The registry drives computation, ``--dimensions`` validation, the composite
and the reports.

Family modules (``repetition``, ``motion``, ``vbench`` ...) register their
dimensions on import; :func:`registry` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.config import ScoreConfig

#: Family modules under ``vqeval.dimensions`` imported by :func:`registry`.
FAMILIES: tuple[str, ...] = ("repetition", "content", "motion", "vbench")


@dataclass(frozen=True)
class Dimension:
    """One scoring dimension.

    Attributes:
        name: identifier used by the CLI, reports and JSON (snake_case).
        title: short human title.
        description: what it measures, the raw units and that 100 is best.
        weight: weight in the composite (0 = reported but not in the composite).
        default: computed when the user does not pick dimensions.
        compute: ``Analysis -> DimensionScore``.
        family: metric family ("repetition", "motion", "vbench", ...).
        needs: frame features ``compute`` reads (names of
            :data:`vqeval.framepass.ALL_FEATURES`, or ``embeddings:<backbone>``),
            or a function of the :class:`~vqeval.config.ScoreConfig` returning
            them; the frame pass computes only what the selected dimensions need.
    """

    name: str
    title: str
    description: str
    weight: float
    default: bool
    compute: Callable[[Analysis], DimensionScore]
    family: str = ""
    needs: tuple[str, ...] | Callable[[ScoreConfig], tuple[str, ...]] = ()

    def needs_for(self, config: ScoreConfig) -> tuple[str, ...]:
        """The frame features this dimension needs under ``config``."""
        return tuple(self.needs(config) if callable(self.needs) else self.needs)


_REGISTRY: dict[str, Dimension] = {}
_loaded = False


def register(dim: Dimension) -> Dimension:
    """Add ``dim`` to the registry (a name may be registered once)."""
    if dim.name in _REGISTRY and _REGISTRY[dim.name] is not dim:
        raise ValueError(f"dimension {dim.name!r} registered twice")
    _REGISTRY[dim.name] = dim
    return dim


def registry() -> dict[str, Dimension]:
    """All registered dimensions by name, family modules imported."""
    global _loaded
    if not _loaded:
        for fam in FAMILIES:
            try:
                importlib.import_module(f"vqeval.dimensions.{fam}")
            except ModuleNotFoundError as e:  # family not written yet
                if e.name != f"vqeval.dimensions.{fam}":
                    raise
        _loaded = True
    return dict(_REGISTRY)


def default_names() -> tuple[str, ...]:
    """Names of the dimensions computed when none are picked."""
    return tuple(n for n, d in registry().items() if d.default)


def resolve(names: Iterable[str] | None) -> list[Dimension]:
    """Dimensions for ``names`` (``None`` = defaults), in registry order.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    reg = registry()
    if names is None:
        return [d for d in reg.values() if d.default]
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in reg]
    if unknown:
        raise ConfigError(f"unknown dimension(s) {', '.join(unknown)}; known: {', '.join(reg)}")
    return [d for n, d in reg.items() if n in wanted]
