"""The GAN task's two engines: TF-GAN's GANEstimator (--engine=estimator) and the Keras ``Dcgan`` (--engine=keras).

Both train the generator and discriminator of estimators/models/dcgan.py with the same losses,
resume from the newest checkpoint in model_dir (a second run with more steps continues), print
kestrel's progress line, stop at a NaN or infinite loss before anything is exported, then export
the generator (gan_export.py) and sample it for the report: the trained generator and the same
architecture untrained, on one fixed noise batch, stacked as ``Result.predictions`` [2, n, H, W, C].
"""

from __future__ import annotations

import collections
import inspect
import math
import os
import time
import types

import numpy as np
import tensorflow as tf
import tensorflow_gan as tfgan
from tensorflow_gan.python import train as tfgan_train

from common.errors import NonFiniteLossError, UsageError
from common.names import EXPORT_DIR, LATEST_EXPORTER
from common.params import TRAIN, VALIDATION
from estimators.engines import Job, Result, check_distribution, conversion
from estimators.engines.hooks import KerasProgress, ProgressHook
from estimators.engines.keras import _Save, _StopAtStep, _StopOnNonFiniteLoss
from estimators.models import dcgan
from estimators.serving import gan_export
from estimators.tasks.gan_report import TRAINED, UNTRAINED
from input_fns import pipeline_ops

NONFINITE_CHECK = "LossTensor is inf or nan"  # the message of TF-GAN's train-op check on a player's loss


def _with_getargspec() -> None:
    """TF-GAN 2.1.0 calls ``inspect.getargspec``, removed in Python 3.11: give its train module (only) one."""
    if hasattr(tfgan_train.inspect, "getargspec"):
        return
    arg_spec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

    def getargspec(fn):
        full = inspect.getfullargspec(fn)
        return arg_spec(full.args, full.varargs, full.varkw, full.defaults)

    shim = types.ModuleType("inspect")
    shim.__dict__.update(inspect.__dict__)
    shim.getargspec = getargspec
    tfgan_train.inspect = shim


def check(engine: str, job: Job) -> None:
    """What neither GAN engine honours, refused before anything is written."""
    check_distribution(engine, job.distribution, job.cluster is not None)
    if job.strategy is not None or job.cluster is not None:
        raise UsageError("strategy", "--task=gan trains in one process on one device; use --strategy=default")
    if job.early_stopping is not None:
        raise UsageError(
            "early_stopping_steps", "not with --task=gan: the players' losses do not measure the samples' quality"
        )
    if job.warm_start_from:
        raise UsageError("warm_start_from", "not with --task=gan: resume in the same --model_dir instead")


def samples(generator: tf.keras.Model, job: Job) -> np.ndarray:
    """[2, n, H, W, C]: the trained generator's and an untrained one's images on the same seeded noise,
    n the report role's size (the report compares them with as many real images)."""
    count = job.inputs.sizes[job.inputs.report_role]
    seed = job.seed if job.seed is not None else 0
    noise = np.random.default_rng(seed).standard_normal((count, dcgan.NOISE_DIMS)).astype(np.float32)
    tf.keras.utils.set_random_seed(seed)
    untrained = dcgan.build_generator(job.spec)
    pair = {TRAINED: generator.predict(noise, verbose=0), UNTRAINED: untrained.predict(noise, verbose=0)}
    return np.stack([pair[TRAINED], pair[UNTRAINED]])


def _result(job: Job, generator: tf.keras.Model, metrics: dict, started: float, rate: float | None) -> Result:
    export_path = None
    if job.serving is not None:
        export_path = gan_export.export_generator(generator, os.path.join(job.model_dir, EXPORT_DIR, LATEST_EXPORTER))
    elapsed = time.perf_counter() - started
    return Result(metrics, dict(metrics), samples(generator, job), export_path, rate, elapsed)


