"""The emulator's filtered stream and its rules over real HTTP."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from tests.support import emulator_fixtures

HEARTBEAT = emulator_fixtures.HEARTBEAT_SECONDS
server, ctl = emulator_fixtures.server, emulator_fixtures.ctl


@pytest.fixture
def http(server: EmulatorServer, ctl: EmulatorControl) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ctl.app()['bearer_token']}"}
    with httpx.Client(base_url=server.base_url, timeout=10, headers=headers) as client:
        yield client


class Stream:
    """Reads a stream connection in a thread: raw lines (``""`` = heartbeat) into a queue."""

    def __init__(self, base_url: str, bearer: str, params: dict[str, str] | None = None) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=5))
        self.cm = self.client.stream(
            "GET",
            "/2/tweets/search/stream",
            params=params,
            headers={"authorization": f"Bearer {bearer}"},
        )
        self.response = self.cm.__enter__()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            buffer = b""
            for chunk in self.response.iter_raw():
                buffer += chunk
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    self.lines.put(line.decode())
        except httpx.HTTPError:
            pass
        self.lines.put(None)

    def next_post(self, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert line is not None, "stream closed"
            if line:
                out: dict[str, Any] = json.loads(line)
                return out

    def wait_closed(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)) is not None:
            pass

    def close(self) -> None:
        self.cm.__exit__(None, None, None)
        self.client.close()


@pytest.fixture
def open_stream(server: EmulatorServer, ctl: EmulatorControl) -> Iterator[Any]:
    streams: list[Stream] = []

    def opener(**params: str) -> Stream:
        s = Stream(server.base_url, ctl.app()["bearer_token"], params or None)
        streams.append(s)
        return s

    yield opener
    for s in streams:
        s.close()


def test_rules_add_list_delete(http: httpx.Client) -> None:
    r = http.get("/2/tweets/search/stream/rules")
    assert r.json()["meta"]["result_count"] == 0 and "data" not in r.json()
    r = http.post(
        "/2/tweets/search/stream/rules",
        json={
            "add": [{"value": "#AskAirbus -is:retweet", "tag": "ama"}, {"value": "@AirbusExpert"}]
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}
    ids = [d["id"] for d in body["data"]]
    assert body["data"][0]["tag"] == "ama"
    # a duplicate value is not created
    r = http.post("/2/tweets/search/stream/rules", json={"add": [{"value": "@AirbusExpert"}]})
    assert r.json()["errors"][0]["title"] == "DuplicateRule"
    assert r.json()["errors"][0]["id"] == ids[1]
    # invalid syntax: 400, nothing created
    r = http.post(
        "/2/tweets/search/stream/rules", json={"add": [{"value": "(#a"}, {"value": "#fine"}]}
    )
    assert r.status_code == 400
    assert r.json()["meta"]["summary"]["invalid"] == 1
    assert r.json()["meta"]["summary"]["created"] == 0
    # dry_run validates without creating
    r = http.post(
        "/2/tweets/search/stream/rules",
        params={"dry_run": "true"},
        json={"add": [{"value": "#dry"}]},
    )
    assert r.json()["meta"]["summary"]["created"] == 0
    assert len(http.get("/2/tweets/search/stream/rules").json()["data"]) == 2
    r = http.get("/2/tweets/search/stream/rules", params={"ids": ids[0]})
    assert [d["value"] for d in r.json()["data"]] == ["#AskAirbus -is:retweet"]
    r = http.post("/2/tweets/search/stream/rules", json={"delete": {"ids": [ids[0], "1"]}})
    assert r.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    for bad in ({"add": [{"value": "#a", "colour": "red"}]}, {}, {"add": [], "delete": {}}):
        r = http.post("/2/tweets/search/stream/rules", json=bad)
        assert r.status_code == 400, bad


def test_stream_heartbeats_and_rules_added_while_connected(
    http: httpx.Client, ctl: EmulatorControl, open_stream: Any
) -> None:
    ctl.create_account("alice")
    stream = open_stream(**{"tweet.fields": "author_id,created_at", "expansions": "author_id"})
    assert stream.response.status_code == 200
    # heartbeats arrive at the configured interval
    started = time.monotonic()
    beats = 0
    while beats < 3:
        assert stream.lines.get(timeout=2) == ""
        beats += 1
    assert time.monotonic() - started < 2
    ctl.post("alice", "before any rule #AskAirbus")
    r = http.post("/2/tweets/search/stream/rules", json={"add": [{"value": "#AskAirbus"}]})
    rule_id = r.json()["data"][0]["id"]
    post_id = ctl.post("alice", "Can wings flex? #AskAirbus")
    ctl.post("alice", "not matching")
    got = stream.next_post()
    assert got["data"]["id"] == post_id
    assert got["data"]["author_id"]
    assert got["includes"]["users"][0]["username"] == "alice"
    assert got["matching_rules"] == [{"id": rule_id, "tag": ""}]
    http.post(
        "/2/tweets/search/stream/rules",
        json={"add": [{"value": "from:alice wings", "tag": "wings"}]},
    )
    second = ctl.post("alice", "More wings #AskAirbus")
    got = stream.next_post()
    assert got["data"]["id"] == second
    assert sorted(m["tag"] for m in got["matching_rules"]) == ["", "wings"]


def test_one_connection_per_app_and_drops(
    http: httpx.Client, ctl: EmulatorControl, open_stream: Any
) -> None:
    ctl.create_account("alice")
    http.post("/2/tweets/search/stream/rules", json={"add": [{"value": "#q"}]})
    first = open_stream()
    assert first.lines.get(timeout=2) == ""
    second = http.get("/2/tweets/search/stream")
    assert second.status_code == 429
    assert second.json()["connection_issue"] == "TooManyConnections"
    assert "x-rate-limit-reset" in second.headers
    ctl.faults(stream_drop="now")
    notice = first.next_post()
    assert notice["errors"][0]["title"] == "operational-disconnect"
    first.wait_closed()
    # the slot is free again; a drop after N posts closes after exactly N
    again = open_stream()
    ctl.faults(stream_drop_after=2, stream_drop_notice=False)
    ids = [ctl.post("alice", f"#q {i}") for i in range(3)]
    assert again.next_post()["data"]["id"] == ids[0]
    assert again.next_post()["data"]["id"] == ids[1]
    again.wait_closed()
    assert ctl.stream_status()["connects"] == 2


def test_stream_is_app_only_and_metered(
    http: httpx.Client, ctl: EmulatorControl, open_stream: Any, server: EmulatorServer
) -> None:
    alice = ctl.create_account("alice")
    r = httpx.get(
        server.base_url + "/2/tweets/search/stream",
        headers={"authorization": f"Bearer {alice.oauth2_access_token}"},
    )
    assert r.status_code == 403
    assert http.get("/2/tweets/search/stream", params={"backfill_minutes": "2"}).status_code == 400
    http.post("/2/tweets/search/stream/rules", json={"add": [{"value": "#q"}]})
    stream = open_stream()
    ctl.set_balance(0.01)  # two posts at $0.005
    ids = [ctl.post("alice", f"#q {i}") for i in range(3)]
    assert stream.next_post()["data"]["id"] == ids[0]
    assert stream.next_post()["data"]["id"] == ids[1]
    stream.wait_closed()
    r = http.get("/2/tweets/search/stream")
    assert r.status_code == 402
    assert r.json()["title"] == "CreditsDepleted"


def test_a_client_that_goes_away_frees_the_connection(
    http: httpx.Client, ctl: EmulatorControl, open_stream: Any
) -> None:
    first = open_stream()
    assert first.lines.get(timeout=2) == ""
    first.close()
    deadline = time.monotonic() + 5
    while ctl.stream_status()["connected"]:
        assert time.monotonic() < deadline, "the server kept a dead stream"
        time.sleep(0.02)
    second = open_stream()
    assert second.response.status_code == 200
