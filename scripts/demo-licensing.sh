#!/usr/bin/env bash
# Walk through licensing in the demo marketplace over HTTP: an exclusive licence that
# overlaps Kowloon Devices' is refused (naming the grant it collides with), a non-exclusive
# one elsewhere is granted, and a royalty report becomes an invoice that is paid and split.
# Needs `make run` (or `ipx run`) running.
set -euo pipefail
API="${IPX_API:-http://127.0.0.1:8000}"
KEYS="${IPX_DEMO_KEYS:-var/demo-keys.json}"

field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
key() { field "['parties']['$1']['key']" < "$KEYS"; }
pid() { field "['parties']['$1']['party_id']" < "$KEYS"; }
call() {  # call METHOD PATH ROLE [BODY]
  curl -sS -X "$1" "$API$2" -H "Authorization: Bearer $(key "$3")" \
       -H "Content-Type: application/json" ${4:+-d "$4"}
}
ASSET=$(field "['assets']['sensor_mesh']" < "$KEYS")
UNI=$(pid university); SZ=$(pid company_2)
terms() {  # terms EXCLUSIVITY FIELD TERRITORY
  echo "{\"schema\":\"ipx.licence-terms/1\",\"grantor\":\"$UNI\",\"licensee\":\"$SZ\",\"assets\":[\"$ASSET\"],\"exclusivity\":\"$1\",\"field_of_use\":[{\"code\":\"$2\",\"label\":\"$2\"}],\"territory\":[\"$3\"],\"start\":\"2026-06-01\",\"end\":\"2028-06-01\",\"currency\":\"HKD\",\"report_frequency\":\"quarterly\",\"royalty\":{\"tiers\":[{\"from\":\"0\",\"rate\":\"5\"}]}}"
}

echo "== Shenzhen Wearables asks for an EXCLUSIVE industrial IoT licence in Hong Kong"
OFFER=$(call POST /v1/licence-offers university "{\"terms\": $(terms exclusive industrial_iot HK)}")
HASH=$(echo "$OFFER" | field "['terms_hash']"); ID=$(echo "$OFFER" | field "['id']")
call POST "/v1/licence-offers/$ID/accept" company_2 "{\"terms_hash\":\"$HASH\"}"; echo

echo "== ... and is granted a NON-EXCLUSIVE licence for medical devices in Singapore"
OFFER=$(call POST /v1/licence-offers university "{\"terms\": $(terms non_exclusive medical_devices SG)}")
HASH=$(echo "$OFFER" | field "['terms_hash']"); ID=$(echo "$OFFER" | field "['id']")
GRANT=$(call POST "/v1/licence-offers/$ID/accept" company_2 "{\"terms_hash\":\"$HASH\"}" | field "['grant']['id']")
echo "granted $GRANT"

echo "== Shenzhen reports a quarter of sales; the royalty is invoiced, paid and distributed"
REPORT=$(call POST "/v1/licences/$GRANT/royalty-reports" company_2 '{"period_start":"2026-06-01","period_end":"2026-09-01","lines":[{"territory":"SG","product":"monitor","net_sales":{"amount":"400000.00","currency":"HKD"}}]}')
echo "$REPORT" | field "['breakdown']"
INVOICE=$(echo "$REPORT" | field "['invoices'][0]['id']")
call POST "/v1/invoices/$INVOICE/pay" company_2; echo
echo "== the inventors' cash after it"
call GET /v1/accounts inventor_alice; echo
call GET /v1/accounts inventor_bob; echo
echo "== the licence as an ODRL 2.2 Agreement"
call GET "/v1/licences/$GRANT/odrl" company_2 | head -c 600; echo
