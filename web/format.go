package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/report"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"num":      num,
	"signed":   signed,
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"utc":      func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"duration": duration,
	"status":   statusText,
	"reason":   reasonWords,
	"lines":    lineList,
	"plural":   plural,
	"int64":    func(n int) int64 { return int64(n) },
}

// statusWords are how the UI words each run status: the badge, and on a
// run's page what the status means for the reader and what to do (no
// advice for a run that went as asked).
var statusWords = map[report.Status]struct{ badge, advice string }{
	report.StatusSucceeded: {badge: "Succeeded"},
	report.StatusPartial: {badge: "Partly succeeded",
		advice: "Some changes did not go in. What went in is kept, and the next run sends the rest; the errors below say why."},
	report.StatusFailed: {badge: "Failed",
		advice: "Nothing was changed on the platforms. Fix what the error below says, then press Run now (or wait for the next scheduled run)."},
	report.StatusAborted: {badge: "Stopped by the removal guard",
		advice: "The removal guard stopped this run before anything was sent: it would have removed more members than safety.max_remove_fraction allows. " +
			"Check the source; if the removals are right, run again with “let the run pass the removal guard”."},
	report.StatusInterrupted: {badge: "Interrupted",
		advice: "The run was stopped before it finished (shutdown, cancel or safety.max_run_duration). What the platforms acknowledged is kept; the next run carries on."},
	report.StatusRunning: {badge: "Running"},
	report.StatusPlanned: {badge: "Preview (dry run)",
		advice: "This is a preview (dry run): nothing was sent to any platform and nothing was recorded. Press Run now to apply it."},
	report.StatusSkipped: {badge: "Skipped: still running"},
	"":                   {badge: "Never run"},
}

// statusText is a status in words for the badge; a status the UI does
// not know is shown as it is.
func statusText(st string) string {
	if w, ok := statusWords[report.Status(st)]; ok {
		return w.badge
	}
	return st
}

// adviceFor says what a status means for the reader and what to do.
func adviceFor(st report.Status) string { return statusWords[st].advice }

// num writes n with thousands separators: 1,917.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

// signed writes a change: +12, −3, or "no change".
func signed(n int64) string {
	switch {
	case n > 0:
		return "+" + num(n)
	case n < 0:
		return num(n)
	}
	return "no change"
}

// duration writes d for people: 357 ms, 4.2 s, 3 min 5 s, 2 h 10 min.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	if m := int(d.Minutes()) % 60; m > 0 {
		return fmt.Sprintf("%d h %d min", int(d.Hours()), m)
	}
	return fmt.Sprintf("%d h", int(d.Hours()))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// lineList writes line numbers: "501, 1,201 and 1,801", with "and N
// more" when the report kept only the first of count.
func lineList(lines []int64, count int64) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = num(l)
	}
	out := strings.Join(parts, ", ")
	if more := count - int64(len(lines)); more > 0 {
		out += fmt.Sprintf(" and %s more", num(more))
	}
	return out
}

// reasons explains each rejection reason the normaliser, the source
// readers and the platforms give, in words a marketer reads. An unknown
// reason is shown as it is.
var reasons = map[string]string{
	"row.malformed":               "rows that could not be read (wrong number of columns or broken quoting)",
	"row.short":                   "rows with fewer columns than the header",
	"row.missing_key":             "rows without the key column's value",
	"record.missing_key":          "records without a key",
	"record.no_identifiers":       "records with no identifier to match on",
	"key.missing":                 "records without a key",
	"key.conflict":                "records whose key appears again with different details",
	"csv.bad_row":                 "rows that could not be read",
	"line.too_long":               "lines longer than the reader accepts",
	"consent.invalid":             "consent values that are neither granted nor denied",
	"consent.denied":              "contacts who denied consent",
	"member.no_identifiers":       "contacts left with no usable identifier",
	"member.duplicate":            "contacts listed twice",
	"email.empty":                 "empty e-mail addresses",
	"email.malformed":             "malformed e-mail addresses",
	"email.invalid":               "invalid e-mail addresses",
	"phone.empty":                 "empty phone numbers",
	"phone.no_digits":             "phone numbers without digits",
	"phone.no_country":            "phone numbers without a country code (and no default region)",
	"phone.invalid":               "invalid phone numbers",
	"name.empty":                  "empty names",
	"city.empty":                  "empty cities",
	"state.empty":                 "empty states",
	"state.unknown":               "unknown states",
	"zip.empty":                   "empty postal codes",
	"zip.malformed":               "malformed postal codes",
	"country.empty":               "empty countries",
	"country.unknown":             "countries that are not ISO codes",
	"gender.empty":                "empty genders",
	"gender.unknown":              "unknown genders",
	"dob.empty":                   "empty dates of birth",
	"dob.malformed":               "malformed dates of birth",
	"dob.out_of_range":            "dates of birth out of range",
	"mobile_id.empty":             "empty mobile ad ids",
	"mobile_id.malformed":         "malformed mobile ad ids",
	"external_id.empty":           "empty external ids",
	"handle.empty":                "empty handles",
	"handle.malformed":            "malformed handles",
	"twitter_id.empty":            "empty X user ids",
	"twitter_id.malformed":        "malformed X user ids",
	"address.incomplete":          "addresses missing a part the platform needs (name, postal code or country)",
	"address.invalid_region_code": "addresses with an unknown region code",
	"address.invalid_postal_code": "addresses with an invalid postal code",
	"kind.unsupported":            "identifiers this platform does not take",
	"value.invalid_utf8":          "values that are not valid text (UTF-8)",
	"value.control_character":     "values with control characters",
	report.ReasonFiltered:         "members the segment's filter leaves out",
	report.ReasonFilterError:      "members the filter could not be worked out for",
	report.ReasonEarlierStage:     "members an earlier stage of the group took",
	report.ReasonHoldout:          "members kept out as the holdout",
}

