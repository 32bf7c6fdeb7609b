"""Splitter latency: is ``preview`` fast enough to run on every keystroke of the console?

Times ``atexpert.domain.splitter.preview`` (median of several runs) on typical answers in French
and English, with numbering and a signature, and on adversarial inputs: a 10,000-character
word, a dotted run that makes twitter-text's own URL regex quadratic, emoji sequences.

    .venv/bin/python bench/bench_splitter.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from atexpert.domain.splitter import Numbering, SplitOptions, preview

FRENCH = (
    "Bonne question\u00a0! L'A350 utilise 53\u202f% de matériaux composites. Pourquoi\u00a0? "
    "Parce qu'ils sont plus légers que l'aluminium : voir https://www.airbus.com/fr/a350 "
    "et #AskAirbus. Merci @AirbusExpert 🛩️. "
)
ENGLISH = (
    "Great question! The wing is made of carbon fibre reinforced polymer, which saves "
    "weight and fuel. More at https://www.airbus.com/en/products-services/commercial-aircraft "
    "#AskAirbus 👨\u200d🔧 "
)
CASES = {
    "fr 1 post": FRENCH,
    "fr 5 posts": FRENCH * 6,
    "en 20 posts": ENGLISH * 30,
    "giant word 10k": "a" * 9_999,
    "dotted run 10k": "a." * 4_999,
    "emoji ZWJ 10k": "👨\u200d👩\u200d👧" * 1_999,
    "CJK 10k": "日本語のテキスト" * 1_249,
}
OPTIONS = SplitOptions(numbering=Numbering.SUFFIX, signature="— Marie, Airbus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':<16} {'chars':>6} {'posts':>6} {'median ms':>10}")
    for name, text in CASES.items():
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            parts = preview(text, OPTIONS)
            timings.append(time.perf_counter() - start)
        median = statistics.median(timings) * 1000
        print(f"{name:<16} {len(text):>6} {len(parts):>6} {median:>10.1f}")


if __name__ == "__main__":
    main()
