"""The marketplace in a real browser: Debian's Chromium, headless, driven by selenium through
chromium-driver (`make test` installs both when they are missing), against a live registry.

Screenshots of the home page, a plugin page, a rejected version and a phone-width plugin page
are written to build/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ALICE
from tests.integration.web.conftest import Marketplace

SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
DESKTOP = (1280, 1000)
PHONE = (390, 844)


def _browser(*, javascript: bool = True) -> WebDriver:
    binary = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert binary and driver_path, "Chromium is missing: run `make infra-tools` (as root)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = _browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, marketplace: Marketplace) -> Iterator[Callable[[str], WebDriver]]:
    """Open a path of the registry at desktop width; fail on any console error after."""
    browser.set_window_size(*DESKTOP)
    browser.get_log("browser")  # forget earlier messages

    def open_(path: str) -> WebDriver:
        browser.get(marketplace.url + path)
        return browser

    yield open_
    errors = [m for m in browser.get_log("browser") if m["level"] == "SEVERE"]
    assert not errors, errors


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(condition)


def shot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(height + 120, 600), 6000))
    assert driver.save_screenshot(str(SCREENSHOTS / name))


def results(driver: WebDriver) -> list[str]:
    """The result links' texts, read in one step (search as you type replaces them)."""
    texts: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#results a.result'), a => a.textContent)"
    )
    return texts


def test_home_page_lists_recent_plugins(page: Callable[[str], WebDriver]) -> None:
    driver = page("/")
    assert driver.title == "Plugins for the clawft agent · clawft plugin registry"
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
    recent = driver.find_element(By.CSS_SELECTOR, "[aria-labelledby=recent-heading]").text
    assert "clawft/weather" in recent and "clawft/loop" not in recent
    for control in driver.find_elements(By.CSS_SELECTOR, "input, select"):
        label = driver.find_elements(By.CSS_SELECTOR, f"label[for={control.get_attribute('id')}]")
        assert label, f"control {control.get_attribute('id')} has no label"
    shot(driver, "home.png")


def test_search_as_you_type(page: Callable[[str], WebDriver]) -> None:
    driver = page("/")
    box = driver.find_element(By.ID, "q")
    box.send_keys("weath")
    wait_for(driver, lambda d: results(d) == ["clawft/weather"])
    assert driver.current_url.endswith("/search?q=weath&namespace=&permission=")
    box.send_keys(Keys.BACKSPACE * 5 + "hel")
    wait_for(driver, lambda d: results(d) == ["clawft/hello"])
    driver.find_element(By.ID, "permission").send_keys("no network")
    box.clear()
    box.send_keys("c")
    wait_for(driver, lambda d: results(d) == ["clawft/hello", "clawft/hostile"])


def test_search_without_javascript(marketplace: Marketplace) -> None:
    driver = _browser(javascript=False)
    try:
        driver.get(marketplace.url + "/")
        box = driver.find_element(By.ID, "q")
        box.send_keys("forecast")
        box.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: "/search?q=forecast" in d.current_url)
        assert results(driver) == ["clawft/weather"]
        assert driver.find_element(By.TAG_NAME, "h1").text == "Search plugins"
        driver.get(marketplace.url + "/plugins/clawft/weather")
        copy = driver.find_element(By.CSS_SELECTOR, "button[data-copy=pull-command]")
        assert not copy.is_displayed()  # nothing to click without JavaScript: select the text
        field = driver.find_element(By.ID, "pull-command")
        assert field.get_attribute("value") == "clawft-registry pull clawft/weather@1.2.0"
    finally:
        driver.quit()


def test_open_a_plugin_and_read_its_permissions_and_signer(
    page: Callable[[str], WebDriver],
) -> None:
    driver = page("/search?q=weather")
    driver.find_element(By.LINK_TEXT, "clawft/weather").click()
    wait_for(driver, lambda d: d.current_url.endswith("/plugins/clawft/weather"))
    assert driver.title == "clawft/weather 1.2.0 · clawft plugin registry"
    permissions = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.permissions li")]
    assert permissions == [
        "connects to api.weather.com",
        "reads and writes files under data/ in its own folder",
        "reads the WEATHER_UNITS setting",
    ]
    assert driver.find_element(By.ID, "signer-identity").text == ALICE
    assert driver.find_element(By.ID, "signer-trusted").text.startswith("yes")
    checks = driver.find_element(By.CSS_SELECTOR, "table.checks").text
    assert "behaviour passed" in checks and "signature passed" in checks
    shot(driver, "plugin.png")


