"""The inspector, /_sandbox/inspector: the page and its assets, who may load them, its calendar
endpoint (every answer checked against the control API's spec by the `client` fixture), and the
page itself in headless Chromium against a served sandbox: what it draws (the DOM) and how it
looks (the screenshot's pixels, where the DOM says each thing is)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from huskyvoice_sandbox.session.journal import mask_key
from huskyvoice_sandbox.web.inspector import ASSETS, STATIC
from PIL import Image

from chromium import Chromium
from helpers import DOC_ID, READ_KEY, REMOTE, SMALL_WORLD, WRITE_KEY, error_of, free_port

PAGE = "/_sandbox/inspector"
CALENDAR = "/_sandbox/inspector/calendar"
TOKEN = "inspector-T0ken"
INSIDE = {"REMOTE_ADDR": "10.88.0.7"}  # a client on --control-from's network in these tests
XSS = "<img src=x onerror=\"document.title='pwned'\">"
# Windows of the default world (fixtures/default.yaml) and what they hold from 2026-06-15 on.
DOCUMENTED = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"  # Monday Morning MA: 1 of 10 on 2026-06-15
TUESDAY = "4d5e6f70-8192-4a34-9c5d-6e7f80910213"  # Tuesday Morning MA: 1 of 1, full
WEDNESDAY = "5e6f7081-92a3-4b45-8d6e-7f8091021324"  # Wednesday Morning: closed on 2026-06-17
EVENING = "3c4d5e6f-7081-4923-8b4c-5d6e7f809102"  # Monday Evening: inactive
# The page's colours (static/inspector.css), as a screenshot has them.
GREEN, AMBER, RED = (0x1B, 0x87, 0x3F), (0xD9, 0x77, 0x06), (0xC6, 0x28, 0x28)
BLUE, PURPLE, CLOSED_GREY, WHITE = (0x25, 0x63, 0xEB), (0x93, 0x33, 0xEA), (0xE2, 0xE5, 0xEA), (255, 255, 255)
BADGE_COLOURS = {"s2xx": GREEN, "s4xx": AMBER, "s5xx": RED}
AS_WRITER, AS_READER = {"Authorization": f"Bearer {WRITE_KEY}"}, {"Authorization": f"Bearer {READ_KEY}"}


def data(response: Any) -> Any:
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True, body
    return body["data"]


# -- the page and its assets, through the test client -----------------------------------------

def test_the_page_and_its_assets_are_served_with_their_types(client) -> None:
    page = client.get(PAGE)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy and "connect-src 'self'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script: the CSP would refuse it"
    assert not re.search(r"\son[a-z]+=", html), "no inline event handler"
    referenced = re.findall(r'(?:src|href)="inspector/assets/([^"]+)"', html)
    assert sorted(referenced) == sorted(ASSETS)
    for name, mimetype in ASSETS.items():
        asset = client.get(f"{PAGE}/assets/{name}")
        assert asset.status_code == 200 and asset.mimetype == mimetype, name
        assert asset.get_data() == (STATIC / name).read_bytes()
        assert asset.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [
    f"{PAGE}/assets/nope.js", f"{PAGE}/assets/inspector.html", f"{PAGE}/assets/..%2finspector.py",
    f"{PAGE}/assets/%2e%2e%2f%2e%2e%2fapp.py", f"{PAGE}/assets/", f"{PAGE}/",
])
def test_anything_else_under_the_page_is_a_json_404(client, path: str) -> None:
    error_of(client.get(path), 404, "NOT_FOUND")


def test_the_root_links_the_inspector(client) -> None:
    index = data(client.get("/", base_url="http://127.0.0.1:8123"))
    assert index["inspector"] == "http://127.0.0.1:8123/_sandbox/inspector"
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("path", [PAGE, f"{PAGE}/assets/inspector.js", CALENDAR])
def test_a_loopback_only_sandbox_refuses_the_inspector_to_others(client, path: str) -> None:
    assert "loopback" in error_of(client.get(path, environ_base=REMOTE), 403, "FORBIDDEN")["message"]
    with client.get(path) as loopback:
        assert loopback.status_code == 200


def test_with_an_admin_token_the_page_loads_and_its_data_needs_the_token(make_client) -> None:
    """A browser cannot send a header when it opens a page: the page and its assets (no data)
    come without the token; what the page shows comes from the control API, which wants it."""
    client = make_client(admin_token=TOKEN)
    for path in (PAGE, f"{PAGE}/assets/inspector.js", f"{PAGE}/assets/inspector.css"):
        with client.get(path, environ_base=REMOTE) as answer:
            assert answer.status_code == 200, path
    for path in (CALENDAR, "/_sandbox/requests", "/_sandbox/sessions"):
        message = error_of(client.get(path, environ_base=REMOTE), 403, "FORBIDDEN")["message"]
        assert "X-Sandbox-Admin-Token" in message
        error_of(client.get(path, environ_base=REMOTE, headers={"X-Sandbox-Admin-Token": "wrong"}), 403, "FORBIDDEN")
        assert client.get(path, environ_base=REMOTE, headers={"X-Sandbox-Admin-Token": TOKEN}).status_code == 200


def test_with_networks_the_page_is_theirs_with_or_without_a_token(make_client) -> None:
    for options in ({"control_from": ["10.88.0.0/16"]}, {"control_from": ["10.88.0.0/16"], "admin_token": TOKEN}):
        client = make_client(**options)
        assert client.get(PAGE, environ_base=INSIDE).status_code == 200, options
        error_of(client.get(PAGE, environ_base=REMOTE), 403, "FORBIDDEN")  # 10.1.2.3: not on it
        error_of(client.get(PAGE, environ_base=REMOTE, headers={"X-Sandbox-Admin-Token": TOKEN}), 403, "FORBIDDEN")
    assert client.get(CALENDAR, environ_base=INSIDE).status_code == 403  # the last: needs the token too
    assert client.get(CALENDAR, environ_base=INSIDE, headers={"X-Sandbox-Admin-Token": TOKEN}).status_code == 200


# -- the calendar: the world by date ------------------------------------------------------------

def day_of(calendar: dict[str, Any], org: str, on: str) -> dict[str, Any]:
    organization = next(o for o in calendar["organizations"] if o["id"] == org)
    return next(d for d in organization["dates"] if d["date"] == on)


def window_of(day: dict[str, Any], calendar_id: str) -> dict[str, Any]:
    return next(w for w in day["windows"] if w["calendar_id"] == calendar_id)


def test_the_calendar_starts_at_the_first_busy_date_and_shows_fill_closures_and_appointments(client) -> None:
    calendar = data(client.get(CALENDAR))
    # The clock says 2026-05-26; the first appointment holding a place is on 2026-06-15.
    assert (calendar["date_from"], calendar["date_to"]) == ("2026-06-15", "2026-06-28")
    assert [o["id"] for o in calendar["organizations"]] == ["org_demo", "org_lakeview"]
    assert all(len(o["dates"]) == 14 for o in calendar["organizations"])
    monday = day_of(calendar, "org_demo", "2026-06-15")
    assert monday["day"] == "monday"
    assert (window_of(monday, DOCUMENTED)["filled_slots"], window_of(monday, DOCUMENTED)["ai_slots"]) == (1, 10)
    assert window_of(monday, EVENING)["status"] == "INACTIVE"
    assert monday["appointments"]["total"] == 4 == sum(monday["appointments"]["by_status"].values())
    assert monday["appointments"]["by_status"] == {"confirmed": 2, "rescheduled": 1, "cancelled": 1}
    assert DOC_ID in [a["appointment_id"] for a in monday["appointments"]["listed"]]
    starts = [a["start"] for a in monday["appointments"]["listed"]]
    assert starts == sorted(starts)
    tuesday = window_of(day_of(calendar, "org_demo", "2026-06-16"), TUESDAY)
    assert (tuesday["filled_slots"], tuesday["ai_slots"], tuesday["available_slots"]) == (1, 1, 0)
    assert window_of(day_of(calendar, "org_demo", "2026-06-17"), WEDNESDAY)["status"] == "CLOSED"
    assert window_of(day_of(calendar, "org_demo", "2026-06-24"), WEDNESDAY)["status"] == "OPEN"


def test_the_calendar_s_windows_are_schedule_tracking_s_records(client) -> None:
    """Not a second implementation of the rules: the same records the API's tracking answers."""
    calendar = data(client.get(f"{CALENDAR}?date_from=2026-06-15&date_to=2026-06-21"))
    tracking = client.get("/v1/appointment-slots/schedule-tracking?date_from=2026-06-15&date_to=2026-06-21",
                          headers=AS_READER).get_json()["data"]
    shown = [w for d in calendar["organizations"][0]["dates"] for w in d["windows"]]
    assert shown == tracking


