"""`python -m imagejobs`: the command line (`imagejobs.cli`)."""

from imagejobs.cli import main

raise SystemExit(main())
