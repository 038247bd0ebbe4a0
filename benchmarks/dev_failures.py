"""Build labelled failure clips from the real dev set's own healthy clips.

Real long-video failures are scarce: the dev set (``../shared/realvideos``)
holds healthy clips, freezes and loops; ``../shared/realvideos_svi`` more
healthy clips. This script multiplies the
failures the way long-video generators fail, starting from each healthy
clip's own frames (nothing from outside the repository and ``../shared``):

==================  =====================================================
transform           what the clip becomes (label)
==================  =====================================================
``loop_cut``        a segment (20-45 % of the duration) replayed with hard
                    cuts back to its start (loop)
``loop_pingpong``   such a segment played forward and backward (loop)
``hold_noise``      plays to 20-50 %, then one frame held with sensor noise
                    (sigma 2-5 grey levels) and a slow flicker (+-2-6 %,
                    0.3-1.5 Hz) (frozen)
``hold_shimmer``    plays to 20-50 %, then one frame held while a quarter of
                    it twitches (random 0.4-1 px warps, new every frame) and
                    its colour drifts (frozen)
``slow_stop``       playback speed falls linearly from 1 to 0 at 40-70 % of
                    the duration, then holds with mild noise (frozen)
``collapse``        from 30-50 %, the picture dissolves into a flat blurred
                    field over 1-3 s, which then drifts slowly (frozen)
``healthy_noise``   the healthy clip with sensor noise (sigma 2-4): still
                    healthy (a check that noise is not read as a freeze)
``loop_scenes``     the clip and another healthy clip of the same source
                    alternate in four shots (A B A B), each shot continuing
                    where that scene left off: a scene that comes back (loop)
``healthy_cut``     the first half of the clip, then a hard cut to the first
                    half of that other clip: a new shot is not a loop
                    (healthy)
``loop_slow_cut``   slow content (the clip slowed to the motion of a
                    talking head, 0.6-1.2 grey levels per 1/8 s; a slower
                    clip as it is); from 20-50 % a 1.5-3 s stretch repeats
                    to the end with hard cuts back (loop)
``loop_slow_``      the same, the stretch played forward and backward
``pingpong``        (loop)
``loop_short``      from 20-50 % a 0.5-1.0 s stretch repeats to the end: a
                    sub-second loop (loop)
``loop_reframe``    A B A B: a wide framing of the clip's first half and a
                    closer framing of its second half alternate in four
                    shots, each continuing where it left off (loop)
``healthy_slow``    the clip slowed like ``loop_slow_cut``, nothing
                    repeated (healthy)
``healthy_``        a wide framing, then one cut to a closer framing for
``reframe_cut``     the rest (healthy)
==================  =====================================================

The two-clip transforms pair each healthy clip with the next healthy clip of
its source (sorted by name) that shows other content (a page may publish one
video twice); a source with a single healthy clip has none.

Each output is an H.264 mp4 (long side 320 px, the source frame rate capped
at 24 frames/s) plus one ``labels.json`` in the format of the real set
(``label``, ``source`` = the parent's source, ``parent``, ``transform``), so
leave-one-source-out folds keep every derived clip with its parent.

Usage::

    python benchmarks/dev_failures.py --real ../shared/realvideos --out out/dev_failures
    python benchmarks/dev_failures.py --real ../shared/realvideos_svi --out out/dev_failures

(the second run adds the SVI clips' families to the same folder and index,
as ``benchmarks/evidence.py`` does).

Parameters are drawn per clip and transform from a generator seeded by their
names: the same inputs give the same clips.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lvsa.generators.output import write_mp4  # noqa: E402

from vqeval.video import read_clip  # noqa: E402

#: Long side (px) and frame-rate cap (frames/s) of the derived clips.
SIZE = 320
MAX_FPS = 24.0

Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _noise(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian sensor noise of ``sigma`` grey levels, independent per frame."""
    out = frames.astype(np.float32) + rng.normal(0.0, sigma, frames.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _segment(t: int, fps: float, rng: np.random.Generator) -> tuple[int, int]:
    """Start and length (frames) of the repeated segment.

    The length is 20-45 % of the clip (at least 1.2 s, at most half of it),
    the start within the first 20 %.
    """
    length = max(round(rng.uniform(0.2, 0.45) * t), round(1.2 * fps), 3)
    length = min(length, t // 2)
    return round(rng.uniform(0.0, 0.2) * t), max(2, length)


def loop_cut(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Replay one segment with hard cuts back to its start, to the original length."""
    t = len(frames)
    s0, n = _segment(t, fps, rng)
    idx = s0 + np.arange(t) % n
    return frames[idx]


def loop_pingpong(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Play one segment forward, backward, forward ... to the original length."""
    t = len(frames)
    s0, n = _segment(t, fps, rng)
    cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])
    return frames[s0 + cycle[np.arange(t) % len(cycle)]]


def _held(frames: np.ndarray, at: float) -> tuple[np.ndarray, int]:
    t = len(frames)
    k = max(1, round(at * t))
    return np.concatenate([frames[:k], np.repeat(frames[k - 1 : k], t - k, axis=0)]), k


def hold_noise(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Hold one frame from 20-50 % on, with sensor noise and a slow flicker.

    Noise sigma 2-5 grey levels; flicker +-2-6 % at 0.3-1.5 Hz.
    """
    out, k = _held(frames, rng.uniform(0.2, 0.5))
    tail = out[k:].astype(np.float32)
    time = np.arange(len(tail)) / fps
    amp, freq = rng.uniform(0.02, 0.06), rng.uniform(0.3, 1.5)
    gain = 1.0 + amp * np.sin(2 * np.pi * freq * time + rng.uniform(0, 2 * np.pi))
    tail = tail * gain[:, None, None, None]
    tail += rng.normal(0.0, rng.uniform(2.0, 5.0), tail.shape).astype(np.float32)
    out[k:] = np.clip(tail, 0, 255).astype(np.uint8)
    return out


def hold_shimmer(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Hold one frame from 20-50 % on; a quarter of it twitches, its colour drifts.

    The twitch: a smooth random displacement field of 0.4-1.0 px, new every
    frame; the drift: up to +-6 grey levels per channel.
    """
    out, k = _held(frames, rng.uniform(0.2, 0.5))
    amp = rng.uniform(0.4, 1.0)
    h, w = frames.shape[1:3]
    # the twitching region: a random quarter-area rectangle
    rh, rw = h // 2, w // 2
    y0, x0 = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
    base = frames[k - 1].astype(np.float32)
    drift = rng.normal(0.0, 1.0, 3)
    drift = drift / max(float(np.linalg.norm(drift)), 1e-6)
    n_tail = len(frames) - k
    for j in range(n_tail):
        fr = base.copy()
        # smooth random displacement field, new every frame
        field = rng.normal(0.0, 1.0, (2, 6, 6)).astype(np.float32)
        dx = cv2.resize(field[0], (rw, rh), interpolation=cv2.INTER_CUBIC) * amp
        dy = cv2.resize(field[1], (rw, rh), interpolation=cv2.INTER_CUBIC) * amp
        patch = base[y0 : y0 + rh, x0 : x0 + rw]
        fr[y0 : y0 + rh, x0 : x0 + rw] = cv2.remap(
            patch, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        # colour drift: up to +-6 grey levels per channel over the tail
        fr += drift * 6.0 * np.sin(np.pi * j / max(n_tail, 1))
        out[k + j] = np.clip(fr, 0, 255).astype(np.uint8)
    return out


def slow_stop(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Speed falls linearly from 1 to 0 at 40-70 % of the duration, then holds (noise 1.5)."""
    t = len(frames)
    stop = rng.uniform(0.4, 0.7) * t
    i = np.arange(t, dtype=np.float64)
    # position = integral of speed (1 - i / stop), capped after the stop
    pos = np.where(i < stop, i - i * i / (2 * stop), stop / 2)
    out = frames[np.clip(np.round(pos).astype(int), 0, t - 1)]
    k = int(stop)
    out[k:] = _noise(out[k:], 1.5, rng)
    return out


def collapse(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """From 30-50 %, dissolve into a flat blurred field over 1-3 s, which then drifts."""
    t = len(frames)
    k = round(rng.uniform(0.3, 0.5) * t)
    ramp = max(2, round(rng.uniform(1.0, 3.0) * fps))
    out = frames.copy()
    h, w = frames.shape[1:3]
    for j in range(k, t):
        a = min(1.0, (j - k) / ramp)  # 0 -> 1 over the ramp
        src = frames[min(j, k + ramp)].astype(np.float32)
        sigma = 0.5 + a * 0.06 * max(h, w)
        blurred = cv2.GaussianBlur(src, (0, 0), sigma)
        mean = blurred.mean(axis=(0, 1), keepdims=True)
        flat = mean + (1.0 - 0.7 * a) * (blurred - mean)  # contrast fades too
        # a slow, smooth drift of the field (brightness waves)
        phase = 2 * np.pi * 0.2 * (j - k) / fps
        wave = 4.0 * a * np.sin(phase + np.linspace(0, np.pi, w))[None, :, None]
        out[j] = np.clip(flat + wave, 0, 255).astype(np.uint8)
    return out


def healthy_noise(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """The healthy clip with sensor noise of sigma 2-4 grey levels."""
    return _noise(frames, rng.uniform(2.0, 4.0), rng)


def _fit(frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize (T, H, W, 3) frames to (H', W') = ``shape`` (area interpolation)."""
    h, w = shape
    if frames.shape[1:3] == (h, w):
        return frames
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def loop_scenes(a: np.ndarray, b: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """A B A B: four shots alternating between two scenes, each continuing its scene."""
    t = len(a)
    b = _fit(b, a.shape[1:3])
    q = t // 4
    if len(b) < 2 * q:
        b = np.concatenate([b, b[::-1]])[: 2 * q]
    return np.concatenate([a[:q], b[:q], a[q : 2 * q], b[q : 2 * q], a[2 * q : t - 2 * q]])


def healthy_cut(a: np.ndarray, b: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """The first half of ``a``, then a hard cut to the first half of ``b``."""
    t = len(a)
    b = _fit(b, a.shape[1:3])
    h = t // 2
    return np.concatenate([a[:h], b[: t - h]])


def played_at(frames: np.ndarray, speed: float, n: int | None = None) -> np.ndarray:
    """``frames`` played at ``speed`` (neighbours cross-faded): output frame
    ``i`` shows source position ``speed * i``, a blend of the two source
    frames around it (linear in the fractional part); ``n`` frames (default:
    as many as fit)."""
    t = len(frames)
    count = math.floor((t - 1) / speed) + 1 if n is None else n
    pos = np.minimum(speed * np.arange(count), t - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    a = (pos - lo).astype(np.float32)[:, None, None, None]
    out = (1.0 - a) * frames[lo].astype(np.float32) + a * frames[hi].astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _slowed(frames: np.ndarray, speed: float) -> np.ndarray:
    """``frames`` played at ``speed`` (< 1), same length (:func:`played_at`)."""
    return played_at(frames, speed, n=len(frames))


def _repeat_from(frames: np.ndarray, k: int, n: int, pingpong: bool) -> np.ndarray:
    """Play to frame ``k + n``, then repeat frames ``[k, k + n)`` to the end:
    with hard cuts back to ``k`` or, with ``pingpong``, backward and forward."""
    t = len(frames)
    if pingpong:
        cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])
    else:
        cycle = np.arange(n)
    idx = np.arange(t)
    rest = idx >= k
    idx[rest] = k + cycle[(idx[rest] - k) % len(cycle)]
    return frames[idx]


def _slow_speed(frames: np.ndarray, fps: float, rng: np.random.Generator) -> float:
    """Playback speed (0.15-1) that gives the clip the motion of slow content.

    Slow content (a talking head, a perched bird, a slow pan) changes by
    0.6-1.2 grey levels (mean absolute difference of luma) per 1/8 s, the
    analysis step; a clip that moves faster is slowed to a level drawn from
    that range, one already as slow is played as it is (slowing it further
    would make a still picture, a freeze rather than slow content).
    """
    g = frames[..., :3].astype(np.float32).mean(axis=-1)
    step = np.abs(np.diff(g, axis=0)).mean(axis=(1, 2)) if len(g) > 1 else np.zeros(1)
    per_eighth = float(np.median(step)) * max(fps / 8.0, 1.0)
    target = rng.uniform(0.6, 1.2)
    return float(np.clip(target / max(per_eighth, 1e-6), 0.15, 1.0))


def _slow_loop(
    frames: np.ndarray, fps: float, rng: np.random.Generator, pingpong: bool
) -> np.ndarray:
    t = len(frames)
    slow = _slowed(frames, _slow_speed(frames, fps, rng))
    n = max(3, min(round(rng.uniform(1.5, 3.0) * fps), t // 3))
    k = round(rng.uniform(0.2, 0.5) * t)
    return _repeat_from(slow, min(k, t - n - 1), n, pingpong)


def loop_slow_cut(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Slow content (the clip slowed to the motion of a talking head,
    :func:`_slow_speed`); from 20-50 % of the duration a 1.5-3 s stretch
    repeats to the end with hard cuts back (loop)."""
    return _slow_loop(frames, fps, rng, pingpong=False)


def loop_slow_pingpong(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """As :func:`loop_slow_cut`, the stretch played forward and backward (loop)."""
    return _slow_loop(frames, fps, rng, pingpong=True)


def loop_short(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """From 20-50 % of the duration a 0.5-1.0 s stretch repeats to the end
    with hard cuts back: a sub-second loop (loop)."""
    t = len(frames)
    n = max(3, round(rng.uniform(0.5, 1.0) * fps))
    k = round(rng.uniform(0.2, 0.5) * t)
    return _repeat_from(frames, min(k, t - n - 1), n, pingpong=False)


def healthy_slow(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """The clip slowed to the motion of slow content (:func:`_slow_speed`),
    nothing repeated: slow content is healthy."""
    return _slowed(frames, _slow_speed(frames, fps, rng))


def _framing(frames: np.ndarray, zoom: float, cy: float, cx: float) -> np.ndarray:
    """A crop of ``zoom`` (0-1) of each side centred at (``cy``, ``cx``)
    (fractions of the frame), scaled back to the frame size: another framing."""
    h, w = frames.shape[1:3]
    ch, cw = max(2, round(zoom * h)), max(2, round(zoom * w))
    y0 = int(np.clip(round(cy * h - ch / 2), 0, h - ch))
    x0 = int(np.clip(round(cx * w - cw / 2), 0, w - cw))
    return _fit(frames[:, y0 : y0 + ch, x0 : x0 + cw], (h, w))


def loop_reframe(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """A B A B: two framings of one place alternate in four shots, each
    continuing where it left off: a wide framing of the clip's first half
    and a closer framing of its second half. The place comes back across
    cuts without an identical frame (loop)."""
    t = len(frames)
    h = t // 2
    a = _framing(frames[:h], rng.uniform(0.85, 0.95), 0.5, 0.5)
    b = _framing(frames[h:], rng.uniform(0.5, 0.65), rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.65))
    q = t // 4
    return np.concatenate([a[:q], b[:q], a[q : 2 * q], b[q : t - 2 * q]])


def healthy_reframe_cut(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """A wide framing, then one cut to a closer framing for the rest (no
    return): a cut within a scene is healthy."""
    t = len(frames)
    a = _framing(frames, rng.uniform(0.85, 0.95), 0.5, 0.5)
    b = _framing(frames, rng.uniform(0.45, 0.6), rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.7))
    k = round(rng.uniform(0.3, 0.6) * t)
    return np.concatenate([a[:k], b[k:]])


#: two-clip transform name -> (function, label of the result).
PAIR_TRANSFORMS: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "loop_scenes": (loop_scenes, "loop"),
    "healthy_cut": (healthy_cut, "healthy"),
}

#: transform name -> (function, label of the result).
TRANSFORMS: dict[str, tuple[Transform, str]] = {
    "loop_cut": (loop_cut, "loop"),
    "loop_pingpong": (loop_pingpong, "loop"),
    "hold_noise": (hold_noise, "frozen"),
    "hold_shimmer": (hold_shimmer, "frozen"),
    "slow_stop": (slow_stop, "frozen"),
    "collapse": (collapse, "frozen"),
    "healthy_noise": (healthy_noise, "healthy"),
    "loop_slow_cut": (loop_slow_cut, "loop"),
    "loop_slow_pingpong": (loop_slow_pingpong, "loop"),
    "loop_short": (loop_short, "loop"),
    "loop_reframe": (loop_reframe, "loop"),
    "healthy_slow": (healthy_slow, "healthy"),
    "healthy_reframe_cut": (healthy_reframe_cut, "healthy"),
}


def build(real: Path, out: Path, transforms: list[str] | None = None) -> dict[str, dict]:
    """Write every transform of every healthy clip of ``real`` into ``out``.

    Clips already in ``out`` are kept (not re-encoded); ``out/labels.json``
    is updated, not replaced.

    Returns:
        All labels in ``out/labels.json`` (file name -> label record).
    """
    labels = json.loads((real / "labels.json").read_text())
    names = list(TRANSFORMS) + list(PAIR_TRANSFORMS) if transforms is None else transforms
    out.mkdir(parents=True, exist_ok=True)
    index = out / "labels.json"
    written: dict[str, dict] = json.loads(index.read_text()) if index.is_file() else {}
    healthy = sorted(
        n for n, lab in labels.items() if lab.get("label") == "healthy" and (real / n).exists()
    )
    by_source: dict[str, list[str]] = {}
    for n in healthy:
        by_source.setdefault(str(labels[n].get("source", "")).split(":")[0], []).append(n)

    openings: dict[str, np.ndarray] = {}

    def opening(name: str) -> np.ndarray:
        if name not in openings:
            f = read_clip(real / name, size=64, max_fps=MAX_FPS, max_frames=1, stills=0).frames
            openings[name] = f[0].astype(np.float32)
        return openings[name]

    def partner(name: str) -> str | None:
        """The next healthy clip of the same source showing other content (a
        page may publish one video twice: its opening frame differs by less
        than 8 grey levels on average)."""
        group = by_source[str(labels[name].get("source", "")).split(":")[0]]
        i = group.index(name)
        for other in group[i + 1 :] + group[:i]:
            a, b = opening(name), opening(other)
            if a.shape != b.shape or float(np.abs(a - b).mean()) >= 8.0:
                return other
        return None

    cache: dict[str, tuple[np.ndarray, float]] = {}

    def frames_of(name: str) -> tuple[np.ndarray, float]:
        if name not in cache:
            clip = read_clip(real / name, size=SIZE, max_fps=MAX_FPS, stills=0)
            cache.clear()  # keep at most two decoded clips
            cache[name] = (clip.frames, clip.fps)
        return cache[name]

    for name in healthy:
        lab = labels[name]
        frames, fps = frames_of(name)
        stem = Path(name).stem.removeprefix("healthy_")
        for tname in names:
            pair = tname in PAIR_TRANSFORMS
            fn, label = PAIR_TRANSFORMS[tname] if pair else TRANSFORMS[tname]
            other = partner(name) if pair else None
            if pair and other is None:
                continue
            rng = np.random.default_rng(zlib.crc32(f"{name}:{tname}".encode()))
            dst = f"{tname}__{stem}.mp4"
            if not (out / dst).exists():
                if pair:
                    assert other is not None
                    b = read_clip(real / other, size=SIZE, max_fps=MAX_FPS, stills=0).frames
                    clip_frames = fn(frames.copy(), b, fps, rng)
                else:
                    clip_frames = fn(frames.copy(), fps, rng)
                write_mp4(out / dst, clip_frames, fps, crf=20)
            written[dst] = {
                "label": label,
                "source": lab.get("source", ""),
                "parent": name,
                "transform": tname,
                **({"partner": other} if pair else {}),
                "fps": fps,
                "frames": len(frames),
            }
            print(f"{dst}: {label}", flush=True)
    index.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realvideos")
    p.add_argument("--out", type=Path, default=REPO / "out" / "dev_failures")
    p.add_argument("--only", default=None, help="comma-separated transforms (default: all)")
    a = p.parse_args(argv)
    if not (a.real / "labels.json").is_file():
        print(f"no labelled dev set at {a.real}", file=sys.stderr)
        return 2
    only = a.only.split(",") if a.only else None
    known = [*TRANSFORMS, *PAIR_TRANSFORMS]
    unknown = [t for t in only or () if t not in known]
    if unknown:
        print(f"unknown transform(s) {unknown}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    written = build(a.real, a.out, only)
    print(f"wrote {len(written)} clips to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
