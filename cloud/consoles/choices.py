"""Console kinds (what a guest listens with) and the console types of the API (what a
client speaks), as Nova names them."""


class ConsoleKind:
    VNC = "vnc"
    SPICE = "spice"
    SERIAL = "serial"

    CHOICES = [(VNC, "VNC"), (SPICE, "SPICE"), (SERIAL, "serial")]


# API console type -> the kind of endpoint it connects to (Nova's protocol).
CONSOLE_TYPES = {
    "novnc": ConsoleKind.VNC,
    "spice-html5": ConsoleKind.SPICE,
    "serial": ConsoleKind.SERIAL,
}
# Types Nova knows that no Stratus host offers: refused as unavailable, not as unknown.
UNAVAILABLE_TYPES = {"xvpvnc", "rdp-html5", "webmks", "spice-direct"}
