"use strict";
let consentVersion = null;
const captures = []; // base64 images, in memory only
const camera = new Camera(PL.$("video"));

function step(id) {
  const order = ["step-details", "step-consent", "step-palm", "step-send"];
  const at = order.indexOf(id);
  order.forEach((s, i) => {
    PL.$(s).classList.toggle("done", i < at);
    PL.$(s).classList.toggle("active", i === at);
  });
}

function addCapture(b64) {
  captures.push(b64);
  const img = document.createElement("img");
  img.src = "data:image/png;base64," + b64;
  img.alt = "capture " + captures.length;
  PL.$("thumbs").appendChild(img);
  if (captures.length >= 2) step("step-send");
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
  for (const f of ev.target.files) addCapture(await PL.fileToBase64(f));
};
for (const id of ["phone", "number", "exp_month", "exp_year", "holder"]) {
  PL.$(id).addEventListener("input", () => step("step-consent"));
}
PL.$("consent").onchange = () => step(PL.$("consent").checked ? "step-palm" : "step-consent");

PL.$("submit").onclick = async () => {
  PL.text("error", "");
  const cfg = PL.config();
  if (!PL.$("consent").checked) { PL.text("error", "Please read and accept the consent to continue."); return; }
  if (captures.length < 2) { PL.text("error", "Add at least two captures of your palm."); return; }
  const body = {
    phone: PL.$("phone").value.trim(),
    card: {
      number: PL.$("number").value.trim(),
      exp_month: Number(PL.$("exp_month").value),
      exp_year: Number(PL.$("exp_year").value),
      holder_name: PL.$("holder").value.trim(),
    },
    consent: { accepted: true, text_version: consentVersion },
    captures: captures.slice(0, 5).map((image) => ({ hand: "right", image })),
    source: PL.$("from-phone").checked ? "phone" : "scanner",
  };
  const cvc = PL.$("cvc").value.trim();
  if (cvc) body.card.cvc = cvc;
  step("step-send");
  PL.$("submit").disabled = true;
  try {
    const r = await PL.api("POST", "/v1/signups", cfg.till, body);
    camera.stop();
    captures.length = 0;
    PL.$("thumbs").textContent = "";
    PL.$("steps").querySelectorAll("li").forEach((li) => { li.classList.add("done"); li.classList.remove("active"); });
    const next = r.person.status === "pending_first_scan"
      ? " - to finish, hover your palm at a till at your first payment and give the last four digits of your phone."
      : " - hover your palm at the till to pay.";
    PL.text("done-detail", "Card " + PL.card(r.person.cards[0]) + next);
    PL.show("done", true);
    PL.show("submit", false);
  } catch (e) {
    const where = e.body && e.body.param ? " (" + e.body.param + ")" : "";
    PL.text("error", e.message + where);
    PL.$("submit").disabled = false;
  }
};

loadConsent();
