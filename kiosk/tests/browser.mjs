// The kiosk pages in a real browser (Debian's chromium, driven by playwright-core), against a
// running `palmline serve`. Stories: sign up with uploaded synthetic palms and a test card, then
// pay at a till and see the receipt; a declined card at sign-up; a palm at a venue gate; a
// walk-out trip's receipt page; both hands at sign-up; a hover at a till, and the other hand asked for.
//
// Usage: node browser.mjs   with PALMLINE_URL, PALMLINE_DATA (the server's data directory, for
// the demo credentials), PALMLINE_PALMS (a `palmline synth` folder), and optionally
// PALMLINE_SCREENSHOTS (failure screenshots; default target/browser-screenshots) and
// PALMLINE_WALKTHROUGH (a folder: save one screenshot per step of the first-payment walkthrough).
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const base = process.env.PALMLINE_URL;
const data = process.env.PALMLINE_DATA;
const palms = process.env.PALMLINE_PALMS;
const shots = process.env.PALMLINE_SCREENSHOTS || "target/browser-screenshots";
const walkthrough = process.env.PALMLINE_WALKTHROUGH;
if (!base || !data || !palms) throw new Error("set PALMLINE_URL, PALMLINE_DATA and PALMLINE_PALMS");
const demo = JSON.parse(readFileSync(join(data, "demo-credentials.json"), "utf8"));
const till = demo.tills[0];
const palm = (id, k) => join(palms, id, `${k}.png`);
const palmIds = readFileSync(join(palms, "manifest.csv"), "utf8").split("\n").slice(1)
  .map((l) => l.split(",")[1]).filter(Boolean).filter((v, i, a) => a.indexOf(v) === i);

async function api(method, path, key, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
let step = 0;
// One step of the walkthrough: its screenshot, and the text the page shows with what changes
// from run to run (ids, secrets, times) masked, so `.ci/run` can tell when docs/walkthrough no
// longer shows what the pages show.
async function snap(page, name) {
  if (!walkthrough) return;
  mkdirSync(walkthrough, { recursive: true });
  step += 1;
  const file = join(walkthrough, `${String(step).padStart(2, "0")}-${name}`);
  await page.screenshot({ path: file + ".png", fullPage: true });
  const text = (await page.evaluate(() => document.body.innerText))
    .replace(/\b(sk|tk|gk)_test_[A-Za-z0-9]+|\bgk_[A-Za-z0-9]+/g, "<secret>")
    .replace(/\b(pay|per|till|mer|evn|ven|gate|card|dev|ref)_[0-9A-Za-z]{10,}/g, "<id>")
    .replace(/\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},? \d{1,2}:\d{2}(:\d{2})?( ?[AP]M)?/g, "<time>")
    .replace(/[ \t]+\n/g, "\n");
  writeFileSync(file + ".txt", text.trim() + "\n");
}

async function story(name, fn) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A blocked inline style or script shows only as a console message.
  page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/.test(m.text())) errors.push(m.text()); });
  const started = Date.now();
  try {
    await fn(page);
    assert.deepEqual(errors, [], "no script errors in the page");
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    mkdirSync(shots, { recursive: true });
    const file = join(shots, name.replace(/\W+/g, "-") + ".png");
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    console.log(`FAIL ${name}: ${e.message}\n     screenshot: ${file}`);
    process.exitCode = 1;
  } finally {
    await context.close();
  }
}

// The link `palmline serve` prints: it hands the screens their credentials, the demo gate's too.
const link = `${base}/#key=${demo.api_key}&till=${till.credential}&till_id=${till.id}`
  + `&gate=${demo.gate.credential}&event=${demo.gate.event}`;

// The gate page: a capture of `palmId` per try (`ks`) until one is let in; the last reason.
async function scanAtGate(page, palmId, ks) {
  let reason = "";
  for (const k of ks) {
    await page.setInputFiles("#file", palm(palmId, k));
    await page.waitForSelector("#panel:not(.hidden)");
    reason = await page.getAttribute("#panel", "data-reason");
    if (reason === "welcome") break;
    await page.waitForSelector("#panel.hidden", { timeout: 8000 });
  }
  return reason;
}

