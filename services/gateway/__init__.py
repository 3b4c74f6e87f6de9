"""The gateway: the HTTP ingress (FastAPI) over model hosts reached through async host calls."""

from services.gateway.app import create_app
from services.gateway.config import ADMIN_TOKEN_ENV, GatewayConfig
from services.gateway.fleet import Fleet
from services.gateway.inference import Gateway
from services.gateway.middleware import MODEL_VERSION, REQUEST_ID

__all__ = ["ADMIN_TOKEN_ENV", "MODEL_VERSION", "REQUEST_ID", "Fleet", "Gateway", "GatewayConfig",
           "create_app"]
