"""What every flag group shares: turning flags into a record, and the groups a training script takes.

In the style of tensorflow/models ``official/utils/flags``: each group module
(``_data``, ``_model``, ...) defines its flags once with their validators and
has a getter returning its record from ``common.params``. Nothing here imports
TensorFlow, so ``--help`` and the launchers start in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from absl import flags

FLAGS = flags.FLAGS


def flag_values(cls, renamed: Mapping[str, str] | None = None, **given) -> dict:
    """The fields of dataclass ``cls``, each read from the flag of the same name (or ``renamed[field]``)
    where that flag is defined, with ``given`` winning."""
    renamed = renamed or {}
    values = dict(given)
    for field in dataclasses.fields(cls):
        flag = renamed.get(field.name, field.name)
        if field.name not in values and flag in FLAGS:
            values[field.name] = FLAGS[flag].value
    return values


def record_from_flags(cls, renamed: Mapping[str, str] | None = None, **given):
    """``cls`` built by ``flag_values``."""
    return cls(**flag_values(cls, renamed, **given))
