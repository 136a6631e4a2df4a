"""The dashboard in a real browser (Debian's chromium and chromedriver, Selenium from PyPI).

Signs in with an API token, reads the overview, filters the device list, opens a device and quarantines
it, at 1280 px and at a phone's width. Usage: dashboard_test.py BASE_URL TOKEN NONCOMPLIANT_COUNT
DEVICE_COUNT HOSTNAME ARTEFACT_DIR. Prints one line per check; exit 1 on the first failure. Screenshots go to ARTEFACT_DIR.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import SessionNotCreatedException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

base, token, noncompliant, total, hostname, artefacts = sys.argv[1:7]
os.makedirs(artefacts, exist_ok=True)


def check(condition, what):
    print(("ok      " if condition else "FAILED  ") + what, flush=True)
    if not condition:
        driver.save_screenshot(os.path.join(artefacts, "failure.png"))
        with open(os.path.join(artefacts, "failure.html"), "w") as f:
            f.write(driver.page_source)
        driver.quit()
        sys.exit(1)


def follow(element):
    """Clicks a link or submit button and waits for the next page to replace this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # Mid-navigation, chromedriver may report the old node as "not in the document" with a generic
        # WebDriverException rather than StaleElementReferenceException (staleness_of lets that escape).
        try:
            page.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise

    WebDriverWait(driver, 15).until(replaced)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


options = Options()
options.binary_location = "/usr/bin/chromium"
# The collector's CA is private to the test; TLS itself is verified by the other end-to-end tests.
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                 "--window-size=1280,900"]:
    options.add_argument(argument)
# Chromium sometimes exits while starting on a loaded machine (seen once in a full test run: "Chrome instance
# exited" before any page): start it again, up to three times; what is tested begins after it runs.
for attempt in range(3):
    try:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        break
    except SessionNotCreatedException as error:
        print(f"chromium did not start (attempt {attempt + 1}): {error.msg}", file=sys.stderr)
        time.sleep(2)
else:
    sys.exit("chromium did not start three times; see the messages above")
driver.set_page_load_timeout(30)

driver.get(base + "/ui")
check(driver.current_url.endswith("/ui/sign-in"), "an anonymous visit goes to the sign-in page")
driver.find_element(By.ID, "token").send_keys("wrong-token")
follow(driver.find_element(By.ID, "sign-in"))
check("unknown" in driver.find_element(By.ID, "error").text, "a wrong token is refused with a reason")
driver.find_element(By.ID, "token").send_keys(token)
follow(driver.find_element(By.ID, "sign-in"))
check(driver.current_url.endswith("/ui"), "signed in, on the overview")
check(driver.find_element(By.ID, "count-noncompliant").text == noncompliant,
      "the overview counts %s non-compliant devices" % noncompliant)
check("impossible-os" in driver.page_source, "the overview lists the failing rule")
# Maturity stages: every device reports (initial), none has a TPM key and enforces (advanced).
check(driver.find_element(By.ID, "stage-initial").text == total and
      driver.find_element(By.ID, "stage-traditional").text == "0" and
      driver.find_element(By.ID, "stage-advanced").text == "0",
      "the overview places all %s devices at the initial maturity stage" % total)
driver.save_screenshot(os.path.join(artefacts, "overview-1280.png"))

follow(driver.find_element(By.LINK_TEXT, "Devices"))
Select(driver.find_element(By.ID, "filter-verdict")).select_by_value("noncompliant")
follow(driver.find_element(By.ID, "apply-filters"))
rows = driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
check(len(rows) == int(noncompliant), "the verdict filter shows %d rows (%d)" % (int(noncompliant), len(rows)))
check(all("noncompliant" in row.text for row in rows), "every row is non-compliant")
check(not driver.find_elements(By.CSS_SELECTOR, "a.next"), "no next-page link when everything fits")
driver.save_screenshot(os.path.join(artefacts, "devices-noncompliant-1280.png"))

