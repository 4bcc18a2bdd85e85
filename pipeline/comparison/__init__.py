"""Backbone comparison (scripts/compare_backbones.py): one frozen-base head per backbone, ranked.

``config``: what the comparison runs (the backbones, the shared Hparams) and its fingerprint;
``results``: the per-backbone figures and the resumable results file; ``child``: one backbone's
run through ``pipeline.train.run`` in its own process; ``runner``: the checks before anything
runs, the loop over backbones and the fine-tuning of the best; ``outputs``: the ranked table
(text, CSV, JSON) and the PNG.
"""
