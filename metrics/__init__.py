"""The science of VQeval: pure functions over frames and frame features.

No I/O, no CLI, no printing. Every function states units, ranges and
direction ("higher is better") in its docstring.

Modules: ``features`` (frame embedding backbones), ``repetition`` (loops,
ping-pong, revisits), ``progression`` (new content over time), ``stats``
(AUROC and friends); ``motion``, ``consistency``, ``imaging`` and ``vbench``
hold the motion and VBench-style families.
"""
