import sys

from vidrecall.cli import main

sys.exit(main())
