"""kestrel_py_test: a py_test that runs one pytest file through tests/pytest_main.py."""

# pytest_main.py imports pytest; conftest.py is loaded by pytest for every test.
_IMPLICIT_DEPS = [":conftest", "//third_party:expect_pip_packages_installed"]

def kestrel_py_test(name, deps = [], data = [], size = "medium", **kwargs):
    src = name + ".py"
    native.py_test(
        name = name,
        srcs = [src, "pytest_main.py"],
        main = "pytest_main.py",
        args = ["$(location %s)" % src],
        deps = deps + [d for d in _IMPLICIT_DEPS if d not in deps],
        data = data,
        size = size,
        **kwargs
    )
