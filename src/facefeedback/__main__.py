"""``python -m facefeedback``: the same as the ``facefeedback`` command."""

import sys

from .cli import main

sys.exit(main())
