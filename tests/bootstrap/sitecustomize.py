"""Test and benchmark bootstrap: Python imports this module at start-up when
this folder is on ``PYTHONPATH`` (``tests/conftest.py`` puts it there for the
subprocesses of the tests: the CLI, Ray workers, the packaging check).

It installs :mod:`torchvision_compat`, the import hook that lets
``torchvision`` (and timm, open_clip, transformers, diffusers on top of it)
import beside a torch build its compiled extension does not fit. The
libraries never install it themselves: a matching torch / torchvision pair
needs nothing; anyone else opts in with ``PYTHONPATH=tests/bootstrap``.
"""

import torchvision_compat

torchvision_compat.install()
