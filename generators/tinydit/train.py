"""Train the tiny video DiT with rectified-flow matching on procedural clips.

    python -m lvsa.generators.tinydit.train --out data/tinydit --minutes 8 --device cuda

Objective: x_sigma = (1 - sigma) * clean + sigma * noise, target velocity
v = noise - clean, loss = mean squared error; sigma ~ logit-normal(0, 1).
10% of labels are replaced by the null class (classifier-free guidance).
The learning rate follows linear warm-up then cosine decay over the
wall-clock budget (``--minutes``), so a fixed time budget always ends annealed.
The exponential moving average (EMA) of the weights is what gets saved.

Writes into ``--out``: ``model.safetensors``, ``config.json``, ``train_log.txt``
and ``samples.png`` (EMA samples at 1x and 3x the training horizon).
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from lvsa.generators.tinydit.data import CONDITIONS, DataConfig, ProceduralVideos, to_uint8
from lvsa.generators.tinydit.model import TinyDiT, TinyDiTConfig, save
from lvsa.generators.tinydit.pipeline import sample


def _strip_png(rows: list[np.ndarray], path: Path, scale: int = 3) -> None:
    """Save rows of (T, H, W, 3) uint8 clips as one PNG (frames left to right)."""
    import cv2

    width = max(r.shape[0] * r.shape[2] for r in rows)
    lines = []
    for r in rows:
        line = np.concatenate(list(r), axis=1)
        pad = np.zeros((line.shape[0], width - line.shape[1], 3), np.uint8)
        lines.append(np.concatenate([line, pad], axis=1))
    img = np.concatenate(lines, axis=0)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), img[..., ::-1])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/tinydit", help="output folder")
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=10**9, help="stop after this many steps")
    ap.add_argument("--batch", type=int, default=256, help="clips per step")
    ap.add_argument("--lr", type=float, default=8e-4, help="peak AdamW learning rate")
    ap.add_argument("--warmup", type=int, default=300, help="warm-up steps")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay per step")
    ap.add_argument("--cfg-drop", type=float, default=0.1, help="null-label probability")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=200, help="steps between log lines")
    ap.add_argument("--sample-steps", type=int, default=20, help="Euler steps for samples.png")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_f = (out / "train_log.txt").open("w")

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_f.write(msg + "\n")
        log_f.flush()

    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    cfg = TinyDiTConfig()
    data_cfg = DataConfig(size=cfg.size, frames=cfg.reference_frames)
    data = ProceduralVideos(data_cfg, device=dev)
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    model = TinyDiT(cfg).to(dev)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    ema_params = list(ema.parameters())
    model_params = list(model.parameters())
    n_params = sum(p.numel() for p in model_params)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    amp = dev.type == "cuda"
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
    log(
        f"tinydit training: device={dev} ({device_name}) torch={torch.__version__} "
        f"params={n_params} ({n_params / 1e6:.2f} M) batch={args.batch} "
        f"clip={cfg.reference_frames}x{cfg.size}x{cfg.size} minutes={args.minutes} lr={args.lr}"
    )
    log(f"conditions: {', '.join(f'{i}={c.name}' for i, c in enumerate(CONDITIONS))}")

    # fixed validation batch: loss at fixed sigmas, measured on the EMA weights
    vgen = torch.Generator(device=dev).manual_seed(12345)
    val_x, val_y = data.sample(64, generator=vgen)
    val_noise = torch.randn(val_x.shape, device=dev, generator=vgen)
    val_sigmas = (0.1, 0.3, 0.5, 0.7, 0.9)

    @torch.no_grad()
    def val_loss(m: TinyDiT) -> list[float]:
        res = []
        for s in val_sigmas:
            sb = torch.full((val_x.shape[0],), s, device=dev)
            xt = (1 - s) * val_x + s * val_noise
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                v = m(xt, sb, val_y).float()
            res.append(F.mse_loss(v, val_noise - val_x).item())
        return res

    budget = args.minutes * 60.0
    t0 = time.perf_counter()
    step, run_loss, n_loss = 0, 0.0, 0
    history: list[tuple[int, float]] = []
    while step < args.max_steps:
        elapsed = time.perf_counter() - t0
        if elapsed >= budget:
            break
        frac = elapsed / budget
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        lr *= 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        x0, y = data.sample(args.batch, generator=gen)
        drop = torch.rand(y.shape, device=dev, generator=gen) < args.cfg_drop
        y = torch.where(drop, torch.full_like(y, cfg.null_class), y)
        sigma = torch.sigmoid(torch.randn(y.shape, device=dev, generator=gen))
        noise = torch.randn(x0.shape, device=dev, generator=gen)
        s = sigma.view(-1, 1, 1, 1, 1)
        xt = (1 - s) * x0 + s * noise
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            v = model(xt, sigma, y)
        loss = F.mse_loss(v.float(), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - decay)
        step += 1
        run_loss += loss.item() if step % 10 == 0 else 0.0
        n_loss += 1 if step % 10 == 0 else 0
        if step % args.log_every == 0:
            avg = run_loss / max(n_loss, 1)
            history.append((step, avg))
            el = time.perf_counter() - t0
            log(f"step {step:6d}  t={el:6.1f}s  loss={avg:.4f}  lr={lr:.2e}  {step / el:.1f} it/s")
            run_loss, n_loss = 0.0, 0
    train_s = time.perf_counter() - t0
    vl = val_loss(ema)
    log(
        f"done: {step} steps in {train_s:.1f} s ({step * args.batch} clips); EMA val loss at "
        + ", ".join(f"sigma={s}: {v:.4f}" for s, v in zip(val_sigmas, vl))
    )
    extra = {
        "device": f"{dev} ({device_name})",
        "torch": torch.__version__,
        "steps": step,
        "batch": args.batch,
        "seconds": round(train_s, 1),
        "lr": args.lr,
        "ema": args.ema,
        "objective": "rectified flow, velocity target, logit-normal(0,1) sigma",
        "loss_curve": [[s_, round(lv, 5)] for s_, lv in history],
        "val_loss_ema": dict(zip([str(s) for s in val_sigmas], [round(v, 5) for v in vl])),
    }
    save(ema, out, extra)
    # sample strips from the saved (fp16-rounded) weights: each class at 1x and 3x
    rows = []
    for frames in (cfg.reference_frames, 3 * cfg.reference_frames):
        labels = torch.arange(len(CONDITIONS), device=dev)
        clip = sample(
            ema, labels, frames, args.sample_steps, generator=torch.Generator().manual_seed(0)
        )
        rows += [to_uint8(c)[:: max(1, frames // 16)] for c in clip]
    _strip_png(rows, out / "samples.png")
    log(f"wrote {out / 'model.safetensors'} and samples.png")
    log_f.close()


if __name__ == "__main__":
    main()
