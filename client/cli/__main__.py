"""``python -m client.cli`` runs the ``clawft-registry`` command."""

import sys

from client.cli.main import main

sys.exit(main())
