"use strict";
const cfg = PL.config();
const camera = new Camera(PL.$("video"));
let payment = null;
// What the last palm request sent (one image, or a hover's frames and perhaps the other hand's),
// kept only while the till asks for more: the other hand, then the phone hint.
let pending = null;
let awaitingOtherHand = false;
let till = null; // this till's name, store and merchant, for the receipt

// Every control that sends a request is disabled while one is in flight: a double click
// creates one payment, and a second Confirm never races the first.
const CONTROLS = ["start", "snap", "file", "hint-go", "confirm", "cancel"];
const HOVER_FRAMES = PL.HOVER_FRAMES;

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
  pending = null;
  askOtherHand(false);
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

// The till asks for the other hand: the first hover is kept and the next one is sent beside it.
function askOtherHand(on) {
  awaitingOtherHand = on;
  PL.show("other-hand", on);
  PL.text("palm-ask", on ? "Now hover your other hand." : "Hover your palm over the scanner.");
}

// A hover (`frames`: three captures of one presentation) or a single capture (`frames` of one).
function hover(frames) {
  if (awaitingOtherHand) return submit({ ...pending, second_hand_frames: frames });
  askOtherHand(false);
  return submit(frames.length === 1 ? { image: frames[0] } : { frames });
}

async function submit(palm, hint) {
  PL.text("error", "");
  const body = { ...palm, confirm: false };
  if (hint) body.phone_last4 = hint;
  try {
    const p = await PL.api("POST", "/v1/payments/" + payment.id + "/palm", cfg.till, body);
    pending = null;
    askOtherHand(false);
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
    if (code === "needs_second_hand") {
      pending = palm;
      askOtherHand(true);
      PL.text("error", "Your first hand was not enough to find you among everyone here.");
      return;
    }
    if (code === "needs_hint") { pending = palm; askOtherHand(false); PL.show("hint-box", true); PL.text("error", e.message); return; }
    // Any other answer ends this attempt: the next hover starts afresh.
    pending = null;
    askOtherHand(false);
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
PL.$("snap").onclick = () => PL.busy(CONTROLS, async () => hover(await camera.burst(HOVER_FRAMES)));
// One photo, or the frames of one hover (a scanner's burst saved as files).
PL.$("file").onchange = (ev) => {
  const files = [...ev.target.files];
  ev.target.value = ""; // the same photos may be chosen again
  if (!files.length) return;
  const wanted = awaitingOtherHand ? [HOVER_FRAMES] : [1, HOVER_FRAMES];
  if (!wanted.includes(files.length)) {
    PL.text("error", awaitingOtherHand
      ? "Choose the " + HOVER_FRAMES + " frames of the other hand's hover."
      : "Choose one photo, or the " + HOVER_FRAMES + " frames of one hover.");
    return;
  }
  PL.busy(CONTROLS, async () => hover(await Promise.all(files.map(PL.fileToBase64))));
};
PL.$("hint-go").onclick = () => PL.busy(CONTROLS, () => submit(pending, PL.$("hint").value.trim()));
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
