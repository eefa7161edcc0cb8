package connectors_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

func TestMapColumns(t *testing.T) {
	t.Parallel()
	req := connectors.ReadRequest{
		Key:        "id",
		Fields:     map[audience.Kind]string{audience.Email: "Mail", audience.Phone: ""},
		Consent:    connectors.ConsentFields{AdUserData: "aud"},
		Attributes: []connectors.Attribute{{Name: "plan", Field: "plan"}},
	}
	tests := []struct {
		name     string
		columns  []string
		foldCase bool
		want     connectors.ColumnMap
		problems []connectors.ColumnProblem
	}{
		{
			name:    "exact",
			columns: []string{"plan", "id", "Mail", "aud"},
			want: connectors.ColumnMap{
				Fields: []connectors.FieldColumn{{Kind: audience.Email, Index: 2}},
				Attrs:  []connectors.AttrColumn{{Attr: req.Attributes[0], Index: 0}},
				Key:    1, AdUserData: 3, AdPersonalization: -1,
			},
		},
		{
			name:     "folded case",
			columns:  []string{"PLAN", "Id", "mail", "AUD"},
			foldCase: true,
			want: connectors.ColumnMap{
				Fields: []connectors.FieldColumn{{Kind: audience.Email, Index: 2}},
				Attrs:  []connectors.AttrColumn{{Attr: req.Attributes[0], Index: 0}},
				Key:    1, AdUserData: 3, AdPersonalization: -1,
			},
		},
		{
			name:     "exact wins over folded",
			columns:  []string{"plan", "id", "MAIL", "Mail", "aud"},
			foldCase: true,
			want: connectors.ColumnMap{
				Fields: []connectors.FieldColumn{{Kind: audience.Email, Index: 3}},
				Attrs:  []connectors.AttrColumn{{Attr: req.Attributes[0], Index: 0}},
				Key:    1, AdUserData: 4, AdPersonalization: -1,
			},
		},
		{
			name:    "case kept without folding, duplicates ambiguous",
			columns: []string{"plan", "id", "mail", "aud", "aud", "other", "other"},
			want: connectors.ColumnMap{
				Attrs: []connectors.AttrColumn{{Attr: req.Attributes[0], Index: 0}},
				Key:   1, AdUserData: -1, AdPersonalization: -1,
			},
			problems: []connectors.ColumnProblem{
				{Name: "Mail", Role: "field email"},
				{Name: "aud", Role: "consent ad_user_data", Ambiguous: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems := connectors.MapColumns(tt.columns, req, tt.foldCase)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.problems, problems)
		})
	}
}

func TestDescribeColumnProblems(t *testing.T) {
	t.Parallel()
	got := connectors.DescribeColumnProblems([]connectors.ColumnProblem{
		{Name: "Mail", Role: "field email"},
		{Name: "aud", Role: "key", Ambiguous: true},
	}, "the header", ": rename one")
	require.Equal(t, `column "Mail" (field email) is not in the header; column "aud" (key) appears more than once in the header: rename one`, got)
}
