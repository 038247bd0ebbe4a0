"""``lvsa-generate``: generate long-horizon clips for every attention method.

Exit codes: 0 all clips finished, 1 some clips failed, 2 usage or configuration error
(unknown model / method, bad horizon, missing prompt file, weights missing offline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from lvsa.generators.errors import GeneratorError
from lvsa.generators.loading import DTYPES, OFFLOAD_MODES
from lvsa.generators.methods import METHODS, parse_methods
from lvsa.generators.version import package_version


def parse_seeds(text: str) -> list[int]:
    """``"0"``, ``"0,1,5"`` or ``"0-3"`` (inclusive range) -> list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise GeneratorError(
                f"bad --seeds {text!r}; use 0, 0,1,2 or 0-3 (inclusive range)"
            ) from None
    if not seeds:
        raise GeneratorError("--seeds is empty")
    return list(dict.fromkeys(seeds))


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value) with int / float / bool / str value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise GeneratorError(f"bad --lvsa-option {text!r}; use KEY=VALUE, e.g. window=3")
    value: Any = raw.strip()
    if value.lower() in {"true", "false"}:
        value = value.lower() == "true"
    else:
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
    return key.strip(), value


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _list_models() -> None:
    from lvsa.generators.models import get_model, model_names

    for name in model_names():
        s = get_model(name)
        click.echo(
            f"{name:24s} {s.repo}  {s.pipeline}; VAE t/h/w {'x'.join(map(str, s.vae_stride))}, "
            f"patch {'x'.join(map(str, s.patch))}; train {s.train_frames} frames "
            f"({s.train_latent_frames} latent); {s.height}x{s.width} px @ {s.fps:g} fps"
        )


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--model", "-m", default=None, help="Preset name, hub id or local diffusers folder.")
@click.option(
    "--horizon",
    default="1x",
    show_default=True,
    help="Clip length as a multiple of the training horizon (1x..6x); frames snap to 4k+1.",
)
@click.option(
    "--frames", type=int, default=None, help="Exact frame count (4k+1); overrides --horizon."
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    help=f"Attention method(s): {', '.join(METHODS)}. Repeat or comma list. [default: dense]",
)
@click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Text file: one prompt per line, # comments.",
)
@click.option("--prompt", "prompts", multiple=True, help="A prompt (repeatable).")
@click.option("--seeds", default="0", show_default=True, help="Seeds: 0 | 0,1,2 | 0-3.")
@click.option("--steps", type=int, default=None, help="Denoising steps [default: model's, 50].")
@click.option("--guidance", type=float, default=None, help="Classifier-free guidance scale.")
@click.option(
    "--guidance-2", type=float, default=None, help="Guidance of the 2nd expert (Wan 2.2)."
)
@click.option("--negative-prompt", default=None, help="Negative prompt.")
@click.option("--height", type=int, default=None, help="Height in pixels [default: model's].")
@click.option("--width", type=int, default=None, help="Width in pixels [default: model's].")
@click.option("--fps", type=float, default=None, help="Frame rate of the mp4, frames/s.")
@click.option(
    "--dtype",
    type=click.Choice(["auto", *DTYPES]),
    default="auto",
    show_default=True,
    help="auto = bfloat16 on GPU, float32 on CPU.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option(
    "--cpu-offload",
    type=click.Choice(OFFLOAD_MODES),
    default=None,
    help="Offload to CPU: model (per component) or sequential (per layer).",
)
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="torch.compile the transformer blocks (faster steps after the first clip's compile).",
)
@click.option(
    "--cp",
    type=int,
    default=1,
    show_default=True,
    help="Context-parallel ranks per clip (diffusers Ulysses; LVSA keeps its pattern on "
    "every rank). Run under `torchrun --nproc-per-node N`; rank 0 writes the clips.",
)
@click.option(
    "--lvsa-option",
    "lvsa_options",
    multiple=True,
    help="Extra lvsa.LVSAConfig field, KEY=VALUE (repeatable).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Output root: <out>/<method>/<slug>_s<seed>.mp4 + .json.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan (frames, tokens, clips) and exit.")
