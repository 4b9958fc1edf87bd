"""cloud.workers.virt.consoles: the endpoints read back from a live domain's XML, the
serial console's port, and the words the simulated console log uses for events."""

import socket

import libvirt

from cloud.workers.virt.consoles import endpoints_of, event_words, free_serial_port, serial_port_of

LIVE = """<domain type='kvm' id='3'><devices>
  <serial type='tcp'><source mode='bind' host='192.0.2.7' service='10003'/>
    <protocol type='raw'/><target port='0'/></serial>
  <graphics type='vnc' port='5901' autoport='yes' listen='192.0.2.7'>
    <listen type='address' address='192.0.2.7'/></graphics>
  <graphics type='spice' port='5902' autoport='yes' listen='192.0.2.7'>
    <listen type='address' address='192.0.2.7'/></graphics>
</devices></domain>"""

# Shut off: libvirt has allocated no graphics port.
INACTIVE = LIVE.replace("port='5901'", "port='-1'").replace("port='5902'", "port='-1'")


def test_the_live_ports_are_read_back():
    assert endpoints_of(LIVE) == {
        "vnc": {"host": "192.0.2.7", "port": 5901},
        "spice": {"host": "192.0.2.7", "port": 5902},
        "serial": {"host": "192.0.2.7", "port": 10003},
    }


def test_graphics_without_an_allocated_port_are_no_endpoint():
    assert endpoints_of(INACTIVE) == {"serial": {"host": "192.0.2.7", "port": 10003}}
    assert serial_port_of(INACTIVE) == 10003
    assert serial_port_of("<domain><devices/></domain>") is None


def test_a_free_serial_port_skips_taken_and_listening_ones():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = range(port, port + 3)
        assert free_serial_port("127.0.0.1", ports, taken=[port + 1]) == port + 2
        assert free_serial_port("127.0.0.1", range(port, port + 1), taken=[]) is None


def test_event_words():
    assert (
        event_words(libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        == "started (booted)"
    )
    assert (
        event_words(libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED)
        == "stopped (saved)"
    )
    assert event_words(libvirt.VIR_DOMAIN_EVENT_RESUMED, 99) == "resumed"
