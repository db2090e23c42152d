"use strict";
let consentVersion = null;
const captures = []; // {hand, image (base64)}, in memory only
const camera = new Camera(PL.$("video"));

// What a refused sign-up says, in a shopper's words, next to the field it is about. The API's
// own message is the fallback (codes: GET /openapi.json).
const PLAIN = {
  invalid_phone: "Enter the phone number with its country code, like +15551234567.",
  phone_in_use: "This phone number already has a palm profile: pay with your palm at the till, or ask staff to change it.",
  invalid_card_number: "This card number is not right: check the digits.",
  unsupported_card_brand: "This kind of card is not taken here: use a Visa, Mastercard or American Express card.",
  card_in_use: "This card is already on another palm profile.",
  expired_card: "This card has expired.",
  invalid_expiry: "Check the expiry: a month from 1 to 12 and a year.",
  invalid_cvc: "The CVC is the 3 or 4 digits on the back of the card.",
  card_declined: "The card was declined when it was checked. Try another card.",
  insufficient_funds: "The card was declined when it was checked. Try another card.",
  invalid_text: "Enter the name as it is printed on the card.",
  consent_required: "Please read and accept the consent to continue.",
  palm_already_enrolled: "This palm already has a profile: pay with it at the till.",
};
// Which field an error's `param` is about.
function fieldOf(param) {
  if (!param) return null;
  if (param === "phone") return "phone";
  if (param === "card.number") return "number";
  if (param.startsWith("card.exp")) return "expiry";
  if (param === "card.cvc") return "expiry";
  if (param === "card.holder_name") return "holder";
  if (param.startsWith("captures")) return "palm";
  return null;
}

function clearErrors() {
  PL.text("error", "");
  for (const f of ["phone", "number", "expiry", "holder", "palm"]) PL.text(f + "-error", "");
  PL.$("thumbs").querySelectorAll(".thumb").forEach((t) => t.classList.remove("bad"));
}

function showError(e) {
  const code = e.body && e.body.code;
  const param = e.body && e.body.param;
  const field = fieldOf(param);
  // The API's message without its "(param)" suffix, when there is no plainer one.
  let message = PLAIN[code] || e.message.replace(/\s*\([^)]*\)\s*$/, "");
  const photo = param && /^captures\[(\d+)\]/.exec(param);
  if (photo) {
    const n = Number(photo[1]);
    const thumb = PL.$("thumbs").children[n];
    if (thumb) thumb.classList.add("bad");
    message = "Photo " + (n + 1) + ": " + message + " Remove it and add another.";
  }
  if (field) PL.text(field + "-error", message); else PL.text("error", message);
  // Back to the step the person has to fix.
  step(field === "palm" ? "step-palm" : field ? "step-details" : "step-consent");
}

function step(id) {
  const order = ["step-details", "step-consent", "step-palm", "step-send"];
  const at = order.indexOf(id);
  order.forEach((s, i) => {
    PL.$(s).classList.toggle("done", i < at);
    PL.$(s).classList.toggle("active", i === at);
  });
}

// Thumbnails of the captures (labelled with their hand), each with a Remove button; the list is
// redrawn from `captures`.
function drawCaptures() {
  const box = PL.$("thumbs");
  box.textContent = "";
  captures.forEach((c, i) => {
    const item = document.createElement("div");
    item.className = "thumb";
    const img = document.createElement("img");
    img.src = "data:image/png;base64," + c.image;
    img.alt = c.hand + " hand, photo " + (i + 1);
    const label = document.createElement("small");
    label.textContent = c.hand === "left" ? "Left" : "Right";
    const remove = document.createElement("button");
    remove.className = "secondary remove";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", "Remove photo " + (i + 1));
    remove.onclick = () => { captures.splice(i, 1); PL.text("palm-error", ""); drawCaptures(); };
    item.append(img, label, remove);
    box.appendChild(item);
  });
  const of = (hand) => captures.filter((c) => c.hand === hand).length;
  // Once one hand is done, the other is asked for (optional): both hands let a person pay with
  // the palm alone among many people.
  const firstDone = of("right") >= 2 && of("left") === 0;
  PL.show("other-hand", firstDone);
  if (captures.length >= 2) step("step-send");
}