// Nothing runs off the side of the page at this width (tables scroll inside their cards).
async function fitsWidth(page, width) {
  await page.setViewportSize({ width, height: 900 });
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `the page is ${over} px wider than a ${width} px screen`);
}

// The uploaded synthetic palms stand in for a till scanner's captures unless `fromPhone`.
async function signUp(page, { phone, card, palmId, cvc = "123", fromPhone = false }) {
  await page.goto(`${base}/kiosk/signup.html`);
  await page.fill("#phone", phone);
  await page.fill("#number", card);
  await page.fill("#exp_month", "12");
  await page.fill("#exp_year", "2034");
  await page.fill("#cvc", cvc);
  await page.fill("#holder", "Ada Palm");
  await page.waitForFunction(() => !document.getElementById("consent-text").textContent.startsWith("Loading"));
  await page.check("#consent");
  await page.setInputFiles("#files", [1, 2, 3].map((k) => palm(palmId, k)));
  await page.waitForSelector("#thumbs .thumb:nth-child(3)");
  assert.ok(await page.isChecked("#from-phone"), "chosen photos are taken for a phone's");
  if (!fromPhone) await page.uncheck("#from-phone");
}

await story("sign up with an uploaded palm, pay at a till, see the receipt", async (page) => {
  await page.goto(link);
  await snap(page, "start-page");
  await signUp(page, { phone: "+15550107001", card: "4242 4242 4242 4242", palmId: palmIds[0] });
  await snap(page, "sign-up-filled");
  await page.click("#submit");
  await page.waitForSelector("#done:not(.hidden)", { timeout: 20000 });
  assert.match(await page.textContent("#done-detail"), /VISA .*4242/);
  await snap(page, "signed-up");

  await page.goto(`${base}/kiosk/checkout.html`);
  // A till keeps only its own restricted credential: the merchant key (refunds, devices,
  // webhooks) is never stored where the kiosk keeps its settings.
  const kept = await page.evaluate(() => localStorage.getItem("palmline") || "");
  assert.ok(kept.includes("tk_") && !kept.includes("sk_"), "the till stores no merchant key");
  await page.fill("#amount", "12.50");
  await page.click("#start");
  await page.waitForSelector("#palm-box:not(.hidden)");
  assert.equal((await page.textContent("#due")).replace(/\s/g, ""), "$12.50");
  await snap(page, "checkout-hover-palm");
  // A hover that is not read asks for another; the synthetic palm's later captures stand in.
  for (const k of [4, 5]) {
    await page.setInputFiles("#file", palm(palmIds[0], k));
    await page.waitForFunction(() => !document.getElementById("confirm-box").classList.contains("hidden")
      || document.getElementById("error").textContent !== "");
    if (!(await page.isHidden("#confirm-box"))) break;
  }
  await page.waitForSelector("#confirm-box:not(.hidden)");
  assert.match(await page.textContent("#cards"), /VISA .*4242/);
  await page.fill("#tip", "1.50");
  await snap(page, "checkout-card-and-tip");
  // A double click confirms once: no second request, no error above the receipt.
  await page.dblclick("#confirm");
  await page.waitForSelector("#receipt:not(.hidden)", { timeout: 20000 });
  assert.equal((await page.textContent("#r-total")).replace(/\s/g, ""), "$14.00");
  assert.match(await page.textContent("#r-card"), /4242/);
  // The receipt says who was paid, when, and what the total is made of.
  assert.match(await page.textContent("#r-where"), /Demo Shop, Main Street - Till 1/);
  assert.match(await page.textContent("#r-when"), /\d/);
  const lines = (await page.textContent("#r-lines")).replace(/\s/g, "");
  assert.match(lines, /Amount\$12\.50Tip\$1\.50/);
  assert.ok(await page.isHidden("#cancel"), "a paid payment offers no cancel");
  assert.equal(await page.textContent("#error"), "");
  await snap(page, "receipt");
  // The merchant sees it, in words, with its time, on a wide screen and on a phone.
  await page.goto(`${base}/kiosk/merchant.html`);
  await page.waitForSelector("#payments tbody tr");
  assert.match(await page.textContent("#payments tbody"), /Paid/);
  await fitsWidth(page, 1280);
  await fitsWidth(page, 375);
  await page.setViewportSize({ width: 1000, height: 900 });
  // The accuracy report `palmline eval --report` left in the data directory, with its DET curve.
  await page.waitForSelector("#accuracy tbody tr");
  await page.waitForSelector("#det:not(.hidden)");
  assert.match(await page.textContent("#accuracy tbody"), /%/);
  await snap(page, "merchant-dashboard");
});

