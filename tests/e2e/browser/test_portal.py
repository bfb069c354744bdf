"""The customer portal in a real browser (headless Chromium over a live server): the seed's
refill-coupon story on both databases, refusals in the customer's words, the lock-out with
when to try again, a card's QR code opening the redemption page, the host platform's signed
link, and everything again without JavaScript and by keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser import screenshot_dir
from support.console import make_staff
from support.console import sign_in as console_sign_in
from support.factories import clear_codes
from support.portal import (
    PASSWORD,
    REFILL,
    double_topup,
    enable_links,
    portal_customer,
    qr_url,
    refill_coupons,
    signed_link,
)
from vouchers.bootstrap import App
from vouchers.services import settings

UNAVAILABLE = "This code is not valid or can no longer be used."


def shot(page: Page, name: str) -> None:
    page.screenshot(path=screenshot_dir() / f"portal-{name}.png", full_page=True)


def sign_in(page: Page, ref: str = "C1", password: str = PASSWORD) -> None:
    page.get_by_label("Account number").fill(ref)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def use_voucher(page: Page, code: str, amount: str = "") -> None:
    page.get_by_label("Voucher code").fill(code)
    if amount:
        page.get_by_label("Top-up amount").fill(amount)
    page.get_by_role("button", name="Add").click()


def balance_total(page: Page, currency: str = "EUR") -> str:
    return page.locator(f"#balances tr[data-currency={currency}] td.total").inner_text()


def test_a_customer_with_balance_0_redeems_two_refill_coupons_of_10_and_sees_20(
    app: App, page: Page, browser: Browser, base_url: str
) -> None:
    # Given two refill coupons of 10 and a customer whose password staff set
    first, second = refill_coupons(app, 2)
    portal_customer(app, name="Ann Smith")

    # When she signs in
    page.goto("/portal")
    expect(page).to_have_url(re.compile(r"/portal/sign-in\?next=/portal$"))
    shot(page, "sign-in")
    sign_in(page)

    # Then her balance is 0
    expect(page.get_by_role("heading", name="Ann Smith")).to_be_visible()
    assert balance_total(page) == "0.00 EUR"
    expect(page.get_by_text("No vouchers redeemed yet.")).to_be_visible()
    shot(page, "home-empty")

    # When she uses the first coupon
    use_voucher(page, first)

    # Then she sees what it credited and her balance of 10
    expect(page).to_have_url(re.compile(r"/portal/redemptions/\d+$"))
    expect(page.get_by_role("status")).to_contain_text("added 10.00 EUR to your account")
    expect(page.locator("#credited-paid")).to_have_text("+10.00 EUR")
    expect(page.locator("#credited-bonus")).to_have_text("+0.00 EUR")
    expect(page.locator("#balance-now")).to_have_text("10.00 EUR")
    shot(page, "redeemed")

    # When she goes back and uses the second
    page.get_by_role("link", name="Back to your account").click()
    use_voucher(page, second)
    expect(page.locator("#balance-now")).to_have_text("20.00 EUR")
    page.get_by_role("link", name="Back to your account").click()

    # Then her balance is 20 and both coupons are in her history
    assert balance_total(page) == "20.00 EUR"
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("10.00 EUR")
    shot(page, "home-20")

    # And support, in the staff console, sees both coupons used, with the date and by C1
    make_staff(app, "sam")
    staff = browser.new_context(base_url=base_url)
    console = staff.new_page()
    console_sign_in(console, "sam")
    numbers = {code: number for number, code in clear_codes(app).items()}
    for code in (first, second):
        console.goto(f"/console/vouchers/{numbers[code]}")
        expect(console.locator("h1")).to_contain_text("used")
        used = console.locator("dt:text-is('Used') + dd")
        expect(used).to_have_text(re.compile(r"^2026-11-27 12:00 UTC by C1$"))
    console.screenshot(path=screenshot_dir() / "console-voucher-used.png", full_page=True)
    staff.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_used_code_shows_only_the_customer_message(app: App, page: Page) -> None:
    (code,) = refill_coupons(app, 1)
    portal_customer(app)
    page.goto("/portal/sign-in")
    sign_in(page)
    use_voucher(page, code)
    page.get_by_role("link", name="Back to your account").click()

    use_voucher(page, code)

    alert = page.get_by_role("alert")
    expect(alert).to_have_text(UNAVAILABLE)
    expect(page.get_by_label("Voucher code")).to_have_value("")  # not echoed back
    assert "already used" not in page.content()  # the staff's reason stays with staff
    shot(page, "refused")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_where_the_operator_allows_top_ups_a_multiplier_voucher_shows_value_and_bonus(
    app: App, page: Page
) -> None:
    settings.set_setting("portal_topups", "on", uow=app.uow(), clock=app.clock, actor="setup")
    (code,) = double_topup(app)
    portal_customer(app)
    page.goto("/portal/sign-in")
    sign_in(page)

    use_voucher(page, code, amount="40.00")
    expect(page.get_by_role("alert")).to_have_text(
        "This voucher needs a top-up of at least 50.00 EUR."
    )
    expect(page.get_by_label("Voucher code")).to_have_value(code)  # kept, to add the amount
    use_voucher(page, code, amount="50.00")

    expect(page.locator("#credited-paid")).to_have_text("+50.00 EUR")
    expect(page.locator("#credited-bonus")).to_have_text("+50.00 EUR")
    expect(page.locator("#balance-now")).to_have_text("100.00 EUR")
    shot(page, "bonus-redeemed")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wrong_guesses_lock_the_customer_out_and_say_when_to_try_again(
    app: App, page: Page
) -> None:
    settings.set_setting(
        "lockout_guesses_per_customer", "3", uow=app.uow(), clock=app.clock, actor="setup"
    )
    (code,) = refill_coupons(app, 1)
    portal_customer(app)
    page.goto("/portal/sign-in")
    sign_in(page)

    for guess in REFILL["code_format"].generate(3):
        use_voucher(page, guess)
        expect(page.get_by_role("alert")).to_have_text(UNAVAILABLE)
    use_voucher(page, code)

    expect(page.get_by_role("alert")).to_have_text(
        "Too many wrong codes. You can try again in 60 minutes (at 13:00 UTC)."
    )
    assert balance_total(page) == "0.00 EUR"
    shot(page, "locked-out")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cards_qr_code_opens_the_redemption_page_which_asks_to_sign_in_then_redeems(
    app: App, page: Page, base_url: str
) -> None:
    (code,) = refill_coupons(app, 1)
    portal_customer(app, name="Ann Smith")
    scanned = qr_url(app, code, f"{base_url}/redeem")
    assert scanned.startswith(f"{base_url}/redeem?code=")
    requested: list[tuple[str, str | None]] = []
    page.on("request", lambda r: requested.append((r.url, r.headers.get("referer"))))

    page.goto(scanned)

    expect(page).to_have_url(f"{base_url}/redeem")  # the code left the address at once
    expect(page.get_by_role("heading", name="Redeem a voucher")).to_be_visible()
    expect(page.locator(".code-tail")).to_have_text(code[-4:])
    shot(page, "qr-sign-in")
    sign_in(page)

    expect(page).to_have_url(f"{base_url}/redeem")
    expect(page.get_by_text("into account C1")).to_be_visible()
    shot(page, "qr-confirm")
    page.get_by_role("button", name="Redeem").click()

    expect(page.locator("#balance-now")).to_have_text("10.00 EUR")
    shot(page, "qr-redeemed")
    after_scan = [url for url, _ in requested if not url.startswith(scanned)]
    assert not any(code in url.replace("-", "") for url in after_scan), after_scan
    assert not any(referer for _, referer in requested)  # Referrer-Policy: no-referrer


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_signed_link_from_the_host_platform_signs_in_and_a_bad_one_is_refused(
    app: App, page: Page
) -> None:
    enable_links(app)
    portal_customer(app, password=None, name="Ann Smith")

    page.goto(f"/portal/link?{signed_link(app, 'C1').query()}")

    expect(page).to_have_url(re.compile(r"/portal$"))
    expect(page.locator(".portal-who")).to_contain_text("C1")
    assert balance_total(page) == "0.00 EUR"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/portal/sign-in$"))

    page.goto(f"/portal/link?{signed_link(app, 'C1', seconds=-60).query()}")
    expect(page.get_by_role("alert")).to_contain_text("expired")
    shot(page, "link-expired")
    tampered = signed_link(app, "C1").query().replace("customer=C1", "customer=C2")
    page.goto(f"/portal/link?{tampered}")
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.goto("/portal")
    expect(page).to_have_url(re.compile(r"/portal/sign-in"))


@pytest.fixture
def no_js_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a browser context with JavaScript turned off."""
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_javascript_and_by_keyboard_alone_a_customer_signs_in_and_redeems(
    app: App, no_js_page: Page, base_url: str
) -> None:
    page = no_js_page
    first, second = refill_coupons(app, 2)
    portal_customer(app)

    page.goto("/portal/sign-in")
    page.get_by_label("Account number").focus()
    page.keyboard.type("C1")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/portal$"))

    page.get_by_label("Voucher code").focus()
    page.keyboard.type(first)
    page.keyboard.press("Enter")
    expect(page.locator("#balance-now")).to_have_text("10.00 EUR")

    page.goto(qr_url(app, second, f"{base_url}/redeem"))
    page.get_by_role("button", name="Redeem").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#balance-now")).to_have_text("20.00 EUR")
    shot(page, "no-js")
