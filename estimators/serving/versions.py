"""The versions of each served model: which one serves, and what happened to every version seen.

TF Serving's default policy serves the newest version under the base path. kestrel keeps the
previous good version serving when the newest fails to load (at start-up or after a push), where TF
Serving would serve nothing: the broken version is logged once with its reason, shown in the
model's status (state END with its error), and not tried again until its folder changes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading

from estimators.serving import model_base, session_model
from estimators.serving.model_base import ModelConfig
from estimators.serving.rest_errors import invalid, not_found


@dataclasses.dataclass
class LoadedVersion:
    version: int
    path: str
    model: session_model.SessionModel
    labels: list[str] = dataclasses.field(default_factory=list)  # assets.extra/labels.txt, for the page

    @property
    def signatures(self) -> dict:
        """Name -> session_model.Signature, for every signature a request can call."""
        return self.model.signatures

    @property
    def signature_defs(self) -> dict:
        """Name -> SignatureDef proto (the metadata TF Serving returns)."""
        return self.model.signature_defs

    def input_specs(self, name: str) -> dict:
        """The signature's inputs (name -> tf.TensorSpec)."""
        return self.signatures[name].inputs

    def call(self, name: str, arrays: dict) -> dict:
        """Run a signature on numpy inputs by name; its outputs as numpy arrays."""
        return self.signatures[name](arrays)


@dataclasses.dataclass
class VersionState:
    """One row of TF Serving's model status: state and, for a version that failed, its error."""

    state: str  # LOADING, AVAILABLE or END
    error_code: str = "OK"
    error_message: str = ""

    def as_json(self, version: int) -> dict:
        return {
            "version": str(version),
            "state": self.state,
            "status": {"error_code": self.error_code, "error_message": self.error_message},
        }


def _labels(path: str) -> list[str]:
    try:
        with open(os.path.join(path, "assets.extra", "labels.txt"), encoding="utf-8") as f:
            return [line.strip() for line in f]
    except (OSError, UnicodeDecodeError):
        return []  # a regression model has none; the page then shows class ids


_session_config = session_model.session_config(0, 0)  # every session shares the pools the first one sets


def set_parallelism(intra_op: int, inter_op: int) -> str:
    """TensorFlow's thread pools for every model this process serves (0 keeps TensorFlow's choice); the
    line that says what TensorFlow now holds.

    Many small concurrent requests do better with one thread an op: each request then runs on its own
    core instead of every request paying to split tiny ops across all of them (docs/serving.md).
    """
    global _session_config
    _session_config = session_model.session_config(intra_op, inter_op)
    held = (_session_config.intra_op_parallelism_threads, _session_config.inter_op_parallelism_threads)
    return "TensorFlow threads: intra-op {}, inter-op {}".format(*(n or "TensorFlow's choice" for n in held))


def load_version(path: str, version: int) -> LoadedVersion:
    return LoadedVersion(version, path, session_model.load(path, _session_config), _labels(path))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stamp(path: str) -> float:
    """When the version's folder last changed: a re-pushed folder is tried again, an unchanged one not."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class ServedModel:
    """One model name: the version it serves now (swapped whole), and every version's state."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.current: LoadedVersion | None = None
        self.states: dict[int, VersionState] = {}
        self._failed: dict[int, float] = {}  # version -> folder stamp when it failed
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Serve the newest version that loads; a broken one is logged once and the older good one kept."""
        with self._lock:
            available = model_base.versions(self.config.base_path)
            for version in reversed(available):
                path = os.path.join(self.config.base_path, str(version))
                if self._failed.get(version) == _stamp(path):
                    continue  # failed before and unchanged since
                if self.current is not None and self.current.version == version:
                    return
                if self._load(version, path):
                    return
            if self.current is not None and self.current.version not in available:
                self._retire(f"no version under {self.config.base_path} loads; serving none")

    def _load(self, version: int, path: str) -> bool:
        self.states[version] = VersionState("LOADING")
        try:
            loaded = load_version(path, version)
        except Exception as err:  # a half-written or broken SavedModel must not stop the server
            reason = _first_line(err)
            self._failed[version] = _stamp(path)
            self.states[version] = VersionState("END", "UNKNOWN", reason)
            kept = f"kept version {self.current.version}" if self.current else "no older version served yet"
            _log(f"{self.config.name}: version {version} failed to load ({reason}); {kept}")
            return False
        self._failed.pop(version, None)
        old, self.current = self.current, loaded
        if old is not None:
            self.states[old.version] = VersionState("END")
        self.states[version] = VersionState("AVAILABLE")
        _log(f"{self.config.name}: serving version {version}")
        return True

    def _retire(self, message: str) -> None:
        self.states[self.current.version] = VersionState("END")
        self.current = None
        _log(f"{self.config.name}: {message}")

    def serving(self, version: int | None) -> LoadedVersion:
        """The loaded version a request asks for (the served one if none), or TF Serving's 404."""
        current = self.current
        if current is None or (version is not None and version != current.version):
            name = self.config.name
            spec = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise not_found(f"Servable not found for request: {spec}")
        return current

    def label_version(self, label: str) -> int:
        version = self.config.version_labels.get(label)
        if version is None:
            raise invalid(f"Unrecognized servable version label: {label}")
        return version

    def status(self, version: int | None) -> dict:
        """TF Serving's GetModelStatus: every version seen, newest first, or the one asked for."""
        states = dict(self.states)
        name = self.config.name
        if version is not None:
            if version not in states:
                raise not_found(f"Could not find version {version} of model {name}")
            return {"model_version_status": [states[version].as_json(version)]}
        if not states:
            raise not_found(f"Could not find any versions of model {name}")
        return {"model_version_status": [states[v].as_json(v) for v in sorted(states, reverse=True)]}


class Models:
    """The served models by name, and the poller that keeps them current."""

    def __init__(self, configs: list[ModelConfig]):
        self.by_name = {c.name: ServedModel(c) for c in configs}
        self._stop = threading.Event()

    def refresh(self) -> None:
        for model in self.by_name.values():
            model.refresh()

    def poll(self, every_seconds: float) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(every_seconds):
                self.refresh()

        thread = threading.Thread(target=loop, name="model-base-poller", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def get(self, name: str) -> ServedModel | None:
        return self.by_name.get(name)
