"""``python -m gridhub.sample --out DIR [--persons N] [--seed S]``."""

from __future__ import annotations

import sys

from gridhub.sample.generate import main

sys.exit(main())
