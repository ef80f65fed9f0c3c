"""`python -m harness` is the `loadgate` command."""

import sys

from harness.cli import main

sys.exit(main())
