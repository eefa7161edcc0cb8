#!/bin/sh
# The independent check of planning a 10M-member audience (issue 16): a
# synthetic CSV export of N rows (default 10,000,000), its first sync to
# hashed upload files (which commits N members to SQLite), then a plan of
# the export with 1% churn (the first 1% gone, as many new) under
# /usr/bin/time -v. Usage: scripts/bench-10m.sh DIR [N] [BIN]. DIR needs
# about 10 GB free at 10M rows; it is left in place for a second look.
set -eu
dir=${1:?usage: $0 DIR [N] [BIN]}
n=${2:-10000000}
bin=${3:-bin/audiencesync}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# rows FROM TO: synthetic contacts, obviously not real people.
rows() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		for (i = from; i < to; i++)
			printf "C%08d,Member.%08d@Example.com,(202) 555-%04d,First%d,Last%d,%05d,US\n", i, i, i % 10000, i % 997, i % 991, 10000 + i % 89999
	}'
}
header=contact_id,email,phone,first_name,last_name,zip,country

cat >"$dir/bench.yaml" <<YAML
state:
  path: $dir/state.db
connections:
  crm:
    type: csv
    path: $dir/contacts.csv
  exports:
    type: file
    dir: $dir/out
    formats: [google]
syncs:
  - name: all-customers
    source:
      connection: crm
      key: contact_id
      default_region: US
      fields: {email: email, phone: phone, first_name: first_name, last_name: last_name, zip: zip, country: country}
    destinations:
      - connection: exports
        consent: {ad_user_data: granted, ad_personalization: granted}
YAML

churn=$((n / 100))
rm -rf "$dir/state.db" "$dir/state.db-wal" "$dir/state.db-shm" "$dir/state.clean" "$dir/out"
echo "writing $n rows"
{ echo "$header"; rows 0 "$n"; } >"$dir/contacts.csv"
echo "first sync: commits $n members"
start=$(date +%s)
"$bin" sync --config "$dir/bench.yaml" >"$dir/sync.txt"
echo "committed in $(($(date +%s) - start)) s"
rm -rf "$dir/out" # the upload files are not needed for the plan
{ echo "$header"; rows "$churn" "$n"; rows "$n" "$((n + churn))"; } >"$dir/contacts.csv"
echo "plan with 1% churn"
/usr/bin/time -v "$bin" plan --config "$dir/bench.yaml" --output json >"$dir/plan.json" 2>"$dir/time.txt" || {
	cat "$dir/time.txt"
	exit 1
}
grep -E 'Elapsed|Maximum resident|User time|System time|Percent of CPU' "$dir/time.txt"
tr -d ' \n' <"$dir/plan.json" | grep -o '"planned":{[^}]*}' | head -1
echo
