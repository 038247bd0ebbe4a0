"""Generating clips and sweeps: prompts x seeds x methods -> ``out/<method>/<slug>_s<seed>.mp4``.

The pipeline is loaded once per sweep (and not at all when every clip is already finished);
each method is installed, used for all of its clips, and removed again. A clip is finished when
its mp4 and sidecar both exist and the sidecar's ``request`` equals the current request, so an
interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import itertools
import json
import math
import platform
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lvsa.generators import methods as _methods
from lvsa.generators.encoding import get_encoder
from lvsa.generators.errors import GeneratorError
from lvsa.generators.horizon import (
    check_frames,
    check_resolution,
    frames_for_horizon,
    latent_frames,
    parse_horizon,
)
from lvsa.generators.loading import (
    dtype_name,
    load_pipeline,
    resolve_device,
    resolve_dtype,
)
from lvsa.generators.models import ModelSpec, resolve_model
from lvsa.generators.output import (
    clip_paths,
    read_sidecar,
    slugify,
    to_uint8_frames,
    write_json,
    write_mp4,
)

#: Sidecar schema tag.
SIDECAR_SCHEMA = "lvsa-generate/1"


@dataclass(frozen=True)
class GenerationConfig:
    """Settings shared by every clip of a sweep (``None`` = the model spec's default).

    Attributes:
        model: preset name, hub id, local folder or :class:`ModelSpec` (``None``: default preset).
        horizon: multiple of the training horizon (``"4x"`` or 4.0); ignored when ``frames`` is set.
        frames: exact number of video frames (``k * t_stride + 1``).
        height: height in pixels.
        width: width in pixels.
        steps: denoising steps.
        guidance: classifier-free guidance scale.
        guidance_2: guidance of the second expert (Wan 2.2 A14B).
        negative_prompt: negative prompt.
        fps: frame rate of the written mp4, frames per second.
        dtype: ``"auto"``, ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        cpu_offload: ``None``, ``"model"`` or ``"sequential"``.
        compile: compile the transformer blocks with ``torch.compile`` (diffusers'
            regional compilation: one graph per block type, reused by every block; the
            first clip pays the compile time). With LVSA the attention is one opaque op
            in that graph. Not part of a clip's identity (resume ignores it).
        lvsa_options: extra ``lvsa.LVSAConfig`` keyword arguments (e.g. window, sink).
        cp: context-parallel degree (ranks sharing each clip's sequence; diffusers'
            Ulysses ``ContextParallelConfig``). ``> 1`` needs ``torch.distributed`` set up
            by ``torchrun --nproc-per-node N``; rank 0 writes the clips. Not part of a
            clip's identity.
    """

    model: str | ModelSpec | None = None
    horizon: float | str | None = None
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    steps: int | None = None
    guidance: float | None = None
    guidance_2: float | None = None
    negative_prompt: str | None = None
    fps: float | None = None
    dtype: str | None = "auto"
    device: str | None = "auto"
    cpu_offload: str | None = None
    compile: bool = False
    lvsa_options: Mapping[str, Any] = field(default_factory=dict)
    cp: int = 1


@dataclass(frozen=True)
class Plan:
    """A :class:`GenerationConfig` resolved against its model spec (all numbers known)."""

    spec: ModelSpec
    frames: int
    latent_frames: int
    height: int
    width: int
    steps: int
    guidance: float | None
    guidance_2: float | None
    negative_prompt: str
    fps: float
    dtype: torch.dtype
    device: torch.device
    cpu_offload: str | None
    lvsa_options: dict[str, Any]
    compile: bool = False
    cp: int = 1

    @property
    def rank(self) -> int:
        """This process's rank in the context-parallel group (0 without one)."""
        if self.cp > 1 and torch.distributed.is_initialized():
            return torch.distributed.get_rank()
        return 0

    @property
    def horizon(self) -> float:
        """Clip length as a multiple of the training horizon (latent intervals ratio)."""
        return (self.latent_frames - 1) / max(1, self.spec.train_latent_frames - 1)

    def request(self, prompt: str, seed: int, method: str) -> dict[str, Any]:
        """Everything that determines a clip's pixels; equal requests give equal clips.

        Normalised through JSON so that it compares equal to the copy read back from a sidecar.
        """
        request = {
            "prompt": prompt,
            "negative_prompt": self.negative_prompt,
            "seed": seed,
            "model": self.spec.name,
            "method": method,
            "frames": self.frames,
            "height": self.height,
            "width": self.width,
            "steps": self.steps,
            "guidance": self.guidance,
            "guidance_2": self.guidance_2,
            "fps": self.fps,
            "dtype": dtype_name(self.dtype),
            "lvsa_options": (
                dict(sorted(self.lvsa_options.items())) if _methods.METHODS[method].sparse else {}
            ),
        }
        return json.loads(json.dumps(request))


def resolve_config(config: GenerationConfig) -> Plan:
    """Check a config and fill in the spec's defaults. Raises :class:`GeneratorError`."""
    spec = resolve_model(config.model)
    if config.frames is not None:
        frames = check_frames(spec, int(config.frames))
    else:
        horizon = parse_horizon(config.horizon if config.horizon is not None else 1.0)
        frames = frames_for_horizon(spec, horizon)
    height, width = check_resolution(
        spec,
        int(config.height if config.height is not None else spec.height),
        int(config.width if config.width is not None else spec.width),
    )
    steps = int(config.steps if config.steps is not None else spec.steps)
    if steps < 1:
        raise GeneratorError(f"--steps must be at least 1, got {steps}")
    fps = float(config.fps if config.fps is not None else spec.fps)
    if not (math.isfinite(fps) and fps > 0):
        raise GeneratorError(f"--fps must be a positive finite number, got {fps:g}")
    guidance = config.guidance if config.guidance is not None else spec.guidance
    guidance_2 = config.guidance_2 if config.guidance_2 is not None else spec.guidance_2
    for flag, value in (("--guidance", guidance), ("--guidance-2", guidance_2)):
        if value is not None and not math.isfinite(float(value)):
            raise GeneratorError(f"{flag} must be a finite number, got {float(value):g}")
    device = resolve_device(config.device)
    if len(spec.experts) < 2:
        guidance_2 = None
    cp = int(config.cp or 1)
    if cp < 1:
        raise GeneratorError(f"--cp must be at least 1, got {cp}")
    if cp > 1:
        tokens = spec.token_frames(latent_frames(spec, frames)) * spec.tokens_per_latent_frame(
            height, width
        )
        if tokens % cp:
            raise GeneratorError(
                f"--cp {cp}: the clip's {tokens} tokens do not split into {cp} equal shards"
            )
        device = _init_context_parallel(cp, device)
    negative = config.negative_prompt
    return Plan(
        spec=spec,
        frames=frames,
        latent_frames=latent_frames(spec, frames),
        height=height,
        width=width,
        steps=steps,
        guidance=guidance,
        guidance_2=guidance_2,
        negative_prompt=spec.negative_prompt if negative is None else negative,
        fps=fps,
        dtype=resolve_dtype(config.dtype, device),
        device=device,
        cpu_offload=config.cpu_offload,
        lvsa_options=dict(config.lvsa_options),
        compile=bool(config.compile),
        cp=cp,
    )


def _init_context_parallel(cp: int, device: torch.device) -> torch.device:
    """Join the ``torchrun`` process group (NCCL on CUDA, gloo on CPU) for ``--cp``;
    returns this rank's device (``cuda:LOCAL_RANK``)."""
    import os

    import torch.distributed as dist

    world = os.environ.get("WORLD_SIZE")
    if world is None:
        raise GeneratorError(
            f"--cp {cp} runs one process per rank: start it with "
            f"`torchrun --nproc-per-node {cp} -m lvsa.generators.cli ...` "
            f"(or `torchrun --nproc-per-node {cp} $(which lvsa-generate) ...`)"
        )
    if int(world) != cp:
        raise GeneratorError(f"--cp {cp} but torchrun started {world} processes")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


@dataclass(frozen=True)
class ClipResult:
    """Outcome of one clip.

    Attributes:
        method: attention method name.
        prompt: the prompt.
        seed: the seed.
        video: mp4 path.
        sidecar: sidecar JSON path.
        status: ``"generated"``, ``"skipped"`` (already finished) or ``"failed"``.
        error: one-line error for failed clips.
        seconds: wall time of this clip in seconds (0 for skipped clips).
    """

    method: str
    prompt: str
    seed: int
    video: Path
    sidecar: Path
    status: str
    error: str | None = None
    seconds: float = 0.0


@dataclass
class SweepReport:
    """All clip results of a sweep, in generation order."""

    clips: list[ClipResult] = field(default_factory=list)
    loaded_pipeline: bool = False

    def count(self, status: str) -> int:
        """Number of clips with ``status``."""
        return sum(c.status == status for c in self.clips)

    @property
    def generated(self) -> int:
        """Clips generated in this run."""
        return self.count("generated")

    @property
    def skipped(self) -> int:
        """Clips already finished before this run."""
        return self.count("skipped")

    @property
    def failed(self) -> int:
        """Clips that failed."""
        return self.count("failed")


def read_prompts(path: str | Path) -> list[str]:
    """Prompts of a text file: one per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeneratorError(f"cannot read prompt file {path}: {exc.strerror or exc}") from None
    prompts = [ln.strip() for ln in text.splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise GeneratorError(f"prompt file {path} has no prompts")
    return prompts


def is_finished(video: Path, sidecar: Path, request: Mapping[str, Any]) -> bool:
    """True when both files exist and the sidecar was written for exactly ``request``."""
    if not video.is_file() or video.stat().st_size == 0:
        return False
    data = read_sidecar(sidecar)
    return data is not None and data.get("request") == dict(request)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the output."""
    versions = {"python": platform.python_version()}
    for name in ("torch", "diffusers", "transformers", "av", "numpy"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        versions[name] = str(getattr(module, "__version__", "unknown"))
    # lvsa, vqeval and the generators ship as one distribution, "vqeval"
    from lvsa.generators.version import package_version

    versions["lvsa"] = versions["vqeval"] = package_version()
    return versions


def _peak_memory_start(device: torch.device) -> None:
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda" and torch.cuda.is_available():
        return {"bytes": int(torch.cuda.max_memory_allocated(device)), "kind": "cuda_max_allocated"}
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return {"bytes": int(rss_kib * scale), "kind": "process_rss_peak"}


class _StepClock:
    """Times denoising steps through ``callback_on_step_end`` (or ``scheduler.step``)."""

    def __init__(
        self, pipe: Any, total: int, on_step: Callable[[int], None] | None, device: torch.device
    ) -> None:
        self.pipe = pipe
        self.sync = device.type == "cuda" and torch.cuda.is_available()
        self.total = total
        self.on_step = on_step
        self.start: float | None = None
        self.ends: list[float] = []
        self._hooks: list[Any] = []
        self._scheduler_step: Any = None

    def _now(self) -> float:
        if self.sync:  # kernels run asynchronously: wait for them so steps are timed correctly
            torch.cuda.synchronize()
        return time.perf_counter()

    def _first_forward(self, *_: Any, **__: Any) -> None:
        if self.start is None:
            self.start = self._now()

    def _tick(self) -> None:
        self.ends.append(self._now())
        if self.on_step is not None:
            self.on_step(len(self.ends))

    def callback(
        self, pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """``callback_on_step_end`` hook."""
        self._tick()
        return kwargs

    def __enter__(self) -> _StepClock:
        for name in ("transformer", "transformer_2"):
            module = getattr(self.pipe, name, None)
            if isinstance(module, torch.nn.Module):
                self._hooks.append(module.register_forward_pre_hook(self._first_forward))
        scheduler = getattr(self.pipe, "scheduler", None)
        if not self.uses_callback and scheduler is not None:
            original = scheduler.step

            def step(*args: Any, **kwargs: Any) -> Any:
                out = original(*args, **kwargs)
                self._tick()
                return out

            self._scheduler_step = original
            scheduler.step = step
        return self

    def __exit__(self, *exc: object) -> None:
        for hook in self._hooks:
            hook.remove()
        if self._scheduler_step is not None:
            del self.pipe.scheduler.step

    @property
    def uses_callback(self) -> bool:
        """True when the pipeline accepts ``callback_on_step_end``."""
        return "callback_on_step_end" in inspect.signature(self.pipe.__call__).parameters

    def per_step(self) -> list[float]:
        """Seconds of each denoising step."""
        if not self.ends:
            return []
        start = self.start if self.start is not None else self.ends[0]
        marks = [start, *self.ends]
        return [b - a for a, b in itertools.pairwise(marks)]


def _call_kwargs(pipe: Any, plan: Plan, prompt: str, seed: int) -> dict[str, Any]:
    params = inspect.signature(pipe.__call__).parameters
    encoder = get_encoder(plan.spec)
    kwargs = encoder(pipe, plan.spec, prompt, plan.negative_prompt, plan.device, plan.dtype)
    kwargs.update(
        height=plan.height,
        width=plan.width,
        num_frames=plan.frames,
        num_inference_steps=plan.steps,
        generator=torch.Generator(device="cpu").manual_seed(seed),
        output_type="np",
    )
    if plan.guidance is not None:
        if "guidance_scale" in params:
            kwargs["guidance_scale"] = plan.guidance
        elif getattr(pipe, "guider", None) is not None:
            pipe.guider.guidance_scale = plan.guidance
    if plan.guidance_2 is not None and "guidance_scale_2" in params:
        kwargs["guidance_scale_2"] = plan.guidance_2
    return kwargs


def _generate_one(
    pipe: Any, plan: Plan, out: Path, prompt: str, seed: int, method: str, step_bar: Any
) -> dict[str, Any]:
    """Run the pipeline for one clip and write mp4 + sidecar. Returns the sidecar dict."""
    video_path, sidecar_path = clip_paths(out, method, prompt, seed)
    request = plan.request(prompt, seed, method)
    _peak_memory_start(plan.device)
    kwargs = _call_kwargs(pipe, plan, prompt, seed)

    def on_step(n: int) -> None:
        if step_bar is not None:
            step_bar.update(1)

    t0 = time.perf_counter()
    with _StepClock(pipe, plan.steps, on_step, plan.device) as clock:
        if clock.uses_callback:
            kwargs["callback_on_step_end"] = clock.callback
        with torch.no_grad():
            output = pipe(**kwargs)
    t_pipe = time.perf_counter()
    raw = output.frames if hasattr(output, "frames") else output[0]
    if plan.rank != 0:  # context parallel: every rank computed the clip, rank 0 writes it
        return {}
    bad = _non_finite(raw)
    if bad:
        raise GeneratorError(
            f"the pipeline produced non-finite pixels ({bad} NaN/inf values); no clip written"
        )
    frames = to_uint8_frames(raw)
    write_mp4(video_path, frames, plan.fps)
    total = time.perf_counter() - t0
    per_step = clock.per_step()
    denoise = sum(per_step)
    sidecar = {
        "schema": SIDECAR_SCHEMA,
        "request": request,
        "prompt": prompt,
        "seed": seed,
        "model": plan.spec.name,
        "model_spec": plan.spec.to_dict(),
        "method": method,
        "frames": int(frames.shape[0]),
        "latent_frames": plan.latent_frames,
        "horizon": round(plan.horizon, 4),
        "resolution": {"height": int(frames.shape[1]), "width": int(frames.shape[2])},
        "fps": plan.fps,
        "steps": plan.steps,
        "guidance": plan.guidance,
        "guidance_2": plan.guidance_2,
        "dtype": dtype_name(plan.dtype),
        "device": str(plan.device),
        "cpu_offload": plan.cpu_offload,
        "context_parallel": plan.cp,
        "timing": {
            "total_s": round(total, 4),
            "denoise_s": round(denoise, 4),
            "step_s": round(denoise / len(per_step), 4) if per_step else None,
            "per_step_s": [round(s, 4) for s in per_step],
            "outside_denoise_s": round(total - denoise, 4),
            "pipeline_s": round(t_pipe - t0, 4),
        },
        "peak_memory": _peak_memory(plan.device),
        "attention_density": _methods.density(pipe, method),
        "versions": library_versions(),
        "video": video_path.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(sidecar_path, sidecar)
    return sidecar


def _non_finite(video: Any) -> int:
    """Number of NaN / inf values in a pipeline's float output (0 for integer frames)."""
    if isinstance(video, torch.Tensor):
        return 0 if not video.is_floating_point() else int((~torch.isfinite(video)).sum())
    arr = np.asarray(video)
    return int((~np.isfinite(arr)).sum()) if np.issubdtype(arr.dtype, np.floating) else 0


def compile_blocks(pipe: Any) -> int:
    """Regionally compile every transformer of ``pipe`` (``compile_repeated_blocks``).

    Returns the number of transformers compiled. Raises :class:`GeneratorError` when the
    installed diffusers has no regional compilation.
    """
    from lvsa.integrations import transformers_of

    models = transformers_of(pipe)
    for model in models:
        if not hasattr(model, "compile_repeated_blocks"):
            raise GeneratorError(
                "--compile needs diffusers >= 0.35 (ModelMixin.compile_repeated_blocks)"
            )
        model.compile_repeated_blocks(fullgraph=False)
    return len(models)


#: Seconds between two progress lines when stderr is not a terminal.
PROGRESS_INTERVAL_S = 30.0


class _LineProgress:
    """tqdm's ``update`` / ``close`` as periodic one-line messages on stderr (for logs and
    CI, where bars would print a carriage-return soup): one line at most every
    :data:`PROGRESS_INTERVAL_S` seconds, and one when the total is reached."""

    def __init__(self, total: int, desc: str = "", unit: str = "it", **_: Any) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n = 0
        self.t0 = self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if self.n >= self.total or now - self.last >= PROGRESS_INTERVAL_S:
            self.last = now
            took = now - self.t0
            rate = f", {took / self.n:.1f} s/{self.unit}" if self.n else ""
            sys.stderr.write(
                f"lvsa-generate: {self.desc} {self.n}/{self.total} {self.unit}s "
                f"({took:.0f} s{rate})\n"
            )
            sys.stderr.flush()

    def close(self) -> None:
        pass


def _stderr_is_tty() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(callable(isatty) and isatty())


def _tqdm(**kwargs: Any) -> Any:
    """A tqdm bar on a terminal; periodic progress lines when stderr is not one."""
    if kwargs.get("disable"):
        from tqdm.auto import tqdm

        return tqdm(**kwargs)
    if not _stderr_is_tty():
        return _LineProgress(**kwargs)
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (or ``at file.py:line`` for a bare assert)."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if not message:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            message = f"at {Path(frames[-1].filename).name}:{frames[-1].lineno}"
    return f"{type(exc).__name__}: {message}"


def _remove_method(pipe: Any, method: str, *, installed: bool) -> None:
    """Undo a method before the next one; a half-done install is undone as far as it goes."""
    try:
        _methods.remove(pipe, method)
    except Exception as exc:
        if installed:
            raise GeneratorError(
                f"cannot remove {method} from the pipeline ({_one_line(exc)}); stopping so "
                "that later methods do not run on a modified model"
            ) from None


def sweep(
    prompts: str | Sequence[str],
    *,
    methods: str | Iterable[str] = ("dense", "lvsa"),
    seeds: int | Iterable[int] = (0,),
    out: str | Path = "out",
    config: GenerationConfig | None = None,
    pipe: Any = None,
    progress: bool = True,
    on_clip: Callable[[ClipResult], None] | None = None,
    **options: Any,
) -> SweepReport:
    """Generate every (method, prompt, seed) clip that is not finished yet.

    Args:
        prompts: one prompt or a list of prompts.
        methods: method names (``"dense,lvsa"`` or a list); see :data:`generators.methods.METHODS`.
        seeds: one seed or several.
        out: output root; clips go to ``out/<method>/<slug>_s<seed>.mp4`` + ``.json``.
        config: shared settings; ``options`` (fields of :class:`GenerationConfig`) override it.
        pipe: an already loaded pipeline (else it is loaded from ``config.model`` when needed).
        progress: show tqdm bars (clips of the sweep, denoising steps of the clip).
        on_clip: called with each :class:`ClipResult` as soon as it is known.

    Returns:
        A :class:`SweepReport`; failed clips are reported there, not raised.

    Raises:
        GeneratorError: bad arguments or weights that cannot be loaded.
    """
    base = config or GenerationConfig()
    try:
        cfg = dataclasses.replace(base, **options)
    except TypeError as exc:
        raise GeneratorError(f"bad option: {exc}") from None
    plan = resolve_config(cfg)
    method_names = _methods.parse_methods(methods)
    prompt_list = [prompts] if isinstance(prompts, str) else [str(p) for p in prompts]
    prompt_list = [p.strip() for p in prompt_list if p.strip()]
    if not prompt_list:
        raise GeneratorError("no prompt given (use --prompt TEXT or --prompts FILE)")
    seed_list = [int(seeds)] if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise GeneratorError("no seed given")
    slugs: dict[str, str] = {}
    for p in dict.fromkeys(prompt_list):
        other = slugs.setdefault(slugify(p), p)
        if other != p:
            raise GeneratorError(
                f"prompts {other!r} and {p!r} map to the same file name {slugify(p)!r}; "
                "reword one of them"
            )
    prompt_list = list(dict.fromkeys(prompt_list))
    out_dir = Path(out)

    jobs = [(m, p, s) for m in method_names for p in prompt_list for s in seed_list]
    report = SweepReport()
    pending: dict[str, list[tuple[str, int]]] = {m: [] for m in method_names}
    for m, p, s in jobs:
        video, side = clip_paths(out_dir, m, p, s)
        if is_finished(video, side, plan.request(p, s, m)):
            result = ClipResult(m, p, s, video, side, "skipped")
            report.clips.append(result)
            if on_clip is not None:
                on_clip(result)
        else:
            pending[m].append((p, s))
    n_pending = sum(len(v) for v in pending.values())
    if n_pending == 0:
        return report
    ctx = _methods.MethodContext(
        reference_frames=plan.spec.reference_frames,
        num_latent_frames=plan.latent_frames,
        options=dict(plan.lvsa_options),
    )
    _methods.check([m for m in method_names if pending[m]], ctx)
    if pipe is None:
        pipe = load_pipeline(
            plan.spec,
            dtype=plan.dtype,
            device=plan.device,
            cpu_offload=plan.cpu_offload,
            progress=progress and _stderr_is_tty(),  # diffusers' loading bars: terminal only
        )
        report.loaded_pipeline = True
    if plan.cp > 1:
        from lvsa.integrations import enable_context_parallel

        enable_context_parallel(pipe, ulysses_degree=plan.cp)
        progress = progress and plan.rank == 0
    if plan.compile:
        compile_blocks(pipe)
    clip_bar = _tqdm(total=n_pending, desc="clips", unit="clip", disable=not progress)
    try:
        for method in method_names:
            if not pending[method]:
                continue
            install_error: str | None = None
            try:
                _methods.install(pipe, method, ctx)
            except Exception as exc:
                install_error = f"cannot install {method}: {_one_line(exc)}"
            try:
                for prompt, seed in pending[method]:
                    video, side = clip_paths(out_dir, method, prompt, seed)
                    t0 = time.perf_counter()
                    if install_error is not None:
                        result = ClipResult(
                            method, prompt, seed, video, side, "failed", install_error
                        )
                    else:
                        step_bar = _tqdm(
                            total=plan.steps,
                            desc=f"{method} {slugify(prompt)[:24]} s{seed}",
                            unit="step",
                            leave=False,
                            disable=not progress,
                        )
                        try:
                            _generate_one(pipe, plan, out_dir, prompt, seed, method, step_bar)
                            result = ClipResult(
                                method,
                                prompt,
                                seed,
                                video,
                                side,
                                "generated",
                                seconds=time.perf_counter() - t0,
                            )
                        except Exception as exc:
                            result = ClipResult(
                                method,
                                prompt,
                                seed,
                                video,
                                side,
                                "failed",
                                _one_line(exc),
                                seconds=time.perf_counter() - t0,
                            )
                        finally:
                            step_bar.close()
                    report.clips.append(result)
                    clip_bar.update(1)
                    if on_clip is not None:
                        on_clip(result)
            finally:
                _remove_method(pipe, method, installed=install_error is None)
    finally:
        clip_bar.close()
    return report


def generate(
    prompt: str,
    *,
    method: str = "dense",
    seed: int = 0,
    out: str | Path = "out",
    config: GenerationConfig | None = None,
    pipe: Any = None,
    progress: bool = False,
    **options: Any,
) -> ClipResult:
    """Generate one clip (or find it already finished); see :func:`sweep` for arguments.

    Raises:
        GeneratorError: bad arguments, missing weights, or the clip failed.
    """
    report = sweep(
        [prompt],
        methods=[method],
        seeds=[seed],
        out=out,
        config=config,
        pipe=pipe,
        progress=progress,
        **options,
    )
    result = report.clips[0]
    if result.status == "failed":
        raise GeneratorError(f"{method} clip {result.video.name} failed: {result.error}")
    return result