await story("a declined card is refused at sign-up (verified with its CVC) with a clear error", async (page) => {
  await page.goto(link);
  await signUp(page, { phone: "+15550107002", card: "4000 0000 0000 0002", palmId: palmIds[1] });
  await page.click("#submit");
  await page.waitForFunction(() => document.getElementById("number-error").textContent !== "", null, { timeout: 20000 });
  // Said in plain words next to the card number, and the steps go back to the card.
  assert.match(await page.textContent("#number-error"), /declined when it was checked/i);
  assert.doesNotMatch(await page.textContent("#number-error"), /card\.number|\(/);
  assert.ok(await page.isHidden("#done"));
  assert.match(await page.getAttribute("#step-details", "class"), /active/);
  assert.doesNotMatch(await page.getAttribute("#step-send", "class"), /done/);
  assert.ok(await page.isEnabled("#submit"), "the person can fix the card and try again");
});

await story("sign-up errors sit at their field, a bad photo is removed, and the next person starts clean", async (page) => {
  await page.goto(link);
  await signUp(page, { phone: "12345", card: "4242 4242 4242 424", palmId: palmIds[2] });
  const refused = async (field, pattern) => {
    await page.click("#submit");
    await page.waitForFunction((f) => document.getElementById(f).textContent !== "", `${field}-error`, { timeout: 20000 });
    assert.match(await page.textContent(`#${field}-error`), pattern);
    assert.equal(await page.textContent("#error"), "", "no API text above the form");
  };
  await refused("phone", /country code/);
  await page.fill("#phone", "+15550107009");
  // A 15-digit number starting with 4 passes Luhn but is no Visa number.
  await refused("number", /not right/);
  assert.equal(await page.textContent("#phone-error"), "", "the fixed field's error is gone");
  await page.fill("#number", "5105 1051 0510 5100");
  // A fourth "photo" that is no picture: named, marked, removed.
  await page.setInputFiles("#files", { name: "scan.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
  await page.waitForSelector("#thumbs .thumb:nth-child(4)");
  await refused("palm", /^Photo 4: .*Remove it/);
  assert.match(await page.getAttribute("#thumbs .thumb:nth-child(4)", "class"), /bad/);
  await page.click("#thumbs .thumb:nth-child(4) .remove");
  assert.equal(await page.locator("#thumbs .thumb").count(), 3);
  await page.click("#submit");
  await page.waitForSelector("#done:not(.hidden)", { timeout: 20000 });
  // On a shared kiosk the card does not stay on screen; the next person gets an empty form.
  assert.equal(await page.inputValue("#number"), "");
  assert.equal(await page.inputValue("#cvc"), "");
  await page.click("#next");
  await page.waitForSelector("#done.hidden", { state: "attached" });
  assert.equal(await page.locator("#thumbs .thumb").count(), 0);
  assert.ok(await page.isVisible("#submit"));
});

await story("sign up with phone photos, finish with the first hover at a till", async (page) => {
  await page.goto(link);
  await signUp(page, { phone: "+15550107003", card: "5555 5555 5555 4444", palmId: palmIds[1], fromPhone: true });
  await page.click("#submit");
  await page.waitForSelector("#done:not(.hidden)", { timeout: 20000 });
  assert.match(await page.textContent("#done-detail"), /first payment/);

  await page.goto(`${base}/kiosk/checkout.html`);
  await page.fill("#amount", "3.20");
  await page.click("#start");
  await page.waitForSelector("#palm-box:not(.hidden)");
  for (const k of [4, 5]) {
    await page.setInputFiles("#file", palm(palmIds[1], k));
    await page.waitForFunction(() => document.getElementById("error").textContent !== "");
    if (!(await page.isHidden("#hint-box"))) break;
  }
  // The first scan since a phone sign-up always asks for the phone's last digits.
  await page.waitForSelector("#hint-box:not(.hidden)");
  assert.match(await page.textContent("#error"), /phone photos/);
  await page.fill("#hint", "7003");
  await page.click("#hint-go");
  await page.waitForSelector("#confirm-box:not(.hidden)", { timeout: 20000 });
  assert.match(await page.textContent("#cards"), /MASTERCARD .*4444/i);
  await page.click("#confirm");
  await page.waitForSelector("#receipt:not(.hidden)", { timeout: 20000 });
  assert.equal((await page.textContent("#r-total")).replace(/\s/g, ""), "$3.20");
});

await story("a double-clicked Charge makes one payment, and Cancel ends it with nothing charged", async (page) => {
  await page.goto(link);
  const before = (await api("GET", "/v1/payments?limit=100", demo.api_key)).data.length;
  await page.goto(`${base}/kiosk/checkout.html`);
  await page.fill("#amount", "7.00");
  await page.dblclick("#start");
  await page.waitForSelector("#palm-box:not(.hidden)");
  await page.waitForSelector("#start:not([disabled])", { state: "attached" });
  const payments = (await api("GET", "/v1/payments?limit=100", demo.api_key)).data;
  assert.equal(payments.length, before + 1, "one payment for a double click");
  await page.click("#cancel");
  await page.waitForSelector("#canceled:not(.hidden)");
  assert.ok(await page.isHidden("#palm-box"));
  assert.ok(await page.isVisible("#again"));
  const p = await api("GET", `/v1/payments/${payments[0].id}`, demo.api_key);
  assert.equal(p.status, "canceled");
  assert.equal(p.amount_captured, 0);
});

await story("the demo gate with its seeded credential: green for a pass holder, red for a stranger", async (page) => {
  // The merchant gives the person who signed up a ticket on the dashboard: no curl needed.
  await page.goto(link);
  await page.goto(`${base}/kiosk/merchant.html`);
  assert.equal(await page.inputValue("#pass-event"), demo.gate.event, "the demo event is filled in");
  await page.fill("#pass-phone", "+15550107001");
  await page.click("#pass-add");
  await page.waitForFunction(() => document.getElementById("pass-done").textContent !== "");
  assert.equal(await page.textContent("#error"), "");
  await page.goto(`${base}/kiosk/gate.html`);
  assert.equal(await page.inputValue("#event"), demo.gate.event);
  assert.match(await page.textContent("label[for=event]"), /evn_/);
  assert.equal(await scanAtGate(page, palmIds[0], [4, 5]), "welcome");
  assert.equal(await page.textContent("#verdict"), "GO");
  const green = await page.$eval("#panel", (el) => getComputedStyle(el).backgroundColor);
  assert.equal(green, "rgb(19, 115, 51)");
  const size = await page.$eval("#verdict", (el) => parseFloat(getComputedStyle(el.parentElement).fontSize));
  assert.ok(size >= 60, "readable from two metres");
  // On a 1280 x 900 screen the verdict fills the screen and nothing runs off it.
  await page.setViewportSize({ width: 1280, height: 900 });
  const box = await page.$eval("#panel", (el) => { const r = el.getBoundingClientRect(); return [r.top, r.left, r.bottom, r.right]; });
  assert.deepEqual(box, [0, 0, 900, 1280]);
  await snap(page, "gate-welcome");
  // A scan that fails (not a picture) takes the previous person's GO down with it.
  await page.setInputFiles("#file", { name: "note.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
  await page.waitForFunction(() => document.getElementById("error").textContent !== "");
  assert.ok(await page.isHidden("#panel"), "no verdict stays up after a failed scan");
  await page.setInputFiles("#file", palm(palmIds[3], 1)); // nobody signed this palm up
  await page.waitForFunction(() => document.getElementById("panel").dataset.reason === "palm_not_recognised");
  assert.equal(await page.textContent("#verdict"), "STOP");
  // A stranger's hover (three frames): the first hand names no one, so the gate asks for the
  // other hand; the next hover goes beside the first, and still names no one.
  await page.setInputFiles("#file", [1, 2, 3].map((k) => palm(palmIds[6], k)));
  await page.waitForFunction(() => document.getElementById("panel").dataset.reason === "needs_second_hand");
  assert.equal(await page.textContent("#why"), "Now hover your other hand");
  await page.setInputFiles("#file", [1, 2, 3].map((k) => palm(palmIds[7], k)));
  await page.waitForFunction(() => document.getElementById("panel").dataset.reason === "palm_not_recognised");
  // The pass holder's hover is read as one: inside already, so this gate says so.
  await page.setInputFiles("#file", [1, 2, 3].map((k) => palm(palmIds[0], k)));
  await page.waitForFunction(() => document.getElementById("panel").dataset.reason === "already_inside");
  // The merchant's entries list shows both decisions.
  await page.goto(`${base}/kiosk/merchant.html#key=${demo.api_key}`);
  await page.waitForSelector("#entries tbody tr:nth-child(2)");
  const entries = await page.textContent("#entries tbody");
  assert.match(entries, /admitted: welcome/);
  assert.match(entries, /refused: palm_not_recognised/);
});

await story("a walk-out trip: a palm at the store's gate, the person's receipt link, a disputed line", async (page) => {
  // The merchant opens a walk-out store; its gate page runs with that gate's credential and no event.
  const store = await api("POST", "/v1/venues", demo.api_key, {
    name: "Corner Grab", gates: [{ name: "Door" }], walk_out: { currency: "usd", hold: 5000, tax_rate_bps: 825 },
  });
  await page.goto(`${base}/kiosk/gate.html#gate=${store.gates[0].credential}`);
  assert.equal(await page.inputValue("#event"), "");
  assert.equal(await scanAtGate(page, palmIds[0], [4, 5, 3]), "welcome");
  assert.equal(await page.textContent("#verdict"), "GO");
  // The store's sensor system reports the basket; the person walks out.
  const trips = await api("GET", "/v1/shopping_trips", demo.api_key);
  const trip = trips.data.find((t) => t.status === "open");
  assert.ok(trip, "the palm opened a trip");
  for (const e of [
    { id: "e1", kind: "take", product: "cola", name: "Cola 330 ml", quantity: 2, unit_price: 199 },
    { id: "e2", kind: "take", product: "chips", name: "Salted chips", quantity: 1, unit_price: 349 },
    { id: "e3", kind: "put_back", product: "cola", name: "Cola 330 ml", quantity: 1, unit_price: 199 },
  ]) await api("POST", `/v1/shopping_trips/${trip.id}/events`, demo.api_key, e);
  const done = await api("POST", `/v1/shopping_trips/${trip.id}/exit`, demo.api_key, {});
  assert.equal(done.status, "completed");
  // The receipt page from the person's link: the lines, the total, the card.
  await page.goto(base + done.receipt_link);
  await page.waitForSelector("#receipt-box:not(.hidden)");
  assert.equal(await page.textContent("#store"), "Corner Grab");
  const lines = await page.textContent("#lines");
  assert.match(lines, /Cola 330 ml/);
  assert.match(lines, /Salted chips/);
  assert.match(await page.textContent("#totals"), /5\.93/);
  assert.match(await page.textContent("#card"), /4242/);
  await fitsWidth(page, 380);
  // A line disputed: the store is asked, and the receipt shows it waiting.
  await page.selectOption("#product", "chips");
  await page.fill("#reason", "I never took chips");
  await page.click("#dispute");
  await page.waitForFunction(() => document.getElementById("sent").textContent !== "");
  assert.match(await page.textContent("#sent"), /3\.78/);
  assert.match(await page.textContent("#adjustments"), /Waiting for the store/);
  // A link cut short opens nothing, and says so.
  await page.goto(`${base}/kiosk/receipt.html#receipt=${trip.id}.00`);
  await page.waitForFunction(() => document.getElementById("error").textContent !== "");
  assert.match(await page.textContent("#error"), /No receipt for this link/);
  // The merchant's dashboard lists the trip as done.
  await page.goto(`${base}/kiosk/merchant.html#key=${demo.api_key}`);
  await page.waitForSelector("#trips tbody tr");
  assert.match(await page.textContent("#trips tbody"), /Done/);
});

await story("sign up with both hands: the other hand is asked for once the first is done", async (page) => {
  await page.goto(link);
  await signUp(page, { phone: "+15550107004", card: "4111 1111 1111 1111", palmId: palmIds[4] });
  assert.ok(await page.isVisible("#other-hand"), "the left hand is asked for");
  await page.selectOption("#hand", "left");
  // Another synthetic identity stands in for the same person's left hand.
  await page.setInputFiles("#files", [1, 2, 3].map((k) => palm(palmIds[5], k)));
  await page.waitForSelector("#thumbs .thumb:nth-child(6)");
  await page.uncheck("#from-phone");
  assert.ok(await page.isHidden("#other-hand"));
  assert.match(await page.textContent("#thumbs"), /Left/);
  await page.click("#submit");
  await page.waitForSelector("#done:not(.hidden)");
  assert.match(await page.textContent("#done-detail"), /Both hands/);
});

// A hover: three frames of one presentation, chosen together as a scanner's burst saves them.
async function hoverAtTill(page, palmId, ks) {
  await page.setInputFiles("#file", ks.map((k) => palm(palmId, k)));
}

await story("pay with a hover; a stranger's hover is asked for the other hand, then refused", async (page) => {
  await page.goto(link);
  await page.goto(`${base}/kiosk/checkout.html`);
  await page.fill("#amount", "4.00");
  await page.click("#start");
  await page.waitForSelector("#palm-box:not(.hidden)");
  // Nobody signed these palms up: the first hand names no one, so the till asks for the other.
  await hoverAtTill(page, palmIds[6], [1, 2, 3]);
  await page.waitForSelector("#other-hand:not(.hidden)");
  assert.match(await page.textContent("#palm-ask"), /other hand/);
  assert.match(await page.textContent("#error"), /first hand was not enough/);
  // A single photo is not a hover of the other hand.
  await page.setInputFiles("#file", palm(palmIds[7], 1));
  await page.waitForFunction(() => /frames of the other hand/.test(document.getElementById("error").textContent));
  await hoverAtTill(page, palmIds[7], [1, 2, 3]);
  await page.waitForFunction(() => /no enrolled palm matches/.test(document.getElementById("error").textContent));
  assert.ok(await page.isHidden("#other-hand"), "the next hover starts afresh");
  assert.ok(await page.isHidden("#confirm-box"));
  // The person who signed up with both hands pays with a hover of the right hand.
  await hoverAtTill(page, palmIds[4], [3, 4, 5]);
  await page.waitForSelector("#confirm-box:not(.hidden)", { timeout: 20000 });
  assert.match(await page.textContent("#cards"), /VISA .*1111/);
  await page.click("#confirm");
  await page.waitForSelector("#receipt:not(.hidden)", { timeout: 20000 });
  assert.equal((await page.textContent("#r-total")).replace(/\s/g, ""), "$4.00");
});

await browser.close();
