"""Screenshots of every dashboard page for the docs (not a test).

    althedge serve --demo --port 8799 &
    python tests/web/screenshots.py http://127.0.0.1:8799/ docs/img

Drives Debian's headless Chromium (chromium + chromium-driver) with selenium.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait


def main(base: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="althedge-shots-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1360,1500",
                "--hide-scrollbars", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"),
                              options=opts)
    driver.set_page_load_timeout(300)
    wait = WebDriverWait(driver, 300)
    try:
        for name, path, css in (("plan", "", "#holdings"), ("hedge", "hedge", "#status"),
                                ("levels", "levels", "#levels"), ("data", "data", "#series")):
            driver.get(base + path)
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
            if name in ("hedge", "levels"):
                chart = "chart-ratio" if name == "hedge" else "levels-chart"
                wait.until(lambda d, c=chart: d.execute_script(
                    "var e = document.getElementById(arguments[0]);"
                    "return e && e.querySelector('.main-svg') !== null;", c))
            driver.save_screenshot(str(out / f"dashboard-{name}.png"))
            print("wrote", out / f"dashboard-{name}.png")
        driver.get(base + "hedge")
        Select(driver.find_element(By.ID, "action")).select_by_value("close")
        driver.find_element(By.ID, "preview-go").click()
        wait.until(ec.presence_of_element_located((By.ID, "orders")))
        driver.execute_script("document.getElementById('preview').scrollIntoView();")
        driver.save_screenshot(str(out / "dashboard-preview.png"))
        print("wrote", out / "dashboard-preview.png")
        driver.get(base + "backtest")
        driver.find_element(By.ID, "backtest-go").click()
        wait.until(ec.presence_of_element_located((By.ID, "backtest-table")))
        driver.save_screenshot(str(out / "dashboard-backtest.png"))
        print("wrote", out / "dashboard-backtest.png")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
