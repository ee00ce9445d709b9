# paperbeam worker image: Beam's Python SDK worker with tesseract, its
# language data and paperbeam installed.
#
#   docker build -t paperbeam-worker:0.1.0 .
#
# * Flink / portable runners: the SDK worker pool of deploy/flink
#     docker run -p 50000:50000 paperbeam-worker:0.1.0 --worker_pool
#   or --environment_type=DOCKER --sdk_container_image=paperbeam-worker:0.1.0
# * Dataflow: push it and pass --sdk_container_image=REGISTRY/paperbeam-worker:0.1.0
# * The CLI, in the same image:
#     docker run -v "$PWD:/data" paperbeam-worker:0.1.0 paperbeam run --input /data/in --output /data/out
#
# The Beam and Python versions must be those of setup.py and of the machine
# that submits the job (tests/test_packaging.py checks both).
FROM apache/beam_python3.11_sdk:2.77.0

# Tesseract language packs to install, Debian names without the prefix:
# docker build --build-arg TESSERACT_LANGS="eng osd deu fra" .
ARG TESSERACT_LANGS="eng osd"

ENV DEBIAN_FRONTEND=noninteractive \
    OMP_THREAD_LIMIT=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian's tesseract packages follow the base image's release; pinning their
# exact versions would break the build at every point release.
# hadolint ignore=DL3008
RUN read -r -a langs <<< "${TESSERACT_LANGS}" \
 && apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr "${langs[@]/#/tesseract-ocr-}" \
 && rm -rf /var/lib/apt/lists/* \
 && tesseract --list-langs

WORKDIR /opt/paperbeam
COPY setup.py README.md ./
COPY paperbeam ./paperbeam
# apache-beam is pinned in setup.py to the base image's version, so pip keeps the SDK harness as it is;
# the package installed is this checkout, whose own requirements setup.py bounds.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[rapidocr]" \
 && python -c "import apache_beam, paperbeam; print('beam', apache_beam.__version__, 'paperbeam', paperbeam.__version__)"

# Beam runners start the container with boot flags (--id=..., --worker_pool):
# those go to Beam's boot. Anything else is a command, e.g. `paperbeam run ...`.
# (The single quotes are meant: the script expands "$@" when it runs, not now.)
# hadolint ignore=SC2016
RUN printf '%s\n' '#!/bin/sh' \
      'case "${1:-}" in' \
      '  ""|-*) exec /opt/apache/beam/boot "$@" ;;' \
      '  *) exec "$@" ;;' \
      'esac' > /usr/local/bin/paperbeam-entrypoint \
 && chmod 755 /usr/local/bin/paperbeam-entrypoint

WORKDIR /
ENTRYPOINT ["/usr/local/bin/paperbeam-entrypoint"]
