"""Push: the receiver (`serve`) that commits verified WHOOP webhooks and Withings notifications."""

DEFAULT_PORT = 8788
# Behind a tunnel or reverse proxy on this machine every request comes from 127.0.0.1: the
# proxy's X-Forwarded-For names the client, trusted from these addresses only (uvicorn).
DEFAULT_TRUSTED_PROXIES = "127.0.0.1,::1"
