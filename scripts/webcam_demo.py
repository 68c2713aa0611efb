"""Live frown meter: ``python scripts/webcam_demo.py [--source 0|PATH] [--headless] ...``.

The same as ``facefeedback webcam``; see docs/demo.md.
"""

import sys

from facefeedback.cli import main

if __name__ == "__main__":
    sys.exit(main(["webcam", *sys.argv[1:]]))
