import logging

from celery import shared_task

from .selectors import audit_chain_head

logger = logging.getLogger("audit.chain")


@shared_task(name="audit.log_chain_head")
def log_chain_head() -> None:
    """Daily: write the chain head to the log, so a copy exists outside the database.

    With logs shipped elsewhere, anyone can later check that the database's chain still passes
    through this hash (`manage.py audit_verify` plus a look at the event with this id).
    """
    head_id, head_hash = audit_chain_head()
    logger.info("audit chain head: event #%s sha256 %s", head_id, head_hash)


@shared_task(name="audit.write_checkpoint")
def write_checkpoint() -> None:
    """Every PORTAL_AUDIT_CHECKPOINT_MINUTES: sign the chain head and ship it outside the
    database (audit/checkpoints.py). A destination that refuses it fails the task, loudly."""
    from .checkpoints import checkpoint_write

    checkpoint_write()
