"""Orchestration: the run config, the validate-train-evaluate-export flow, retraining."""
