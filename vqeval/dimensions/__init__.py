"""Registry of scoring dimensions.

Every dimension declares, in one place, what its consumers need to know
(as torchmetrics and pyiqa declare a metric's bounds and direction): its
name, what it measures, the range of its score and of its headline raw value
with the raw value's unit and direction, the failure flags it can raise, the
backbone it runs on, whether its number is comparable with VBench, its weight
in the composite and whether it runs by default. A ``compute`` function turns
an :class:`~vqeval.analysis.Analysis` and the decision parameters
(:class:`vqeval.params.Params`) into a :class:`~vqeval.results.DimensionScore`
(score 0-100, higher is better).
The registry drives computation, ``--dimensions`` validation, the composite,
``compare``, ``gate``, the reports and ``vqeval dimensions``.

Family modules (``repetition``, ``motion``, ``vbench`` ...) register their
dimensions on import; :func:`registry` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vqeval.results import ConfigError, DimensionScore, VQevalError

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.config import ScoreConfig
    from vqeval.params import Params

#: Family modules under ``vqeval.dimensions`` imported by :func:`registry`,
#: in registry order (the order of scores in results, tables and reports).
#: ``motion`` comes first: scoring used to import it before the registry
#: (for the flow check), which made that the order of every scored result.
FAMILIES: tuple[str, ...] = (
    "motion",
    "repetition",
    "content",
    "drift",
    "vbench",
    "alignment",
)


#: ``Dimension.vbench``: the value is VBench's (same formula and, where VBench
#: uses a learned model, the same model).
VBENCH_SAME = "same formula"
#: ``Dimension.vbench``: VBench has the dimension but this value is computed
#: differently (another model, a weight-free proxy, other frames): it ranks
#: videos like VBench's but is not a VBench number.
VBENCH_APPROX = "approximation"
#: ``Dimension.vbench``: VBench has no such dimension.
VBENCH_NONE = "not in VBench"
VBENCH_RELATIONS: tuple[str, ...] = (VBENCH_SAME, VBENCH_APPROX, VBENCH_NONE)
#: ``Dimension.direction`` values: which way of the raw value is better.
DIRECTIONS: tuple[str, ...] = ("higher", "lower", "neither")


def always(config: ScoreConfig, path: str | None) -> bool:
    """The default :attr:`Dimension.applies`: a dimension that always applies."""
    return True


@dataclass(frozen=True)
class Dimension:
    """One scoring dimension.

    Attributes:
        name: identifier used by the CLI, reports and JSON (snake_case).
        title: short human title.
        description: what it measures, the raw units and that 100 is best.
        weight: weight in the composite (0 = reported but not in the composite).
        default: computed when the user does not pick dimensions (and
            :attr:`applies` says it has something to measure).
        compute: ``(Analysis, Params) -> DimensionScore``: the scoring path
            passes ``config.params`` (:mod:`vqeval.params`); every compute
            function also runs with ``params`` left out (then it reads
            ``analysis.config.params``), for library callers.
        family: metric family ("repetition", "motion", "vbench", ...).
        needs: frame features ``compute`` reads (names of
            :data:`vqeval.framepass.ALL_FEATURES`, or ``embeddings:<backbone>``),
            or a function of the :class:`~vqeval.config.ScoreConfig` returning
            them; the frame pass computes only what the selected dimensions need.
        score_range: (low, high) of the score; the score is always higher =
            better (default 0-100).
        raw_key: key of ``DimensionScore.raw`` holding the headline raw value
            ("" = none).
        raw_range: (low, high) of that raw value, ``None`` for an open end.
        raw_unit: unit of the raw value ("0-1 cosine", "%diag/s", "s" ...).
        direction: which raw values are better: ``"higher"``, ``"lower"`` or
            ``"neither"`` (reported, not judged: ``compare`` then says
            higher/lower instead of better/worse).
        flags: failure flags the dimension can raise (in ``raw["flags"]``);
            their composite caps live in the flag's section of
            :class:`vqeval.params.Params` (``cap``).
        backbone: the model or weight-free method the value comes from, a
            string or a function of the ScoreConfig (``"pixel"``,
            ``"heuristic"``, ``"dino"``, ``"dis"`` ...); the one a video really
            used is ``DimensionScore.backbone``. "" = not declared.
        vbench: how the value relates to VBench's dimension of the same name:
            :data:`VBENCH_SAME`, :data:`VBENCH_APPROX` or :data:`VBENCH_NONE`,
            or a function of the backbone name actually used returning one.
        vbench_definition: VBench's own definition, for ``vqeval dimensions``
            and the docs ("" when not in VBench).
        short: column header of at most 6 characters for the terminal table
            ("" = the first 6 letters of the name).
        applies: ``(config, path) -> bool``: whether the dimension has
            something to measure under ``config``; ``path`` = for that video
            (its frame features are computed only then), ``None`` = for
            videos in general (a default dimension joins the default set
            only then: :func:`default_names`, the same for the API and the
            CLI). Default: always.
        uses_prompt: reads the video's text prompt (:mod:`vqeval.prompts`),
            which then joins the result cache key.
    """

    name: str
    title: str
    description: str
    weight: float
    default: bool
    compute: Callable[[Analysis, Params], DimensionScore]
    family: str = ""
    needs: tuple[str, ...] | Callable[[ScoreConfig], tuple[str, ...]] = ()
    score_range: tuple[float, float] = (0.0, 100.0)
    raw_key: str = ""
    raw_range: tuple[float | None, float | None] = (None, None)
    raw_unit: str = ""
    direction: str = "higher"
    flags: tuple[str, ...] = ()
    backbone: str | Callable[[ScoreConfig], str] = ""
    vbench: str | Callable[[str | None], str] = VBENCH_NONE
    vbench_definition: str = ""
    short: str = ""
    applies: Callable[[ScoreConfig, str | None], bool] = always
    uses_prompt: bool = False

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"dimension {self.name!r}: direction must be one of {DIRECTIONS}, "
                f"got {self.direction!r}"
            )
        if isinstance(self.vbench, str) and self.vbench not in VBENCH_RELATIONS:
            raise ValueError(
                f"dimension {self.name!r}: vbench must be one of {VBENCH_RELATIONS}, "
                f"got {self.vbench!r}"
            )
        lo, hi = self.score_range
        if not lo < hi:
            raise ValueError(f"dimension {self.name!r}: empty score_range {self.score_range}")

    def needs_for(self, config: ScoreConfig) -> tuple[str, ...]:
        """The frame features this dimension needs under ``config``."""
        return tuple(self.needs(config) if callable(self.needs) else self.needs)

    def backbone_for(self, config: ScoreConfig | None = None) -> str:
        """The backbone this dimension runs on under ``config`` (``None`` = the
        defaults); "" when not declared."""
        if callable(self.backbone):
            from vqeval.config import ScoreConfig

            try:
                return str(self.backbone(config or ScoreConfig()))
            except VQevalError:  # unreadable weights must not break a listing
                return ""
        return self.backbone

    def vbench_for(self, backbone: str | None = None) -> str:
        """How a value computed on ``backbone`` relates to VBench (one of
        :data:`VBENCH_RELATIONS`); ``None`` = the declared default backbone."""
        if callable(self.vbench):
            rel = str(self.vbench(backbone if backbone is not None else self.backbone_for()))
            return rel if rel in VBENCH_RELATIONS else VBENCH_APPROX
        return self.vbench

    @property
    def short_name(self) -> str:
        """Column header for narrow tables (at most 6 characters)."""
        return (self.short or self.name)[:6]

    def describe(self, config: ScoreConfig | None = None) -> dict[str, Any]:
        """JSON-ready declaration (``vqeval dimensions --json``, report headers)."""
        bb = self.backbone_for(config)
        return {
            "name": self.name,
            "title": self.title,
            "family": self.family,
            "weight": self.weight,
            "default": self.default,
            "description": self.description,
            "score_range": list(self.score_range),
            "raw_key": self.raw_key,
            "raw_range": list(self.raw_range),
            "raw_unit": self.raw_unit,
            "direction": self.direction,
            "flags": list(self.flags),
            "backbone": bb,
            "vbench": self.vbench_for(bb),
            "vbench_definition": self.vbench_definition,
        }


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


def params_of(analysis: Analysis, params: Params | None) -> Params:
    """``params``, else the analysis configuration's (``analysis.config.params``),
    else the defaults."""
    if params is not None:
        return params
    got = getattr(getattr(analysis, "config", None), "params", None)
    if got is not None:
        return got
    from vqeval.params import Params

    return Params()


def default_names(config: ScoreConfig | None = None) -> tuple[str, ...]:
    """Names of the dimensions computed when none are picked: the default
    ones that apply under ``config`` (``None`` = the default configuration).
    ``vqeval.score_video`` / ``score_batch`` and ``vqeval score`` both
    resolve ``dimensions=None`` through here."""
    if config is None:
        from vqeval.config import ScoreConfig

        config = ScoreConfig()
    return tuple(n for n, d in registry().items() if d.default and d.applies(config, None))


def resolve(names: Iterable[str] | None, config: ScoreConfig | None = None) -> list[Dimension]:
    """Dimensions for ``names`` (``None`` = :func:`default_names` under
    ``config``), in registry order.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    reg = registry()
    if names is None:
        return [reg[n] for n in default_names(config)]
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in reg]
    if unknown:
        raise ConfigError(f"unknown dimension(s) {', '.join(unknown)}; known: {', '.join(reg)}")
    return [d for n, d in reg.items() if n in wanted]


def known_flags() -> tuple[str, ...]:
    """Every failure flag a registered dimension declares, in registry order
    (each once)."""
    out: list[str] = []
    for d in registry().values():
        out += [f for f in d.flags if f not in out]
    return tuple(out)


def provenance_label(backbone: str, relation: str) -> str:
    """A report cell naming where a value comes from: ``"dino (VBench)"``,
    ``"pixel (approx.)"`` (VBench has the dimension, this is not its number),
    ``"content"`` (not in VBench); "-" without a backbone."""
    if not backbone or backbone == "-":
        return "-"
    tag = {VBENCH_SAME: " (VBench)", VBENCH_APPROX: " (approx.)"}.get(relation, "")
    return backbone + tag
