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
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:-$ROOT/palmline-data}"
URL="${2:-http://127.0.0.1:8080}"
PALMLINE="${PALMLINE:-$ROOT/target/release/palmline}"
CREDS="$DATA/demo-credentials.json"
[ -x "$PALMLINE" ] || { echo "no $PALMLINE: build it first (cargo build --release)" >&2; exit 1; }
[ -r "$CREDS" ] || { echo "no $CREDS: start palmline serve first (or pass its data folder)" >&2; exit 1; }
curl -fsS "$URL/healthz" >/dev/null || { echo "no server answers at $URL: start palmline serve first" >&2; exit 1; }
KEY=$(grep -o 'sk_test_[0-9a-f]*' "$CREDS")
TILL=$(grep -o 'till_[0-9A-Z]*' "$CREDS" | head -1)
TILL_KEY=$(grep -o 'tk_test_[0-9a-f]*' "$CREDS" | head -1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SEED=$((RANDOM * 32768 + RANDOM + 100000))
"$PALMLINE" synth --out "$WORK/palms" --palms 1 --captures 6 --seed "$SEED" >/dev/null
P="$WORK/palms/$(ls "$WORK/palms" | grep -v manifest)"
img() { base64 -w0 "$P/$1.png"; }
PHONE="+4477009$(printf '%05d' $((SEED % 100000)))"
# A fresh Luhn-valid Visa number (the simulated processor approves any valid number other than
# its decline test cards; one card belongs to one person).
luhn_visa() {
  local body="4$(printf '%014d' "$1")" sum=0 i d
  for ((i = 0; i < 15; i++)); do
    d=${body:14-i:1}
    if ((i % 2 == 0)); then d=$((d * 2)); ((d > 9)) && d=$((d - 9)); fi
    sum=$((sum + d))
  done
  echo "$body$(((10 - sum % 10) % 10))"
}
CARD=$(luhn_visa "$SEED")
cat > "$WORK/signup.json" <<JSON
{"phone": "$PHONE",
 "card": {"number": "$CARD", "exp_month": 12, "exp_year": 2030, "holder_name": "Ada Palm"},
 "consent": {"accepted": true, "text_version": "2026-11"},
 "captures": [{"hand": "right", "image": "$(img 1)"}, {"hand": "right", "image": "$(img 2)"},
              {"hand": "right", "image": "$(img 3)"}]}
JSON
json() { curl -s "$URL$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3"; }
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