def test_the_calendar_follows_the_session(client) -> None:
    client.patch("/v1/appointment-slots/tracking/" + f"{DOCUMENTED}||2026-06-22||", json={"status": "CLOSED"},
                 headers=AS_WRITER)
    booked = client.post("/v1/appointments", headers=AS_WRITER, json={
        "appointment_type": "General Checkup", "appointment_date": "2026-06-15T09:30:00.000Z",
        "patient_name": "Tara", "parent_phone": "+919800011111", "session": "Morning", "branch_id": "branch_uuid_here"})
    assert booked.status_code == 201
    calendar = data(client.get(CALENDAR))
    assert window_of(day_of(calendar, "org_demo", "2026-06-15"), DOCUMENTED)["filled_slots"] == 2
    assert window_of(day_of(calendar, "org_demo", "2026-06-22"), DOCUMENTED)["status"] == "CLOSED"
    # Another session has its own world; the default one is left as it was.
    other = data(client.get(CALENDAR, headers={"X-Sandbox-Session": "s1"}))
    assert window_of(day_of(other, "org_demo", "2026-06-15"), DOCUMENTED)["filled_slots"] == 1
    # Once the clock is past every appointment, the calendar starts today.
    client.put("/_sandbox/clock", json={"now": "2027-01-04T10:00:00.000Z"})
    assert data(client.get(CALENDAR))["date_from"] == "2027-01-04"


