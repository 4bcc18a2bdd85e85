"""kestrel_py_test: a py_test that runs one pytest file through tests/pytest_main.py."""

# pytest_main.py imports pytest; conftest.py is loaded by pytest for every test.
_IMPLICIT_DEPS = ["//tests:conftest", "//third_party:expect_pip_packages_installed"]
_MAIN = "//tests:pytest_main.py"

def kestrel_py_test(name, deps = [], data = [], size = "medium", **kwargs):
    """The test file is <name>.py in the calling BUILD file's folder (tests/, tests/e2e, tests/unit/...)."""
    src = name + ".py"
    native.py_test(
        name = name,
        srcs = [src, _MAIN],
        main = _MAIN,
        args = ["$(location %s)" % src],
        deps = deps + [d for d in _IMPLICIT_DEPS if d not in deps],
        data = data,
        size = size,
        **kwargs
    )
