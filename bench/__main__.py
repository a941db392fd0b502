"""Run every benchmark (or the ones named): python -m bench [driver] [cop] [metrics] ...

``python -m bench load_test [--minutes M] [--viewers N]`` runs the load test (bench/load_test.py,
10 minutes by default); it is not one of the benchmarks run by default."""
import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("load_test", "load-test"):
        from bench import load_test
        load_test.main(argv[1:])
        return 0
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [a if a.startswith("bench_") else f"bench_{a}" for a in argv]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in wanted or names:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