@pytest.mark.parametrize(("query", "location"), [
    ("date_from=2026-06-20&date_to=2026-06-19", "query.date_to"),
    ("date_from=2026-06-01&date_to=2026-07-02", "query.date_to"),  # 32 dates
    ("date_from=20260601", "query.date_from"),
    ("date_from=2026-02-30", "query.date_from"),
    ("date_to=tomorrow", "query.date_to"),
])
def test_a_bad_range_is_a_located_400(client, query: str, location: str) -> None:
    error = error_of(client.get(f"{CALENDAR}?{query}"), 400, "VALIDATION_ERROR")
    assert [d["location"] for d in error["details"]] == [location]


def test_a_busy_date_lists_fifty_and_counts_all(make_client) -> None:
    org = SMALL_WORLD["organizations"][0]
    crowd = [{**org["appointments"][0], "appointment_id": f"appt_crowd{i:04d}", "parent_phone": f"+4400{i:04d}"}
             for i in range(55)]
    window = {**org["calendar_windows"][0], "max_slots": 60, "ai_slots": 60}
    world = {**SMALL_WORLD, "organizations": [{**org, "calendar_windows": [window], "appointments": crowd}]}
    day = data(make_client(world).get(f"{CALENDAR}?date_from=2026-07-01&date_to=2026-07-01"))[
        "organizations"][0]["dates"][0]
    assert (day["appointments"]["total"], len(day["appointments"]["listed"])) == (55, 50)
    assert day["appointments"]["by_status"] == {"confirmed": 55}
    assert (day["windows"][0]["filled_slots"], day["windows"][0]["ai_slots"]) == (55, 60)


