"""A SavedModel loaded as TF Serving loads it: its graph in one TF1 Session, each signature one callable.

TF Serving runs a SignatureDef with ``Session::Run`` on the SignatureDef's tensor names, whether the
model was exported by TF1 code (an Estimator) or TF2 code (Keras). kestrel does the same instead of
calling ``tf.saved_model.load``'s eager functions: a call feeds numpy arrays in and gets every output
back as numpy in one trip through TensorFlow, giving the GIL up once. An eager call gives it up at the
call and again at each output's ``.numpy()``, and under concurrent requests each take waited behind
the request threads: a batch thread spent two thirds of its time waiting so (docs/serving.md, Batching).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Signature:
    """One SignatureDef of a loaded model, called with numpy inputs by name."""

    inputs: dict  # input name -> tf.TensorSpec, from the SignatureDef
    input_names: tuple[str, ...]  # the order ``run`` takes its feeds in
    output_keys: tuple[str, ...]  # the order ``run`` returns its fetches in
    run: Callable

    def __call__(self, arrays: dict) -> dict[str, np.ndarray]:
        values = self.run(*[arrays[name] for name in self.input_names])
        return dict(zip(self.output_keys, values, strict=True))


@dataclasses.dataclass(frozen=True)
class SessionModel:
    session: tf.compat.v1.Session  # held for as long as a request may use the signatures
    signatures: dict  # name -> Signature
    signature_defs: dict  # name -> SignatureDef proto (the metadata TF Serving returns)


def session_config(intra_op: int, inter_op: int) -> tf.compat.v1.ConfigProto:
    """TF Serving's --tensorflow_{intra,inter}_op_parallelism as a session's thread pools (0: TensorFlow's choice)."""
    return tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra_op, inter_op_parallelism_threads=inter_op)


def load(path: str, config: tf.compat.v1.ConfigProto) -> SessionModel:
    """The SavedModel's serving MetaGraph in a new session, variables restored, with a callable per signature.

    A signature with a sparse or composite input or output (no single tensor name) has no callable, as
    TF Serving's REST API cannot feed one either, and neither has the init op a TF2 export records as a
    signature; their SignatureDefs still show in the metadata.
    """
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph, config=config)
    with graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(session, [tf.saved_model.SERVING], path)
    signatures = {}
    for name, signature_def in meta.signature_def.items():
        if name.startswith("__saved_model_"):  # the init and train ops a TF2 export records: not for requests
            continue
        tensors = [*signature_def.inputs.values(), *signature_def.outputs.values()]
        if not all(info.WhichOneof("encoding") == "name" for info in tensors):
            continue
        input_names = tuple(sorted(signature_def.inputs))
        output_keys = tuple(sorted(signature_def.outputs))
        run = session.make_callable(
            [signature_def.outputs[key].name for key in output_keys],
            [signature_def.inputs[key].name for key in input_names],
        )
        specs = {key: _spec(signature_def.inputs[key]) for key in input_names}
        signatures[name] = Signature(specs, input_names, output_keys, run)
    return SessionModel(session, signatures, dict(meta.signature_def))


def _spec(info) -> tf.TensorSpec:
    return tf.TensorSpec(tf.TensorShape(info.tensor_shape), tf.as_dtype(info.dtype))