// reasonWords explains a reason code.
func reasonWords(code string) string {
	if w, ok := reasons[code]; ok {
		return w
	}
	if rest, ok := strings.CutPrefix(code, "attribute.missing."); ok {
		return "records without a value for " + rest
	}
	if rest, ok := strings.CutPrefix(code, report.ReasonMissing); ok {
		return "members without a valid " + rest + ", which the filter needs"
	}
	if rest, ok := strings.CutPrefix(code, report.ReasonSuppressed); ok {
		return "members on the " + rest + " suppression list"
	}
	return code
}

// counted is one reason, its count and any line numbers: the API's.
type counted = api.RejectedReason

// byCount lists counts by reason, most frequent first.
func byCount(counts map[string]int64, lines map[string][]int64) []counted {
	return api.ReasonsOf(counts, lines)
}

func total(counts map[string]int64) int64 {
	var n int64
	for _, v := range counts {
		n += v
	}
	return n
}

// platformNames are how the summary names a destination's platform.
var platformNames = map[string]string{
	"google_ads": "Google Ads",
	"meta":       "Meta",
	"x":          "X",
	"file":       "an upload file",
}

// platformName names a destination for people: "Google Ads", or "the
// Meta upload file" for a file destination's profile.
func platformName(typ, profile string) string {
	if typ == "file" {
		if p, ok := platformNames[profileType(profile)]; ok && profile != "" {
			return "the " + p + " upload file"
		}
		return "an upload file"
	}
	if p, ok := platformNames[typ]; ok {
		return p
	}
	return typ
}

// profileType maps a normalisation profile to the destination type that
// uses it.
func profileType(profile string) string {
	if profile == "google" {
		return "google_ads"
	}
	return profile
}

// scheduleWords describes a cron expression or descriptor: "every
// minute", "every 5 minutes from 08:00 to 20:59", "every 6 hours", "at
// 09:00 Monday to Friday". What it cannot word it quotes.
func scheduleWords(expr string) string {
	expr = strings.TrimSpace(expr)
	switch expr {
	case "":
		return "on demand only (no schedule)"
	case "@yearly", "@annually":
		return "once a year, on 1 January at 00:00"
	case "@monthly":
		return "once a month, on the 1st at 00:00"
	case "@weekly":
		return "once a week, on Sunday at 00:00"
	case "@daily", "@midnight":
		return "every day at 00:00"
	case "@hourly":
		return "every hour, on the hour"
	}
	if d, ok := strings.CutPrefix(expr, "@every "); ok {
		if dur, err := time.ParseDuration(strings.TrimSpace(d)); err == nil {
			return "every " + everyWords(dur)
		}
		return "every " + d
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return "on the schedule " + expr
	}
	minute, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	var when string
	switch {
	case minute == "*" && hour == "*":
		when = "every minute"
	case strings.HasPrefix(minute, "*/") && hour == "*":
		when = "every " + strings.TrimPrefix(minute, "*/") + " minutes"
	case strings.HasPrefix(minute, "*/") && isRange(hour):
		lo, hi, _ := strings.Cut(hour, "-")
		when = fmt.Sprintf("every %s minutes from %s:00 to %s:59", strings.TrimPrefix(minute, "*/"), pad(lo), pad(hi))
	case minute == "*" && isRange(hour):
		lo, hi, _ := strings.Cut(hour, "-")
		when = fmt.Sprintf("every minute from %s:00 to %s:59", pad(lo), pad(hi))
	case isNumber(minute) && hour == "*":
		when = fmt.Sprintf("every hour at %s minutes past", minute)
	case isNumber(minute) && strings.HasPrefix(hour, "*/"):
		when = "every " + strings.TrimPrefix(hour, "*/") + " hours"
		if minute != "0" {
			when += fmt.Sprintf(", at %s minutes past", minute)
		}
	case isNumber(minute) && isNumber(hour):
		when = fmt.Sprintf("at %s:%s", pad(hour), pad(minute))
	default:
		return "on the schedule " + expr
	}
	days := dayWords(dom, month, dow)
	if days == "" {
		return "on the schedule " + expr
	}
	if days == "every day" && !strings.HasPrefix(when, "at ") {
		return when
	}
	return when + ", " + days
}

func everyWords(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return plural2(int64(d/time.Hour), "hour")
	case d%time.Minute == 0 && d >= time.Minute:
		return plural2(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return plural2(int64(d/time.Second), "second")
	}
	return d.String()
}

func plural2(n int64, unit string) string {
	if n == 1 {
		return unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// dayWords words the day fields; "" when they are beyond it.
func dayWords(dom, month, dow string) string {
	if month != "*" {
		return ""
	}
	switch {
	case dom == "*" && dow == "*":
		return "every day"
	case dom == "*" && isNumber(dow):
		if n, _ := strconv.Atoi(dow); n < len(dayNames) {
			return "on " + dayNames[n] + "s"
		}
	case dom == "*" && isRange(dow):
		lo, hi, _ := strings.Cut(dow, "-")
		a, _ := strconv.Atoi(lo)
		b, _ := strconv.Atoi(hi)
		if a < len(dayNames) && b < len(dayNames) {
			return dayNames[a] + " to " + dayNames[b]
		}
	case isNumber(dom) && dow == "*":
		return "on day " + dom + " of each month"
	}
	return ""
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func isRange(s string) bool {
	lo, hi, ok := strings.Cut(s, "-")
	return ok && isNumber(lo) && isNumber(hi)
}

func pad(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}
