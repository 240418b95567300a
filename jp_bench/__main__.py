from jp_bench.console import run

run()
