"use strict";
const cfg = PL.config();
const camera = new Camera(PL.$("video"));
let payment = null;
let lastImage = null; // kept only while the phone hint is asked for
let till = null; // this till's name, store and merchant, for the receipt

// Every control that sends a request is disabled while one is in flight: a double click
// creates one payment, and a second Confirm never races the first.
const CONTROLS = ["start", "snap", "file", "hint-go", "confirm", "cancel"];

function fail(e) {
  const code = e.body && e.body.code;
  if (e.status === 402 || code === "card_declined") {
    PL.text("d-reason", e.message + (e.body.decline_code ? " (" + e.body.decline_code + ")" : ""));
    finish("declined");
    return;
  }
  PL.text("error", e.message);
}

// The end of a payment: one result panel, the Next customer button, nothing else.
function finish(result) {
  camera.stop();
  lastImage = null;
  PL.text("error", "");
  for (const id of ["palm-box", "confirm-box", "cancel", "hint-box"]) PL.show(id, false);
  PL.show(result, true);
  PL.show("again", true);
}

function receipt(p) {
  if (p.status === "failed") {
    PL.text("d-reason", p.decline_code || "the card was declined");
    finish("declined");
    return;
  }
  if (p.status === "canceled") { finish("canceled"); return; }
  PL.text("r-total", PL.money(p.amount_total, p.currency));
  const lines = PL.$("r-lines");
  lines.textContent = "";
  const line = (label, minor) => {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = PL.money(minor, p.currency);
    lines.append(dt, dd);
  };
  line("Amount", p.amount);
  if (p.tip) line("Tip", p.tip);
  if (p.discount) line("Reward", -p.discount);
  PL.text("r-card", PL.card(p.card));
  const m = (p.memberships || [])[0];
  PL.text("r-points", m ? "Loyalty balance: " + m.balance + " points" : "");
  PL.text("r-where", till ? till.merchant + ", " + till.store + " - " + till.name : "");
  PL.text("r-when", PL.when(p.updated || p.created));
  PL.text("r-id", "Receipt " + p.id);
  finish("receipt");
}

async function submit(image, hint) {
  PL.text("error", "");
  const body = { image, confirm: false };
  if (hint) body.phone_last4 = hint;
  try {
    const p = await PL.api("POST", "/v1/payments/" + payment.id + "/palm", cfg.till, body);
    if (p.status === "requires_confirmation") {
      const box = PL.$("cards");
      box.textContent = "";
      const choices = p.card_choices.length ? p.card_choices : [p.card];
      choices.forEach((c, i) => {
        const label = document.createElement("label");
        const radio = document.createElement("input");
        radio.type = "radio"; radio.name = "card"; radio.value = c.id; radio.checked = p.card ? c.id === p.card.id : i === 0;
        label.append(radio, " " + PL.card(c));
        box.appendChild(label);
      });
      PL.show("palm-box", false); PL.show("hint-box", false); PL.show("confirm-box", true);
      camera.stop();
    } else {
      receipt(p);
    }
  } catch (e) {
    const code = e.body && e.body.code;
    if (code === "needs_hint") { lastImage = image; PL.show("hint-box", true); PL.text("error", e.message); return; }
    fail(e);
  }
}

PL.$("start").onclick = () => PL.busy(CONTROLS, async () => {
  PL.text("error", "");
  const amount = Math.round(Number(PL.$("amount").value) * 100);
  try {
    // The till creates its own payment with its till credential: no merchant key at a till.
    payment = await PL.api("POST", "/v1/payments", cfg.till, {
      amount, currency: PL.$("currency").value,
    });
    PL.text("due", PL.money(payment.amount, payment.currency));
    PL.show("amount-box", false); PL.show("palm-box", true); PL.show("cancel", true);
  } catch (e) { fail(e); return; }
  if (!till) till = await PL.api("GET", "/v1/till", cfg.till).catch(() => null);
});
PL.cameraButton(camera, "camera", "camera-box", "error");
PL.$("snap").onclick = () => PL.busy(CONTROLS, () => submit(camera.capture()));
PL.$("file").onchange = (ev) => {
  const file = ev.target.files[0];
  ev.target.value = ""; // the same photo may be chosen again
  if (file) PL.busy(CONTROLS, async () => submit(await PL.fileToBase64(file)));
};
PL.$("hint-go").onclick = () => PL.busy(CONTROLS, () => submit(lastImage, PL.$("hint").value.trim()));
PL.$("confirm").onclick = () => PL.busy(CONTROLS, async () => {
  PL.text("error", "");
  const chosen = document.querySelector("input[name=card]:checked");
  const tip = Math.round(Number(PL.$("tip").value || 0) * 100);
  try {
    const p = await PL.api("POST", "/v1/payments/" + payment.id + "/confirm", cfg.till, { card: chosen && chosen.value, tip });
    receipt(p);
  } catch (e) { fail(e); }
});
PL.$("cancel").onclick = () => PL.busy(CONTROLS, async () => {
  try {
    receipt(await PL.api("POST", "/v1/payments/" + payment.id + "/cancel", cfg.till, {}));
  } catch (e) { fail(e); }
});
PL.$("again").onclick = () => location.reload();
