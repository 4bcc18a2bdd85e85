"""The bad records of one input, summarized: counts per kind and a few samples of each."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam


class SummarizeBadRecords(beam.CombineFn):
    """Counts per kind and the first few samples: a bad-records report of bounded size."""

    MAX_SAMPLES = 10  # per kind: a rare kind (one torn file) is named even among many of another

    def create_accumulator(self) -> dict:
        return {"counts": {}, "samples": []}

    def add_input(self, acc: dict, bad: dict) -> dict:
        kind = bad["kind"]
        if acc["counts"].get(kind, 0) < self.MAX_SAMPLES:
            acc["samples"].append(bad)
        acc["counts"][kind] = acc["counts"].get(kind, 0) + 1
        return acc

    def merge_accumulators(self, accs: Iterable[dict]) -> dict:
        merged = self.create_accumulator()
        for acc in accs:
            for kind, n in acc["counts"].items():
                merged["counts"][kind] = merged["counts"].get(kind, 0) + n
            merged["samples"].extend(acc["samples"])
        merged["samples"] = self._trimmed(merged["samples"])
        return merged

    def extract_output(self, acc: dict) -> dict:
        return {"counts": acc["counts"], "samples": self._trimmed(acc["samples"])}

    def _trimmed(self, samples: list[dict]) -> list[dict]:
        """At most MAX_SAMPLES of each kind, in a fixed order (the same report on every run)."""
        kept: dict[str, int] = {}
        out = []
        for sample in sorted(samples, key=lambda b: (b["kind"], b["where"], b["sample"])):
            if kept.get(sample["kind"], 0) < self.MAX_SAMPLES:
                kept[sample["kind"]] = kept.get(sample["kind"], 0) + 1
                out.append(sample)
        return out
