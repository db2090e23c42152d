"use strict";
const cfg = PL.config();
const camera = new Camera(PL.$("video"));
let payment = null;
let lastImage = null; // kept only while the phone hint is asked for

function fail(e) {
  const code = e.body && e.body.code;
  if (e.status === 402 || code === "card_declined") {
    PL.text("d-reason", e.message + (e.body.decline_code ? " (" + e.body.decline_code + ")" : ""));
    PL.show("declined", true); PL.show("palm-box", false); PL.show("confirm-box", false); PL.show("again", true);
    return;
  }
  PL.text("error", e.message);
}

function receipt(p) {
  camera.stop();
  lastImage = null;
  PL.show("palm-box", false); PL.show("confirm-box", false);
  if (p.status === "failed") {
    PL.text("d-reason", p.decline_code || "the card was declined");
    PL.show("declined", true);
  } else {
    PL.text("r-total", PL.money(p.amount_total, p.currency));
    PL.text("r-card", PL.card(p.card));
    const m = (p.memberships || [])[0];
    PL.text("r-points", m ? "Loyalty balance: " + m.balance + " points" : "");
    PL.text("r-id", "Receipt " + p.id);
    PL.show("receipt", true);
  }
  PL.show("again", true);
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
      PL.show("palm-box", false); PL.show("confirm-box", true);
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

PL.$("start").onclick = async () => {
  PL.text("error", "");
  const amount = Math.round(Number(PL.$("amount").value) * 100);
  try {
    // The till creates its own payment with its till credential: no merchant key at a till.
    payment = await PL.api("POST", "/v1/payments", cfg.till, {
      amount, currency: PL.$("currency").value,
    });
    PL.text("due", PL.money(payment.amount, payment.currency));
    PL.show("amount-box", false); PL.show("palm-box", true);
  } catch (e) { fail(e); }
};
PL.cameraButton(camera, "camera", "camera-box", "error");
PL.$("snap").onclick = () => submit(camera.capture());
PL.$("file").onchange = async (ev) => { if (ev.target.files[0]) submit(await PL.fileToBase64(ev.target.files[0])); };
PL.$("hint-go").onclick = () => submit(lastImage, PL.$("hint").value.trim());
PL.$("confirm").onclick = async () => {
  PL.text("error", "");
  const chosen = document.querySelector("input[name=card]:checked");
  const tip = Math.round(Number(PL.$("tip").value || 0) * 100);
  try {
    const p = await PL.api("POST", "/v1/payments/" + payment.id + "/confirm", cfg.till, { card: chosen && chosen.value, tip });
    receipt(p);
  } catch (e) { fail(e); }
};
PL.$("again").onclick = () => location.reload();
