"""The benchmark suite: each module measures one thing; ``suite`` runs them all, each in its own process."""
