"""Telling every web worker, through Redis pub/sub, that a conversation changed.

A web worker that writes a chat message (the assistant's reply, an agent's answer, a claim) wakes its own
sockets at once; the other workers learn of it here, in a few milliseconds instead of at their next poll of the
database. The message is only the conversation's id: what changed is always read from the database, so a
notice lost while Redis restarts costs a delay (the poller, `ChatHub`, still runs as the safety net), never a
message.

Publishing goes through a queue and a thread of its own, so a slow or stopped Redis never holds up the event
loop that serves the residents' sockets.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

CHANNEL = "civicdesk:chat:changed"
RETRY_SECONDS = 1.0  # after Redis went away: how long to wait before subscribing again
TIMEOUT_SECONDS = 2.0  # connecting and each command; listening itself waits as long as there is nothing to hear


class RedisFanout:
    def __init__(self, url: str, wake: Callable[[int], None]) -> None:
        self._url = url
        self._wake = wake  # wakes this worker's sockets watching a conversation
        self._outbox: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def publish(self, conversation_id: int) -> None:
        self._start()
        self._outbox.put(conversation_id)

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._publish_forever, name="chat-fanout-publish", daemon=True).start()
        threading.Thread(target=self._listen_forever, name="chat-fanout-listen", daemon=True).start()

    def listen(self) -> None:
        """Start hearing other workers' notices (before the first socket watches, so none is missed)."""
        self._start()

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self._url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)

    def _publish_forever(self) -> None:
        client = self._client()
        while True:
            conversation_id = self._outbox.get()
            try:
                client.publish(CHANNEL, str(conversation_id))
            except redis.RedisError as error:
                log.warning("could not tell the other web workers through Redis (%s); they will poll", error)

    def _listen_forever(self) -> None:
        stopped = threading.Event()  # never set: the thread lives as long as the process
        while True:
            try:
                # no read timeout: a quiet channel is normal; keepalive notices a peer that vanished
                client = redis.Redis.from_url(self._url, socket_connect_timeout=TIMEOUT_SECONDS, socket_keepalive=True)
                subscription = client.pubsub(ignore_subscribe_messages=True)
                subscription.subscribe(CHANNEL)
                for notice in subscription.listen():
                    try:
                        self._wake(int(notice["data"]))
                    except (TypeError, ValueError):
                        log.warning("ignored a chat notice that is not a conversation id: %r", notice["data"])
            except redis.RedisError as error:
                log.warning("lost the chat notices from Redis (%s); subscribing again", error)
            stopped.wait(RETRY_SECONDS)
