"""``python -m pylm.registry`` is ``pylm-registry``."""

from pylm.registry.cli import main

raise SystemExit(main())
