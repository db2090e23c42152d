#!/usr/bin/env bash
# A first palm payment against a running `palmline serve`, with curl only:
# renders a synthetic palm, signs the person up with a test card, creates a payment as the
# merchant's POS, and pays it with a new capture of the same palm at the till (hovering again,
# as a person would, when a capture is not read).
# Usage: scripts/try-payment.sh [DATA_DIR] [URL]
#   (defaults: the repository's palmline-data, where the README's `palmline serve` keeps its data,
#   and http://127.0.0.1:8080). Runs from any folder.
set -euo pipefail
trap 'echo "try-payment: stopped at line $LINENO (see the message above)" >&2' ERR
# shellcheck source=try-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/try-common.sh"
echo "== sign-up (palm + card + phone + consent)"
json /v1/signups "$TILL_KEY" "@$WORK/signup.json"; echo
echo "== the POS creates a payment"
PAYMENT=$(json /v1/payments "$KEY" "{\"amount\": 1250, \"currency\": \"gbp\", \"till\": \"$TILL\"}")
echo "$PAYMENT"
ID=$(echo "$PAYMENT" | grep -o '"id":"pay_[0-9A-Z]*"' | cut -d'"' -f4)
echo "== the person hovers their palm at the till"
# A capture the service cannot read gets palm_not_recognised and the payment keeps waiting:
# as at a real till, the person hovers again (a new capture), up to three times.
for k in 4 5 6; do
  echo "{\"image\": \"$(img "$k")\", \"phone_last4\": \"${PHONE: -4}\"}" > "$WORK/palm.json"
  RESULT=$(json "/v1/payments/$ID/palm" "$TILL_KEY" "@$WORK/palm.json")
  echo "$RESULT"
  case "$RESULT" in
    *palm_not_recognised*) echo "-- not read; hovering again" ;;
    *) break ;;
  esac
done
