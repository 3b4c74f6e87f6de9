# syntax=docker/dockerfile:1
# ZhiJian serving image. GPU by default: onnxruntime-gpu with CUDA and cuDNN from their pip wheels
# (the one source of CUDA; the base image carries none, the host driver comes from the NVIDIA
# container runtime). No torch: the service reads ONNX bundles only.
#
#   docker build -t zhijian:gpu .
#   docker build --build-arg ORT=cpu -t zhijian:cpu .
#   docker build --build-arg WITH_CORE=1 -t zhijian:train-gpu .   # adds the reuse core (torch)
#
# Every install uses a committed lock file as constraints (make lock regenerates them).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG ORT=gpu
ARG WITH_CORE=0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/ requirements/
COPY zhijian_core/ zhijian_core/
COPY services/ services/
RUN python -m venv /opt/zhijian \
 && /opt/zhijian/bin/pip install "pip==26.3" \
 && if [ "$WITH_CORE" = "1" ]; then \
        lock=requirements/gpu-train.txt; [ "$ORT" = "cpu" ] && lock=requirements/cpu.txt; \
        /opt/zhijian/bin/pip install -c "$lock" ".[serve,train,assets,ort-${ORT}]"; \
    else \
        /opt/zhijian/bin/pip install -c requirements/${ORT}-serve.txt ".[serve,ort-${ORT}]"; \
    fi \
 && /opt/zhijian/bin/python -m services.environment

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="zhijian" \
      org.opencontainers.image.description="Serve reused pre-trained models (ONNX Runtime, Ray Serve)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --create-home --uid 1000 zhijian
COPY --from=build /opt/zhijian /opt/zhijian
ENV PATH=/opt/zhijian/bin:$PATH PYTHONUNBUFFERED=1 ZHIJIAN_HOME=/home/zhijian/.zhijian
USER zhijian
WORKDIR /home/zhijian
ENTRYPOINT ["zhijian"]
CMD ["doctor"]
