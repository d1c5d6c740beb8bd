import sys

from ppdesk.cli import main

sys.exit(main())
