"""`python -m imagejobs_client`: the `imagejobs` command."""

from imagejobs_client.cli import main

raise SystemExit(main())
