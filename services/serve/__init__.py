"""The Ray Serve application: the gateway ingress and one model-host deployment per served model,
all declared by :func:`services.serve.builder.build_app` from typed arguments."""
