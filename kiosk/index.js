"use strict";
const fields = ["key", "till", "till_id", "gate"];
const cfg = PL.config();
for (const f of fields) PL.$(f).value = cfg[f] || "";
PL.$("save").onclick = () => {
  const values = {};
  for (const f of fields) values[f] = PL.$(f).value.trim();
  PL.save(values);
  PL.text("saved", "saved");
};