# -- in headless Chromium, against a served sandbox ---------------------------------------------

browser_test = pytest.mark.skipif(shutil.which("chromium") is None,
                                  reason="needs Debian's chromium on PATH (.ci/run installs it)")


def card(on: str) -> str:
    """The world panel's card of a date of the demo clinic."""
    return f"#world-body [data-org=org_demo] [data-date='{on}']"


def rects(browser: Chromium, selector: str) -> list[dict[str, float]]:
    """Where the elements are on the page (the full-page screenshot's coordinates)."""
    return browser.evaluate(f"""Array.from(document.querySelectorAll({selector!r})).map(function (e) {{
        var r = e.getBoundingClientRect();
        return {{left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY}};
    }})""")


def colours(image: Image.Image, rect: dict[str, float]) -> dict[tuple[int, int, int], int]:
    """How many pixels of each colour the rectangle holds."""
    box = tuple(round(rect[side]) for side in ("left", "top", "right", "bottom"))
    return {colour: count for count, colour in image.crop(box).getcolors(1 << 24)}


def seed(url: str) -> None:
    """A 200, a 404, a 409, a body with markup in it, a forced 500, a forced 429 left pending,
    and a webhook delivery that fails (nothing listens on its port)."""
    api = f"{url}/v1/appointments"
    assert requests.get(f"{api}/{DOC_ID}", headers=AS_WRITER, timeout=10).status_code == 200
    assert requests.get(f"{api}/appt_zzzzzzzzzz", headers=AS_WRITER, timeout=10).status_code == 404
    assert requests.patch(f"{api}/{DOC_ID}", json={"appointment_date": "2026-06-16T10:00:00.000Z"},
                          headers=AS_WRITER, timeout=10).status_code == 409
    assert requests.patch(f"{api}/{DOC_ID}", json={"notes": XSS}, headers=AS_WRITER,
                          timeout=10).status_code == 200
    control = f"{url}/_sandbox"
    requests.post(f"{control}/forced-responses", json={"operation": "searchAppointments", "status": 500}, timeout=10)
    assert requests.get(f"{api}?date=2026-06-15", headers=AS_READER, timeout=10).status_code == 500
    requests.post(f"{control}/forced-responses", json={"operation": "getAppointment", "status": 429}, timeout=10)
    requests.post(f"{control}/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/hooks",
                                               "secret": "whsec_inspector", "retry_delays": []}, timeout=10)
    assert requests.post(f"{control}/dashboard/appointments", timeout=10, json={
        "appointment_type": "General Checkup", "appointment_date": "2026-06-22T09:30:00.000Z",
        "patient_name": "Eve", "parent_phone": "+919800000098", "branch_id": "branch_uuid_here"}).status_code == 201
    deadline = time.monotonic() + 10
    while requests.get(f"{control}/webhooks/deliveries", timeout=10).json()["data"][0]["status"] != "failed":
        assert time.monotonic() < deadline, "the delivery never failed"
        time.sleep(0.05)


def journal_statuses(browser: Chromium) -> list[str]:
    return browser.evaluate("Array.from(document.querySelectorAll('#journal-list .entry'))"
                            ".map(function (e) { return e.dataset.status; })")


def polls(browser: Chromium) -> int:
    return int(browser.evaluate("document.body.dataset.polls"))


