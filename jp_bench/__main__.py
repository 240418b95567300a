import sys

from jp_bench.cli import main

sys.exit(main())
