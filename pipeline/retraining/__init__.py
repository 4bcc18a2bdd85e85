"""Scheduled retraining: spans -> validate -> train -> evaluate -> bless -> push, with a run registry."""
