"""scripts.predict --texts on a language model's export: a continuation of every line of a text file.

Each line of the file (blank ones too: an empty prompt starts a paragraph) is
a prompt; the export's sampling loop draws ``length`` characters after it at
``temperature``. The file is read as the corpus source reads text: an empty
or non-UTF-8 file is one usage error naming it (and the line).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import tensorflow as tf

from common.errors import UsageError
from estimators.serving.predict import FORMATS, export_signature
from estimators.tasks.language_model_export import (
    CONTINUATION_OUTPUT,
    LENGTH_INPUT,
    PROMPT_INPUT,
    TEMPERATURE_INPUT,
)
from input_fns.text_files import read_text

BATCH = 64  # prompts per call of the export


@dataclasses.dataclass(frozen=True)
class Continuation:
    line: int
    prompt: str
    continuation: str


def takes_prompts(export_dir: str) -> bool:
    """Whether the export's serving signature takes a prompt (a language model's)."""
    return PROMPT_INPUT in export_signature(export_dir).structured_input_signature[1]


def predict_texts(export_dir: str, path: str, length: int, temperature: float) -> list[Continuation]:
    """A continuation of every line of ``path``."""
    signature = export_signature(export_dir)
    if PROMPT_INPUT not in signature.structured_input_signature[1]:
        raise UsageError("texts", f"'{export_dir}' takes no prompt: --texts continues text with a language model's")
    prompts = read_text(path, "texts").splitlines()
    results: list[Continuation] = []
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start : start + BATCH]
        out = signature(
            **{
                PROMPT_INPUT: tf.constant(batch),
                LENGTH_INPUT: tf.fill([len(batch)], length),
                TEMPERATURE_INPUT: tf.fill([len(batch)], float(temperature)),
            }
        )[CONTINUATION_OUTPUT].numpy()
        results += [
            Continuation(start + i + 1, prompt, text.decode("utf-8"))
            for i, (prompt, text) in enumerate(zip(batch, out, strict=True))
        ]
    return results


def format_texts(continuations: list[Continuation], fmt: str) -> str:
    """table: ``line  prompt -> continuation`` (quoted, so whitespace shows); json: a list of records."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(c) for c in continuations], indent=2, ensure_ascii=False)
    if fmt not in FORMATS:
        raise UsageError("format", f"unknown format '{fmt}'; allowed: {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("line", "prompt", "continuation"))
        writer.writerows((c.line, c.prompt, c.continuation) for c in continuations)
        return buffer.getvalue().rstrip("\n")
    return "\n".join(f"{c.line}  {c.prompt!r} -> {c.continuation!r}" for c in continuations)
