"""Token-level block layout of an LVSA pattern for one token geometry (cached).

The sequence holds ``frames * tokens_per_frame`` video tokens, frame-major, and
``text_tokens`` extra tokens placed before or after them (joint attention, e.g.
HunyuanVideo 1.5 puts text after the video). Video queries see the key frames of the
pattern plus every (valid) text token; text queries see everything.

:func:`get_plan` returns an :class:`AttentionPlan` from an LRU cache keyed by
(pattern, geometry), so the per-layer call does no index work. Backends keep their own
device-side state (FlashInfer plans, BlockMasks) keyed by the plan object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import torch

from .pattern import FramePattern, attention_flops, dense_attention_flops

__all__ = ["AttentionPlan", "Geometry", "get_plan"]


@dataclass(frozen=True)
class Geometry:
    """Token geometry of one self-attention call.

    Attributes:
        frames: latent frames (>= 1).
        tokens_per_frame: video tokens per latent frame (>= 1), e.g. 1560 for Wan 480p.
        text_tokens: extra tokens in the same sequence (>= 0).
        text_first: True if the extra tokens come before the video tokens.
        heads: attention heads (for FLOP accounting only).
        head_dim: channels per head (for FLOP accounting only).
    """

    frames: int
    tokens_per_frame: int
    text_tokens: int = 0
    text_first: bool = False
    heads: int = 1
    head_dim: int = 128

    def __post_init__(self) -> None:
        if self.frames < 1 or self.tokens_per_frame < 1 or self.text_tokens < 0:
            raise ValueError(f"invalid geometry {self}")

    @property
    def video_tokens(self) -> int:
        """Number of video tokens."""
        return self.frames * self.tokens_per_frame

    @property
    def seq_len(self) -> int:
        """Total tokens (video + text)."""
        return self.video_tokens + self.text_tokens

    @property
    def video_start(self) -> int:
        """Index of the first video token in the sequence."""
        return self.text_tokens if self.text_first else 0

    @property
    def text_start(self) -> int:
        """Index of the first text token in the sequence."""
        return 0 if self.text_first else self.video_tokens


@dataclass(frozen=True, eq=False)
class AttentionPlan:
    """Index layout of one (pattern, geometry) pair; build through :func:`get_plan`.

    Attributes:
        pattern: the frame-level pattern.
        geometry: the token geometry.
    """

    pattern: FramePattern
    geometry: Geometry
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def dense(self) -> bool:
        """True when the plan equals full attention (backends may call dense SDPA)."""
        return self.pattern.dense

    @property
    def density(self) -> float:
        """Mean per-query frame density of the pattern (0-1]."""
        return self.pattern.density

    @cached_property
    def token_density(self) -> float:
        """Fraction of the (query, key) token pairs computed, text included (0-1]."""
        g = self.geometry
        return self.flops() / dense_attention_flops(g.seq_len, g.heads, g.head_dim)

    def flops(self, batch: int = 1) -> float:
        """Attention FLOPs the plan computes (see :func:`lvsa.pattern.attention_flops`)."""
        g = self.geometry
        return attention_flops(
            self.pattern,
            g.tokens_per_frame,
            g.heads,
            g.head_dim,
            text_tokens=g.text_tokens,
            batch=batch,
        )

    # ----------------------------------------------------------------- portable layout
    def frame_tokens(self, frames: tuple[int, ...]) -> torch.Tensor:
        """Sequence indices (int64, CPU) of the video tokens of ``frames``, in order."""
        g = self.geometry
        c = g.tokens_per_frame
        base = torch.tensor(frames, dtype=torch.int64) * c + g.video_start
        return (base[:, None] + torch.arange(c, dtype=torch.int64)[None, :]).reshape(-1)

    @cached_property
    def text_index(self) -> torch.Tensor:
        """Sequence indices (int64, CPU) of the text tokens."""
        g = self.geometry
        return torch.arange(g.text_start, g.text_start + g.text_tokens, dtype=torch.int64)

    @cached_property
    def gather_groups(self) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
        """``(query_index, video_key_index)`` per group of query frames sharing a key set.

        Indices are int64 CPU tensors into the full sequence; text keys are not included
        (they are appended by the backend, honouring per-sample valid lengths).
        """
        return tuple(
            (self.frame_tokens(qs), self.frame_tokens(ks)) for qs, ks in self.pattern.groups
        )

    # ----------------------------------------------------------------- FlashInfer layout
    @cached_property
    def query_runs(self) -> tuple[tuple[int, int], ...]:
        """``(first_frame, count)`` of each run of consecutive query frames with one key set."""
        runs: list[list[int]] = []
        keys = self.pattern.key_frames
        for f in range(self.pattern.num_frames):
            if runs and keys[f] == keys[f - 1]:
                runs[-1][1] += 1
            else:
                runs.append([f, 1])
        return tuple((a, n) for a, n in runs)

    def _page_ids(self, page: int, text_valid: int) -> tuple[int, list[int], int, int]:
        """``(pages per frame, text page ids, text last-page length, total pages)``."""
        g = self.geometry
        c = g.tokens_per_frame
        if c % page:
            raise ValueError(f"tile {page} must divide tokens_per_frame {c}")
        ppf = c // page
        video_pages = g.frames * ppf
        text_pages = -(-text_valid // page) if text_valid > 0 else 0
        text_last = text_valid - (text_pages - 1) * page if text_pages else page
        text_ids = list(range(video_pages, video_pages + text_pages))
        return ppf, text_ids, text_last, video_pages + text_pages

    def _layout(
        self, requests: list[tuple[int, tuple[int, ...], bool]], page: int, text_valid: int
    ) -> dict[str, torch.Tensor | int]:
        """Paged-KV arrays for ``requests`` = ``(query rows, key frames, with text keys)``,
        queries consecutive in request order."""
        ppf, text_ids, text_last, num_pages = self._page_ids(page, text_valid)
        qo, kv_indptr, indices, last = [0], [0], [], []
        for q_len, frames, with_text in requests:
            pages = [f * ppf + i for f in frames for i in range(ppf)]
            if with_text:
                pages += text_ids
            indices.extend(pages)
            qo.append(qo[-1] + q_len)
            kv_indptr.append(len(indices))
            last.append(text_last if (with_text and text_ids) else page)
        return {
            "qo_indptr": torch.tensor(qo, dtype=torch.int32),
            "kv_indptr": torch.tensor(kv_indptr, dtype=torch.int32),
            "kv_indices": torch.tensor(indices, dtype=torch.int32),
            "last_page_len": torch.tensor(last, dtype=torch.int32),
            "num_pages": num_pages,
            "page": page,
        }

    def _text_requests(self) -> tuple[list, list]:
        """Requests for the text queries before and after the video queries."""
        g = self.geometry
        text = [(g.text_tokens, tuple(range(g.frames)), True)] if g.text_tokens else []
        return (text, []) if g.text_first else ([], text)

    def paged_layout(self, page: int, text_valid: int) -> dict[str, torch.Tensor | int]:
        """Paged-KV layout for FlashInfer's prefill kernel (block = ``page`` tokens).

        Keys are laid out as ``frames * tokens_per_frame / page`` video pages followed by
        ``ceil(text_valid / page)`` text pages. One request per run of consecutive query
        frames that share one key set (:attr:`query_runs`; their key pages) plus one
        request for the text queries (all pages). The last page of a request that ends on
        text holds ``text_valid - (pages - 1) * page`` tokens. Merging such frames into
        one request computes the same pairs with fewer partly filled query tiles (a
        1560-token frame fills 13 tiles of 128 rows, the last one with 24);
        :meth:`aligned_layout` removes the rest of that loss.

        Returns:
            dict with int32 CPU tensors ``qo_indptr``, ``kv_indptr``, ``kv_indices``,
            ``last_page_len`` and ints ``num_pages``, ``page``.
        """
        key = ("paged", page, text_valid)
        if key not in self._cache:
            c = self.geometry.tokens_per_frame
            keys = self.pattern.key_frames
            before, after = self._text_requests()
            runs = [(c * n, keys[a], True) for a, n in self.query_runs]
            self._cache[key] = self._layout(before + runs + after, page, text_valid)
        return self._cache[key]

    def aligned_layout(self, page: int, text_valid: int, q_tile: int) -> dict:
        """Paged-KV layout whose video query requests are whole ``q_tile``-row tiles.

        The kernel computes queries in tiles of ``q_tile`` rows (128 for FlashInfer's fa3
        at head dim 128), so a request of ``n`` rows costs ``ceil(n / q_tile)`` tiles: with
        one request per run of frames, every run ends on a partly filled tile (Wan 480p at
        6x: 5.5 % more tile work than the pattern's pairs). Here the video query rows are
        cut into consecutive ``q_tile``-row tiles instead. A tile inside one frame gets that
        frame's keys. A tile spanning frames gets the keys all of them share (and the text)
        in the *main* layout, and each frame's part of it gets the rest of that frame's
        keys in the *fix* layout, whose queries are the rows ``fix_rows``; merging the two
        partial results by their log-sum-exp gives exact attention (each (query, key) pair
        is computed once, in one of the two). Consecutive tiles with one key set form one
        request. Tiles whose frames share no key (and no text) are split at the frame
        boundaries instead.

        Returns:
            dict with ``main`` and ``fix`` (layouts as :meth:`paged_layout`; ``fix`` is
            ``None`` when nothing needs fixing) and ``fix_rows`` (int64 CPU tensor of
            sequence indices of the fix queries, in request order).
        """
        key = ("aligned", page, text_valid, q_tile)
        if key in self._cache:
            return self._cache[key]
        g = self.geometry
        c = g.tokens_per_frame
        keys = self.pattern.key_frames
        has_text = text_valid > 0
        video: list[list] = []  # [rows, key frames], merged when key frames repeat
        fixes: list[tuple[int, tuple[int, ...], bool]] = []
        fix_rows: list[torch.Tensor] = []

        def emit(rows: int, frames: tuple[int, ...]) -> None:
            if video and video[-1][1] == frames:
                video[-1][0] += rows
            else:
                video.append([rows, frames])

        for lo in range(0, g.video_tokens, q_tile):
            hi = min(g.video_tokens, lo + q_tile)
            spanned = range(lo // c, (hi - 1) // c + 1)
            if len(spanned) == 1:
                emit(hi - lo, keys[spanned[0]])
                continue
            common = set(keys[spanned[0]]).intersection(*(keys[f] for f in spanned[1:]))
            parts = [(f, max(lo, f * c), min(hi, (f + 1) * c)) for f in spanned]
            if not common and not has_text:
                for f, a, b in parts:
                    emit(b - a, keys[f])
                continue
            emit(hi - lo, tuple(sorted(common)))
            for f, a, b in parts:
                rest = tuple(k for k in keys[f] if k not in common)
                if rest:
                    fixes.append((b - a, rest, False))
                    fix_rows.append(torch.arange(a, b, dtype=torch.int64) + g.video_start)
        before, after = self._text_requests()
        main = before + [(n, frames, True) for n, frames in video] + after
        out = {
            "main": self._layout(main, page, text_valid),
            "fix": self._layout(fixes, page, text_valid) if fixes else None,
            "fix_rows": torch.cat(fix_rows) if fix_rows else torch.zeros(0, dtype=torch.int64),
        }
        self._cache[key] = out
        return out

    def bsr(self, block: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """BSR ``(indptr, indices)`` (int32, CPU) over video tokens only, block = ``block``
        tokens (default one latent frame); rows and columns are video blocks."""
        c = self.geometry.tokens_per_frame
        block = c if block is None else block
        if c % block:
            raise ValueError(f"block {block} must divide tokens_per_frame {c}")
        per = c // block
        indptr, indices = [0], []
        for keys in self.pattern.key_frames:
            row = [k * per + i for k in keys for i in range(per)]
            for _ in range(per):
                indices.extend(row)
                indptr.append(len(indices))
        return torch.tensor(indptr, dtype=torch.int32), torch.tensor(indices, dtype=torch.int32)

    # ----------------------------------------------------------------- Flex layout
    @cached_property
    def token_segment(self) -> torch.Tensor:
        """Per-token segment id (int32, CPU): frame index for video, ``frames`` for text."""
        g = self.geometry
        seg = torch.full((g.seq_len,), g.frames, dtype=torch.int32)
        seg[g.video_start : g.video_start + g.video_tokens] = torch.arange(
            g.frames, dtype=torch.int32
        ).repeat_interleave(g.tokens_per_frame)
        return seg

    @cached_property
    def segment_mask(self) -> torch.Tensor:
        """Boolean ``(T + 1, T + 1)`` mask over segments (last segment = text)."""
        t = self.pattern.num_frames
        m = torch.ones(t + 1, t + 1, dtype=torch.bool)
        m[:t, :t] = self.pattern.mask()
        return m

    def token_mask(self, text_valid: int | None = None) -> torch.Tensor:
        """Dense boolean ``(S, S)`` mask equal to the plan (reference and tests only;
        S^2 bytes). Text keys at or beyond ``text_valid`` are masked out."""
        g = self.geometry
        seg = self.token_segment.long()
        m = self.segment_mask[seg[:, None], seg[None, :]]
        if text_valid is not None and text_valid < g.text_tokens:
            m[:, g.text_start + text_valid : g.text_start + g.text_tokens] = False
        return m

    def flex_blocks(
        self, block: int = 128, text_valid: tuple[int, ...] = ()
    ) -> dict[str, torch.Tensor]:
        """Block lists for ``BlockMask.from_kv_blocks`` at ``block``-token granularity.

        A block pair is *full* when every token pair in it is allowed, *partial* when only
        some are (the mask_mod decides per token: frame boundaries inside a block, padding
        beyond the sequence end, invalid text keys). Shapes: ``(B, 1, num_q_blocks)`` counts
        and ``(B, 1, num_q_blocks, num_kv_blocks)`` indices (int32, CPU), one batch row per
        entry of ``text_valid`` (a single row when empty).
        """
        key = ("flex", block, text_valid)
        if key in self._cache:
            return self._cache[key]
        g = self.geometry
        s = g.seq_len
        nb = -(-s // block)
        pad = nb * block - s
        seg = torch.cat([self.token_segment, torch.full((pad,), -1, dtype=torch.int32)])
        seg_blocks = seg.view(nb, block)
        nseg = g.frames + 1
        # presence[b, s]: block b holds tokens of segment s
        presence = torch.zeros(nb, nseg + 1, dtype=torch.bool)
        presence.scatter_(1, (seg_blocks.long() % (nseg + 1)), True)
        pres = presence[:, :nseg].float()
        segm = self.segment_mask.float()
        any_allowed = (pres @ segm @ pres.T) > 0
        # full: all (q seg, k seg) pairs present are allowed, and no padding in either block
        disallowed = (pres @ (1 - segm) @ pres.T) > 0
        has_pad = presence[:, nseg]
        full = any_allowed & ~disallowed & ~has_pad[:, None] & ~has_pad[None, :]
        rows = text_valid if text_valid else (g.text_tokens,)
        kv_num, kv_idx, full_num, full_idx = [], [], [], []
        for valid in rows:
            f = full.clone()
            if valid < g.text_tokens:
                lo = g.text_start + valid
                hi = g.text_start + g.text_tokens
                bad = torch.zeros(nb, dtype=torch.bool)
                bad[lo // block : -(-hi // block)] = True
                f[:, bad] = False
            partial = any_allowed & ~f
            for m, num_l, idx_l in ((partial, kv_num, kv_idx), (f, full_num, full_idx)):
                cnt = m.sum(1).to(torch.int32)
                order = torch.argsort((~m).to(torch.int8), dim=1, stable=True).to(torch.int32)
                num_l.append(cnt)
                idx_l.append(order)
        out = {
            "kv_num_blocks": torch.stack(kv_num)[:, None],
            "kv_indices": torch.stack(kv_idx)[:, None],
            "full_kv_num_blocks": torch.stack(full_num)[:, None],
            "full_kv_indices": torch.stack(full_idx)[:, None],
        }
        self._cache[key] = out
        return out


@lru_cache(maxsize=256)
def get_plan(pattern: FramePattern, geometry: Geometry) -> AttentionPlan:
    """Cached :class:`AttentionPlan` for ``(pattern, geometry)``.

    The pattern already carries the step offset (``step mod kfi``), so the cache key is
    (pattern, geometry, step offset); at most ``kfi`` plans exist per geometry.
    """
    return AttentionPlan(pattern, geometry)
