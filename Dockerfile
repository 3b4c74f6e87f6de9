# syntax=docker/dockerfile:1
# ZhiJian serving image. GPU by default: onnxruntime-gpu with CUDA and cuDNN from ONE source, the
# pip wheels that requirements/gpu-serve.txt pins (nvidia-cuda-runtime, nvidia-cublas,
# nvidia-cudnn-cu13 ...), installed on a plain Python base image that carries no CUDA of its own;
# only the host's driver comes in, through the NVIDIA container runtime. No torch: the service reads
# ONNX bundles only. See docs/deploy.md.
#
#   docker build -t zhijian:gpu .                                   # .[serve,ort-gpu]
#   docker build --build-arg ORT=cpu -t zhijian:cpu .                # .[serve,ort-cpu]
#   docker build --build-arg WITH_CORE=1 -t zhijian:train-gpu .     # adds the reuse core (torch)
#   docker run --gpus all --shm-size=2g -p 8000:8000 -e ZHIJIAN_ADMIN_TOKEN=... \
#     -v zhijian-home:/home/zhijian/.zhijian zhijian:gpu
#
# Every install uses a committed lock file as constraints (`make lock` regenerates them). With
# WITH_CORE=1 torch brings its CUDA wheels, the same ones onnxruntime-gpu uses: still one source.
# On Kubernetes KubeRay replaces the command with its own `ray start ...` (through bash); the image
# keeps bash and wget for that and for KubeRay's probes.

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
RUN case "$ORT" in gpu|cpu) ;; *) echo "ORT must be gpu or cpu, not '$ORT'" >&2; exit 2;; esac \
 && python -m venv /opt/zhijian \
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
ARG REVISION=unknown
ARG ORT=gpu
LABEL org.opencontainers.image.title="zhijian" \
      org.opencontainers.image.description="Serve reused pre-trained models (ONNX Runtime, Ray Serve)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.zhijian.onnxruntime="${ORT}"
RUN apt-get update \
 && apt-get install --yes --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 zhijian
COPY --from=build /opt/zhijian /opt/zhijian
ENV PATH=/opt/zhijian/bin:$PATH PYTHONUNBUFFERED=1 ZHIJIAN_HOME=/home/zhijian/.zhijian
USER zhijian
WORKDIR /home/zhijian
EXPOSE 8000
# Ready once every served model's production version answers (503 while loading or warming up).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready', timeout=4)"]
ENTRYPOINT ["zhijian"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