function addCapture(image) {
  const hand = PL.$("hand").value;
  if (captures.filter((c) => c.hand === hand).length >= 5) {
    PL.text("palm-error", "Five photos of a hand are enough: remove one to add another.");
    return;
  }
  captures.push({ hand, image });
  drawCaptures();
}

async function loadConsent() {
  try {
    const c = await PL.api("GET", "/v1/consent", "");
    consentVersion = c.version;
    PL.text("consent-text", c.text);
  } catch (e) {
    PL.text("consent-text", "The consent text could not be loaded: " + e.message);
  }
}

PL.cameraButton(camera, "camera", "camera-box", "error");
PL.$("snap").onclick = () => addCapture(camera.capture());
PL.$("files").onchange = async (ev) => {
  // Chosen photos are most often a phone's; the person can say otherwise.
  PL.$("from-phone").checked = true;
  const files = [...ev.target.files];
  ev.target.value = ""; // the same photo may be chosen again after removing it
  for (const f of files) addCapture(await PL.fileToBase64(f));
};
for (const id of ["phone", "number", "exp_month", "exp_year", "holder"]) {
  PL.$(id).addEventListener("input", () => step("step-consent"));
}
PL.$("consent").onchange = () => step(PL.$("consent").checked ? "step-palm" : "step-consent");

PL.$("submit").onclick = () => PL.busy(["submit"], async () => {
  clearErrors();
  const cfg = PL.config();
  if (!PL.$("consent").checked) { PL.text("error", PLAIN.consent_required); return; }
  if (captures.length < 2) { PL.text("palm-error", "Add at least two photos of your palm."); return; }
  for (const hand of ["left", "right"]) {
    if (captures.filter((c) => c.hand === hand).length === 1) {
      PL.text("palm-error", "Add at least two photos of your " + hand + " hand, or remove its one photo.");
      return;
    }
  }
  const body = {
    phone: PL.$("phone").value.trim(),
    card: {
      number: PL.$("number").value.trim(),
      exp_month: Number(PL.$("exp_month").value),
      exp_year: Number(PL.$("exp_year").value),
      holder_name: PL.$("holder").value.trim(),
    },
    consent: { accepted: true, text_version: consentVersion },
    captures: captures.map((c) => ({ hand: c.hand, image: c.image })),
    source: PL.$("from-phone").checked ? "phone" : "scanner",
  };
  const cvc = PL.$("cvc").value.trim();
  if (cvc) body.card.cvc = cvc;
  step("step-send");
  try {
    const r = await PL.api("POST", "/v1/signups", cfg.till, body);
    camera.stop();
    captures.length = 0;
    drawCaptures();
    // On a shared kiosk the card stays on screen no longer than it must.
    for (const id of ["number", "exp_month", "exp_year", "cvc", "holder", "phone"]) PL.$(id).value = "";
    PL.$("steps").querySelectorAll("li").forEach((li) => { li.classList.add("done"); li.classList.remove("active"); });
    const next = r.person.status === "pending_first_scan"
      ? " - to finish, hover your palm at a till at your first payment and give the last four digits of your phone."
      : " - hover your palm at the till to pay.";
    const hands = r.person.hands.length === 2 ? "Both hands" : (r.person.hands[0] === "left" ? "Left hand" : "Right hand");
    PL.text("done-detail", hands + ", card " + PL.card(r.person.cards[0]) + next);
    PL.show("done", true);
    PL.show("submit", false);
    PL.show("next", true);
  } catch (e) {
    showError(e);
  }
});
PL.$("next").onclick = () => location.reload();

loadConsent();
