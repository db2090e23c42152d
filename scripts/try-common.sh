# Shared by scripts/try-payment.sh and scripts/try-walk-out.sh (sourced, not run): checks that a
# server answers, reads the demo merchant's credentials, renders a synthetic palm (six captures)
# and writes a sign-up request for it with a fresh phone number and test card.
# Takes [DATA_DIR] [URL] from the caller's arguments.
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
