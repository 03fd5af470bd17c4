#!/usr/bin/env bash
# Walk through the demo marketplace over HTTP: the investor buys inventor units from Alice
# through the continuous book, then from Bob through a call auction, and checks a fill's
# journal entry against a signed checkpoint. Needs `make run` (or `ipx run`) running.
set -euo pipefail
API="${IPX_API:-http://127.0.0.1:8000}"
KEYS="${IPX_DEMO_KEYS:-var/demo-keys.json}"

field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
key() { field "['parties']['$1']['key']" < "$KEYS"; }
call() {  # call METHOD PATH ROLE [BODY]
  curl -sS -X "$1" "$API$2" -H "Authorization: Bearer $(key "$3")" \
       -H "Content-Type: application/json" -H "Idempotency-Key: $(python3 -c 'import uuid;print(uuid.uuid4())')" \
       ${4:+-d "$4"}
}

SENSOR=$(field "['instruments']['sensor_mesh_inventor_units']" < "$KEYS")
BATTERY=$(field "['instruments']['battery_inventor_units']" < "$KEYS")

echo "== the sensor patent's inventor units: book before"
curl -sS "$API/v1/instruments/$SENSOR/book"; echo
echo "== the investor buys 25,000 units at up to 2.60 (continuous market)"
ORDER=$(call POST /v1/orders investor "{\"instrument_id\":\"$SENSOR\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"2.60\",\"quantity\":25000}")
echo "$ORDER"
echo "== holdings and cash of the investor, and of Alice"
call GET /v1/holdings investor; echo
call GET /v1/accounts investor; echo
call GET /v1/accounts inventor_alice; echo

echo "== the battery patent trades by call auction: the investor bids, the operator runs it"
call POST /v1/orders investor "{\"instrument_id\":\"$BATTERY\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"1.30\",\"quantity\":30000}"; echo
call POST "/v1/instruments/$BATTERY/auction" operator; echo
curl -sS "$API/v1/instruments/$BATTERY/trades"; echo

echo "== one fill's journal entry, proved against a signed checkpoint"
TRADE=$(echo "$ORDER" | field "['fills'][0]['trade_id']")
SEQ=$(curl -sS "$API/v1/instruments/$SENSOR/trades" | python3 -c "import json,sys; print([t['journal_seq'] for t in json.load(sys.stdin) if t['id']=='$TRADE'][0])")
CHECKPOINT=$(curl -sS "$API/v1/ledger/checkpoint")
SIZE=$(echo "$CHECKPOINT" | field "['tree_size']")
echo "trade $TRADE is journal entry $SEQ; checkpoint tree size $SIZE"
ENTRY=$(call GET "/v1/ledger/entries/$SEQ" investor)
PROOF=$(curl -sS "$API/v1/ledger/proofs/inclusion?seq=$SEQ&tree_size=$SIZE")
PUBKEY=$(curl -sS "$API/v1/ledger/public-key" | field "['public_key_pem']")
python3 - "$ENTRY" "$PROOF" "$CHECKPOINT" "$PUBKEY" <<'PY'
import json, sys
from ledger.statement_verifier import verify_entry
entry, proof, checkpoint = (json.loads(a) for a in sys.argv[1:4])
verify_entry(entry["body"], entry["leaf_hash"], proof["leaf_index"], proof["path"],
             checkpoint["note"], sys.argv[4])
print("verified: the fill is in the signed journal")
PY
