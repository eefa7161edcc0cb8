package metagraph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// textPayloadCases are payloads near the edge of what parseTextPayload
// reads. handled says whether it should answer for one itself.
var textPayloadCases = func() []struct {
	name    string
	payload string
	handled bool
} {
	h, g := sha("member-1"), sha("member-2")
	madid := "6d92078a-8246-4ba4-ae5b-76104861e7dc"
	rows := func(n int, row string) string {
		return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
	}
	var invalid []string // more distinct invalid rows than samples are kept
	for i := range maxSamples + 3 {
		invalid = append(invalid, `["`+strings.Repeat("f", i+1)+`","`+g+`"]`)
	}
	return []struct {
		name    string
		payload string
		handled bool
	}{
		// What the fast path answers for.
		{"connector shape", `{"schema":["EMAIL","PHONE","FN","LN","ZIP","COUNTRY"],"data":[["` + h + `","` + g + `","` + h + `","` + g + `","` + h + `","` + g + `"],["","` + g + `","","","",""]]}`, true},
		{"data before schema", `{"data":[["` + h + `",""],["x",""]],"schema":["EMAIL","FN"]}`, true},
		{"whitespace between tokens", " \t\r\n{ \"schema\" :\n[ \"EMAIL\" , \"PHONE\" ] ,\t\"data\" : [ [ \"" + h + "\" , \"\" ] , [\"\",\"" + g + "\"] ] }\n ", true},
		{"one key, bare rows", `{"schema":"EMAIL_SHA256","data":["` + h + `","` + g + `","nope"]}`, true},
		{"one key, mixed rows", `{"schema":"PHONE","data":["` + h + `",["` + g + `"],[]]}`, true},
		{"one-key list", `{"schema":["EMAIL"],"data":[["` + h + `"],["` + strings.ToUpper(g) + `"]]}`, true},
		{"clear ids", `{"schema":["MADID","EXTERN_ID","EMAIL"],"data":[["` + madid + `","crm-1",""],["` + h + `","",""],["not-a-madid!","",""],["","crm 2 ~",""]]}`, true},
		{"composite row", `{"schema":["EMAIL","FN","LN","ZIP"],"data":[["","` + h + `","` + g + `",""],["","","",""],["","x","",""]]}`, true},
		{"processing options as a string", `{"schema":["EMAIL","DATA_PROCESSING_OPTIONS"],"data":[["` + h + `","LDU"]]}`, true},
		{"samples are capped", `{"schema":["EMAIL","PHONE"],"data":[` + strings.Join(invalid, ",") + `]}`, true},
		{"long invalid value", `{"schema":["EXTERN_ID","EMAIL"],"data":[["","` + strings.Repeat("z", 100) + `"]]}`, true},
		{"no rows", `{"schema":["EMAIL"],"data":[]}`, true},
		{"too many rows", `{"schema":["EMAIL"],"data":[` + rows(MaxRowsPerRequest+1, `["`+h+`"]`) + `]}`, true},
		{"too many rows after a narrow one", `{"schema":["EMAIL","PHONE"],"data":[["` + h + `"],` + rows(MaxRowsPerRequest, `["`+h+`",""]`) + `]}`, true},
		{"the most rows", `{"schema":["EMAIL"],"data":[` + rows(MaxRowsPerRequest, `["`+h+`"]`) + `]}`, true},
		{"narrow row after invalid ones", `{"schema":["EMAIL","PHONE"],"data":[["x",""],["",""],["` + h + `"],["y"]]}`, true},
		{"wide row", `{"schema":["EMAIL"],"data":[["` + h + `","` + g + `"]]}`, true},
		{"empty row", `{"schema":["EMAIL"],"data":[[]]}`, true},
		{"bare row after a narrow one", `{"schema":"EMAIL","data":[["` + h + `",""],"` + g + `"]}`, true},
		{"delete byte", `{"schema":["EXTERN_ID"],"data":[["a` + "\x7f" + `b"]]}`, true},

		// What it leaves to the strict path.
		{"escaped cell", `{"schema":["EMAIL"],"data":[["\u0061` + h[1:] + `"]]}`, false},
		{"escaped quote", `{"schema":["EXTERN_ID"],"data":[["a\"b"]]}`, false},
		{"backslash at the end", `{"schema":["EXTERN_ID"],"data":[["a\`, false},
		{"unicode cell", `{"schema":["EXTERN_ID"],"data":[["é"]]}`, false},
		{"invalid UTF-8", `{"schema":["EXTERN_ID"],"data":[["` + "\xff" + `"]]}`, false},
		{"control character", `{"schema":["EXTERN_ID"],"data":[["a` + "\t" + `b"]]}`, false},
		{"null cell", `{"schema":["EMAIL","PHONE"],"data":[["` + h + `",null]]}`, false},
		{"number cell", `{"schema":["EMAIL","PHONE"],"data":[["` + h + `",5]]}`, false},
		{"processing options", `{"schema":["MADID","DATA_PROCESSING_OPTIONS"],"data":[["` + madid + `",["LDU"]],["",[]]]}`, false},
		{"object cell", `{"schema":["EMAIL"],"data":[[{}]]}`, false},
		{"null row", `{"schema":["EMAIL"],"data":[null]}`, false},
		{"bare row, list schema", `{"schema":["EMAIL"],"data":["` + h + `"]}`, false},
		{"null data", `{"schema":["EMAIL"],"data":null}`, false},
		{"data an object", `{"schema":["EMAIL"],"data":{}}`, false},
		{"duplicate schema", `{"schema":["EMAIL"],"schema":["PHONE"],"data":[["` + h + `"]]}`, false},
		{"duplicate data", `{"schema":["EMAIL"],"data":5,"data":[["` + h + `"]]}`, false},
		{"no schema", `{"data":[["` + h + `"]]}`, false},
		{"no data", `{"schema":["EMAIL"]}`, false},
		{"app ids", `{"schema":["EMAIL"],"data":[["` + h + `"]],"app_ids":["1"]}`, false},
		{"is_raw", `{"schema":["EMAIL"],"is_raw":true,"data":[["` + h + `"]]}`, false},
		{"unknown key", `{"schema":["EMAIL"],"data":[["` + h + `"]],"rows":1}`, false},
		{"key in another case", `{"Schema":["EMAIL"],"data":[["` + h + `"]]}`, false},
		{"escaped key", `{"sch\u0065ma":["EMAIL"],"data":[["` + h + `"]]}`, false},
		{"unknown schema key", `{"schema":["EMAIL","NAME"],"data":[["` + h + `",""]]}`, false},
		{"repeated schema key", `{"schema":["EMAIL","EMAIL"],"data":[["` + h + `",""]]}`, false},
		{"empty schema", `{"schema":[],"data":[["` + h + `"]]}`, false},
		{"null schema", `{"schema":null,"data":[["` + h + `"]]}`, false},
		{"schema of a number", `{"schema":[1],"data":[["` + h + `"]]}`, false},
		{"trailing comma in a row", `{"schema":["EMAIL"],"data":[["` + h + `",]]}`, false},
		{"trailing comma in data", `{"schema":["EMAIL"],"data":[["` + h + `"],]}`, false},
		{"trailing comma in schema", `{"schema":["EMAIL",],"data":[["` + h + `"]]}`, false},
		{"trailing comma in the object", `{"schema":["EMAIL"],"data":[["` + h + `"]],}`, false},
		{"missing comma", `{"schema":["EMAIL"],"data":[["` + h + `"]["` + g + `"]]}`, false},
		{"truncated", `{"schema":["EMAIL"],"data":[["` + h + `"]`, false},
		{"truncated in a string", `{"schema":["EMAIL"],"data":[["` + h[:10], false},
		{"trailing data", `{"schema":["EMAIL"],"data":[["` + h + `"]]}x`, false},
		{"two objects", `{"schema":["EMAIL"],"data":[["` + h + `"]]}{}`, false},
		{"non-JSON whitespace", "{\"schema\":[\"EMAIL\"],\"data\":[[\"" + h + "\"]]\v}", false},
		{"not an object", `[["` + h + `"]]`, false},
		{"null", `null`, false},
		{"empty", ``, false},
	}
}()

// The fast path answers for the connector's shapes, leaves the rest, and
// whenever it answers, it is what the strict path says.
func TestTextPayloadMatchesStrictPath(t *testing.T) {
	t.Parallel()
	for _, tt := range textPayloadCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.handled, sameAsStrictPath(t, tt.payload))
		})
	}
}

// sameAsStrictPath checks that parseTextPayload, if it answers for raw,
// gives parseAnyPayload's answer, and reports whether it answered.
func sameAsStrictPath(t *testing.T, raw string) bool {
	t.Helper()
	up, gerr, ok := parseTextPayload(raw)
	if !ok {
		return false
	}
	want, wantErr := parseAnyPayload(raw)
	require.Equal(t, wantErr, gerr)
	require.Equal(t, want, up)
	return true
}

func FuzzPayloadFastPath(f *testing.F) {
	for _, tt := range textPayloadCases {
		if len(tt.payload) < 4096 {
			f.Add(tt.payload)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		sameAsStrictPath(t, raw)
	})
}

// FuzzPayloadRows explores cell values and schemas the fast path mostly
// answers for: rows are lines of cells split at '|', a line starting with
// '=' is a bare row, a schema starting with '=' is a single key, and the
// pieces go into the JSON text unescaped.
func FuzzPayloadRows(f *testing.F) {
	h, g := sha("member-1"), sha("member-2")
	f.Add("EMAIL,PHONE,FN,LN,ZIP,COUNTRY", h+"|"+g+"|"+h+"|"+g+"|"+h+"|"+g+"\n|"+g+"||||")
	f.Add("MADID,EXTERN_ID,DATA_PROCESSING_OPTIONS", "6d92078a-8246-4ba4-ae5b-76104861e7dc|crm-1|LDU\n||")
	f.Add("=EMAIL_SHA256", "="+h+"\n"+g+"\n=x")
	f.Add("EMAIL,FN", `\u0061|`+h+"\n"+"é|\n"+h+`\|`+g)
	f.Fuzz(func(t *testing.T, schema, rows string) {
		sameAsStrictPath(t, rowsPayload(schema, rows))
	})
}

// rowsPayload builds FuzzPayloadRows's payload.
func rowsPayload(schema, rows string) string {
	var b strings.Builder
	if key, single := strings.CutPrefix(schema, "="); single {
		b.WriteString(`{"schema":"` + key + `","data":[`)
	} else {
		b.WriteString(`{"schema":["` + strings.ReplaceAll(schema, ",", `","`) + `"],"data":[`)
	}
	for i, row := range strings.Split(rows, "\n") {
		if i > 0 {
			b.WriteByte(',')
		}
		if cell, bare := strings.CutPrefix(row, "="); bare {
			b.WriteString(`"` + cell + `"`)
		} else {
			b.WriteString(`["` + strings.ReplaceAll(row, "|", `","`) + `"]`)
		}
	}
	b.WriteString("]}")
	return b.String()
}
