# paperbeam worker image: a Beam Python SDK worker (usable as
# --sdk_container_image on Flink and Dataflow) with tesseract and paperbeam
# installed. Its entry point is Beam's worker boot; run the CLI with
#   docker run --entrypoint paperbeam IMAGE run --input ... --output ...
# Keep the Beam version in step with setup.py (tests/test_packaging.py checks it).
FROM apache/beam_python3.11_sdk:2.77.0

ENV DEBIAN_FRONTEND=noninteractive \
    OMP_THREAD_LIMIT=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/paperbeam
COPY setup.py README.md ./
COPY paperbeam ./paperbeam
RUN pip install --no-cache-dir ".[rapidocr]"

# The base image's ENTRYPOINT (/opt/apache/beam/boot) starts the SDK harness.
