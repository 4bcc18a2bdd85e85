"""A benchmark's child command flags that carry its Config's own field names, written once."""


def config_flags(cfg: object, *names: str) -> list[str]:
    """``--name=value`` for each named field of ``cfg``, in the order given."""
    return [f"--{name}={getattr(cfg, name)}" for name in names]
