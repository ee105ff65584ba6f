"""`dramatiq turnout.worker`: a worker process on the broker named by TURNOUT_BROKER_URL."""

from __future__ import annotations

import logging

from .auth import tasks as _auth_tasks  # noqa: F401  (registers actors)
from .broker import broker_from_url, use_broker
from .config import get_settings
from .crypto.keys import keyring
from .db.engine import db
from .delivery import tasks as _delivery_tasks  # noqa: F401

# dramatiq logs at INFO; a line per provider request is noise, and costs a send's worth of CPU.
logging.getLogger("httpx").setLevel(logging.WARNING)
_settings = get_settings()
if not _settings.broker_url:
    raise SystemExit("set TURNOUT_BROKER_URL (redis://... or amqp://...) to run workers")
keyring.configure(_settings)
db.configure(_settings)
broker = use_broker(broker_from_url(_settings.broker_url))
