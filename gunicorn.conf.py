"""gunicorn reads this file from the working directory (the image's /app, `make` targets).

A worker that stops cleanly removes its web heartbeat row, so during a rolling restart
`rotate_encryption_keys` sees only the processes still running and their key rings.
"""


def worker_exit(server, worker):
    try:
        from byods_portal.web_heartbeat import forget_this_process
    except Exception:  # noqa: BLE001 - Django never loaded in this worker: nothing to forget
        return
    try:
        forget_this_process()
    except Exception:  # noqa: BLE001 - a stopping worker never fails on its way out
        server.log.warning("web heartbeat row not removed", exc_info=True)
