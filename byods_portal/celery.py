"""The Celery application shared by the worker, beat and the web process (which only sends).

Configuration comes from Django settings with the CELERY_ prefix (see settings.py): JSON only,
time limits, late acknowledgement for idempotent tasks, and the broker chosen by the
environment (Redis in production, a filesystem broker for `make run`).
"""

import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from core import queueing

from .heartbeats import WorkerHeartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byods_portal.settings")

# PortalTask: Celery's Django task (delay_on_commit), sending in the context of its caller.
app = Celery("byods_portal", task_cls="core.queueing:PortalTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every worker writes a heartbeat (byods_portal/heartbeats.py); beat's scheduler is
# byods_portal/scheduler.py (CELERY_BEAT_SCHEDULER), which beats too.
app.steps["worker"].add(WorkerHeartbeat)


@app.on_after_configure.connect
def _prepare_embedded_broker(sender=None, **kwargs) -> None:
    """The filesystem transport expects its folders to exist; runs once the configuration is
    read (in senders and workers alike), not at import time."""
    from django.conf import settings

    if settings.BROKER_IS_EMBEDDED:
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key]).mkdir(parents=True, exist_ok=True)
        if settings.CELERY_RESULT_BACKEND.startswith("file://"):
            Path(settings.CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(
                parents=True, exist_ok=True
            )


logger = logging.getLogger(__name__)

# A task runs under the correlation id of whoever queued it (core/queueing.py): the sender
# puts it in the message, the worker binds it around the run. weak=False: module functions.
before_task_publish.connect(queueing.add_correlation_header, weak=False)
task_prerun.connect(queueing.bind_task_correlation, weak=False)
task_postrun.connect(queueing.unbind_task_correlation, weak=False)


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    """Workers log through Django's LOGGING so web and worker lines look the same."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@app.task(name="byods_portal.ping", ignore_result=False)
def ping(value: str) -> str:
    """Echo a value back: proves a message travels from a sender to a worker and back."""
    return f"pong:{value}"


@app.task(name="byods_portal.heartbeat")
def heartbeat() -> None:
    """Scheduled by beat: a log line per interval shows beat and a worker are both alive."""
    logger.info("beat heartbeat received by worker pid=%s", os.getpid())
