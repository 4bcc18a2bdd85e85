"""Import TFDV once with its import-time note silenced.

TFDV writes a three-line note to stderr at import when IPython (its notebook
display) is missing; kestrel writes its own HTML, and a usage error must stay
one line on stderr. Every module that uses TFDV imports this first, so the
package itself (and pipeline/validation/config.py, which the flag layer reads)
loads no TensorFlow.
"""

import contextlib
import io

with contextlib.redirect_stderr(io.StringIO()):
    import tensorflow_data_validation  # noqa: F401