def check_the_screenshot(browser: Chromium, shot: Path) -> None:
    """Each journal badge painted in its status's colour where the DOM puts it, newest on top; the
    fill bars as full as the numbers say; the closed date grey; no panel blank."""
    with Image.open(shot) as png:
        image = png.convert("RGB")
    assert image.width == 1280
    kinds = browser.evaluate("Array.from(document.querySelectorAll('#journal-list .entry summary .badge'))"
                             ".map(function (b) { return b.className.split(' ')[1]; })")
    badges = rects(browser, "#journal-list .entry summary .badge")
    assert kinds == ["s5xx", "s2xx", "s4xx", "s4xx", "s2xx"]
    for kind, rect in zip(kinds, badges, strict=True):
        assert colours(image, rect).get(BADGE_COLOURS[kind], 0) >= 0.6 * (rect["right"] - rect["left"]) * (
            rect["bottom"] - rect["top"]), kind
    tops = [rect["top"] for rect in badges]
    assert tops == sorted(tops)  # newest first, top to bottom
    # The bars: a tenth of the documented window filled in blue, the full one all purple.
    for selector, colour, share in ((f"{card('2026-06-15')} [data-window='{DOCUMENTED}'] .bar", BLUE, 0.1),
                                    (f"{card('2026-06-16')} [data-window='{TUESDAY}'] .bar", PURPLE, 1.0)):
        (bar,) = rects(browser, selector)
        painted = colours(image, bar).get(colour, 0) / ((bar["right"] - bar["left"]) * (bar["bottom"] - bar["top"]))
        assert share * 0.6 <= painted <= share, (selector, painted)
    (closed,) = rects(browser, card("2026-06-17"))
    assert colours(image, closed).get(CLOSED_GREY, 0) > 0.5 * (closed["right"] - closed["left"]) * (
        closed["bottom"] - closed["top"])
    (forced,) = rects(browser, "#forced-body .badge")
    assert colours(image, forced).get(AMBER, 0) > 200
    (failed,) = rects(browser, "#deliveries-list .delivery summary .badge")
    assert colours(image, failed).get(RED, 0) > 200
    for panel in rects(browser, ".panel"):  # none is blank
        assert sum(n for colour, n in colours(image, panel).items() if colour != WHITE) > 2000, panel


@pytest.mark.live
@browser_test
def test_chromium_draws_the_journal_the_world_forced_responses_and_deliveries(live_server, tmp_path: Path) -> None:
    server = live_server()
    seed(server.url)
    with Chromium(tmp_path / "profile") as browser:
        browser.open(server.url + PAGE)
        browser.wait_for("document.querySelectorAll('#journal-list .entry').length === 5 && "
                         "document.querySelectorAll('#deliveries-list .delivery').length === 1")
        shot = browser.screenshot(tmp_path / "inspector.png")  # as it first shows: every exchange folded
        check_the_screenshot(browser, shot)
        browser.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
        dom = browser.dom()

        # The journal, newest first: the forced 500, the markup PATCH, the 409, the 404, the 200.
        assert journal_statuses(browser) == ["500", "200", "409", "404", "200"]
        ids = [int(i.split("-")[1]) for i in re.findall(r'<details data-id="(request-\d+)"', dom)]
        assert ids == sorted(ids, reverse=True) and len(ids) == 5
        assert "SLOT_FULL" in dom and "NOT_FOUND" in dom and ">forced<" in dom
        # Keys masked: never the key, its mask where it was sent.
        assert WRITE_KEY not in dom and READ_KEY not in dom
        assert f"<dd>{mask_key(WRITE_KEY)}</dd>" in dom
        # The markup a client sent is text on the page, pretty-printed; nothing of it ran.
        assert '"notes": "&lt;img src=x onerror=\\"document.title=\'pwned\'\\"&gt;"' in dom
        assert browser.evaluate("document.querySelectorAll('img').length") == 0
        assert browser.evaluate("document.title") == "huskyvoice-sandbox inspector"
        # The world: fill against capacity, the full window, the closed date, the inactive window.
        def shown(selector: str, what: str = "textContent") -> Any:
            return browser.evaluate(f'document.querySelector("{selector}").{what}')

        assert shown(f"{card('2026-06-15')} [data-window='{DOCUMENTED}'] .fillcount") == "1/10"
        assert shown(f"{card('2026-06-16')} [data-window='{TUESDAY}']", "className") == "window open full"
        assert shown(card("2026-06-17"), "className") == "date closed"
        assert shown(f"{card('2026-06-17')} [data-window='{WEDNESDAY}'] .tag") == "CLOSED"
        assert shown(f"{card('2026-06-15')} [data-window='{EVENING}'] .tag") == "INACTIVE"
        # The pending forced 429, and the failed delivery with its one refused attempt.
        assert browser.evaluate("document.querySelector('#forced-body [data-id=force_2]').textContent") \
            .startswith("429 getAppointment")
        delivery = browser.evaluate("document.querySelector('#deliveries-list .delivery').innerText")
        assert "failed" in delivery and "appointment.created" in delivery and "no answer" in delivery
        assert browser.problems() == []



