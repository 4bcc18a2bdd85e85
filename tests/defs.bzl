"""kestrel_py_test: a py_test that runs one pytest file through tests/pytest_main.py."""

def kestrel_py_test(name, deps = [], data = [], size = "medium", **kwargs):
    src = name + ".py"
    native.py_test(
        name = name,
        srcs = [src, "pytest_main.py"],
        main = "pytest_main.py",
        args = ["$(location %s)" % src],
        deps = deps + [":conftest"],
        data = data,
        size = size,
        **kwargs
    )
