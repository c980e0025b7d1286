import sys

from irforge.cli.main import main

sys.exit(main())
