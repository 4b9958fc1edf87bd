"""Browser consoles of a real QEMU guest: the URL `openstack console url show` prints,
opened in Debian's headless Chromium (through its chromedriver), through the stack's
console proxy to the guest's VNC server; its serial console through the proxy's
websocket; SPICE's handshake through it; and a used or expired token refused.

The guest's screen drawn by noVNC is compared with the screenshot libvirt itself takes
of the domain (virDomainScreenshot), block by block: the browser shows that guest's
screen, not a blank one nor another's. The screenshot of the browser is kept where
STRATUS_SCREENSHOTS says (else in the stack's var dir).

The figure printed: the time from `openstack console url show --novnc` to the first
frame of the guest's screen drawn by noVNC in the browser (bench/consoles.py measures
it over several rounds, and the sessions the proxy holds at once).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import libvirt
import pytest
import websocket
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from tests.e2e.conftest import RunningStack, until
from tests.e2e.test_qemu_guest import BOOT_LINE, URI, _new_boot, _settled, _show

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1024,768",
]

# The screen is compared in blocks of BLOCK x BLOCK pixels: a block is lit when any of
# its pixels is (a channel above 16, the black of a text console being 0).
BLOCK = 8
LIT = 16

# noVNC's canvas as [width, height, lit pixels, the lit blocks as a string of 0/1].
CANVAS_LIT = """
const block = arguments[0], threshold = arguments[1];
const canvas = document.querySelector('#screen canvas');
if (!canvas || !canvas.width) return null;
const w = canvas.width, h = canvas.height;
const data = canvas.getContext('2d').getImageData(0, 0, w, h).data;
const bw = Math.ceil(w / block), bh = Math.ceil(h / block);
const blocks = new Uint8Array(bw * bh);
let lit = 0;
for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        if (data[i] > threshold || data[i + 1] > threshold || data[i + 2] > threshold) {
            lit++;
            blocks[Math.floor(y / block) * bw + Math.floor(x / block)] = 1;
        }
    }
}
return [w, h, lit, blocks.join('')];
"""


def _png_rgb(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, pixels) of an 8-bit RGB or RGBA PNG, the rows
    unfiltered (the screenshots QEMU makes; nothing here needs more of the format)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, b"", None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks += body
        offset += 12 + length
    width, height, depth, color, _compression, _filter, interlace = header
    assert depth == 8 and color in (2, 6) and not interlace, header
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(chunks), width * bpp
    pixels, previous = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (
                    line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        pixels += line
        previous = line
    return width, height, bpp, bytes(pixels)


def _libvirt_screen(uuid: str) -> tuple[int, int, str]:
    """libvirt's own screenshot of the domain (a PNG or a PPM, as QEMU makes it): its
    width, height and lit blocks, as CANVAS_LIT reports noVNC's."""
    conn = libvirt.open(URI)
    try:
        stream = conn.newStream()
        conn.lookupByUUIDString(uuid).screenshot(stream, 0)
        data = b""
        while chunk := stream.recv(1 << 20):
            data += chunk
        stream.finish()
    finally:
        conn.close()
    if data.startswith(b"P6"):
        _magic, width, height, _depth, pixels = data.split(maxsplit=4)
        width, height, bpp = int(width), int(height), 3
    else:
        width, height, bpp, pixels = _png_rgb(data)
    bw = -(-width // BLOCK)
    blocks = bytearray(b"0" * (bw * -(-height // BLOCK)))
    for y in range(height):
        row = pixels[y * width * bpp : (y + 1) * width * bpp]
        for x in range(width):
            if max(row[x * bpp : x * bpp + 3]) > LIT:
                blocks[(y // BLOCK) * bw + x // BLOCK] = ord("1")
    return width, height, blocks.decode()


def _same_screen(uuid: str, browser) -> str | None:
    """The lit blocks of libvirt's screenshot of the domain when noVNC's canvas shows the
    same (of the same size; a block or two may differ, the text cursor blinks)."""
    width, height, blocks = _libvirt_screen(uuid)
    drawn_w, drawn_h, _lit, drawn = browser.execute_script(CANVAS_LIT, BLOCK, LIT)
    assert (drawn_w, drawn_h) == (width, height), "noVNC's screen is not the guest's size"
    differing = sum(a != b for a, b in zip(blocks, drawn, strict=True))
    return blocks if differing <= 2 else None


def _proxy_said(stack: RunningStack, words: str, timeout: float = 10) -> None:
    """The console proxy logged `words` (why it refused a connection)."""
    deadline = time.monotonic() + timeout
    while words not in stack.log():
        assert time.monotonic() < deadline, f"the console proxy never logged {words!r}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver: deploy/bootstrap.sh --dev")
    # Selenium's own driver manager would look for a browser download: never.
    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def guest(qemu_stack: RunningStack):
    name = "console-guest"
    qemu_stack.openstack(
        "server", "create", "--image", "guest", "--flavor", "m1.tiny", "--wait", name
    )
    _new_boot(qemu_stack, name, set())
    yield name
    qemu_stack.openstack("server", "delete", "--wait", name)


def _url(stack: RunningStack, kind: str, name: str) -> str:
    shown = json.loads(stack.openstack("console", "url", "show", f"--{kind}", name, "-f", "json"))
    return shown["url"]


def _token(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:
        return parse_qs(urlsplit(unquote(query["path"][0])).query)["token"][0]
    return query["token"][0]


def _refused(url: str, **options) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=10, subprotocols=["binary"], **options)
    return refused.value.status_code


def test_novnc_shows_the_guest_screen(qemu_stack: RunningStack, guest: str, browser):
    server = _show(qemu_stack, guest)
    started = time.monotonic()
    url = _url(qemu_stack, "novnc", guest)
    opened = time.monotonic()
    assert url.startswith(f"http://127.0.0.1:{qemu_stack.console_port}/vnc_lite.html?path=")
    browser.get(url)
    # noVNC says it is connected, to the guest's own VNC server (named after its domain).
    status = until(
        "noVNC connects",
        lambda: (
            (text := browser.find_element("id", "status").text).startswith("Connected") and text
        ),
        60,
        every=0.1,
    )
    assert status == f"Connected to QEMU ({server['OS-EXT-SRV-ATTR:instance_name']})"
    width, height, lit, blocks = until(
        "a frame of the guest's screen",
        lambda: (
            (drawn := browser.execute_script(CANVAS_LIT, BLOCK, LIT)) and drawn[2] > 0 and drawn
        ),
        60,
        every=0.1,
    )
    first_frame, from_url = time.monotonic() - started, time.monotonic() - opened
    shots = Path(os.environ.get("STRATUS_SCREENSHOTS") or qemu_stack.var)
    shots.mkdir(parents=True, exist_ok=True)
    screenshot = shots / "stratus-novnc.png"
    assert browser.save_screenshot(str(screenshot))
    print(
        f"console url show to first frame: {first_frame:.2f}s, of which the browser from "
        f"the URL: {from_url:.2f}s ({status}; {screenshot})"
    )
    # The guest's text console: a screen with something written on it, not a blank one...
    assert width >= 640 and height >= 400
    assert lit > 500, f"{lit} lit pixels of {width}x{height}"
    # ...and the very screen libvirt sees on that domain: same size, the same blocks lit
    # (a block or two may differ: the text cursor blinks).
    screen = until(
        "libvirt's screenshot of the domain like the browser's",
        lambda: _same_screen(server["id"], browser),
        20,
        every=0.1,
    )
    assert screen.count("1") >= 50, "the guest's screen has text on it"
    # The token let one connection through: the same one again is refused.
    token = _token(url)
    assert _refused(f"ws://127.0.0.1:{qemu_stack.console_port}/?token={token}") == 403
    _proxy_said(qemu_stack, f"token for {server['id']} already used")
    browser.get("about:blank")


def test_an_expired_token_is_refused(qemu_stack: RunningStack, guest: str):
    """A token past its lifetime is refused, for that reason (the proxy logs why; a
    fresh token's connection is test_novnc_shows_the_guest_screen). Its lifetime is made
    to pass by dating its expiry back in the stack's database (the token's row is found
    by its hash, the only thing stored)."""
    server_id = _show(qemu_stack, guest)["id"]
    token = _token(_url(qemu_stack, "novnc", guest))
    with sqlite3.connect(qemu_stack.var / "stratus.sqlite3", timeout=30) as db:
        aged = db.execute(
            "UPDATE consoles_consoleauthtoken SET expires_at = '2000-01-01 00:00:00' "
            "WHERE token_hash = ? AND used_at IS NULL",
            (hashlib.sha256(token.encode()).hexdigest(),),
        ).rowcount
    assert aged == 1
    assert _refused(f"ws://127.0.0.1:{qemu_stack.console_port}/?token={token}") == 403
    _proxy_said(qemu_stack, f"token for {server_id} expired")


def test_the_serial_console_shows_the_guest_booting(qemu_stack: RunningStack, guest: str):
    url = _url(qemu_stack, "serial", guest)
    assert url.startswith(f"ws://127.0.0.1:{qemu_stack.console_port}/serial?token=")
    serial = websocket.create_connection(url, timeout=5, subprotocols=["binary"])
    try:
        seen = {
            boot
            for _host, boot in BOOT_LINE.findall(
                qemu_stack.openstack("console", "log", "show", guest)
            )
        }
        # The guest's shell answers on its serial line...
        serial.send_binary(b"echo stratus-serial-$((6*7))\n")
        text = _read_until(serial, lambda t: "stratus-serial-42" in t, 60)
        # ...and a reboot is seen on it as it happens: the new boot line.
        qemu_stack.openstack("server", "reboot", "--soft", guest)
        text = _read_until(
            serial,
            lambda t: any(boot not in seen for _h, boot in BOOT_LINE.findall(t)),
            120,
        )
        assert BOOT_LINE.search(text).group(1) == guest
    finally:
        serial.close()
    _settled(qemu_stack, guest, "ACTIVE")
    assert _refused(url) == 403


def _read_until(ws: websocket.WebSocket, done, timeout: float) -> str:
    text = ""
    deadline = time.monotonic() + timeout
    while not done(text):
        assert time.monotonic() < deadline, f"not seen in {timeout:.0f}s; serial said:\n{text}"
        try:
            text += ws.recv().decode("utf-8", errors="replace")
        except websocket.WebSocketTimeoutException:
            continue
    return text


def test_spice_answers_through_the_proxy(qemu_stack: RunningStack, guest: str, browser):
    url = _url(qemu_stack, "spice", guest)
    assert url.startswith(f"http://127.0.0.1:{qemu_stack.console_port}/spice/spice_auto.html?")
    # The SPICE HTML5 client is served...
    browser.get(url.split("?")[0])
    assert "spice" in browser.page_source.lower()
    browser.get("about:blank")
    # ...and the guest's SPICE server answers a link request (main channel) through it.
    spice = websocket.create_connection(
        f"ws://127.0.0.1:{qemu_stack.console_port}/websockify",
        timeout=10,
        subprotocols=["binary"],
        cookie=f"token={_token(url)}",
    )
    try:
        link = struct.pack("<IBBIII", 0, 1, 0, 0, 0, 18)
        spice.send_binary(b"REDQ" + struct.pack("<III", 2, 2, len(link)) + link)
        assert spice.recv()[:4] == b"REDQ"
    finally:
        spice.close()
    assert _show(qemu_stack, guest)["status"] == "ACTIVE"
