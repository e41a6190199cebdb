"""Numbers of the offboarding rules (the rotation's live in datasources/services.py for now)."""

OFFBOARD_RETRY_MINUTES = (1, 2, 4, 8, 15, 30, 60)  # back-off after a failed attempt; then hourly
OFFBOARD_ATTEMPT_MINUTES = 15  # an attempt silent this long counts as stalled (worker died)


def offboard_retry_minutes(attempts: int) -> int:
    """Minutes to wait after the `attempts`-th failed attempt (1-based)."""
    return OFFBOARD_RETRY_MINUTES[min(max(attempts, 1), len(OFFBOARD_RETRY_MINUTES)) - 1]
