"""The broker options each kind of worker gets (cloud.messaging.celery_config)."""

from cloud.messaging import (
    HOST_WORKER_BRPOP_TIMEOUT,
    HOST_WORKER_RESTORE_INTERVAL,
    celery_config,
)


def _options(**kind: bool) -> dict:
    return celery_config(**kind)["broker_transport_options"]


def test_the_control_plane_keeps_kombus_wait_and_restores_every_10_s():
    options = _options()
    assert "brpop_timeout" not in options
    assert options["unacked_restore_interval"] == 10
    assert "unacked_key" not in options


def test_a_hosts_workers_wait_longer_on_redis_and_restore_less_often():
    for options in (_options(compute=True), _options(host=True)):
        assert options["brpop_timeout"] == HOST_WORKER_BRPOP_TIMEOUT > 1
        assert options["unacked_restore_interval"] == HOST_WORKER_RESTORE_INTERVAL
    # Only a compute worker keeps what it holds apart from the control plane's messages.
    assert _options(compute=True)["unacked_key"] == "unacked.compute"
    assert "unacked_key" not in _options(host=True)


def test_the_network_agent_and_volume_worker_are_host_workers():
    from cloud.netagent.app import app as agent
    from cloud.volumeworker.app import app as volume

    for app in (agent, volume):
        assert app.conf.broker_transport_options["brpop_timeout"] == HOST_WORKER_BRPOP_TIMEOUT
