#!/usr/bin/env bash
# A walk-out shopping trip against a running `palmline serve`, with curl only: the demo merchant
# opens a walk-out store (a 50.00 hold, 8.25% tax), a synthetic person signs up, hovers their palm
# at the store's gate (a trip opens with a hold on their card), the store's sensor system reports
# what they take and put back (one event twice, one out of order), they leave, and the basket is
# charged; then the receipt.
# Usage: scripts/try-walk-out.sh [DATA_DIR] [URL] (defaults as for scripts/try-payment.sh).
set -euo pipefail
trap 'echo "try-walk-out: stopped at line $LINENO (see the message above)" >&2' ERR
# shellcheck source=try-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/try-common.sh"
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
echo "== the merchant opens a walk-out store"
STORE=$(json /v1/venues "$KEY" '{"name": "Corner Grab", "gates": [{"name": "Door"}],
  "walk_out": {"currency": "usd", "hold": 5000, "tax_rate_bps": 825}}')
echo "$STORE"
GATE_KEY=$(echo "$STORE" | field credential)
echo "== sign-up (palm + card + phone + consent)"
json /v1/signups "$TILL_KEY" "@$WORK/signup.json"; echo
echo "== a palm at the entry gate opens a trip"
for k in 4 5 6; do
  echo "{\"image\": \"$(img "$k")\", \"phone_last4\": \"${PHONE: -4}\"}" > "$WORK/palm.json"
  ENTRY=$(json /v1/shopping_trips "$GATE_KEY" "@$WORK/palm.json")
  echo "$ENTRY"
  case "$ENTRY" in
    *palm_not_recognised*) echo "-- not read; hovering again" ;;
    *) break ;;
  esac
done
TRIP=$(echo "$ENTRY" | field trip)
[ -n "$TRIP" ] || { echo "the gate opened no trip" >&2; exit 1; }
echo "== the store's sensors: two colas taken, chips taken, one cola put back"
event() { json "/v1/shopping_trips/$TRIP/events" "$KEY" "$1" | grep -o '"duplicate":[a-z]*'; }
COLA='"product": "cola", "name": "Cola 330 ml", "unit_price": 199'
event "{\"id\": \"ev-1\", \"kind\": \"take\", $COLA, \"quantity\": 2, \"occurred_ms\": 1000}"
# The put-back is delivered before the chips, although it happened after them.
event "{\"id\": \"ev-3\", \"kind\": \"put_back\", $COLA, \"quantity\": 1, \"occurred_ms\": 3000}"
event '{"id": "ev-2", "kind": "take", "product": "chips", "name": "Salted chips", "unit_price": 349, "quantity": 1, "occurred_ms": 2000}'
# A sensor system resends what it is not sure arrived: recorded once.
event "{\"id\": \"ev-1\", \"kind\": \"take\", $COLA, \"quantity\": 2, \"occurred_ms\": 1000}"
echo "== the shopper walks out: 5.48 + 8.25% tax = 5.93 is captured from the hold"
json "/v1/shopping_trips/$TRIP/exit" "$KEY" '{}'; echo
echo "== the receipt"
curl -s "$URL/v1/shopping_trips/$TRIP/receipt" -H "Authorization: Bearer $KEY"; echo
