"""Data validation with TFDV on Beam: statistics, curated schema, anomalies, drift, skew, and the gate."""

import contextlib
import io

# TFDV writes a three-line note to stderr at import when IPython (its notebook display) is
# missing; kestrel writes its own HTML, and a usage error must stay one line on stderr.
with contextlib.redirect_stderr(io.StringIO()):
    import tensorflow_data_validation  # noqa: F401
