"""What every flag group shares: turning flags into a record, and the groups a training script takes.

In the style of tensorflow/models ``official/utils/flags``: each group module
(``_data``, ``_model``, ...) defines its flags once with their validators and
has a getter returning its record from ``common.params``. Nothing here imports
TensorFlow, so ``--help`` and the launchers start in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from absl import flags

FLAGS = flags.FLAGS


def define_flags(
    module: str,
    define: Callable[..., object],
    defaults: object,
    helps: Mapping[str, str],
    renamed: Mapping[str, str] | None = None,
    **keywords: object,
) -> None:
    """Flags of one kind from one table: ``define`` (absl's DEFINE_* of the kind, with ``keywords``: its bounds)
    of each flag in ``helps`` (flag -> help), in order, its default the field of record ``defaults`` of the
    flag's name or the field that ``renamed`` (field -> flag, as for ``record_from_flags``) maps to it.

    The flags are ``module``'s own: absl ties key flags (``--helpshort``) and the help's grouping to the module
    it is told, which is the group's and not this one.
    """
    field_of = {flag: field for field, flag in (renamed or {}).items()}
    for name, help_text in helps.items():
        define(name, getattr(defaults, field_of.get(name, name)), help_text, module_name=module, **keywords)


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
