"""Dead-letter queues: failed asynchronous work is never lost.

Locally, ``DurableQueue`` is one SQLite file (WAL, ``synchronous=FULL``: a commit is on disk before the
caller is answered) holding every accepted asynchronous invocation through its life:

    pending --claim--> running --ok--> done
       ^                  |  \\--real failure, attempts left--> pending (retried, like Lambda's 2 retries)
       |                  \\----invalid input, or attempts used up--> dead   (the dead-letter queue)
       +--- replay -------------------------------------------------+

A claim is a lease: if the process dies mid-run (kill -9), the lease expires and the job is claimed again
by the next worker, so a crash neither loses nor silently drops work. ``inferwatch dlq list|replay``
read the dead letters. On AWS, ``SqsDeadLetterQueue`` sends poison messages to an SQS queue (boto3 is
imported only when it is used; it ships with the Lambda Python runtime).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reference_service.errors import DeadLetterError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, request_id TEXT NOT NULL, payload BLOB, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, source TEXT NOT NULL,
    created_s REAL NOT NULL, updated_s REAL NOT NULL, lease_until_s REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_s);
"""


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    request_id: str
    payload: bytes
    state: str
    attempts: int
    last_error: str | None
    source: str
    created_s: float
    updated_s: float


class DurableQueue:
    """Asynchronous invocations and their dead letters, in one SQLite file shared by all local instances."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db().executescript(_SCHEMA)  # idempotent DDL; executescript manages its own commit
        except (OSError, sqlite3.Error) as exc:
            raise DeadLetterError(str(path), f"cannot open: {exc}") from exc

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._tx() as db:
                return db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise DeadLetterError(str(self.path), str(exc)) from exc

    def enqueue(self, payload: bytes, *, request_id: str | None = None, source: str = "async",
                state: str = "pending", error: str | None = None) -> str:
        """Store a job durably (on disk when this returns) and return its id."""
        job_id = uuid.uuid4().hex
        now = self._clock()
        self._run("INSERT INTO jobs (id, request_id, payload, state, attempts, last_error, source, created_s, "
                  "updated_s)"
                  " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
                  (job_id, request_id or job_id, payload, state, error, source, now, now))
        return job_id

    def put_dead(self, payload: bytes, error: str, *, request_id: str | None = None, source: str = "direct") -> str:
        return self.enqueue(payload, request_id=request_id, source=source, state="dead", error=error)

    def claim(self, lease_s: float) -> Job | None:
        """The oldest pending job (or one whose lease ran out: its worker died), now running under a lease."""
        now = self._clock()
        try:
            with self._tx() as db:
                row = db.execute(
                    "SELECT id FROM jobs WHERE state = 'pending' OR (state = 'running' AND lease_until_s < ?)"
                    " ORDER BY created_s LIMIT 1", (now,)).fetchone()
                if row is None:
                    return None
                db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until_s = ?,"
                           " updated_s = ? WHERE id = ?", (now + lease_s, now, row[0]))
                return self._get(db, row[0])
        except sqlite3.Error as exc:
            raise DeadLetterError(str(self.path), str(exc)) from exc

    @staticmethod
    def _get(db: sqlite3.Connection, job_id: str) -> Job:
        r = db.execute("SELECT id, request_id, payload, state, attempts, last_error, source, created_s, updated_s"
                       " FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job(r[0], r[1], bytes(r[2] or b""), r[3], r[4], r[5], r[6], r[7], r[8])

    def complete(self, job_id: str) -> None:
        self._run("UPDATE jobs SET state = 'done', payload = NULL, updated_s = ? WHERE id = ?", (self._clock(), job_id))

    def fail(self, job_id: str, error: str, *, retryable: bool, max_attempts: int) -> str:
        """Back to pending while attempts remain and the failure is worth retrying, else dead. Returns the state."""
        rows = self._run(
            "UPDATE jobs SET state = CASE WHEN ? AND attempts < ? THEN 'pending' ELSE 'dead' END,"
            " last_error = ?, lease_until_s = 0, updated_s = ? WHERE id = ? RETURNING state",
            (int(retryable), max_attempts, error[:500], self._clock(), job_id))
        return str(rows[0][0]) if rows else "missing"

    def jobs(self, state: str | None = None, *, limit: int = 1000) -> list[Job]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        ids = self._run(f"SELECT id FROM jobs {where} ORDER BY created_s LIMIT ?", (*args, limit))
        with self._tx() as db:
            return [self._get(db, r[0]) for r in ids]

    def dead_letters(self, *, limit: int = 1000) -> list[Job]:
        return self.jobs("dead", limit=limit)

    def counts(self) -> dict[str, int]:
        return {state: n for state, n in self._run("SELECT state, COUNT(*) FROM jobs GROUP BY state")}

    def requeue(self, job_id: str) -> bool:
        """Replay a dead letter: back to pending with fresh attempts."""
        rows = self._run("UPDATE jobs SET state = 'pending', attempts = 0, lease_until_s = 0, updated_s = ?"
                         " WHERE id = ? AND state = 'dead' RETURNING id", (self._clock(), job_id))
        return bool(rows)

    def delete(self, job_id: str) -> None:
        self._run("DELETE FROM jobs WHERE id = ?", (job_id,))


class _Invoker(Protocol):
    def invoke(self, body: bytes, *, request_id: str | None = ...) -> Any: ...


class AsyncWorker:
    """Runs queued asynchronous invocations through the service. 2xx: done. 4xx: dead at once (retrying
    cannot fix the input). 5xx: retried until ``max_attempts``, then dead."""

    def __init__(self, queue: DurableQueue, service: _Invoker, *, max_attempts: int = 3,
                 lease_s: float = 60.0, poll_s: float = 0.1) -> None:
        self.queue = queue
        self.service = service
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="async-worker", daemon=True)

    def accept(self, payload: bytes, request_id: str | None) -> str:
        return self.queue.enqueue(payload, request_id=request_id)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def run_once(self) -> bool:
        job = self.queue.claim(self.lease_s)
        if job is None:
            return False
        try:
            reply = self.service.invoke(job.payload, request_id=job.request_id)
            code = int(reply.status_code)
            error = str(reply.body.get("error", "")) if code >= 300 else ""
        except Exception as exc:  # noqa: BLE001 - the job's failure, recorded with it
            code, error = 500, f"{type(exc).__name__}: {exc}"
        if code < 300:
            self.queue.complete(job.id)
        else:
            self.queue.fail(job.id, f"{code} {error}", retryable=code >= 500, max_attempts=self.max_attempts)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database is locked for longer than its timeout
                busy = False
            if not busy:
                self._stop.wait(self.poll_s)


class SqsDeadLetterQueue:
    """Sends poison messages to an SQS queue; reads them back for inspection."""

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self.queue_url = queue_url
        if client is None:
            import boto3  # in the Lambda runtime; only needed when a DLQ URL is configured

            client = boto3.client("sqs")
        self._client = client

    def send(self, payload: str, error: str, *, request_id: str, source: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError  # with boto3: only where a queue is used

        try:
            resp = self._client.send_message(
                QueueUrl=self.queue_url, MessageBody=payload,
                MessageAttributes={
                    "error": {"DataType": "String", "StringValue": error[:500] or "unknown"},
                    "request_id": {"DataType": "String", "StringValue": request_id},
                    "source": {"DataType": "String", "StringValue": source},
                })
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterError(self.queue_url, f"send failed: {exc}") from exc
        return str(resp["MessageId"])

    def peek(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to ``max_messages`` dead letters, left on the queue (visibility timeout 0)."""
        from botocore.exceptions import BotoCoreError, ClientError  # with boto3: only where a queue is used

        try:
            resp = self._client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(max_messages, 10), VisibilityTimeout=0,
                MessageAttributeNames=["All"], WaitTimeSeconds=0)
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterError(self.queue_url, f"receive failed: {exc}") from exc
        return [{"id": m["MessageId"], "body": m["Body"],
                 "error": m.get("MessageAttributes", {}).get("error", {}).get("StringValue")}
                for m in resp.get("Messages", [])]
