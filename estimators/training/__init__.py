"""How a model learns, whatever builds it: optimizers, learning-rate schedules and losses from their records."""
