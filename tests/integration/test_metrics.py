"""GET /metrics: Prometheus text, requests by route template (never by id), the channel's gauges; admin only."""

from __future__ import annotations

import re

from tests.conftest import Api, feature, square


def scrape(api: Api) -> dict[str, float]:
    r = api.call("admin", "GET", "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_requests_are_counted_by_route_template_with_latency_histograms_and_gauges(api: Api) -> None:
    api.add_party("sdf")
    written = api.declare("sdf", feature(square(40.2, 35.3)))
    for _ in range(3):
        assert api.call("sdf", "GET", f"/v1/declarations/{written['id']}").status_code == 200
    assert api.call("sdf", "GET", "/v1/declarations/no-such-id").status_code == 404
    m = scrape(api)
    one = 'method="GET",route="/v1/declarations/{declaration_id}"'
    assert m[f'deconf_http_requests_total{{{one},status="200"}}'] == 3
    assert m[f'deconf_http_requests_total{{{one},status="404"}}'] == 1
    assert m['deconf_http_requests_total{method="POST",route="/v1/declarations",status="201"}'] == 1
    assert not any(written["id"] in name for name in m)  # no series per id
    buckets = [v for k, v in m.items() if k.startswith(f"deconf_http_request_duration_seconds_bucket{{{one},")]
    assert buckets == sorted(buckets) and buckets[-1] == m[f"deconf_http_request_duration_seconds_count{{{one}}}"] == 4
    assert m["deconf_declarations_active"] == 1
    assert m["deconf_ledger_entries"] >= 2  # the party, the declaration
    assert m["deconf_writer_jobs_total"] >= 2 and m["deconf_writer_groups_total"] >= 1


def test_metrics_need_the_admin_token(api: Api) -> None:
    api.add_party("sdf")
    assert api.call("sdf", "GET", "/metrics").status_code == 403
    assert api.client.get("/metrics").status_code == 401
    text = api.call("admin", "GET", "/metrics").text
    assert re.search(r'deconf_http_requests_total\{method="GET",route="/metrics",status="403"\} 1', text)


def test_conflicts_opened_and_events_waiting_for_webhooks(api: Api) -> None:
    api.add_party("sdf")
    api.add_party("saa")
    m = scrape(api)
    assert m["deconf_conflicts_opened_total"] == 0 and m["deconf_webhook_events_queued"] == 0
    # a receiver that is never reached: saa's events wait for it
    r = api.call("saa", "POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 201, r.text
    api.declare("sdf", feature(square(40.2, 35.3)))
    api.declare("saa", feature(square(40.2, 35.3)))
    m = scrape(api)
    assert m["deconf_conflicts_opened_total"] == 1
    assert m["deconf_webhook_events_queued"] >= 1  # conflict.opened for saa, not delivered
