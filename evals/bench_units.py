"""Unit splitting of one long unpunctuated turn: time and peak memory against its length.

Splitting was quadratic (each clause cut recounted the rest of the turn: 2.1 s at 20k words, 8.0 s
at 40k, 35 s at 80k); it must be linear, so the time per word printed here should stay flat as the
turn grows. Ratios are against the smallest size, measured in the same run.

    python -m evals.bench_units                  # 20k, 40k, 80k and 1M words (about 10 s)
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

from grader.ingest.units import split_units


def measure(words: int) -> tuple[float, float, int]:
    text = " ".join(["word"] * words)
    tracemalloc.start()
    started = time.perf_counter()
    units = split_units(1, text)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 1e6, len(units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 40_000, 80_000, 1_000_000])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}\n")
    print("| words | units | seconds | µs per word | ratio per word | peak MB (tracemalloc) | text MB |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for words in args.sizes:
        seconds, peak, units = measure(words)
        per_word = seconds / words * 1e6
        base = base or per_word
        print(f"| {words:,} | {units:,} | {seconds:.2f} | {per_word:.1f} | {per_word / base:.2f} | {peak:.0f} | "
              f"{words * 5 / 1e6:.1f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
