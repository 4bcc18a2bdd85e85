"""Command-line flags, one module per group (tensorflow/models ``official/utils/flags`` style).

``_data``, ``_model``, ``_training``, ``_distribution``, ``_output``, ``_gate``,
``_validation``, ``_retrain`` and ``_cloud`` each define their flags once,
validate them beside their definitions and return their record
(common/params.py and the pipeline configs); ``train`` composes the training
groups into ``Hparams``. No module here imports TensorFlow.
"""
