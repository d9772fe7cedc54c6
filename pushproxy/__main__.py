"""`python -m pushproxy`."""

import sys

from pushproxy.cli import main

sys.exit(main())
