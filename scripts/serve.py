"""Serve exported models over TF Serving's REST API, with a page at / to try an image.

python -m scripts.serve --model_name=digits --model_base_path=serving/digits --rest_api_port=8501

The flags are tensorflow_model_server's own (one model, or --model_config_file for several);
production runs TF Serving itself on the same directory (docs/serving.md).
"""

from __future__ import annotations

import os
import sys

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from common.errors import UsageError
from estimators.serving import model_base
from estimators.serving.model_base import ModelConfig

flags.DEFINE_string("model_name", "default", "Name of the model (as tensorflow_model_server's flag).")
flags.DEFINE_string(
    "model_base_path", None, "Folder of numbered versions <base>/<version>/saved_model.pb; the newest is served."
)
flags.DEFINE_string(
    "model_config_file", None, "A ModelServerConfig text proto: model_config_list { config { name base_path } ... }."
)
flags.DEFINE_integer(
    "rest_api_port", 8501, "HTTP port; 0 picks a free one (printed).", lower_bound=0, upper_bound=65535
)
flags.DEFINE_string(
    "rest_api_host", "127.0.0.1", "Address to listen on (kestrel's flag, not TF Serving's; 0.0.0.0 for every one)."
)
flags.DEFINE_float(
    "file_system_poll_wait_seconds", 1.0, "Seconds between looks at the base paths for new versions.", lower_bound=0.05
)
flags.DEFINE_integer(
    "rest_api_num_threads", 32, "Requests computed at once (as TF Serving's flag).", lower_bound=1, upper_bound=512
)
flags.DEFINE_integer(
    "rest_api_connection_limit",
    1000,
    "Open connections at most; more wait in the listen backlog (kestrel's flag).",
    lower_bound=1,
    upper_bound=20000,
)
flags.DEFINE_integer(
    "rest_api_idle_timeout_seconds",
    30,
    "A connection idle or half-sent this long is closed (kestrel's flag).",
    lower_bound=1,
    upper_bound=3600,
)
flags.DEFINE_integer(
    "rest_api_workers",
    1,
    "Server processes on the one port, each holding every model (kestrel's flag; docs/serving.md, Workers).",
    lower_bound=1,
    upper_bound=64,
)
flags.DEFINE_integer(
    "rest_api_worker_fd",
    None,
    "Set by scripts.serve for its workers: the listening socket they inherit.",
    lower_bound=0,
)
flags.DEFINE_bool("enable_batching", False, "Run concurrent predict requests to one signature as one call.")
flags.DEFINE_string(
    "batching_parameters_file",
    None,
    "A BatchingParameters text proto: max_batch_size { value: 32 } batch_timeout_micros { value: 1000 } ...",
)
flags.DEFINE_integer(
    "tensorflow_intra_op_parallelism",
    0,
    "Threads one TensorFlow op may use; 0 lets TensorFlow choose (as TF Serving's flag).",
    lower_bound=0,
    upper_bound=1024,
)
flags.DEFINE_integer(
    "tensorflow_inter_op_parallelism",
    0,
    "TensorFlow ops run at once; 0 lets TensorFlow choose (as TF Serving's flag).",
    lower_bound=0,
    upper_bound=1024,
)
FLAGS = flags.FLAGS


def listen_host() -> str:
    """--rest_api_host; empty is refused: it would listen on every interface without saying so."""
    host = FLAGS.rest_api_host.strip()
    if not host:
        raise UsageError(
            "rest_api_host",
            "empty would listen on every interface (TF Serving always does); give 0.0.0.0 for that, or an address",
        )
    return host


def batching():
    """The batching parameters when --enable_batching (defaults, or --batching_parameters_file's), else None."""
    from estimators.serving import batching as batching_lib

    if FLAGS.batching_parameters_file and not FLAGS.enable_batching:
        raise UsageError("batching_parameters_file", "has no effect without --enable_batching")
    if not FLAGS.enable_batching:
        return None
    if not FLAGS.batching_parameters_file:
        return batching_lib.BatchingParameters()
    try:
        with open(FLAGS.batching_parameters_file, encoding="utf-8") as f:
            return batching_lib.parse_batching_parameters(f.read())
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError("batching_parameters_file", f"cannot read '{FLAGS.batching_parameters_file}': {err}") from None


