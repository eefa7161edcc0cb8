package wire

import "strconv"

// OptedOut is synthetic person n's (from 1) e-mail opt-out, as the CRMs
// write a checkbox property ("true" or "false"): every tenth synthetic
// contact the CRM replicas seed or make up has opted out, so a source's
// consent mapping always meets someone to mark.
func OptedOut(n int64) string { return strconv.FormatBool(n%10 == 0) }