@click.option("--list-models", is_flag=True, help="List model presets and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout at the end.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.version_option(package_version(), "-V", "--version", prog_name="lvsa-generate")
def main(
    model: str | None,
    horizon: str,
    frames: int | None,
    methods: tuple[str, ...],
    prompts_file: Path | None,
    prompts: tuple[str, ...],
    seeds: str,
    steps: int | None,
    guidance: float | None,
    guidance_2: float | None,
    negative_prompt: str | None,
    height: int | None,
    width: int | None,
    fps: float | None,
    dtype: str,
    device: str,
    cpu_offload: str | None,
    compile_: bool,
    cp: int,
    lvsa_options: tuple[str, ...],
    out: Path,
    dry_run: bool,
    list_models: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Generate clips for every (method, prompt, seed) into OUT/<method>/, resuming finished ones.

    Then compare methods with `vqeval compare OUT/dense OUT/lvsa`.
    """
    if list_models:
        _list_models()
        return
    try:
        from lvsa.generators.runner import GenerationConfig, read_prompts, resolve_config, sweep

        method_names = parse_methods(methods or ["dense"])
        prompt_list = list(prompts)
        if prompts_file is not None:
            prompt_list += read_prompts(prompts_file)
        if not prompt_list:
            raise GeneratorError("no prompt given (use --prompt TEXT or --prompts FILE)")
        config = GenerationConfig(
            model=model,
            horizon=horizon,
            frames=frames,
            height=height,
            width=width,
            steps=steps,
            guidance=guidance,
            guidance_2=guidance_2,
            negative_prompt=negative_prompt,
            fps=fps,
            dtype=dtype,
            device=device,
            cpu_offload=cpu_offload,
            compile=compile_,
            lvsa_options=dict(parse_option(o) for o in lvsa_options),
            cp=cp,
        )
        seed_list = parse_seeds(seeds)
        plan = resolve_config(config)
        if dry_run:
            tokens = plan.spec.tokens_per_latent_frame(plan.height, plan.width)
            click.echo(
                f"model {plan.spec.name} ({plan.spec.repo}); {plan.frames} frames = "
                f"{plan.latent_frames} latent frames ({plan.horizon:.2f}x of "
                f"{plan.spec.train_frames}); {plan.height}x{plan.width} px, {tokens} tokens/latent "
                f"frame, {tokens * plan.spec.token_frames(plan.latent_frames)} tokens; "
                f"{plan.steps} steps; "
                f"{len(method_names)} methods x {len(prompt_list)} prompts x {len(seed_list)} "
                f"seeds = {len(method_names) * len(prompt_list) * len(seed_list)} clips -> {out}/"
            )
            return

        def on_clip(result: Any) -> None:
            if result.status == "failed":
                click.echo(f"error: {result.video}: {result.error}", err=True)

        report = sweep(
            prompt_list,
            methods=method_names,
            seeds=seed_list,
            out=out,
            config=config,
            progress=not quiet,
            on_clip=on_clip,
        )
    except GeneratorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if cp > 1 and _rank() != 0:  # the other ranks of a context-parallel run stay quiet
        sys.exit(1 if report.failed else 0)
    click.echo(
        f"{report.generated} generated, {report.skipped} already done, {report.failed} failed "
        f"-> {out}/ ({', '.join(method_names)})",
        err=True,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out": str(out),
                    "generated": report.generated,
                    "skipped": report.skipped,
                    "failed": report.failed,
                    "clips": [
                        {
                            "method": c.method,
                            "prompt": c.prompt,
                            "seed": c.seed,
                            "video": str(c.video),
                            "status": c.status,
                            "error": c.error,
                            "seconds": round(c.seconds, 3),
                        }
                        for c in report.clips
                    ],
                },
                indent=2,
            )
        )
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":  # torchrun --nproc-per-node N -m lvsa.generators.cli --cp N ...
    main()