class GanEstimatorEngine:
    """tfgan.estimator.GANEstimator on the Keras players, kestrel's RunConfig and progress hook."""

    name = "estimator"  # what the user chose (the summary's engine); get_engine knows it as gan_estimator

    def check(self, job: Job) -> None:
        check(self.name, job)

    def run(self, job: Job) -> Result:
        _with_getargspec()
        estimator = self._estimator(job)
        progress = ProgressHook(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        started = time.perf_counter()
        try:
            estimator.train(self._input_fn(job, TRAIN, pipeline_ops.FIT), max_steps=job.max_steps, hooks=[progress])
        except tf.compat.v1.train.NanLossDuringTrainingError:
            # The Estimator's NanTensorHook (on the sum of both losses) stopped the step before any save.
            raise NonFiniteLossError(progress.last_step) from None
        except tf.errors.InvalidArgumentError as err:
            # TF-GAN's train ops check each player's loss (CheckNumerics) before the NaN hook sees it.
            if NONFINITE_CHECK not in str(err):
                raise
            raise NonFiniteLossError(progress.last_step) from None
        values = estimator.evaluate(self._input_fn(job, VALIDATION, pipeline_ops.EVALUATE), steps=job.eval_steps)
        metrics = {"loss": float(values["loss"]), "global_step": int(values["global_step"])}
        generator = dcgan.build_generator(job.spec)
        reader = tf.train.load_checkpoint(job.model_dir)
        for weight in generator.weights:
            weight.assign(reader.get_tensor(f"Generator/{weight.name.split(':')[0]}"))
        return _result(job, generator, metrics, started, progress.examples_per_sec)

    @staticmethod
    def _estimator(job: Job) -> tfgan.estimator.GANEstimator:
        players = _PerGraph(job)
        config = conversion.make_run_config(job.model_dir, job.checkpoints, seed=job.seed)
        rate = job.spec.learning_rate
        return tfgan.estimator.GANEstimator(
            generator_fn=lambda noise, mode: players.get(dcgan.GENERATOR)(noise, training=_training(mode)),
            discriminator_fn=lambda images, _, mode: players.get(dcgan.DISCRIMINATOR)(images, training=_training(mode)),
            generator_loss_fn=tfgan.losses.modified_generator_loss,
            discriminator_loss_fn=tfgan.losses.modified_discriminator_loss,
            generator_optimizer=tf.compat.v1.train.AdamOptimizer(rate, beta1=dcgan.BETA_1),
            discriminator_optimizer=tf.compat.v1.train.AdamOptimizer(rate, beta1=dcgan.BETA_1),
            config=config,
        )

    @staticmethod
    def _input_fn(job: Job, role: str, mode: str):
        """The source's batches as GANEstimator reads them: (noise, real images); labels are not used."""
        base = job.input_fn(role, mode)

        def input_fn(params=None, input_context=None):
            def pair(features, _labels):
                images = features[job.spec.input_name]
                return tf.random.normal([tf.shape(images)[0], dcgan.NOISE_DIMS]), images

            return base().map(pair)

        return input_fn


def _training(mode: str) -> bool:
    return mode == tf.estimator.ModeKeys.TRAIN


class _PerGraph:
    """The Keras players, built once per graph the Estimator makes (train, evaluate, predict).

    GANEstimator calls the discriminator twice (real, generated) and expects one set of weights;
    a Keras model does not reuse variables by variable scope, so the same model object is called.
    """

    def __init__(self, job: Job):
        self._spec = job.spec
        self._graph = None
        self._models: dict[str, tf.keras.Model] = {}

    def get(self, which: str) -> tf.keras.Model:
        graph = tf.compat.v1.get_default_graph()
        if graph is not self._graph:
            self._graph, self._models = graph, {}
        if which not in self._models:
            build = dcgan.build_generator if which == dcgan.GENERATOR else dcgan.build_discriminator
            self._models[which] = build(self._spec)
        return self._models[which]


class GanKerasEngine:
    """``Dcgan.fit``: its train_step runs both players; checkpoints of both and both optimisers in model_dir."""

    name = "keras"  # get_engine knows it as gan_keras

    def check(self, job: Job) -> None:
        check(self.name, job)

    def run(self, job: Job) -> Result:
        model = job.build()
        checkpoint = tf.train.Checkpoint(
            generator=model.generator,
            discriminator=model.discriminator,
            optimizer=model.optimizer,
            d_optimizer=model.d_optimizer,
        )
        manager = tf.train.CheckpointManager(checkpoint, job.model_dir, max_to_keep=job.checkpoints.keep_checkpoint_max)
        _restore(checkpoint, manager, job)
        start_step = int(model.optimizer.iterations.numpy())
        chunk = max(1, min(job.checkpoints.save_checkpoints_steps, job.max_steps))
        progress = KerasProgress(job.max_steps, job.batch_size, job.progress_every_steps, job.stream)
        started = time.perf_counter()
        if start_step < job.max_steps:
            model.fit(
                job.input_fn(TRAIN, pipeline_ops.FIT)(),
                steps_per_epoch=chunk,
                epochs=math.ceil(job.max_steps / chunk),
                initial_epoch=start_step // chunk,
                callbacks=[_StopOnNonFiniteLoss(), _StopAtStep(job.max_steps), progress, _Save(manager)],
                verbose=0,
            )
        metrics = {"loss": _validation_loss(model, job), "global_step": int(model.optimizer.iterations.numpy())}
        return _result(job, model.generator, metrics, started, progress.examples_per_sec)


def _restore(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager, job: Job) -> None:
    path = manager.latest_checkpoint
    if path is None:
        return
    if not any(".ATTRIBUTES" in key for key, _ in tf.train.list_variables(path)):
        raise UsageError(
            "model_dir",
            f"'{job.model_dir}' holds a checkpoint written by --engine=estimator; "
            "use another --model_dir or pass --overwrite_model_dir",
        )
    checkpoint.restore(path).assert_existing_objects_matched()


def _validation_loss(model: dcgan.Dcgan, job: Job) -> float:
    """Both players' losses summed over the validation role, as GANEstimator's evaluate reports ``loss``."""
    total, batches = 0.0, 0
    for features, _ in job.input_fn(VALIDATION, pipeline_ops.EVALUATE)().take(job.eval_steps or -1):
        real = features[job.spec.input_name]
        fake = model.generator(tf.random.normal([tf.shape(real)[0], dcgan.NOISE_DIMS]))
        fake_logits = model.discriminator(fake)
        d_loss = dcgan.discriminator_loss(model.discriminator(real), fake_logits)
        total += float(d_loss + dcgan.generator_loss(fake_logits))
        batches += 1
    return total / max(1, batches)