# Pages of 3, followed through their links: every device once.
driver.get(base + "/ui/devices?limit=3")
seen = []
while True:
    seen += [link.text for link in driver.find_elements(By.CSS_SELECTOR, "a.device-link")]
    more = driver.find_elements(By.CSS_SELECTOR, "a.next")
    if not more:
        break
    follow(more[0])
check(len(seen) == int(total) and len(set(seen)) == len(seen), "pages of 3 show all %s devices once (%s)" % (total, seen))

Select(driver.find_element(By.ID, "filter-verdict")).select_by_value("")
hostname_filter = driver.find_element(By.ID, "filter-hostname")
hostname_filter.clear()
hostname_filter.send_keys(hostname)
follow(driver.find_element(By.ID, "apply-filters"))
links = driver.find_elements(By.CSS_SELECTOR, "a.device-link")
check([link.text for link in links] == [hostname], "the hostname filter finds %s alone" % hostname)
follow(links[0])
check(hostname in driver.find_element(By.TAG_NAME, "h1").text, "the device page opens")
check(driver.find_element(By.ID, "maturity-stage").text == "Initial", "the device page shows its maturity stage")
check("a device key in a TPM" in driver.find_element(By.ID, "maturity-missing").text,
      "and what the next stage needs")
check("compliant" in driver.find_element(By.ID, "verdict").text and
      "noncompliant" not in driver.find_element(By.ID, "verdict").text, "it is compliant before")
driver.find_element(By.ID, "quarantine-reason").send_keys("laptop reported stolen")
follow(driver.find_element(By.ID, "quarantine"))
check("Quarantined" in driver.find_element(By.ID, "flash").text, "the quarantine is confirmed")
check("noncompliant" in driver.find_element(By.ID, "verdict").text, "the verdict shows non-compliant")
check("quarantine by apitoken" in driver.find_element(By.ID, "timeline").text,
      "the timeline shows the quarantine and who did it")
driver.save_screenshot(os.path.join(artefacts, "device-quarantined-1280.png"))

quarantined_page = driver.current_url.split("?")[0].replace(base, "")

# A non-compliant device: its risk score with the reasons, and the Why table inside its card.
driver.get(base + "/ui/devices?verdict=noncompliant")
follow(driver.find_elements(By.CSS_SELECTOR, "a.device-link")[0])
failing_page = driver.current_url.split("?")[0].replace(base, "")
check("Risk score" in driver.find_element(By.ID, "risk").text, "the device page shows its risk score")
risk = int(driver.find_element(By.CSS_SELECTOR, "#risk strong").text)
reasons = driver.find_elements(By.CSS_SELECTOR, "#risk-reasons li")
check(risk == 0 or len(reasons) > 0, "a risk of %d comes with its reasons (%d listed)" % (risk, len(reasons)))
check(len(driver.find_elements(By.CSS_SELECTOR, "#why tbody tr")) > 0, "the Why table lists the failing rules")


def why_fits(width):
    page = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(page <= 1, "the device page fits %d px (overflow %d px)" % (width, page))
    card = driver.execute_script(
        "const c = document.getElementById('why-card').getBoundingClientRect();"
        "const m = document.querySelector('main').getBoundingClientRect();"
        "return c.right - m.right;")
    check(card <= 1, "the Why card stays inside the page at %d px (overflow %.1f px)" % (width, card))
    overflow = driver.execute_script(
        "const t = document.getElementById('why').getBoundingClientRect();"
        "const c = document.getElementById('why-card').getBoundingClientRect();"
        "return Math.max(t.right - c.right, c.left - t.left);")
    check(overflow <= 1, "the Why table fits its card at %d px (overflow %.1f px)" % (width, overflow))


why_fits(1280)
driver.save_screenshot(os.path.join(artefacts, "device-noncompliant-1280.png"))

driver.set_window_size(390, 844)
driver.get(base + failing_page)
why_fits(390)
for page in ["/ui", "/ui/devices", quarantined_page, failing_page]:
    driver.get(base + page)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(overflow <= 1, "%s fits a 390 px phone screen (overflow %d px)" % (page, overflow))
driver.save_screenshot(os.path.join(artefacts, "device-phone.png"))
driver.quit()
print("dashboard: all checks passed")
