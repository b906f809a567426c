"""Keyboard focus is visible on the page: a ring of at least 3:1 contrast against what surrounds it, light and dark."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_web_page import open_page, user_id_of

pytestmark = pytest.mark.e2e

# The focused element's outline, and the first opaque background behind it (where the ring is drawn).
FOCUS_RING = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (el.dataset.focusSeen) return {again: true};  // back to the start: every control was reached
  el.dataset.focusSeen = "1";
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r, g, b, a};
  };
  const style = getComputedStyle(el);
  let node = el.parentElement, behind = null;
  while (node && !behind) {
    const colour = parse(getComputedStyle(node).backgroundColor);
    if (colour && colour.a === 1) behind = colour;
    node = node.parentElement;
  }
  behind = behind || parse(getComputedStyle(document.documentElement).backgroundColor) || {r: 255, g: 255, b: 255};
  const lum = ({r, g, b}) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ring = parse(style.outlineColor);
  const [hi, lo] = [lum(ring), lum(behind)].sort((a, b) => b - a);
  return {
    element: el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    contrast: (hi + 0.05) / (lo + 0.05),
  };
}
"""


def tab_through(page: Page) -> list[dict]:
    """The focus ring of each control Tab reaches from where the focus is, once round the page (60 at most)."""
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None or ring.get("again"):
            break
        seen.append(ring)
    return seen


def weak_rings(seen: list[dict]) -> list[dict]:
    """The rings hard to see: none, thinner than 2 px, or under 3:1 against the background behind them."""
    return [r for r in seen if r["style"] == "none" or r["width"] < 2 or r["contrast"] < 3]


def open_view(page: Page, base_url: str, view: str) -> None:
    """The page at one of its views; "conversation" is an echo's conversation (with a message, a voice notice)."""
    if view == "conversation":
        open_page(page, base_url, "/#echos")
        made = page.request.post(
            f"{base_url}/api/echo",
            data={"user_id": user_id_of(page), "name": "Grandma Rose", "persona_prompt": "Kind."},
        )
        assert made.ok, made.text()
        echo_id = made.json()["echo"]["_id"]
        page.request.post(
            f"{base_url}/api/conversation/{echo_id}",
            data={"user_id": user_id_of(page), "role": "assistant", "content": "Hello, dear."},
        )
        open_page(page, base_url, f"/#echo={echo_id}")
        page.locator("#echo-edit summary").click()  # the folded forms open, so their controls are reached too
        page.locator("#message-details summary").click()
        page.locator("body").focus()
    elif view == "history":
        open_page(page, base_url, "/#voices")
        spoken = page.request.post(
            f"{base_url}/api/synthesize", data={"user_id": user_id_of(page), "text": "Hello there.", "format": "mp3"}
        )
        assert spoken.ok, spoken.text()
        open_page(page, base_url, "/#history")
        expect(page.locator("#history-list li")).to_have_count(1)
    else:
        open_page(page, base_url, f"/#{view}")
    page.locator("#health-details summary").click()
    page.evaluate("document.activeElement && document.activeElement.blur()")


@pytest.mark.parametrize("view", ["welcome", "conversation", "echos", "voices", "history"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_control_reached_by_tab_shows_a_ring_of_3_to_1_or_more(
    page: Page, live_server: str, scheme: str, view: str
):
    page.emulate_media(color_scheme=scheme)
    open_view(page, live_server, view)
    seen = tab_through(page)
    assert len(seen) >= 8, seen  # the page's controls were reached
    weak = weak_rings(seen)
    assert weak == [], weak
