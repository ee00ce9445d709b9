"""A third-party paperbeam plugin: a sink registered by entry point.

    pip install ./examples/paperbeam-example-plugin
    paperbeam plugins                       # lists totals-tsv with this package's version
    paperbeam run -i in/ -o out/ --sink totals-tsv
"""

from setuptools import find_packages, setup

setup(
    name="paperbeam-example-plugin",
    version="0.3.1",
    description="Example paperbeam plugin: a sink writing one tab-separated line per document (id, vendor, date, total).",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["paperbeam_example_plugin", "paperbeam_example_plugin.*"]),
    install_requires=["paperbeam"],
    entry_points={
        "paperbeam.sinks": ["totals-tsv=paperbeam_example_plugin.sink:TotalsTsvSink"],
    },
)
