"""The idle connection pool's bookkeeping (pure)."""

from __future__ import annotations

from pushproxy.proxy.pool import IdlePool, KeepaliveSettings


def test_no_pool_without_keepalive() -> None:
    pool: IdlePool[str] = IdlePool(KeepaliveSettings())
    assert pool.put("a", "c1", 0.0) == ["c1"]
    assert len(pool) == 0


def test_taken_back_only_for_its_peer_most_recent_first() -> None:
    pool: IdlePool[str] = IdlePool(KeepaliveSettings(connections=4))
    assert pool.put("a", "a1", 0.0) == []
    assert pool.put("b", "b1", 1.0) == []
    assert pool.put("a", "a2", 2.0) == []
    assert pool.take("c", 3.0) == (None, [])
    assert pool.take("a", 3.0) == ("a2", [])
    assert pool.take("a", 3.0) == ("a1", [])
    assert pool.take("a", 3.0) == (None, [])
    assert len(pool) == 1


def test_the_least_recently_used_goes_to_make_room() -> None:
    pool: IdlePool[str] = IdlePool(KeepaliveSettings(connections=2))
    pool.put("a", "a1", 0.0)
    pool.put("b", "b1", 1.0)
    assert pool.put("a", "a2", 2.0) == ["a1"]
    assert pool.drain() == ["b1", "a2"]
    assert len(pool) == 0


def test_idle_too_long_expires() -> None:
    pool: IdlePool[str] = IdlePool(KeepaliveSettings(connections=4, timeout=60.0))
    pool.put("a", "a1", 0.0)
    pool.put("a", "a2", 30.0)
    assert pool.expire(59.0) == []
    assert pool.take("a", 70.0) == ("a2", ["a1"])


def test_requests_and_age_limits() -> None:
    settings = KeepaliveSettings(connections=1, requests=3, max_age=100.0)
    assert settings.may_keep(requests=2, opened=0.0, now=50.0)
    assert not settings.may_keep(requests=3, opened=0.0, now=50.0)
    assert not settings.may_keep(requests=1, opened=0.0, now=100.0)
    assert not KeepaliveSettings().may_keep(requests=1, opened=0.0, now=0.0)
