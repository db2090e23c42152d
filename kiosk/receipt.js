// The person's receipt of a walk-out trip, opened from the link they were sent
// (`/kiosk/receipt.html#receipt=<token>`): the token is the only credential and never leaves this
// page except to the receipt API. The person may dispute a line; the store decides.
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("receipt") || "";
const STATUS = { requested: "Waiting for the store", accepting: "Being refunded", accepted: "Refunded", rejected: "Declined by the store" };
let receipt = null;

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function show(r) {
  receipt = r;
  const money = (minor) => PL.money(minor, r.currency);
  PL.text("store", r.store);
  PL.text("when", PL.when(r.opened) + " - " + PL.when(r.closed));
  const lines = PL.$("lines");
  lines.textContent = "";
  const product = PL.$("product");
  product.textContent = "";
  for (const l of r.lines) {
    const tr = document.createElement("tr");
    [l.name, String(l.quantity), money(l.unit_price), money(l.amount)].forEach((t) => cell(tr, t));
    lines.append(tr);
    const o = document.createElement("option");
    o.value = l.product;
    o.textContent = l.name;
    product.append(o);
  }
  const totals = PL.$("totals");
  totals.textContent = "";
  const line = (label, minor) => {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = money(minor);
    totals.append(dt, dd);
  };
  line("Subtotal", r.subtotal);
  line("Tax", r.tax);
  line("Total", r.total);
  line("Charged", r.charged);
  if (r.refunded) line("Refunded", -r.refunded);
  PL.text("card", r.card_brand ? r.card_brand.toUpperCase() + " \u2022\u2022\u2022\u2022 " + r.card_last4 : "");
  PL.text("trip", "Trip " + r.trip);
  const adj = PL.$("adjustments");
  adj.textContent = "";
  for (const a of r.adjustments) {
    const name = (r.lines.find((l) => l.product === a.product) || { name: a.product }).name;
    const tr = document.createElement("tr");
    [name, String(a.quantity), money(a.amount), STATUS[a.status] || a.status].forEach((t) => cell(tr, t));
    adj.append(tr);
  }
  PL.show("receipt-box", true);
  PL.show("adjustments-box", r.adjustments.length > 0);
  PL.show("dispute-box", r.lines.length > 0);
}

async function load() {
  PL.text("error", "");
  if (!token) { PL.text("error", "This link has no receipt in it: open the link you were sent."); return; }
  try {
    show(await PL.api("GET", "/v1/receipts/" + encodeURIComponent(token)));
  } catch (e) {
    PL.text("error", e.status === 404 ? "No receipt for this link: check that it was copied whole." : e.message);
  }
}

PL.$("dispute").onclick = () => PL.busy(["dispute"], async () => {
  PL.text("error", "");
  PL.text("sent", "");
  try {
    const a = await PL.api("POST", "/v1/receipts/" + encodeURIComponent(token) + "/adjustments", "", {
      product: PL.$("product").value,
      quantity: Number(PL.$("quantity").value),
      reason: PL.$("reason").value.trim(),
    });
    PL.text("sent", "Sent: the store will check and refund " + PL.money(a.amount, receipt.currency) + " if it agrees.");
    PL.$("reason").value = "";
    await load();
  } catch (e) {
    PL.text("error", e.message);
  }
});

// Another link pasted into the same tab opens that receipt.
window.addEventListener("hashchange", () => location.reload());
load();
