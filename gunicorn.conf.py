"""Production server settings: `gunicorn -c gunicorn.conf.py` (see README, "Production")."""

import os

wsgi_app = "backend.api_server:create_app()"
bind = f"{os.environ.get('API_HOST', '127.0.0.1')}:{os.environ.get('API_PORT', '5000')}"
# Threads serve concurrent requests in one process; slow upstream calls wait on I/O, not CPU. Echo's worker is
# gunicorn's gthread worker answering malformed HTTP in Echo's JSON error shape (see backend/server.py).
worker_class = "backend.server.EchoWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Synthesis streams can take a while; the upstream read timeout bounds each wait.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
accesslog = None  # Echo logs one line per request itself
# No control socket: gunicorn 27 would open one shared by every server of the user ($HOME/.gunicorn).
control_socket_disable = True


def on_starting(server):
    """The embedded store is for one process: several workers need MongoDB."""
    from backend.config import load_settings

    if workers > 1 and not load_settings().mongodb_uri:
        raise SystemExit(
            "WEB_CONCURRENCY > 1 needs MONGODB_URI: the embedded store serves one process. "
            "Use threads (GUNICORN_THREADS) on one worker, or configure MongoDB."
        )


def post_worker_init(worker):
    """Load the local voice engine's model before the first request needs it."""
    from backend.api_server import warm_up

    warm_up(worker.wsgi)


def worker_exit(server, worker):
    """Close the database client (and the embedded store's lock) when a worker stops."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("echo") if app is not None else None
    if services is not None:
        services.close()