@pytest.mark.live
@browser_test
def test_chromium_updates_filters_and_pauses(live_server, tmp_path: Path) -> None:
    server = live_server()
    seed(server.url)
    page = server.url + PAGE
    with Chromium(tmp_path / "profile") as browser:
        browser.open(page)
        browser.wait_for("document.querySelectorAll('#journal-list .entry').length === 5")
        before = polls(browser)

        # A request while the page is open: the forced 429 answers it, and both panels change.
        assert requests.get(f"{server.url}/v1/appointments/{DOC_ID}", headers=AS_WRITER,
                            timeout=10).status_code == 429
        # A poll renders its panels before it counts itself done: wait for the count too.
        browser.wait_for("document.querySelector('#journal-list .entry').dataset.status === '429' && "
                         "document.querySelector('#forced-body').textContent === 'None pending.' && "
                         f"Number(document.body.dataset.polls) > {before}")
        assert journal_statuses(browser) == ["429", "500", "200", "409", "404", "200"]

        # Filters from the address, as a page opened with them (nothing to click in a headless run).
        for fragment, expected in (("status=404", ["404"]), ("status=4xx", ["429", "409", "404"]),
                                   ("operation=updateAppointment&status=409", ["409"]),
                                   ("appointment=appt_zzzzzzzzzz", ["404"]), ("status=418", [])):
            browser.open("about:blank")
            browser.open(f"{page}#{fragment}")
            browser.wait_for("Number(document.body.dataset.polls) >= 1")
            assert journal_statuses(browser) == expected, fragment
            assert browser.evaluate("location.hash") == f"#{fragment}"
        assert browser.evaluate("document.querySelector('#filter-status').value") == "418"
        assert browser.evaluate("document.querySelector('#journal-list').textContent") \
            == "No exchange matches the filters."
        # The world's dates, from the address too; a range the calendar refuses says why, in its panel.
        browser.open(f"{page}#from=2026-06-22&to=2026-06-23")
        browser.wait_for("document.querySelector('#world-range').textContent === '2026-06-22 to 2026-06-23'")
        assert browser.evaluate("document.querySelectorAll('#world-body .date').length") == 4  # 2 dates, 2 clinics
        browser.open(f"{page}#from=2026-06-23&to=2026-06-22")
        browser.wait_for("!!document.querySelector('#world-body .error')")
        assert "VALIDATION_ERROR" in browser.evaluate("document.querySelector('#world-body').textContent")
        browser.open(f"{page}#status=4xx")
        browser.wait_for("document.querySelector('#filter-status').value === '4xx'")
        browser.wait_for("document.querySelectorAll('#journal-list .entry').length === 3")
        shot = browser.screenshot(tmp_path / "filtered.png")
        with Image.open(shot) as png:
            image = png.convert("RGB")
        (journal,) = rects(browser, "#journal-list")
        painted = colours(image, journal)
        assert painted.get(AMBER, 0) > 1500 and painted.get(GREEN, 0) == 0 and painted.get(RED, 0) == 0

        # Paused, the page leaves the journal as it was; resumed, it catches up.
        browser.evaluate("document.querySelector('#pause').click()")
        assert browser.evaluate("document.body.dataset.state") == "paused"
        paused_at = polls(browser)
        requests.get(f"{server.url}/v1/appointments/appt_yyyyyyyyyy", headers=AS_WRITER, timeout=10)
        time.sleep(1.5)
        assert polls(browser) == paused_at and len(journal_statuses(browser)) == 3
        browser.evaluate("document.querySelector('#pause').click()")
        browser.wait_for("document.querySelectorAll('#journal-list .entry').length === 4")
        assert [p for p in browser.problems() if "status of 400" not in p] == []  # but the refused range