def test_copy_the_install_command(browser: WebDriver, page: Callable[[str], WebDriver]) -> None:
    driver = page("/plugins/clawft/weather")
    origin = driver.current_url.split("/plugins/")[0]
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    button = driver.find_element(By.CSS_SELECTOR, "button[data-copy=pull-command]")
    assert button.is_displayed()
    button.click()
    wait_for(driver, lambda d: d.find_element(By.ID, "pull-command-status").text == "Copied")
    field: WebElement = driver.find_element(By.ID, "pull-command")
    selected = driver.execute_script(
        "const f = arguments[0]; return f.value.substring(f.selectionStart, f.selectionEnd);",
        field,
    )
    assert selected == "clawft-registry pull clawft/weather@1.2.0"
    assert driver.switch_to.active_element == field
    try:
        clipboard = driver.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], () => arguments[0](null));"
        )
    except WebDriverException:
        clipboard = None
    if clipboard is not None:  # headless Chromium keeps a clipboard on most builds
        assert clipboard == "clawft-registry pull clawft/weather@1.2.0"


def test_a_rejected_version_says_why(page: Callable[[str], WebDriver]) -> None:
    driver = page("/plugins/clawft/loop/0.1.0")
    banner = driver.find_element(By.CSS_SELECTOR, ".banner.rejected")
    assert banner.get_attribute("role") == "alert"
    assert "The verifier rejected this version." in banner.text
    assert "The behaviour check failed" in banner.text and "fuel" in banner.text
    failed = driver.find_element(By.CSS_SELECTOR, "tr.check-failed").text
    assert failed.startswith("behaviour failed")
    assert not driver.find_elements(By.ID, "pull-command")
    shot(driver, "rejected.png")


def test_a_yanked_version_carries_a_banner(page: Callable[[str], WebDriver]) -> None:
    driver = page("/plugins/clawft/hello")
    driver.find_element(By.LINK_TEXT, "0.1.1").click()
    wait_for(driver, lambda d: d.current_url.endswith("/plugins/clawft/hello/0.1.1"))
    banner = driver.find_element(By.CSS_SELECTOR, ".banner.yanked").text
    assert "This version was yanked: greets the wrong person <b>oops</b>." in banner
    driver.find_element(By.LINK_TEXT, "See the latest version, 0.1.0").click()
    wait_for(driver, lambda d: d.current_url.endswith("/plugins/clawft/hello"))
    assert not driver.find_elements(By.CSS_SELECTOR, ".banner")


def test_keyboard_only_from_the_search_box_to_a_plugin(page: Callable[[str], WebDriver]) -> None:
    driver = page("/")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(10):
        if driver.switch_to.active_element.get_attribute("id") == "q":
            break
        driver.switch_to.active_element.send_keys(Keys.TAB)
    box = driver.switch_to.active_element
    assert box.get_attribute("id") == "q"
    box.send_keys("weather")
    wait_for(driver, lambda d: results(d) == ["clawft/weather"])
    for _ in range(10):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if "result" in (driver.switch_to.active_element.get_attribute("class") or ""):
            break
    assert driver.switch_to.active_element.text == "clawft/weather"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.current_url.endswith("/plugins/clawft/weather"))
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("clawft/weather")


def test_hostile_descriptions_render_as_text(page: Callable[[str], WebDriver]) -> None:
    for path in ("/plugins/clawft/hostile", "/plugins/clawft/hostile/0.2.0", "/search?q=pwned"):
        driver = page(path)
        assert driver.execute_script("return window.__pwned === undefined")
        scripts = driver.find_elements(By.TAG_NAME, "script")
        assert [
            (s.get_attribute("src") or "").split("?")[0].rsplit("/", 1)[-1] for s in scripts
        ] == ["site.js"]
        assert not driver.find_elements(By.CSS_SELECTOR, "main img, main b, main style")
        assert driver.find_element(By.TAG_NAME, "body").is_displayed()
        assert "<script>window.__pwned = 1</script>" in driver.find_element(By.ID, "main").text
    description = driver.find_element(By.CSS_SELECTOR, "#results .card p").text
    assert description.startswith("<script>")
    driver = page("/plugins/clawft/hostile/0.2.0")
    text = driver.find_element(By.CSS_SELECTOR, "p.description").text
    assert "\\x1b[31mred\\x1b[0m \\u202eevil\\u202c" in text
    assert "\u202e" not in text and "\x1b" not in text


def test_a_plugin_page_at_phone_width(page: Callable[[str], WebDriver]) -> None:
    driver = page("/plugins/clawft/weather")
    driver.set_window_size(*PHONE)
    driver.refresh()
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    assert driver.find_element(By.ID, "pull-command").is_displayed()
    shot(driver, "plugin-phone.png")
