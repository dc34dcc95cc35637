"""A small offline-first sync client over the change feed and batches (issue 18).

It keeps a local copy (``{(type, id): data}``) and a queue of writes made while
offline. :meth:`SyncClient.push` replays the queue as one batch, every write
with its own Idempotency-Key, so a batch retried after a lost answer runs
nothing twice; a write the server refuses (the task was deleted on another
device: 404) is dropped, the server's state wins, and the rest is sent again.
:meth:`SyncClient.pull` follows the feed from the last token. Used by
tests/test_sync_client.py; it talks to a Flask test client or anything with the
same ``get``/``post`` methods.
"""

from __future__ import annotations

import uuid

SYNC, BATCH = "/api/v1/sync", "/api/v1/batch"


class SyncClient:
    """One device of one user."""

    def __init__(self, http, headers: dict):
        self.http, self.headers = http, headers
        self.local: dict[tuple[str, int], dict] = {}
        self.token: str | None = None
        self.queue: list[dict] = []
        self.dropped = 0

    def pull(self) -> int:
        """Apply every change since the last pull; returns how many there were."""
        seen = 0
        while True:
            query = {"since": self.token} if self.token else {}
            page = self.http.get(SYNC, query_string=query, headers=self.headers).get_json()
            for change in page["changes"]:
                key = (change["type"], change["id"])
                if change["op"] == "delete":
                    self.local.pop(key, None)
                else:
                    self.local[key] = change["data"]
            seen += len(page["changes"])
            self.token = page["sync_token"]
            if not page["has_more"]:
                return seen

    def tasks(self) -> dict[int, dict]:
        return {key[1]: data for key, data in self.local.items() if key[0] == "task"}

    def write(self, method: str, path: str, body: dict | None = None) -> None:
        """Queue a write (offline); it gets its Idempotency-Key now, once."""
        operation = {"method": method, "path": path,
                     "headers": {"Idempotency-Key": str(uuid.uuid4())}}
        if body is not None:
            operation["body"] = body
        self.queue.append(operation)

    def push(self, lose_first_answer: bool = False) -> None:
        """Send the queue as batches until it is empty; with ``lose_first_answer``
        the first answer is thrown away as a dropped connection would."""
        while self.queue:
            answer = self.http.post(BATCH, json={"operations": self.queue},
                                    headers=self.headers)
            if lose_first_answer:
                lose_first_answer = False
                continue  # sent again: the operations that ran are replayed
            if answer.status_code == 200:
                self.queue = []
                return
            failed = int(next(iter(answer.get_json()["errors"]["operations"])))
            if answer.status_code not in (404, 409, 412, 422):
                raise RuntimeError(answer.get_json())
            del self.queue[failed]  # refused (another device deleted it): server wins
            self.dropped += 1

    def sync(self, **options) -> None:
        self.push(**options)
        self.pull()
