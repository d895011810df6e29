"""``python -m tinynet ...`` is the ``tinynet`` command."""
import sys

from tinynet.cli.main import main

sys.exit(main())