@pytest.mark.live
@browser_test
def test_chromium_watches_a_named_session_without_creating_one(live_server, tmp_path: Path) -> None:
    server = live_server()
    requests.get(f"{server.url}/v1/appointments/{DOC_ID}", headers={**AS_WRITER, "X-Sandbox-Session": "s1"},
                 timeout=10)
    requests.get(f"{server.url}/v1/appointments/appt_zzzzzzzzzz", headers=AS_WRITER, timeout=10)
    with Chromium(tmp_path / "profile") as browser:
        browser.open(f"{server.url}{PAGE}#session=s1")
        browser.wait_for("document.querySelectorAll('#journal-list .entry').length === 1")
        assert journal_statuses(browser) == ["200"]  # s1's request only
        assert browser.evaluate("document.querySelector('.session.current strong').textContent") == "s1"
        browser.open("about:blank")
        browser.open(f"{server.url}{PAGE}#session=ghost")
        browser.wait_for("Number(document.body.dataset.polls) >= 2")
        assert "No session named ghost" in browser.evaluate("document.querySelector('#session-note').textContent")
        assert browser.evaluate("document.querySelector('#journal-list').textContent") == "No session ghost to read."
    sessions = requests.get(f"{server.url}/_sandbox/sessions", timeout=10).json()["data"]["sessions"]
    assert [s["name"] for s in sessions] == ["default", "s1"]  # watching ghost did not start it


@pytest.mark.live
@browser_test
def test_chromium_asks_for_the_admin_token_and_keeps_it_out_of_every_url(live_server, tmp_path: Path) -> None:
    server = live_server("--admin-token", TOKEN)
    with Chromium(tmp_path / "profile") as browser:
        browser.open(server.url + PAGE)
        browser.wait_for("document.body.dataset.state === 'token'")
        assert browser.evaluate("document.querySelector('#token-form').hidden") is False
        assert "X-Sandbox-Admin-Token" in browser.evaluate("document.querySelector('#token-message').textContent")

        browser.open("about:blank")
        browser.open(f"{server.url}{PAGE}#token={TOKEN}&status=2xx")
        browser.wait_for("document.body.dataset.state === 'live'")
        assert browser.evaluate("location.href") == f"{server.url}{PAGE}#status=2xx"  # the token left the address
        assert browser.evaluate("sessionStorage.getItem('huskyvoice-sandbox-admin-token')") == TOKEN
        assert browser.evaluate("document.querySelector('#token-form').hidden") is True

        # The form, for a page opened without it (a new tab: nothing stored).
        browser.evaluate("sessionStorage.clear()")
        browser.open("about:blank")
        browser.open(server.url + PAGE)
        browser.wait_for("document.body.dataset.state === 'token'")
        browser.evaluate(f"document.querySelector('#token').value = {TOKEN!r}; "
                         "document.querySelector('#token-form').requestSubmit()")
        browser.wait_for("document.body.dataset.state === 'live'")
    _, log = server.stop()
    assert TOKEN not in log
    assert re.search(r'"GET /_sandbox/requests\?limit=200" 200', log), log


@pytest.mark.live
@browser_test
def test_chromium_shows_the_inspector_link_on_the_docs(live_server, tmp_path: Path) -> None:
    server = live_server()
    with Chromium(tmp_path / "profile") as browser:
        browser.open(f"{server.url}/docs")
        link = browser.wait_for("(function () { var a = document.querySelector('.info a[href=\"_sandbox/inspector\"]');"
                                " return a && {href: a.href, text: a.textContent, shown: a.offsetHeight > 0}; })()")
        assert link == {"href": f"{server.url}/_sandbox/inspector", "text": "The inspector", "shown": True}
