"""rig.acquire.fanout.Subscribers: the one subscribe-under-a-lock, used by the acquisition
and by the dashboard's live sources."""
from __future__ import annotations

from rig.acquire.fanout import Subscribers
from rig.acquire.ipc import FakeLiveSource


def test_a_raising_subscriber_is_counted_and_the_others_still_get_the_message():
    subs, got = Subscribers(), []

    def broken(msg):
        raise RuntimeError("boom")
    subs.subscribe(broken)
    subs.subscribe(got.append)
    subs.publish({"n": 1})
    subs.publish({"n": 2})
    assert got == [{"n": 1}, {"n": 2}] and subs.errors == 2


def test_a_subscriber_may_unsubscribe_itself_while_called():
    subs, got = Subscribers(), []
    holder = {}

    def once(msg):
        got.append(msg)
        holder["off"]()
    holder["off"] = subs.subscribe(once)
    subs.publish(1)
    subs.publish(2)
    assert got == [1] and len(subs) == 0
    holder["off"]()                               # unsubscribing twice is harmless
    assert len(subs) == 0


def test_the_live_source_fans_out_through_it_and_counts_its_viewers():
    live, got = FakeLiveSource({"rate_hz": 80}), []
    off = live.subscribe(got.append)
    assert live.subscriber_count == 1
    live.publish({"type": "batch", "samples": []})
    off()
    live.publish({"type": "batch", "samples": []})
    assert len(got) == 1 and live.subscriber_count == 0 and live.last_batch_at is not None
