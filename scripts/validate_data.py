"""Validate a span of data with TFDV on Beam: statistics, curated schema, anomalies, drift, skew.

python -m scripts.validate_data --data='/data/span-3/*.tfrecord' --artifacts_dir=/data/validation
python -m scripts.validate_data --data=/data/images --artifacts_dir=/data/validation -- \
    --runner=DataflowRunner --project=my-project --region=europe-west1 --temp_location=gs://bucket/tmp

Beam pipeline options go after ``--`` (or in --beam_args). Exit status: 0 clean (or let through by
--allow_anomalies, which result.json records), 3 anomalies/drift/skew/bad records found, 2 bad
flags or inputs (a glob matching nothing, zero rows), 1 the Beam job failed. docs/validation.md.
"""

from __future__ import annotations

import sys

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from scripts.flags import _validation

_validation.define_validation_flags()
flags.adopt_module_key_flags(_validation)


def split_beam_argv(argv: list[str]) -> tuple[list[str], tuple[str, ...]]:
    """Everything after the first ``--`` is for Beam, untouched."""
    if "--" not in argv:
        return argv, ()
    cut = argv.index("--")
    return argv[:cut], tuple(argv[cut + 1 :])


_OWN_ARGV, _BEAM_ARGV = split_beam_argv(sys.argv)


def main(argv: list[str]) -> int:
    del argv
    with cli.imports_without_gc():
        from pipeline.validation import gate

    result = gate.run_gate(_validation.validation_config_from_flags(_BEAM_ARGV))
    print(result.summary, flush=True)
    print(f"report: {result.paths['report_html']}", flush=True)
    if not result.passed:
        print(f"exit status {gate.DATA_REJECTED_EXIT}: data refused (--allow_anomalies lets it through)", flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.argv = _OWN_ARGV
    cli.run(main)
