"""The bulk flow in a real browser: choose rows on the data source list, preview, confirm,
watch the progress bar while a real Celery worker runs the operation, read the report.

The worker is Celery's own test worker (a thread in this process) consuming a queue of its own
on the configured broker, so the task goes through the broker and runs in the background while
the page polls, exactly as in production; nothing else on that broker is touched.
"""

import re
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from byods_portal.celery import app as celery_app
from datasources.models import DataSource
from datasources.services import datasource_register
from operations import tasks
from operations.models import BulkOperation
from tenants import services as tenant_services
from tenants.tests.conftest import SYSTEM

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def worker(monkeypatch):
    """A Celery worker thread on a private queue; `operations.run` is sent there."""
    queue = f"bulk-browser-test-{uuid.uuid4().hex[:8]}"

    def delay(*args):
        return tasks.run.apply_async(args, queue=queue)

    monkeypatch.setattr(tasks.run, "delay", delay)  # delay_on_commit calls delay on commit
    with start_worker(
        celery_app, queues=[queue], perform_ping_check=False, shutdown_timeout=30
    ) as running:
        yield running


@pytest.fixture
def sources(portal_app, webex_world):
    org = tenant_services.org_onboard(
        app=portal_app,
        webex_org_id=webex_world.org_id,
        name="Globex Retail",
        region="us",
        actor=SYSTEM,
    )
    return [
        datasource_register(
            org=org,
            schema_id="5397013b-7920-4ffc-807c-e8a3e0a18f43",
            url=f"https://rx{i}.byods.example.com/feed",
            audience="byods-rx",
            subject="globex-voice",
            token_lifetime_minutes=60,
            actor=SYSTEM,
        )
        for i in range(4)
    ]


def test_an_operator_disables_several_data_sources_and_watches_the_run(
    page_for, portal_url, sources, emulator, worker, settings
):
    settings.BULK_CHUNK_SIZE = 1  # one item per task run: the bar moves in steps
    emulator.set_latency(150)  # each Webex call takes a moment, so the run is watchable
    chosen = sources[:3]
    page = page_for("operator")
    page.goto(portal_url("datasources:list"))
    for ds in chosen:
        page.get_by_label(f"Select {ds.url}").check()
    page.get_by_label("Bulk action").select_option(label="Disable with a message")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Disable: 3 selected data sources")
    expect(page.locator("#preview-counts")).to_contain_text("Will change")
    sample = page.locator("#preview-sample")
    for ds in chosen:
        expect(sample).to_contain_text(ds.url)
    expect(sample).not_to_contain_text(sources[3].url)
    assert not BulkOperation.objects.exists()  # nothing changes before the confirmation

    page.get_by_label("Message for the customer's admin").fill("Planned maintenance")
    page.get_by_role("button", name="Disable: 3 data sources").click()

    op = BulkOperation.objects.get()
    page.wait_for_url(portal_url("operations:detail", op.public_id))
    expect(page.get_by_role("alert").first).to_contain_text("Started: Disable")
    bar = page.get_by_role("progressbar", name="Items done")
    expect(bar).to_be_visible()
    # The worker runs it in the background; the htmx poll moves the bar, then the page reloads
    # with the report.
    expect(bar).to_have_attribute("aria-valuenow", "3", timeout=30_000)
    expect(bar).to_have_attribute("aria-valuemax", "3")
    expect(bar.locator(".progress-bar")).to_have_text("100%")
    expect(page.get_by_role("heading", name="Report")).to_be_visible(timeout=30_000)
    expect(page.locator("#bulk-progress")).to_contain_text("3 succeeded")
    expect(page.get_by_text("Nothing failed.")).to_be_visible()
    expect(page.locator("#bulk-progress h2")).to_have_text(re.compile("Done"))

    op.refresh_from_db()
    assert (op.state, op.succeeded, op.failed, op.percent) == ("done", 3, 0, 100)
    remote = {d["id"]: d["status"] for d in emulator.state()["dataSources"]}
    for ds in sources:
        ds.refresh_from_db()
        expected = DataSource.Status.ACTIVE if ds == sources[3] else DataSource.Status.DISABLED
        assert ds.status == expected and remote[ds.webex_id] == expected