def model_configs() -> list[ModelConfig]:
    """The models to serve, from --model_config_file or --model_name/--model_base_path (one of the two)."""
    if FLAGS.model_config_file and FLAGS.model_base_path:
        raise UsageError("model_config_file", "give either it or --model_base_path, not both")
    if FLAGS.model_config_file:
        try:
            with open(FLAGS.model_config_file, encoding="utf-8") as f:
                configs = model_base.parse_model_config(f.read())
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError("model_config_file", f"cannot read '{FLAGS.model_config_file}': {err}") from None
    elif FLAGS.model_base_path:
        configs = [ModelConfig(FLAGS.model_name, FLAGS.model_base_path)]
    else:
        raise UsageError("model_base_path", "name the folder of numbered versions (or give --model_config_file)")
    for config in configs:
        if not os.path.isdir(config.base_path):
            flag = "model_config_file" if FLAGS.model_config_file else "model_base_path"
            raise UsageError(flag, f"no folder '{config.base_path}' (model '{config.name}')")
    return configs


def limits():
    from estimators.serving.http_server import Limits

    return Limits(
        threads=FLAGS.rest_api_num_threads,
        connection_limit=FLAGS.rest_api_connection_limit,
        idle_timeout_s=FLAGS.rest_api_idle_timeout_seconds,
    )


def supervise() -> int:
    """--rest_api_workers > 1: bind the port, run that many workers on it (estimators/serving/workers.py)."""
    from estimators.serving import workers

    host, port = listen_host(), FLAGS.rest_api_port
    try:
        sock = workers.listen_socket(host, port, limits().backlog)
    except OSError as err:
        raise UsageError("rest_api_port", f"cannot listen on {host}:{port}: {err.strerror}") from None
    # The same flags again (absl takes a flag's last value), and TensorFlow's pools left to its choice split
    # between the workers: each would size its pools to every core, and N workers would spin on N times that.
    share = max(1, (os.cpu_count() or 1) // FLAGS.rest_api_workers)
    pools = [
        f"--tensorflow_{kind}_op_parallelism={share}"
        for kind in ("intra", "inter")
        if FLAGS[f"tensorflow_{kind}_op_parallelism"].value == 0
    ]
    worker_args = [*sys.argv[1:], "--rest_api_workers=1", *pools]
    return workers.Supervisor(sock, FLAGS.rest_api_workers, worker_args).run()


def main(argv: list[str]) -> int:
    del argv
    configs = model_configs()
    host = listen_host()
    batching_params = batching()
    if FLAGS.rest_api_workers > 1:
        return supervise()
    # TensorFlow loads only once the flags are good.
    with cli.imports_without_gc():
        from estimators.serving import http_server, server, versions, workers

    threads = versions.set_parallelism(FLAGS.tensorflow_intra_op_parallelism, FLAGS.tensorflow_inter_op_parallelism)
    print(threads, file=sys.stderr, flush=True)
    models = versions.Models(configs)
    try:
        app = server.ServingApp(models, batching_params)
        if FLAGS.rest_api_worker_fd is not None:
            httpd = http_server.Server(app, sock=workers.inherited_socket(FLAGS.rest_api_worker_fd), limits=limits())
            workers.stop_when_orphaned(httpd.stop)
        else:
            httpd = http_server.Server(app, host, FLAGS.rest_api_port, limits())
    except OSError as err:
        where = f"{host}:{FLAGS.rest_api_port}"
        raise UsageError("rest_api_port", f"cannot listen on {where}: {err.strerror}") from None
    models.refresh()
    models.poll(FLAGS.file_system_poll_wait_seconds)
    bound_host, port = httpd.address
    # TF Serving's own start-up line, which scripts and tests read the port from.
    print(f"Exporting HTTP/REST API at:{bound_host}:{port} ...", flush=True)
    try:
        httpd.serve()
    finally:
        models.stop()
    return 0


if __name__ == "__main__":
    cli.run(main)
