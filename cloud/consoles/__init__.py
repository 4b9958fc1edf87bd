"""Remote consoles: where each guest's VNC, SPICE and serial consoles listen (as its
host reports them), the console tokens that grant one connection to one of them, and
the console proxy (`proxy.py`) that checks a token and relays one browser to it."""
