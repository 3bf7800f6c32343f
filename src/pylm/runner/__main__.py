"""``python -m pylm.runner``: the same as ``pylm-runner``."""

from .cli import main

raise SystemExit(main())
